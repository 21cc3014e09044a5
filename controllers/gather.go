package controllers

import (
	"context"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/internal/foreign"
	"github.com/tierwall/tierwall/internal/reach"
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
	// foreign is what the other policies of the namespace open beyond the
	// rendered ones, one example flow per policy.
	foreign []foreign.Finding
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
	if obs.foreign, err = r.findForeignAccess(ctx, app, obs); err != nil {
		return nil, err
	}
	return obs, nil
}

// maxPeerNamespaces bounds how many other namespaces are searched for
// example pods when looking at what foreign policies open.
const maxPeerNamespaces = 10

// findForeignAccess evaluates the policies of the namespace that this
// AppIsolation did not render, and returns what they open beyond the
// rendered ones. Example sources and destinations are the pods of the
// namespace and of the namespaces the other policies' peers select.
func (r *AppIsolationReconciler) findForeignAccess(ctx context.Context, app *tierwallv1alpha1.AppIsolation, obs *observedState) ([]foreign.Finding, error) {
	in := foreign.Input{Governed: mustSelector(app.Spec.PodSelector, true), Namespace: app.Namespace, Own: obs.desired}
	for _, name := range slices.Sorted(maps.Keys(obs.policies)) {
		if p := obs.policies[name]; !controlledBy(p, app) {
			in.Others = append(in.Others, *p)
		}
	}
	if len(in.Others) == 0 {
		return nil, nil
	}
	namespaces := &metav1.PartialObjectMetadataList{}
	namespaces.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	if err := r.List(ctx, namespaces); err != nil {
		return nil, fmt.Errorf("failed to list namespaces: %w", err)
	}
	pods := obs.pods
	searched := 0
	for _, ns := range namespaces.Items {
		in.Namespaces = append(in.Namespaces, corev1.Namespace{ObjectMeta: ns.ObjectMeta})
		if ns.Name == app.Namespace || searched == maxPeerNamespaces || !selectedByPeers(in.Others, &ns) {
			continue
		}
		searched++
		more, err := r.listPodMetadata(ctx, client.InNamespace(ns.Name))
		if err != nil {
			return nil, err
		}
		pods = append(pods, more...)
	}
	for _, p := range pods {
		in.Pods = append(in.Pods, corev1.Pod{ObjectMeta: p.ObjectMeta})
	}
	findings, err := foreign.Find(in)
	if err != nil {
		// A policy the API server accepted that the evaluator cannot read is
		// a bug to report, not a reason to stop enforcing.
		ctrl.LoggerFrom(ctx).Error(err, "Failed to evaluate the other NetworkPolicies of the namespace")
		return nil, nil
	}
	return findings, nil
}

// selectedByPeers tells whether a namespaceSelector of some rule of the
// policies selects namespace ns.
func selectedByPeers(policies []networkingv1.NetworkPolicy, ns *metav1.PartialObjectMetadata) bool {
	set := reach.NamespaceLabels(ns.Name, ns.Labels)
	matches := func(peers []networkingv1.NetworkPolicyPeer) bool {
		for _, peer := range peers {
			if peer.NamespaceSelector == nil {
				continue
			}
			if s, err := metav1.LabelSelectorAsSelector(peer.NamespaceSelector); err == nil && s.Matches(set) {
				return true
			}
		}
		return false
	}
	for _, p := range policies {
		for _, rule := range p.Spec.Ingress {
			if matches(rule.From) {
				return true
			}
		}
		for _, rule := range p.Spec.Egress {
			if matches(rule.To) {
				return true
			}
		}
	}
	return false
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
