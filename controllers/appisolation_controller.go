// Package controllers holds tierwall's reconciler, which keeps the
// NetworkPolicies of each AppIsolation equal to what it declares.
package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
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

// AppIsolationReconciler reconciles an AppIsolation into NetworkPolicies and
// reports in its status what is enforced and what the selectors match.
type AppIsolationReconciler struct {
	// Client reads from the manager's cache and writes to the API server.
	client.Client
	// Recorder emits an event for every change tierwall makes to a policy.
	Recorder events.EventRecorder
	// MaxConcurrentReconciles is how many AppIsolations are reconciled at
	// once; 0 means controller-runtime's default, one.
	MaxConcurrentReconciles int
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
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings the NetworkPolicies of one AppIsolation in line with its
// spec, then records the outcome in its status with a single patch.
func (r *AppIsolationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	app := &tierwallv1alpha1.AppIsolation{}
	if err := r.Get(ctx, req.NamespacedName, app); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !app.DeletionTimestamp.IsZero() {
		// The policies go with it: the garbage collector follows their
		// ownerReferences.
		return ctrl.Result{}, nil
	}

	original := app.DeepCopy()
	defer func() {
		summarize(app, retErr)
		r.warnOnNewFailure(original, app)
		if err := r.patchStatus(ctx, original, app); err != nil {
			retErr = kerrors.NewAggregate([]error{retErr, err})
		}
	}()

	observed, err := r.gather(ctx, app)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.reconcilePolicies(ctx, app, observed); err != nil {
		return ctrl.Result{}, err
	}
	setSelectorsMatchedCondition(app, observed.pods, observed.controllerPods)
	setIsolatedCondition(app, observed.foreign)
	return ctrl.Result{}, nil
}

// warnOnNewFailure emits a Warning event when Ready turns False or its
// failure reason changes, once, not on every retry.
func (r *AppIsolationReconciler) warnOnNewFailure(original, app *tierwallv1alpha1.AppIsolation) {
	before := meta.FindStatusCondition(original.Status.Conditions, tierwallv1alpha1.ReadyCondition)
	after := meta.FindStatusCondition(app.Status.Conditions, tierwallv1alpha1.ReadyCondition)
	if r.Recorder == nil || after == nil || after.Status != metav1.ConditionFalse {
		return
	}
	if before != nil && before.Status == after.Status && before.Reason == after.Reason && before.Message == after.Message {
		return
	}
	r.Recorder.Eventf(app, nil, corev1.EventTypeWarning, after.Reason, "Reconcile", "%s", after.Message)
}

// patchStatus writes the status if, and only if, it changed: a write that
// changes nothing would still make Argo CD refresh the application.
func (r *AppIsolationReconciler) patchStatus(ctx context.Context, original, app *tierwallv1alpha1.AppIsolation) error {
	if equality.Semantic.DeepEqual(original.Status, app.Status) {
		return nil
	}
	err := r.Status().Patch(ctx, app, client.MergeFromWithOptions(original, client.MergeFromWithOptimisticLock{}), client.FieldOwner(FieldManager))
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// SetupWithManager registers the reconciler: it watches AppIsolations, the
// policies it owns (to repair drift), other policies (to report name
// conflicts), and the metadata of pods and namespaces (to keep the status
// true to what the selectors match).
func (r *AppIsolationReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &tierwallv1alpha1.AppIsolation{},
		namespaceIndex, indexReferencedNamespaces); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		For(&tierwallv1alpha1.AppIsolation{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&networkingv1.NetworkPolicy{}).
		Watches(&networkingv1.NetworkPolicy{},
			handler.EnqueueRequestsFromMapFunc(r.appIsolationsInNamespace),
			builder.WithPredicates(notControlledByAppIsolation)).
		Watches(&corev1.Pod{},
			handler.EnqueueRequestsFromMapFunc(r.appIsolationsSeeing),
			builder.OnlyMetadata,
			builder.WithPredicates(labelsOrExistenceChanged)).
		Watches(&corev1.Namespace{},
			handler.EnqueueRequestsFromMapFunc(r.appIsolationsReferencingNamespace),
			builder.OnlyMetadata,
			builder.WithPredicates(labelsOrExistenceChanged)).
		Complete(r)
}
