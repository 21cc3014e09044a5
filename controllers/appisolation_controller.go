// Package controllers holds tierwall's reconciler, which keeps the
// NetworkPolicies of each AppIsolation equal to what it declares.
package controllers

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
)

// FieldManager is the field manager tierwall writes as.
const FieldManager = "tierwall"

// ControllerName names the controller in logs, metrics and events.
const ControllerName = "tierwall"

// Options tune the AppIsolation controller. The zero value is valid.
type Options struct {
	// MaxConcurrentReconciles is how many AppIsolations reconcile at once,
	// so that one busy namespace does not hold up the others (default 4,
	// like Flux's --concurrent).
	MaxConcurrentReconciles int
	// ObservableNamespaces are the namespaces, besides an AppIsolation's
	// own, whose pods its status and events may count or name: typically
	// kube-system, where ingress controllers and DNS run. Pods elsewhere
	// are other tenants' business, and tierwall says nothing about them.
	ObservableNamespaces []string
}

// AppIsolationReconciler reconciles an AppIsolation into NetworkPolicies and
// reports in its status what is enforced and what the selectors match.
type AppIsolationReconciler struct {
	// Client reads from the manager's cache and writes to the API server.
	client.Client
	// Recorder emits events for policy writes and condition changes.
	Recorder events.EventRecorder
	// Options tune the controller.
	Options

	// ownWrites recognises the watch events of the reconciler's own writes.
	ownWrites     *echoes
	ownWritesOnce sync.Once
}

// echoes returns the reconciler's record of its own writes.
func (r *AppIsolationReconciler) echoes() *echoes {
	r.ownWritesOnce.Do(func() { r.ownWrites = newEchoes() })
	return r.ownWrites
}

