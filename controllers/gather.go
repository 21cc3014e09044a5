package controllers

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/internal/foreign"
	"github.com/tierwall/tierwall/internal/peering"
	"github.com/tierwall/tierwall/internal/plan"
	"github.com/tierwall/tierwall/pkg/reach"
	"github.com/tierwall/tierwall/pkg/render"
)

// observedState is what a reconcile read and decided, as far as it got.
// updateStatus turns it into conditions: an input left nil could not be
// read, and the conditions that depend on it say Unknown.
type observedState struct {
	// platform are the cluster's addresses the spec follows, read for the
	// parts of the spec that need them.
	platform *render.Platform
	// edges are the edges between a tier of the AppIsolation and a tier of
	// an AppIsolation (itself included) that either one declares, with both
	// sides' verdicts; nil until read.
	edges *[]peering.Edge
	// rendered are the policies the spec renders to, in apply order.
	rendered []networkingv1.NetworkPolicy
	// plan is the writes that make the namespace enforce them.
	plan *plan.Plan
	// pods are the pods of the AppIsolation's namespace, labels only,
	// sorted by name.
	pods []metav1.PartialObjectMetadata
	// controllerPods counts, per ingress controller whose pods tierwall may
	// observe, the pods its selector matches.
	controllerPods map[string]int
	// foreign is what the other policies of the namespace open beyond the
	// rendered ones, one example flow per policy; nil until evaluated.
	foreign *[]foreign.Finding
	// wouldBlock is, in DryRun mode, what enforcing would block; nil
	// otherwise or until evaluated.
	wouldBlock *reach.Blocked
}

// gather renders the spec, plans the writes and reads the cluster state the
// status needs, all from the manager's cache, sorted so that the same
// cluster always yields the same status.
func (r *AppIsolationReconciler) gather(ctx context.Context, app *tierwallv1alpha1.AppIsolation, obs *observedState) error {
	platform, err := r.platform(ctx, app)
	if err != nil {
		return err
	}
	obs.platform = &platform
	edges, err := r.edges(ctx, app, platform.AppIsolations)
	if err != nil {
		return err
	}
	obs.edges = &edges
	rendered, err := render.Render(app, platform)
	if err != nil {
		return stalled(tierwallv1alpha1.InvalidSpecReason, err)
	}
	if err := checkSizes(rendered); err != nil {
		return stalled(tierwallv1alpha1.InvalidSpecReason, err)
	}
	obs.rendered = rendered

	var policies networkingv1.NetworkPolicyList
	if err := r.List(ctx, &policies, client.InNamespace(app.Namespace)); err != nil {
		return fmt.Errorf("failed to list NetworkPolicies in namespace %s: %w", app.Namespace, err)
	}
	p := plan.New(app, rendered, policies.Items)
	obs.plan = &p

	pods, err := r.listPodMetadata(ctx, client.InNamespace(app.Namespace))
	if err != nil {
		return err
	}
	controllerPods := map[string]int{}
	for _, c := range app.Spec.IngressControllers {
		if c.Namespace == "" || !r.observable(app, c.Namespace) {
			continue
		}
		matched, err := r.listPodMetadata(ctx, client.InNamespace(c.Namespace),
			client.MatchingLabelsSelector{Selector: mustSelector(c.PodSelector, true)})
		if err != nil {
			return err
		}
		controllerPods[c.Name] = len(matched)
	}
	obs.pods, obs.controllerPods = pods, controllerPods

	findings, err := r.findForeignAccess(ctx, app, obs)
	if err != nil {
		return err
	}
	obs.foreign = &findings
	if obs.wouldBlock, err = r.findWouldBlock(ctx, app, obs); err != nil {
		return err
	}
	return nil
}

