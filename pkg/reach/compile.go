package reach

import (
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// policy is a compiled NetworkPolicy.
type policy struct {
	key    string // namespace/name
	source *networkingv1.NetworkPolicy
	// podSelector selects the pods of the policy's namespace it applies to.
	podSelector labels.Selector
	// selected holds the indexes of the State's pods that podSelector selects.
	selected bitset
	// ingress and egress are the effective policyTypes.
	ingress, egress bool
	ingressRules    []rule
	egressRules     []rule
}

// rule is an ingress or egress rule: it allows traffic that matches one of ports
// (any port when empty) and one of peers (any peer when empty).
type rule struct {
	ports []portMatch
	peers []peer
}

// peer is a compiled NetworkPolicyPeer: an ipBlock, or selectors.
type peer struct {
	block *ipBlock
	// namespace is the policy's namespace, used when namespaceSelector is nil.
	namespace string
	// namespaceSelector and podSelector are nil when absent from the peer.
	namespaceSelector labels.Selector
	podSelector       labels.Selector
	// pods holds the indexes of the State's pods the peer matches.
	pods bitset
}

type ipBlock struct {
	cidr   netip.Prefix
	except []netip.Prefix
}

// portMatch is a compiled NetworkPolicyPort: any port of protocol (all), the named
// port name, or the range [port, endPort].
type portMatch struct {
	protocol      corev1.Protocol
	all           bool
	name          string
	port, endPort int32
}

// allows reports whether one of the policy's rules for the direction allows a
// connection to dst whose other side is other.
func (p *policy) allows(ingress bool, other, dst *endpoint, port int32, protocol corev1.Protocol) bool {
	rules := p.egressRules
	if ingress {
		rules = p.ingressRules
	}
	for i := range rules {
		if rules[i].allows(other, dst, port, protocol) {
			return true
		}
	}
	return false
}

// selectsPod evaluates the podSelector on a pod outside the State.
func (p *policy) selectsPod(pi *podInfo) bool {
	return pi.namespace == p.source.Namespace && p.podSelector.Matches(pi.labels)
}

func (r *rule) allows(other, dst *endpoint, port int32, protocol corev1.Protocol) bool {
	return r.portsMatch(dst, port, protocol) && r.peersMatch(other)
}

// portsMatch reports whether the rule's ports admit port and protocol on dst.
func (r *rule) portsMatch(dst *endpoint, port int32, protocol corev1.Protocol) bool {
	if len(r.ports) == 0 {
		return true
	}
	for i := range r.ports {
		if r.ports[i].matches(dst, port, protocol) {
			return true
		}
	}
	return false
}

// peersMatch reports whether the rule's peers admit ep.
func (r *rule) peersMatch(ep *endpoint) bool {
	if len(r.peers) == 0 {
		return true
	}
	for i := range r.peers {
		if r.peers[i].matches(ep) {
			return true
		}
	}
	return false
}

func (m *portMatch) matches(dst *endpoint, port int32, protocol corev1.Protocol) bool {
	switch {
	case m.protocol != protocol:
		return false
	case m.all:
		return true
	case m.name == "":
		return m.port <= port && port <= m.endPort
	case dst.pod == nil:
		return false
	}
	for _, cp := range dst.pod.ports {
		if cp.name == m.name && cp.protocol == protocol && cp.port == port {
			return true
		}
	}
	return false
}

func (p *peer) matches(ep *endpoint) bool {
	switch {
	case ep.pod == nil:
		return p.block != nil && p.block.contains(ep.ip)
	case ep.idx >= 0:
		return p.pods.has(ep.idx)
	}
	return p.matchesPod(ep.pod)
}

// matchesPod evaluates the peer on a pod from its labels, namespace and IPs.
func (p *peer) matchesPod(pi *podInfo) bool {
	if p.block != nil {
		return p.block.containsAny(pi.ips)
	}
	if !p.matchesNamespace(pi.namespace, pi.nsLabels) {
		return false
	}
	return p.podSelector == nil || p.podSelector.Matches(pi.labels)
}

func (p *peer) matchesNamespace(name string, l labels.Set) bool {
	if p.namespaceSelector == nil {
		return name == p.namespace
	}
	return p.namespaceSelector.Matches(l)
}

func (b *ipBlock) contains(ip netip.Addr) bool {
	if !ip.IsValid() || !b.cidr.Contains(ip) {
		return false
	}
	for _, x := range b.except {
		if x.Contains(ip) {
			return false
		}
	}
	return true
}

func (b *ipBlock) containsAny(ips []netip.Addr) bool {
	return slices.ContainsFunc(ips, b.contains)
}

// compiler turns NetworkPolicies into policies, computing pod sets once per distinct
// selector.
type compiler struct {
	e *Evaluator
	// cache maps a description of a pod set to the pod set.
	cache map[string]bitset
	// byLabel indexes, per namespace (by index), the pods by label key and
	// value, built on first use.
	byLabel map[int]map[string]map[string][]int
}

func (c *compiler) compile(np *networkingv1.NetworkPolicy) (*policy, error) {
	p := &policy{key: np.Namespace + "/" + np.Name, source: np}
	sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil {
		return nil, fmt.Errorf("spec.podSelector: %w", err)
	}
	p.podSelector = sel
	p.selected = c.podSet("select\x00"+np.Namespace+"\x00"+sel.String(), func(ns *nsInfo) bool { return ns.name == np.Namespace }, sel)

	switch len(np.Spec.PolicyTypes) {
	case 0:
		p.ingress, p.egress = true, len(np.Spec.Egress) > 0
	default:
		for _, t := range np.Spec.PolicyTypes {
			switch t {
			case networkingv1.PolicyTypeIngress:
				p.ingress = true
			case networkingv1.PolicyTypeEgress:
				p.egress = true
			default:
				return nil, fmt.Errorf("spec.policyTypes: unknown type %q", t)
			}
		}
	}

	for i, r := range np.Spec.Ingress {
		cr, err := c.rule(np.Namespace, r.Ports, r.From)
		if err != nil {
			return nil, fmt.Errorf("spec.ingress[%d]: %w", i, err)
		}
		p.ingressRules = append(p.ingressRules, cr)
	}
	for i, r := range np.Spec.Egress {
		cr, err := c.rule(np.Namespace, r.Ports, r.To)
		if err != nil {
			return nil, fmt.Errorf("spec.egress[%d]: %w", i, err)
		}
		p.egressRules = append(p.egressRules, cr)
	}
	return p, nil
}

func (c *compiler) rule(namespace string, ports []networkingv1.NetworkPolicyPort, peers []networkingv1.NetworkPolicyPeer) (rule, error) {
	var r rule
	for i := range ports {
		m, err := compilePort(&ports[i])
		if err != nil {
			return rule{}, fmt.Errorf("ports[%d]: %w", i, err)
		}
		r.ports = append(r.ports, m)
	}
	for i := range peers {
		p, err := c.peer(namespace, &peers[i])
		if err != nil {
			return rule{}, fmt.Errorf("peers[%d]: %w", i, err)
		}
		r.peers = append(r.peers, p)
	}
	return r, nil
}

func (c *compiler) peer(namespace string, np *networkingv1.NetworkPolicyPeer) (peer, error) {
	p := peer{namespace: namespace}
	if np.IPBlock != nil {
		if np.PodSelector != nil || np.NamespaceSelector != nil {
			return peer{}, errors.New("ipBlock cannot be combined with podSelector or namespaceSelector")
		}
		b, err := compileIPBlock(np.IPBlock)
		if err != nil {
			return peer{}, fmt.Errorf("ipBlock: %w", err)
		}
		p.block = b
		p.pods = newBitset(len(c.e.pods))
		for i := range c.e.pods {
			if b.containsAny(c.e.pods[i].ips) {
				p.pods.set(i)
			}
		}
		return p, nil
	}
	if np.PodSelector == nil && np.NamespaceSelector == nil {
		return peer{}, errors.New("must set podSelector, namespaceSelector or ipBlock")
	}
	key := "peer"
	if np.NamespaceSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(np.NamespaceSelector)
		if err != nil {
			return peer{}, fmt.Errorf("namespaceSelector: %w", err)
		}
		p.namespaceSelector = sel
		key += "\x00ns-selector\x00" + sel.String()
	} else {
		key += "\x00ns\x00" + namespace
	}
	if np.PodSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(np.PodSelector)
		if err != nil {
			return peer{}, fmt.Errorf("podSelector: %w", err)
		}
		p.podSelector = sel
		key += "\x00pod-selector\x00" + sel.String()
	}
	p.pods = c.podSet(key, func(ns *nsInfo) bool { return p.matchesNamespace(ns.name, ns.labels) }, p.podSelector)
	return p, nil
}

