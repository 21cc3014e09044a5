package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/internal/render"
)

// observedState is everything one reconcile reads, gathered before anything
// is written so that the decisions that follow are pure functions of it.
type observedState struct {
	// desired are the rendered policies, in apply order.
	desired []networkingv1.NetworkPolicy
	// policies are all the NetworkPolicies of the AppIsolation's namespace,
	// by name.
	policies map[string]*networkingv1.NetworkPolicy
	// pods are the metadata of the pods of the AppIsolation's namespace.
	pods []metav1.PartialObjectMetadata
	// controllerPods counts, per ingress controller with a namespace, the pods
	// its selector matches.
	controllerPods map[string]int
}

// gather renders the spec and reads the cluster state the reconcile needs,
// all from the manager's cache.
func (r *AppIsolationReconciler) gather(ctx context.Context, app *tierwallv1alpha1.AppIsolation) (*observedState, error) {
	desired, err := render.Render(app)
	if err != nil {
		return nil, stalled(tierwallv1alpha1.InvalidSpecReason, err)
	}
	obs := &observedState{desired: desired, policies: map[string]*networkingv1.NetworkPolicy{}, controllerPods: map[string]int{}}

	var policies networkingv1.NetworkPolicyList
	if err := r.List(ctx, &policies, client.InNamespace(app.Namespace)); err != nil {
		return nil, fmt.Errorf("failed to list NetworkPolicies in namespace %s: %w", app.Namespace, err)
	}
	for i := range policies.Items {
		obs.policies[policies.Items[i].Name] = &policies.Items[i]
	}

	if obs.pods, err = r.listPodMetadata(ctx, client.InNamespace(app.Namespace)); err != nil {
		return nil, err
	}
	for _, c := range app.Spec.IngressControllers {
		if c.Namespace == "" {
			continue
		}
		selector := mustSelector(c.PodSelector, true)
		pods, err := r.listPodMetadata(ctx, client.InNamespace(c.Namespace), client.MatchingLabelsSelector{Selector: selector})
		if err != nil {
			return nil, err
		}
		obs.controllerPods[c.Name] = len(pods)
	}
	return obs, nil
}

// listPodMetadata lists pods from the metadata-only cache: tierwall needs
// their labels, never their specs, and a large cluster must not cost the
// operator gigabytes.
func (r *AppIsolationReconciler) listPodMetadata(ctx context.Context, opts ...client.ListOption) ([]metav1.PartialObjectMetadata, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("PodList"))
	if err := r.List(ctx, list, opts...); err != nil {
		return nil, fmt.Errorf("failed to list pods: %w", err)
	}
	return list.Items, nil
}