// platform reads the cluster's addresses that app's spec follows: the
// Nodes' InternalIPs when an ingress controller has hostNetwork, the API
// server's endpoints when a tier may connect to it, and the AppIsolations
// its allowFrom and egressTo entries name. It reads nothing for a spec that
// needs nothing.
func (r *AppIsolationReconciler) platform(ctx context.Context, app *tierwallv1alpha1.AppIsolation) (render.Platform, error) {
	var p render.Platform
	if app.Spec.FollowsNodes() {
		var nodes corev1.NodeList
		if err := r.List(ctx, &nodes); err != nil {
			return p, fmt.Errorf("failed to list Nodes: %w", err)
		}
		p.NodeAddresses = render.NodeAddresses(nodes.Items)
	}
	if app.Spec.FollowsKubeAPIServer() {
		var endpoints discoveryv1.EndpointSliceList
		if err := r.List(ctx, &endpoints, client.InNamespace(tierwallv1alpha1.KubeAPIServerNamespace),
			client.MatchingLabels{discoveryv1.LabelServiceName: tierwallv1alpha1.KubeAPIServerService}); err != nil {
			return p, fmt.Errorf("failed to list the EndpointSlices of the API server: %w", err)
		}
		p.KubeAPIServer = render.KubeAPIServerEndpoints(endpoints.Items)
	}
	for _, ref := range app.Spec.References() {
		if ref == app.Reference() {
			p.AppIsolations = append(p.AppIsolations, *app)
			continue
		}
		var other tierwallv1alpha1.AppIsolation
		err := r.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, &other)
		switch {
		case apierrors.IsNotFound(err):
			// Absent: its peers allow nothing, and PeersAgree says so.
		case err != nil:
			return p, fmt.Errorf("failed to get AppIsolation %s: %w", ref, err)
		default:
			p.AppIsolations = append(p.AppIsolations, other)
		}
	}
	return p, nil
}

// edges returns the edges between app's tiers and tiers of AppIsolations,
// from app's side and theirs: over app, the AppIsolations it names that
// exist (referenced) and those that name it, found by peersIndex.
func (r *AppIsolationReconciler) edges(ctx context.Context, app *tierwallv1alpha1.AppIsolation, referenced []tierwallv1alpha1.AppIsolation) ([]peering.Edge, error) {
	self := app.Reference()
	var referencing tierwallv1alpha1.AppIsolationList
	if err := r.List(ctx, &referencing, client.MatchingFields{peersIndex: self.String()}); err != nil {
		return nil, fmt.Errorf("failed to list the AppIsolations that name %s: %w", self, err)
	}
	apps := []tierwallv1alpha1.AppIsolation{*app}
	for _, other := range slices.Concat(referenced, referencing.Items) {
		if !slices.ContainsFunc(apps, func(a tierwallv1alpha1.AppIsolation) bool {
			return a.Reference() == other.Reference()
		}) {
			apps = append(apps, other)
		}
	}
	return peering.Of(peering.Edges(apps), self), nil
}

// maxPolicyBytes bounds the size of one rendered policy, well under the
// API server's 3 MiB request limit and etcd's 1.5 MiB value limit, so that a
// spec is refused whole, before the first write, instead of half-applied.
const maxPolicyBytes = 1 << 20

// checkSizes refuses a rendered set with a policy too large to store.
func checkSizes(policies []networkingv1.NetworkPolicy) error {
	for i := range policies {
		if size := policies[i].Size(); size > maxPolicyBytes {
			return fmt.Errorf("NetworkPolicy %s would be %d bytes, more than the %d the API server stores: shorten the selectors",
				policies[i].Name, size, maxPolicyBytes)
		}
	}
	return nil
}

// observable tells whether the status and events of app may name or count
// pods in namespace: its own, and those the cluster admin declared
// observable. Other tenants' pods are nobody's business.
func (r *AppIsolationReconciler) observable(app *tierwallv1alpha1.AppIsolation, namespace string) bool {
	return namespace == app.Namespace || slices.Contains(r.ObservableNamespaces, namespace)
}

// maxPeerNamespaces bounds how many other namespaces are searched for
// example pods when looking at what foreign policies open.
const maxPeerNamespaces = 10