// podSet returns the State's pods in the namespaces that nsMatch accepts whose labels
// podSelector matches (all of them when podSelector is nil), caching it under key.
func (c *compiler) podSet(key string, nsMatch func(*nsInfo) bool, podSelector labels.Selector) bitset {
	if b, ok := c.cache[key]; ok {
		return b
	}
	b := newBitset(len(c.e.pods))
	for n := range c.e.namespaces {
		ns := &c.e.namespaces[n]
		if ns.podLo == ns.podHi || !nsMatch(ns) {
			continue
		}
		if podSelector == nil {
			for i := ns.podLo; i < ns.podHi; i++ {
				b.set(i)
			}
			continue
		}
		for _, i := range c.candidates(n, podSelector) {
			if podSelector.Matches(c.e.pods[i].labels) {
				b.set(i)
			}
		}
	}
	c.cache[key] = b
	return b
}

// candidates returns the pods of namespace n that may match sel: those
// with the label values of its most selective equality (or In)
// requirement, found in an index, or every pod of the namespace when it
// has none. Checking each candidate against sel stays the caller's job.
// With hundreds of policies over thousands of pods, matching every
// selector against every pod was most of a reconcile's CPU.
func (c *compiler) candidates(n int, sel labels.Selector) []int {
	ns := &c.e.namespaces[n]
	reqs, _ := sel.Requirements()
	var best []int
	found := false
	for _, r := range reqs {
		switch r.Operator() {
		case selection.Equals, selection.DoubleEquals, selection.In:
		default:
			continue
		}
		byValue := c.labelIndex(n)[r.Key()]
		var pods []int
		for v := range r.Values() {
			// A pod has one value per key: the lists are disjoint.
			pods = append(pods, byValue[v]...)
		}
		if !found || len(pods) < len(best) {
			best, found = pods, true
		}
	}
	if found {
		return best
	}
	all := make([]int, 0, ns.podHi-ns.podLo)
	for i := ns.podLo; i < ns.podHi; i++ {
		all = append(all, i)
	}
	return all
}

