package reach

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// PolicyView is how a policy of the State applies to the State's pods, as the
// Evaluator compiled it: internal/foreign, which reasons about one policy at a
// time, reads which pods a policy and its peers select from here. (The
// operator still matches namespaceSelectors itself, through NamespaceLabels,
// to decide which namespaces' pods to read into the State.)
type PolicyView struct {
	// Ingress and Egress are the effective policyTypes (with the API's
	// defaulting when policyTypes is empty).
	Ingress, Egress bool
	// Selected are the State's pods the policy selects, sorted by namespace
	// and name.
	Selected []*corev1.Pod
	// IngressRules and EgressRules, in the policy's order.
	IngressRules, EgressRules []RuleView
}

// RuleView is one rule of a policy.
type RuleView struct {
	// Peers, in the rule's order; none means every endpoint.
	Peers []PeerView
	// Ports of the rule; none means every port.
	Ports []networkingv1.NetworkPolicyPort
}

// PeerView is one peer of a rule.
type PeerView struct {
	// Pods are the State's pods the peer matches, sorted by namespace and name.
	Pods []*corev1.Pod
	// Address is, for an ipBlock peer, an address inside the block and
	// outside its exceptions (a host address where the block has one); empty
	// for selector peers, or when the exceptions leave no address.
	Address string
}

// Policy returns the view of the policy namespace/name, and false when the
// State has no such policy.
func (e *Evaluator) Policy(namespace, name string) (PolicyView, bool) {
	key := namespace + "/" + name
	i := slices.IndexFunc(e.policies, func(p *policy) bool { return p.key == key })
	if i < 0 {
		return PolicyView{}, false
	}
	p := e.policies[i]
	v := PolicyView{Ingress: p.ingress, Egress: p.egress, Selected: e.podsOf(p.selected)}
	for j, r := range p.ingressRules {
		v.IngressRules = append(v.IngressRules, e.ruleView(r, p.source.Spec.Ingress[j].Ports))
	}
	for j, r := range p.egressRules {
		v.EgressRules = append(v.EgressRules, e.ruleView(r, p.source.Spec.Egress[j].Ports))
	}
	return v, true
}

func (e *Evaluator) ruleView(r rule, ports []networkingv1.NetworkPolicyPort) RuleView {
	v := RuleView{Ports: ports}
	for _, peer := range r.peers {
		pv := PeerView{Pods: e.podsOf(peer.pods)}
		if peer.block != nil {
			pv.Address = peer.block.example()
		}
		v.Peers = append(v.Peers, pv)
	}
	return v
}

// podsOf returns the pods of a set, in index order (sorted by namespace and
// name).
func (e *Evaluator) podsOf(b bitset) []*corev1.Pod {
	out := make([]*corev1.Pod, 0, b.count())
	b.each(func(i int) { out = append(out, e.pods[i].source) })
	return out
}

// example returns an address of the block outside its exceptions, trying a
// bounded number of addresses from the first host address on.
func (b *ipBlock) example() string {
	addr := b.cidr.Addr()
	if b.cidr.Bits() < addr.BitLen()-1 {
		addr = addr.Next() // a host address, not the network's
	}
	for tries := 0; b.cidr.Contains(addr) && tries < 256; addr, tries = addr.Next(), tries+1 {
		if b.contains(addr) {
			return addr.String()
		}
	}
	return ""
}

// Pod returns the State's pod namespace/name, and false when the State has
// no such pod. Do not modify it.
func (e *Evaluator) Pod(namespace, name string) (*corev1.Pod, bool) {
	i, ok := e.podIndex[podKey{namespace, name}]
	if !ok {
		return nil, false
	}
	return e.pods[i].source, true
}

// Pods returns the State's pods, sorted by namespace and name, as Flows
// enumerates them. Do not modify them.
func (e *Evaluator) Pods() []*corev1.Pod {
	out := make([]*corev1.Pod, len(e.pods))
	for i := range e.pods {
		out[i] = e.pods[i].source
	}
	return out
}

// Policies returns the policies the Evaluator enforces (for a Subset, the
// kept ones), sorted by namespace and name. Do not modify them.
func (e *Evaluator) Policies() []*networkingv1.NetworkPolicy {
	out := make([]*networkingv1.NetworkPolicy, len(e.policies))
	for i, p := range e.policies {
		out[i] = p.source
	}
	return out
}

// LabelsOfNamespace returns the labels namespace selectors see on the
// namespace name: those of the State's Namespace plus
// kubernetes.io/metadata.name, or only that label when the State has no
// such Namespace (see NamespaceLabels).
func (e *Evaluator) LabelsOfNamespace(name string) labels.Set {
	if i, ok := e.nsIndex[name]; ok {
		return e.namespaces[i].labels
	}
	return NamespaceLabels(name, nil)
}
