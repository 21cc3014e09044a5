package controllers

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
)

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

// appIsolationsInNamespace enqueues every AppIsolation in the namespace of
// obj.
func (r *AppIsolationReconciler) appIsolationsInNamespace(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.appIsolations(ctx, client.InNamespace(obj.GetNamespace()))
}

// appIsolationsSeeing enqueues the AppIsolations whose selectors may match
// the pod obj: those of its namespace, and those whose ingress controllers
// run there.
func (r *AppIsolationReconciler) appIsolationsSeeing(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.appIsolationsSeeingNamespace(ctx, obj.GetNamespace())
}

// appIsolationsReferencingNamespace enqueues the AppIsolations that live in,
// or select pods in, the namespace obj.
func (r *AppIsolationReconciler) appIsolationsReferencingNamespace(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.appIsolationsSeeingNamespace(ctx, obj.GetName())
}

func (r *AppIsolationReconciler) appIsolationsSeeingNamespace(ctx context.Context, namespace string) []reconcile.Request {
	return append(r.appIsolations(ctx, client.InNamespace(namespace)),
		r.appIsolations(ctx, client.MatchingFields{namespaceIndex: namespace})...)
}

func (r *AppIsolationReconciler) appIsolations(ctx context.Context, opts ...client.ListOption) []reconcile.Request {
	var list tierwallv1alpha1.AppIsolationList
	if err := r.List(ctx, &list, opts...); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to list AppIsolations to enqueue")
		return nil
	}
	requests := make([]reconcile.Request, 0, len(list.Items))
	for _, app := range list.Items {
		requests = append(requests, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: app.Namespace, Name: app.Name}})
	}
	return requests
}

// notControlledByAppIsolation passes NetworkPolicies that no AppIsolation
// controls; Owns() already watches the others.
var notControlledByAppIsolation = predicate.NewPredicateFuncs(func(obj client.Object) bool {
	ref := metav1.GetControllerOf(obj)
	return ref == nil || ref.Kind != tierwallv1alpha1.AppIsolationKind || ref.APIVersion != tierwallv1alpha1.GroupVersion.String()
})

// labelsOrExistenceChanged passes creations, deletions and label changes:
// the only changes of a pod or namespace that selectors can see.
var labelsOrExistenceChanged = predicate.LabelChangedPredicate{}