// labelIndex returns the pods of namespace n by label key and value.
func (c *compiler) labelIndex(n int) map[string]map[string][]int {
	if idx, ok := c.byLabel[n]; ok {
		return idx
	}
	if c.byLabel == nil {
		c.byLabel = map[int]map[string]map[string][]int{}
	}
	ns := &c.e.namespaces[n]
	idx := map[string]map[string][]int{}
	for i := ns.podLo; i < ns.podHi; i++ {
		for k, v := range c.e.pods[i].labels {
			if idx[k] == nil {
				idx[k] = map[string][]int{}
			}
			idx[k][v] = append(idx[k][v], i)
		}
	}
	c.byLabel[n] = idx
	return idx
}

func compilePort(np *networkingv1.NetworkPolicyPort) (portMatch, error) {
	m := portMatch{protocol: corev1.ProtocolTCP}
	if np.Protocol != nil {
		m.protocol = *np.Protocol
	}
	switch m.protocol {
	case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
	default:
		return portMatch{}, fmt.Errorf("unsupported protocol %q", m.protocol)
	}
	switch {
	case np.Port == nil:
		if np.EndPort != nil {
			return portMatch{}, errors.New("endPort requires a numeric port")
		}
		m.all = true
	case np.Port.Type == intstr.String:
		if np.EndPort != nil {
			return portMatch{}, errors.New("endPort requires a numeric port")
		}
		if np.Port.StrVal == "" {
			return portMatch{}, errors.New("empty port name")
		}
		m.name = np.Port.StrVal
	default:
		m.port, m.endPort = np.Port.IntVal, np.Port.IntVal
		if np.EndPort != nil {
			m.endPort = *np.EndPort
		}
		if m.endPort < m.port {
			return portMatch{}, fmt.Errorf("endPort %d is less than port %d", m.endPort, m.port)
		}
	}
	return m, nil
}

func compileIPBlock(b *networkingv1.IPBlock) (*ipBlock, error) {
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil {
		return nil, fmt.Errorf("cidr: %w", err)
	}
	out := &ipBlock{cidr: unmapPrefix(cidr)}
	for i, x := range b.Except {
		ex, err := netip.ParsePrefix(x)
		if err != nil {
			return nil, fmt.Errorf("except[%d]: %w", i, err)
		}
		ex = unmapPrefix(ex)
		if ex.Bits() < out.cidr.Bits() || !out.cidr.Contains(ex.Addr()) {
			return nil, fmt.Errorf("except[%d]: %s is not inside cidr %s", i, x, b.CIDR)
		}
		out.except = append(out.except, ex)
	}
	return out, nil
}

// unmapPrefix masks p and turns an IPv4-mapped IPv6 prefix into an IPv4 one, so that
// it compares with unmapped addresses.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked()
}

// bitset is a set of pod indexes.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) set(i int) { b[i/64] |= 1 << (i % 64) }

func (b bitset) has(i int) bool { return b[i/64]&(1<<(i%64)) != 0 }

// fill adds 0..n-1 to b.
func (b bitset) fill(n int) {
	for i := range b {
		b[i] = ^uint64(0)
	}
	if r := n % 64; r != 0 {
		b[len(b)-1] = 1<<r - 1
	}
}

func (b bitset) or(o bitset) {
	for i := range b {
		b[i] |= o[i]
	}
}

func (b bitset) and(o bitset) {
	for i := range b {
		b[i] &= o[i]
	}
}

// intersects reports whether b and o have an element in common.
func (b bitset) intersects(o bitset) bool {
	for i := range b {
		if b[i]&o[i] != 0 {
			return true
		}
	}
	return false
}

// each calls f for every index in b, in increasing order.
// count returns the number of members.
func (b bitset) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

func (b bitset) each(f func(int)) {
	for w, word := range b {
		for word != 0 {
			f(w*64 + bits.TrailingZeros64(word))
			word &= word - 1
		}
	}
}
