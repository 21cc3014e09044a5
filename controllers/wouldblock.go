package controllers

import (
	"cmp"
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/pkg/reach"
)

// maxWouldBlock is how many blocked flows status.wouldBlock lists; the
// condition counts them all, and tierwall reach on the live cluster lists
// every one.
const maxWouldBlock = 10

// otherPort stands for "a port no policy names" among the ports tried.
const otherPort int32 = 1

// findWouldBlock lists, in DryRun mode, the flows between the pods of the
// namespace and of its observable ingress controllers that the policies in
// force allow now and that enforcing the AppIsolation would block. Live
// traffic is not observed, so "open now" means allowed by the policies in
// force. The cache keeps pod labels, not container ports, so the ports
// tried are the numeric ports the policies name, and one port none names.
func (r *AppIsolationReconciler) findWouldBlock(ctx context.Context, app *tierwallv1alpha1.AppIsolation, obs *observedState) (*reach.Blocked, error) {
	if app.Spec.Mode != tierwallv1alpha1.ModeDryRun {
		return nil, nil
	}
	now := obs.plan.InForce
	after := append(slices.Clone(obs.plan.Others), obs.rendered...)
	ports := namedPorts(append(slices.Clone(now), obs.rendered...))

	metas := slices.Clone(obs.pods)
	for _, c := range app.Spec.IngressControllers {
		if c.Namespace == "" || c.Namespace == app.Namespace || !r.observable(app, c.Namespace) {
			continue
		}
		matched, err := r.listPodMetadata(ctx, client.InNamespace(c.Namespace),
			client.MatchingLabelsSelector{Selector: mustSelector(c.PodSelector, true)})
		if err != nil {
			return nil, err
		}
		metas = append(metas, matched...)
	}
	slices.SortFunc(metas, byName)
	metas = slices.CompactFunc(metas, func(a, b metav1.PartialObjectMetadata) bool { return byName(a, b) == 0 })
	state := reach.State{Policies: now}
	for _, m := range metas {
		state.Pods = append(state.Pods, corev1.Pod{
			ObjectMeta: m.ObjectMeta,
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "probe", Ports: ports}}},
		})
	}
	namespaces, err := r.listNamespaces(ctx)
	if err != nil {
		return nil, err
	}
	for _, ns := range namespaces {
		state.Namespaces = append(state.Namespaces, corev1.Namespace{ObjectMeta: ns.ObjectMeta})
	}
	blocked, err := reach.WouldBlock(state, after, maxWouldBlock)
	if err != nil {
		return nil, err
	}
	return &blocked, nil
}

// namedPorts are the numeric ports the policies' rules name (the first of
// a range), and otherPort, as container ports to try.
func namedPorts(policies []networkingv1.NetworkPolicy) []corev1.ContainerPort {
	type key struct {
		port     int32
		protocol corev1.Protocol
	}
	seen := map[key]bool{{otherPort, corev1.ProtocolTCP}: true}
	add := func(ports []networkingv1.NetworkPolicyPort) {
		for _, p := range ports {
			if p.Port == nil || p.Port.IntValue() == 0 {
				continue
			}
			protocol := corev1.ProtocolTCP
			if p.Protocol != nil {
				protocol = *p.Protocol
			}
			seen[key{int32(p.Port.IntValue()), protocol}] = true
		}
	}
	for _, p := range policies {
		for _, r := range p.Spec.Ingress {
			add(r.Ports)
		}
		for _, r := range p.Spec.Egress {
			add(r.Ports)
		}
	}
	out := make([]corev1.ContainerPort, 0, len(seen))
	for k := range seen {
		out = append(out, corev1.ContainerPort{ContainerPort: k.port, Protocol: k.protocol})
	}
	slices.SortFunc(out, func(a, b corev1.ContainerPort) int {
		return cmp.Or(cmp.Compare(a.ContainerPort, b.ContainerPort), cmp.Compare(a.Protocol, b.Protocol))
	})
	return out
}