// findForeignAccess evaluates the policies of the namespace that this
// AppIsolation does not own, and returns what they open beyond the rendered
// ones. Example sources and destinations are the pods of the namespace and
// of the first namespaces, by name, that the other policies' peers select.
func (r *AppIsolationReconciler) findForeignAccess(ctx context.Context, app *tierwallv1alpha1.AppIsolation, obs *observedState) ([]foreign.Finding, error) {
	in := foreign.Input{
		Governed:  mustSelector(app.Spec.PodSelector, true),
		Namespace: app.Namespace,
		// A rendered policy whose name another policy holds is not applied
		// (PolicyConflict), and the evaluator refuses two of one name.
		Own: slices.DeleteFunc(slices.Clone(obs.rendered), func(p networkingv1.NetworkPolicy) bool {
			return slices.Contains(obs.plan.Conflicts, p.Name)
		}),
		Others:     obs.plan.Others,
		Observable: func(namespace string) bool { return r.observable(app, namespace) },
	}
	if len(in.Others) == 0 {
		return nil, nil
	}
	namespaces, err := r.listNamespaces(ctx)
	if err != nil {
		return nil, err
	}
	// The pods by namespace, in the order of the namespaces (sorted by
	// name), so that foreign.Find gets them sorted; and their namespaces,
	// whose labels namespaceSelectors read (the cluster's other namespaces
	// hold no pod of the evaluation, and would only cost its compiling).
	var pods [][]metav1.PartialObjectMetadata
	count, searched := len(obs.pods), 0
	for _, ns := range namespaces {
		if ns.Name == app.Namespace {
			in.Namespaces = append(in.Namespaces, corev1.Namespace{ObjectMeta: ns.ObjectMeta})
			pods = append(pods, obs.pods)
			continue
		}
		if searched == maxPeerNamespaces || !selectedByPeers(in.Others, &ns) {
			continue
		}
		searched++
		more, err := r.listPodMetadata(ctx, client.InNamespace(ns.Name))
		if err != nil {
			return nil, err
		}
		in.Namespaces = append(in.Namespaces, corev1.Namespace{ObjectMeta: ns.ObjectMeta})
		pods, count = append(pods, more), count+len(more)
	}
	if !slices.ContainsFunc(namespaces, func(ns metav1.PartialObjectMetadata) bool { return ns.Name == app.Namespace }) {
		pods = append(pods, obs.pods) // not in the cache yet
	}
	// A corev1.Pod is a kilobyte: allocate them once, not by doubling.
	in.Pods = make([]corev1.Pod, 0, count)
	for _, list := range pods {
		for _, p := range list {
			in.Pods = append(in.Pods, corev1.Pod{ObjectMeta: p.ObjectMeta})
		}
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
		return slices.ContainsFunc(peers, func(peer networkingv1.NetworkPolicyPeer) bool {
			return peer.NamespaceSelector != nil && mustSelector(peer.NamespaceSelector, false).Matches(set)
		})
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

// listNamespaces lists the namespaces, sorted by name, from the
// metadata-only cache: their names and labels are what namespaceSelectors
// read.
func (r *AppIsolationReconciler) listNamespaces(ctx context.Context) ([]metav1.PartialObjectMetadata, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	if err := r.List(ctx, list); err != nil {
		return nil, fmt.Errorf("failed to list namespaces: %w", err)
	}
	slices.SortFunc(list.Items, byName)
	return list.Items, nil
}

// listPodMetadata lists pods, sorted by name, from the metadata-only cache:
// tierwall needs their labels, never their specs, and a large cluster must
// not cost the operator gigabytes.
func (r *AppIsolationReconciler) listPodMetadata(ctx context.Context, opts ...client.ListOption) ([]metav1.PartialObjectMetadata, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("PodList"))
	if err := r.List(ctx, list, opts...); err != nil {
		return nil, fmt.Errorf("failed to list pods: %w", err)
	}
	slices.SortFunc(list.Items, byName)
	return list.Items, nil
}

// byName orders objects by namespace, then name.
func byName(a, b metav1.PartialObjectMetadata) int {
	return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
}

// mustSelector converts a selector that Render has already validated. A nil
// selector matches everything when nilMatchesAll, nothing otherwise.
func mustSelector(s *metav1.LabelSelector, nilMatchesAll bool) labels.Selector {
	if s == nil {
		if nilMatchesAll {
			return labels.Everything()
		}
		return labels.Nothing()
	}
	selector, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return labels.Nothing()
	}
	return selector
}