// Exactly the verbs the manager uses: every read goes through the cache,
// which only lists and watches; the status is patched; policies are created,
// updated and deleted; an event series is patched when an event repeats.
// appisolations/finalizers update lets the manager set blockOwnerDeletion on
// the policies' ownerReferences where the OwnerReferencesPermissionEnforcement
// admission plugin is on (OpenShift): see docs/install.md.
// +kubebuilder:rbac:groups=tierwall.dev,resources=appisolations,verbs=list;watch
// +kubebuilder:rbac:groups=tierwall.dev,resources=appisolations/status,verbs=patch
// +kubebuilder:rbac:groups=tierwall.dev,resources=appisolations/finalizers,verbs=update
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=list;watch;create;update;delete
// +kubebuilder:rbac:groups="",resources=pods;namespaces,verbs=list;watch
// +kubebuilder:rbac:groups="",resources=nodes,verbs=list;watch
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings the NetworkPolicies of one AppIsolation in line with its
// spec, then records the outcome in its status with a single patch.
func (r *AppIsolationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	app := &tierwallv1alpha1.AppIsolation{}
	if err := r.Get(ctx, req.NamespacedName, app); err != nil {
		if apierrors.IsNotFound(err) {
			r.echoes().forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	r.echoes().reconciling(req.NamespacedName)
	if !app.DeletionTimestamp.IsZero() {
		// The policies go with it: the garbage collector follows their
		// ownerReferences.
		return ctrl.Result{}, nil
	}
	if err := r.markReconciling(ctx, app); err != nil {
		return r.statusPatchFailed(err)
	}

	original := app.DeepCopy()
	obs := &observedState{}
	defer func() {
		updateStatus(app, obs, retErr)
		r.announceConditions(original, app)
		if err := r.patchStatus(ctx, original, app); err != nil {
			result, err = r.statusPatchFailed(err)
			retErr = kerrors.NewAggregate([]error{retErr, err})
		}
	}()

	if err := r.gather(ctx, app, obs); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, r.reconcilePolicies(ctx, app, obs)
}

// markReconciling sets Reconciling as soon as a new generation is seen, and
// writes it at once, so that kstatus readers see the work start.
func (r *AppIsolationReconciler) markReconciling(ctx context.Context, app *tierwallv1alpha1.AppIsolation) error {
	original := app.DeepCopy()
	if !setReconcilingCondition(app) {
		return nil
	}
	return r.patchStatus(ctx, original, app)
}

// patchStatus writes the status if, and only if, it changed: a write that
// changes nothing would still make Argo CD refresh the application.
func (r *AppIsolationReconciler) patchStatus(ctx context.Context, original, app *tierwallv1alpha1.AppIsolation) error {
	if equality.Semantic.DeepEqual(original.Status, app.Status) {
		return nil
	}
	r.echoes().writing(echoAppIsolation, app, client.ObjectKeyFromObject(app))
	err := r.Status().Patch(ctx, app, client.MergeFromWithOptions(original, client.MergeFromWithOptimisticLock{}), client.FieldOwner(FieldManager))
	return client.IgnoreNotFound(err)
}

// statusPatchFailed handles a failed status write. A conflict only means
// that the cache was behind the AppIsolation (another writer, or a
// leader hand-over): retry shortly, quietly, instead of reporting an error.
func (r *AppIsolationReconciler) statusPatchFailed(err error) (ctrl.Result, error) {
	if apierrors.IsConflict(err) {
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	return ctrl.Result{}, err
}

// announceConditions emits an event when Ready, SelectorsMatched or
// Isolated turns False or changes its reason (Warning), and when one turns
// True again (Normal): once per change, never on every retry.
func (r *AppIsolationReconciler) announceConditions(original, app *tierwallv1alpha1.AppIsolation) {
	if r.Recorder == nil {
		return
	}
	for _, t := range append([]string{tierwallv1alpha1.ReadyCondition}, warningConditions...) {
		before := meta.FindStatusCondition(original.Status.Conditions, t)
		after := meta.FindStatusCondition(app.Status.Conditions, t)
		if after == nil || (before != nil && before.Status == after.Status && before.Reason == after.Reason) {
			continue
		}
		switch {
		case after.Status == metav1.ConditionFalse:
			r.Recorder.Eventf(app, nil, corev1.EventTypeWarning, after.Reason, t, "%s", after.Message)
		case after.Status == metav1.ConditionTrue && before != nil && before.Status == metav1.ConditionFalse:
			r.Recorder.Eventf(app, nil, corev1.EventTypeNormal, after.Reason, t, "%s", after.Message)
		}
	}
}

// SetupWithManager registers the reconciler: it watches AppIsolations
// (each for itself, and for the AppIsolations that name it or that it
// names), every policy of their namespaces (its own, to repair drift; the others,
// to report name conflicts and foreign widening), the metadata of pods and
// namespaces (to keep the status true to what the selectors match), and
// the Nodes' addresses (for ingress controllers with hostNetwork) and the
// API server's EndpointSlices (for egress to it).
func (r *AppIsolationReconciler) SetupWithManager(mgr ctrl.Manager) error {
	for _, index := range appIsolationIndexes {
		if err := mgr.GetFieldIndexer().IndexField(context.Background(), &tierwallv1alpha1.AppIsolation{},
			index.field, index.extract); err != nil {
			return err
		}
	}
	concurrent := r.MaxConcurrentReconciles
	if concurrent <= 0 {
		concurrent = DefaultMaxConcurrentReconciles
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrent}).
		For(&tierwallv1alpha1.AppIsolation{}, builder.WithPredicates(
			predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, r.statusChanged()))).
		Watches(&tierwallv1alpha1.AppIsolation{}, r.peerHandler()).
		Watches(&networkingv1.NetworkPolicy{}, r.policyHandler()).
		Watches(&corev1.Pod{}, r.podHandler(), builder.OnlyMetadata).
		Watches(&corev1.Namespace{},
			handler.EnqueueRequestsFromMapFunc(r.appIsolationsReferencingNamespace),
			builder.OnlyMetadata,
			builder.WithPredicates(predicate.LabelChangedPredicate{})).
		Watches(&corev1.Node{}, r.nodeHandler()).
		Watches(&discoveryv1.EndpointSlice{}, handler.EnqueueRequestsFromMapFunc(r.apiServerEndpointsChanged)).
		Complete(r)
}

// DefaultMaxConcurrentReconciles is Options.MaxConcurrentReconciles' default.
const DefaultMaxConcurrentReconciles = 4
