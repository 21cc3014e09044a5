package dataplane

import (
	"fmt"
	"math/rand/v2"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/tierwall/tierwall/test/fixtures"
)

// The differential test's population: three namespaces with labels, and
// six pods whose labels and ports the generator draws from. The named ports
// differ per pod ("http" is 80 on some pods and 8080 on another; "metrics"
// is TCP on one and UDP on another), so that named ports must resolve on
// the destination.
var (
	genNamespaces = map[string]map[string]string{
		"dt-a": {"team": "a", "env": "prod"},
		"dt-b": {"team": "b", "env": "dev"},
		"dt-c": {"team": "c"},
	}
	genNamespaceNames = []string{"dt-a", "dt-b", "dt-c"}
)

func genPods() []*corev1.Pod {
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	return []*corev1.Pod{
		fixtures.Pod("dt-a", "web", map[string]string{"app": "web", "tier": "fe"},
			fixtures.Port("http", 80, tcp), fixtures.Port("dns", 53, udp)),
		fixtures.Pod("dt-a", "db", map[string]string{"app": "db", "tier": "be"},
			fixtures.Port("http", 8080, tcp), fixtures.Port("metrics", 9090, tcp)),
		fixtures.Pod("dt-b", "web", map[string]string{"app": "web"},
			fixtures.Port("http", 80, tcp), fixtures.Port("alt", 8081, tcp)),
		fixtures.Pod("dt-b", "cache", map[string]string{"app": "cache", "tier": "be"},
			fixtures.Port("dns", 5353, udp), fixtures.Port("alt", 8082, tcp)),
		fixtures.Pod("dt-c", "client", map[string]string{"role": "client"},
			fixtures.Port("http", 8080, tcp)),
		fixtures.Pod("dt-c", "batch", map[string]string{"app": "batch", "tier": "fe"},
			fixtures.Port("metrics", 9091, udp)),
	}
}

// generator draws random NetworkPolicy sets over the population; ips are
// the pods' addresses, for ipBlocks.
type generator struct {
	r   *rand.Rand
	ips []netip.Addr
}

func (g *generator) pick(n int) int { return g.r.IntN(n) }

func (g *generator) chance(p float64) bool { return g.r.Float64() < p }

// policies returns 1 to 4 policies, named p0, p1, ...
func (g *generator) policies() []networkingv1.NetworkPolicy {
	n := 1 + g.pick(4)
	out := make([]networkingv1.NetworkPolicy, 0, n)
	for i := range n {
		out = append(out, g.policy(fmt.Sprintf("p%d", i)))
	}
	return out
}

func (g *generator) policy(name string) networkingv1.NetworkPolicy {
	p := networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: genNamespaceNames[g.pick(3)], Name: name},
		Spec:       networkingv1.NetworkPolicySpec{PodSelector: g.podSelector()},
	}
	types := [][]networkingv1.PolicyType{
		nil,
		{networkingv1.PolicyTypeIngress},
		{networkingv1.PolicyTypeEgress},
		{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
	}[g.pick(4)]
	p.Spec.PolicyTypes = types
	if types == nil || types[0] == networkingv1.PolicyTypeIngress || g.chance(0.2) {
		for range g.pick(3) {
			r := networkingv1.NetworkPolicyIngressRule{}
			r.From, r.Ports = g.peers(), g.ports()
			p.Spec.Ingress = append(p.Spec.Ingress, r)
		}
	}
	if len(types) == 0 || types[len(types)-1] == networkingv1.PolicyTypeEgress || g.chance(0.2) {
		for range g.pick(3) {
			r := networkingv1.NetworkPolicyEgressRule{}
			r.To, r.Ports = g.peers(), g.ports()
			p.Spec.Egress = append(p.Spec.Egress, r)
		}
	}
	return p
}

var podLabelChoices = []struct{ key, value string }{
	{"app", "web"}, {"app", "db"}, {"app", "cache"}, {"app", "batch"},
	{"tier", "fe"}, {"tier", "be"}, {"role", "client"},
}

func (g *generator) podSelector() metav1.LabelSelector {
	switch g.pick(4) {
	case 0:
		return metav1.LabelSelector{}
	case 1, 2:
		l := podLabelChoices[g.pick(len(podLabelChoices))]
		return metav1.LabelSelector{MatchLabels: map[string]string{l.key: l.value}}
	}
	return metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{g.expression(podLabelChoices)}}
}

