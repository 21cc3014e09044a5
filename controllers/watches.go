package controllers

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/pkg/render"
)

// appIsolationIndexes are the field indexes of AppIsolations the reconciler
// lists by: SetupWithManager registers them on the manager's cache, and a
// fake client must register them too.
var appIsolationIndexes = []struct {
	field   string
	extract client.IndexerFunc
}{
	{namespaceIndex, indexReferencedNamespaces},
	{hostNetworkIndex, indexHostNetwork},
	{kubeAPIServerIndex, indexKubeAPIServer},
	{peersIndex, indexPeers},
}

// namespaceIndex indexes AppIsolations by the other namespaces they select
// pods in (their ingress controllers' namespaces).
const namespaceIndex = "spec.referencedNamespaces"

func indexReferencedNamespaces(obj client.Object) []string {
	app := obj.(*tierwallv1alpha1.AppIsolation)
	var namespaces []string
	for _, c := range app.Spec.IngressControllers {
		if c.Namespace != "" && c.Namespace != app.Namespace {
			namespaces = append(namespaces, c.Namespace)
		}
	}
	return namespaces
}

// indexed is the one value of the boolean indexes: an AppIsolation is
// under it, or not indexed.
const indexed = "true"

// hostNetworkIndex indexes, under indexed, the AppIsolations that follow
// the Nodes' addresses: those with an ingress controller with hostNetwork.
const hostNetworkIndex = "spec.ingressControllers.hostNetwork"

func indexHostNetwork(obj client.Object) []string {
	if obj.(*tierwallv1alpha1.AppIsolation).Spec.FollowsNodes() {
		return []string{indexed}
	}
	return nil
}

// kubeAPIServerIndex indexes, under indexed, the AppIsolations that follow
// the API server's endpoints: those with a tier whose egressTo names it.
const kubeAPIServerIndex = "spec.tiers.egressTo.kubeAPIServer"

func indexKubeAPIServer(obj client.Object) []string {
	if obj.(*tierwallv1alpha1.AppIsolation).Spec.FollowsKubeAPIServer() {
		return []string{indexed}
	}
	return nil
}

// peersIndex indexes AppIsolations by the AppIsolations their allowFrom
// and egressTo entries name, as "namespace/name" (the references' String,
// which is also a NamespacedName's).
const peersIndex = "spec.tiers.appIsolation"

func indexPeers(obj client.Object) []string {
	refs := obj.(*tierwallv1alpha1.AppIsolation).Spec.References()
	keys := make([]string, 0, len(refs))
	for _, ref := range refs {
		keys = append(keys, ref.String())
	}
	return keys
}

// peerHandler enqueues, for an AppIsolation created, deleted or whose spec
// changed, the other AppIsolations whose edges it changes: those that name
// it (their policies follow its tiers, their PeersAgree its side) and those
// it names, before and after an update (their PeersAgree its side, so that
// dropping a reference clears the report on the other side). The
// AppIsolation itself is For()'s, and a status write, its own echo
// included, changes nothing that the others read: neither wakes anyone.
func (r *AppIsolationReconciler) peerHandler() handler.EventHandler {
	enqueue := func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request], objs ...client.Object) {
		self := types.NamespacedName{Namespace: objs[0].GetNamespace(), Name: objs[0].GetName()}
		add := func(req reconcile.Request) {
			if req.NamespacedName != self {
				q.Add(req)
			}
		}
		for _, req := range requests(r.appIsolations(ctx, client.MatchingFields{peersIndex: self.String()})) {
			add(req)
		}
		for _, obj := range objs {
			app, ok := obj.(*tierwallv1alpha1.AppIsolation)
			if !ok {
				continue
			}
			for _, ref := range app.Spec.References() {
				add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}})
			}
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q, e.Object)
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			if e.ObjectOld.GetGeneration() == e.ObjectNew.GetGeneration() {
				return
			}
			enqueue(ctx, q, e.ObjectNew, e.ObjectOld)
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q, e.Object)
		},
	}
}

// apiServerEndpointsChanged enqueues, for an EndpointSlice of the API
// server's Service (the only ones the cache holds), the AppIsolations that
// follow the API server's endpoints.
func (r *AppIsolationReconciler) apiServerEndpointsChanged(ctx context.Context, _ client.Object) []reconcile.Request {
	return requests(r.appIsolations(ctx, client.MatchingFields{kubeAPIServerIndex: indexed}))
}

// nodeHandler enqueues, for a Node added, removed or readdressed (its
// InternalIPs changed), the AppIsolations that follow the Nodes' addresses,
// and only those: a Node's heartbeat changes nothing tierwall reads.
func (r *AppIsolationReconciler) nodeHandler() handler.EventHandler {
	enqueue := func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		for _, req := range requests(r.appIsolations(ctx, client.MatchingFields{hostNetworkIndex: indexed})) {
			q.Add(req)
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, _ event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q)
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			before, ok1 := e.ObjectOld.(*corev1.Node)
			after, ok2 := e.ObjectNew.(*corev1.Node)
			if ok1 && ok2 && slices.Equal(render.NodeAddresses([]corev1.Node{*before}), render.NodeAddresses([]corev1.Node{*after})) {
				return
			}
			enqueue(ctx, q)
		},
		DeleteFunc: func(ctx context.Context, _ event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q)
		},
	}
}