func (g *generator) expression(choices []struct{ key, value string }) metav1.LabelSelectorRequirement {
	l := choices[g.pick(len(choices))]
	switch g.pick(4) {
	case 0:
		other := choices[g.pick(len(choices))].value
		return metav1.LabelSelectorRequirement{Key: l.key, Operator: metav1.LabelSelectorOpIn, Values: unique(l.value, other)}
	case 1:
		return metav1.LabelSelectorRequirement{Key: l.key, Operator: metav1.LabelSelectorOpNotIn, Values: []string{l.value}}
	case 2:
		return metav1.LabelSelectorRequirement{Key: l.key, Operator: metav1.LabelSelectorOpExists}
	}
	return metav1.LabelSelectorRequirement{Key: l.key, Operator: metav1.LabelSelectorOpDoesNotExist}
}

func unique(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

var namespaceLabelChoices = []struct{ key, value string }{
	{"team", "a"}, {"team", "b"}, {"team", "c"}, {"env", "prod"}, {"env", "dev"},
	{"kubernetes.io/metadata.name", "dt-a"}, {"kubernetes.io/metadata.name", "dt-c"},
}

func (g *generator) namespaceSelector() *metav1.LabelSelector {
	switch g.pick(4) {
	case 0:
		return &metav1.LabelSelector{}
	case 1, 2:
		l := namespaceLabelChoices[g.pick(len(namespaceLabelChoices))]
		return &metav1.LabelSelector{MatchLabels: map[string]string{l.key: l.value}}
	}
	return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{g.expression(namespaceLabelChoices)}}
}

// peers returns no peer (everyone) or one to two peers.
func (g *generator) peers() []networkingv1.NetworkPolicyPeer {
	if g.chance(0.25) {
		return nil
	}
	var out []networkingv1.NetworkPolicyPeer
	for range 1 + g.pick(2) {
		switch g.pick(4) {
		case 0:
			s := g.podSelector()
			out = append(out, networkingv1.NetworkPolicyPeer{PodSelector: &s})
		case 1:
			out = append(out, networkingv1.NetworkPolicyPeer{NamespaceSelector: g.namespaceSelector()})
		case 2:
			s := g.podSelector()
			out = append(out, networkingv1.NetworkPolicyPeer{PodSelector: &s, NamespaceSelector: g.namespaceSelector()})
		default:
			out = append(out, networkingv1.NetworkPolicyPeer{IPBlock: g.ipBlock()})
		}
	}
	return out
}

// ipBlock returns a block around a pod's address (from /24 to /32), with an
// exception around another pod's address when it fits, or a block outside
// the lab.
func (g *generator) ipBlock() *networkingv1.IPBlock {
	if g.chance(0.1) {
		return &networkingv1.IPBlock{CIDR: "192.168.0.0/16"}
	}
	bits := []int{24, 28, 29, 30, 32}[g.pick(5)]
	cidr, _ := g.ips[g.pick(len(g.ips))].Prefix(bits)
	b := &networkingv1.IPBlock{CIDR: cidr.String()}
	if bits < 32 && g.chance(0.5) {
		for range 3 {
			except, _ := g.ips[g.pick(len(g.ips))].Prefix([]int{30, 31, 32}[g.pick(3)])
			if except.Bits() > bits && cidr.Contains(except.Addr()) {
				b.Except = []string{except.String()}
				break
			}
		}
	}
	return b
}

var (
	numericPorts = []int32{53, 80, 5353, 8080, 8081, 8082, 9090, 9091, 1234}
	namedPorts   = []string{"http", "dns", "alt", "metrics", "nope"}
)

// ports returns no port (every port) or one to two ports: numeric, named,
// ranges with endPort, with or without a protocol.
func (g *generator) ports() []networkingv1.NetworkPolicyPort {
	if g.chance(0.25) {
		return nil
	}
	var out []networkingv1.NetworkPolicyPort
	for range 1 + g.pick(2) {
		var p networkingv1.NetworkPolicyPort
		switch g.pick(3) {
		case 0:
			p.Protocol = ptr.To(corev1.ProtocolTCP)
		case 1:
			p.Protocol = ptr.To(corev1.ProtocolUDP)
		}
		switch g.pick(5) {
		case 0:
			// every port of the protocol
		case 1, 2:
			p.Port = ptr.To(intstr.FromInt32(numericPorts[g.pick(len(numericPorts))]))
		case 3:
			p.Port = ptr.To(intstr.FromString(namedPorts[g.pick(len(namedPorts))]))
		default:
			start := numericPorts[g.pick(len(numericPorts))]
			p.Port = ptr.To(intstr.FromInt32(start))
			p.EndPort = ptr.To(start + []int32{0, 1, 2, 10, 1000}[g.pick(5)])
		}
		out = append(out, p)
	}
	return out
}