// policyHandler enqueues, for a NetworkPolicy created, changed or deleted,
// every AppIsolation of its namespace: a policy one of them did not write
// can widen what its pods may do, and one it did write can take a name
// another one needs, or drift from what it rendered. The echo of an
// AppIsolation's own write does not wake that AppIsolation (see echoes).
func (r *AppIsolationReconciler) policyHandler() handler.EventHandler {
	enqueue := func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request], obj client.Object) {
		writer, echo := r.echoes().echo(echoPolicy, obj)
		for _, req := range requests(r.appIsolations(ctx, client.InNamespace(obj.GetNamespace()))) {
			if !echo || req.NamespacedName != writer {
				q.Add(req)
			}
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q, e.Object)
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q, e.ObjectNew)
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q, e.Object)
		},
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q, e.Object)
		},
	}
}

// appIsolationsReferencingNamespace enqueues the AppIsolations that live in,
// or select pods in, the namespace obj.
func (r *AppIsolationReconciler) appIsolationsReferencingNamespace(ctx context.Context, obj client.Object) []reconcile.Request {
	return requests(r.appIsolationsSeeingNamespace(ctx, obj.GetName()))
}

// podHandler enqueues, for a pod created, deleted or relabelled, only the
// AppIsolations whose selectors match its old or new labels: a label change
// in a busy namespace must not wake every AppIsolation there.
func (r *AppIsolationReconciler) podHandler() handler.EventHandler {
	enqueue := func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request], obj client.Object, sets ...labels.Set) {
		for _, app := range r.appIsolationsSeeingNamespace(ctx, obj.GetNamespace()) {
			if selectsAny(&app, obj.GetNamespace(), sets) {
				q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: app.Namespace, Name: app.Name}})
			}
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q, e.Object, e.Object.GetLabels())
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			if labels.Equals(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels()) {
				return
			}
			enqueue(ctx, q, e.ObjectNew, e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels())
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q, e.Object, e.Object.GetLabels())
		},
	}
}

// selectsAny tells whether app can see a pod of namespace with one of the
// label sets: as a governed pod, or as one of its ingress controllers.
func selectsAny(app *tierwallv1alpha1.AppIsolation, namespace string, sets []labels.Set) bool {
	for _, set := range sets {
		if app.Namespace == namespace && mustSelector(app.Spec.PodSelector, true).Matches(set) {
			return true
		}
		for _, c := range app.Spec.IngressControllers {
			if c.Namespace == namespace && mustSelector(c.PodSelector, true).Matches(set) {
				return true
			}
		}
	}
	return false
}

// appIsolationsSeeingNamespace lists the AppIsolations that live in, or
// select pods in, namespace.
func (r *AppIsolationReconciler) appIsolationsSeeingNamespace(ctx context.Context, namespace string) []tierwallv1alpha1.AppIsolation {
	return append(r.appIsolations(ctx, client.InNamespace(namespace)),
		r.appIsolations(ctx, client.MatchingFields{namespaceIndex: namespace})...)
}

func (r *AppIsolationReconciler) appIsolations(ctx context.Context, opts ...client.ListOption) []tierwallv1alpha1.AppIsolation {
	var list tierwallv1alpha1.AppIsolationList
	if err := r.List(ctx, &list, opts...); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to list AppIsolations to enqueue")
		return nil
	}
	return list.Items
}

func requests(apps []tierwallv1alpha1.AppIsolation) []reconcile.Request {
	out := make([]reconcile.Request, 0, len(apps))
	for _, app := range apps {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: app.Namespace, Name: app.Name}})
	}
	return out
}

// statusChanged passes AppIsolation updates whose status changed, but for
// the echo of tierwall's own status write (see echoes). A reconcile
// compares the status it computes with the cached one, and writes only when
// they differ; when the cache lagged behind tierwall's own last write (a
// retry right after it), the comparison can wrongly find nothing to write.
// The reconcile that the cache's catching up triggers here writes it then
// (echoes lets that echo through); when the status is right it writes
// nothing, so this never loops.
func (r *AppIsolationReconciler) statusChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			before, ok1 := e.ObjectOld.(*tierwallv1alpha1.AppIsolation)
			after, ok2 := e.ObjectNew.(*tierwallv1alpha1.AppIsolation)
			if !ok1 || !ok2 || equality.Semantic.DeepEqual(before.Status, after.Status) {
				return false
			}
			_, echo := r.echoes().echo(echoAppIsolation, after)
			return !echo
		},
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}
