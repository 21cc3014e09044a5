// Package reach evaluates Kubernetes NetworkPolicies: given namespaces, pods and
// networking.k8s.io/v1 NetworkPolicies, it decides whether a connection from one
// endpoint to another on a port and protocol is allowed, and which policies allow it.
//
// The semantics are those of the NetworkPolicy API reference and concepts page:
//
//   - A pod is isolated for a direction only if a policy in its own namespace selects
//     it and that policy's effective policyTypes include the direction. When policyTypes
//     is empty, a policy affects Ingress, and Egress too if it has egress rules.
//   - What an isolated pod may do is the union of the rules of all policies that select
//     it for that direction; there is no deny and no order.
//   - A connection is allowed when the source's egress AND the destination's ingress
//     allow it. A direction that is not isolated allows everything.
//   - An empty or absent ingress/egress list allows nothing, a rule {} allows
//     everything, and an empty or absent from/to/ports inside a rule matches all peers
//     or all ports.
//   - In a peer, namespaceSelector and podSelector together mean AND; peers of a rule
//     are ORed. A podSelector alone selects pods of the policy's namespace, a
//     namespaceSelector alone all pods of the matching namespaces, and {} matches all.
//   - Protocol defaults to TCP. A named port resolves on the destination pod's container
//     ports (name and protocol must match), for ingress and egress rules alike, and
//     never matches a destination outside the cluster. endPort makes a range.
//   - A pod never blocks traffic to itself.
//
// Choices where the API leaves room (CNIs differ):
//
//   - An ipBlock peer also matches pods whose IP (any of status.podIPs, or
//     status.podIP) is inside cidr and outside every except.
//   - Every namespace carries the label kubernetes.io/metadata.name=<name>, as the
//     control plane sets it; it is added when a Namespace in the State lacks it, and a
//     pod whose namespace is not in the State sees a namespace with only that label.
//   - Named ports are looked up in spec.containers and in restartable (sidecar) init
//     containers, like Service targetPort resolution.
//
// Not modelled: traffic from a pod's own node (always allowed by CNIs), hostNetwork
// pods (not subject to policies in most CNIs), and Services (policies apply after
// DNAT: ask about pod ports).
//
// Build an Evaluator once with New and query it many times with Check and Flows.
// Subset gives, cheaply, an Evaluator that considers only some of the policies, for
// questions like "what would be allowed by our own policies alone".
package reach

import (
	"cmp"
	"fmt"
	"iter"
	"maps"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// State is the input of New: the objects of the cluster (or the part of it) to evaluate.
// The Evaluator keeps references into these objects, so do not modify them afterwards.
type State struct {
	// Namespaces with their labels. Pods and policies may refer to namespaces that are
	// not listed; such a namespace only has the kubernetes.io/metadata.name label.
	Namespaces []corev1.Namespace
	// Pods to evaluate. Callers usually leave out pods that have terminated.
	Pods []corev1.Pod
	// Policies to enforce.
	Policies []networkingv1.NetworkPolicy
	// Addresses are endpoints outside the pods (clients, nodes, the API
	// server) for Flows to include; Check and Explain take any address
	// without them.
	Addresses []Address
}

// Endpoint is one side of a connection: a pod, or an IP address outside the cluster.
// Exactly one of Pod and IP is set; when Pod is set, IP is ignored.
type Endpoint struct {
	// Pod is identified by its namespace and name: when the State has a pod with that
	// key, the State's copy is used; otherwise Pod itself is evaluated (slower).
	Pod *corev1.Pod
	// IP is an address that does not belong to a pod. It has no policies of its own and
	// only ipBlock peers match it; an unparsable IP matches nothing.
	IP string
}

// PodEndpoint returns the Endpoint for pod p.
func PodEndpoint(p *corev1.Pod) Endpoint { return Endpoint{Pod: p} }

// IPEndpoint returns the Endpoint for the external address ip.
func IPEndpoint(ip string) Endpoint { return Endpoint{IP: ip} }

// Verdict is the answer of Check, with the reasons for it.
type Verdict struct {
	// Allowed reports whether the connection is allowed: egress of the source and
	// ingress of the destination both allow it, or source and destination are the same
	// pod (a pod cannot block traffic to itself).
	Allowed bool
	// EgressIsolated reports whether some policy selects the source for Egress.
	EgressIsolated bool
	// IngressIsolated reports whether some policy selects the destination for Ingress.
	IngressIsolated bool
	// EgressAllowedBy lists, as "namespace/name" sorted by namespace then name, every
	// policy selecting the source for Egress that has a rule allowing the connection,
	// whatever the ingress side says. Empty when the source is not isolated.
	EgressAllowedBy []string
	// IngressAllowedBy lists, as "namespace/name" sorted by namespace then name, every
	// policy selecting the destination for Ingress that has a rule allowing the
	// connection, whatever the egress side says. Empty when the destination is not
	// isolated.
	IngressAllowedBy []string
}

// Flow is one connection reported by Flows.
type Flow struct {
	// From is the source: a pod as "namespace/name", or the name of an
	// Address of the State.
	From string
	// FromIP is the IP of the source when it is an Address; empty for a pod.
	FromIP string
	// To is the destination: a pod as "namespace/name", or the name of an
	// Address of the State.
	To string
	// ToIP is the IP of the destination when it is an Address; empty for a
	// pod.
	ToIP string
	// Port is a container port of the destination pod, or a port of the
	// destination Address.
	Port int32
	// Protocol is the protocol of that port.
	Protocol corev1.Protocol
	// Allowed is Verdict.Allowed for this connection.
	Allowed bool
}

// Evaluator answers reachability questions about a State. It is immutable and safe
// for concurrent use.
type Evaluator struct {
	// namespaces sorted by name; each holds the range of its pods.
	namespaces []nsInfo
	nsIndex    map[string]int
	// pods sorted by namespace, then name.
	pods     []podInfo
	podIndex map[podKey]int
	// podByPtr indexes the State's own Pod objects, a faster lookup for the usual
	// PodEndpoint(&state.Pods[i]).
	podByPtr map[*corev1.Pod]int
	// policies sorted by namespace, then name; shared with Subset evaluators.
	policies []*policy
	// ingressOf[i] and egressOf[i] are the indexes into policies of the policies
	// that select pod i for that direction, in order.
	ingressOf [][]int32
	egressOf  [][]int32
	// addresses of the State, in its order.
	addresses []addressInfo
	// classes of the pods, computed on first use; shared with Subset
	// evaluators.
	classes *podClasses
}

// podKey identifies a pod.
type podKey struct{ namespace, name string }

// nsInfo is a namespace of the State, or one that a pod or a policy refers to.
type nsInfo struct {
	name   string
	labels labels.Set
	// podLo and podHi bound the indexes of the namespace's pods.
	podLo, podHi int
}

// podInfo is what the evaluation needs of a pod.
type podInfo struct {
	source    *corev1.Pod
	key       string // namespace/name
	namespace string
	labels    labels.Set
	nsLabels  labels.Set
	ips       []netip.Addr
	// ports are the container ports, for named-port resolution.
	ports []containerPort
	// flowPorts are the distinct (port, protocol) pairs of ports, sorted.
	flowPorts []portProto
}

type containerPort struct {
	name     string
	port     int32
	protocol corev1.Protocol
}

type portProto struct {
	port     int32
	protocol corev1.Protocol
}

// New compiles s into an Evaluator. It fails, naming the object, on what the API
// server would reject and the evaluation cannot interpret: invalid label selectors or
// CIDRs, peers that set nothing or an ipBlock together with a selector, endPort without
// a numeric port, unknown protocols or policy types (as a *PolicyError),
// duplicate objects, and addresses with an invalid IP or port, or a name
// that another address or a pod has.
func New(s State) (*Evaluator, error) {
	e := &Evaluator{nsIndex: map[string]int{}, podIndex: map[podKey]int{}, podByPtr: map[*corev1.Pod]int{}, classes: &podClasses{}}

	nsLabels := map[string]labels.Set{}
	for i := range s.Namespaces {
		ns := &s.Namespaces[i]
		if _, dup := nsLabels[ns.Name]; dup {
			return nil, fmt.Errorf("duplicate Namespace %s", ns.Name)
		}
		nsLabels[ns.Name] = NamespaceLabels(ns.Name, ns.Labels)
	}
	for i := range s.Pods {
		if _, ok := nsLabels[s.Pods[i].Namespace]; !ok {
			nsLabels[s.Pods[i].Namespace] = NamespaceLabels(s.Pods[i].Namespace, nil)
		}
	}
	for i := range s.Policies {
		if _, ok := nsLabels[s.Policies[i].Namespace]; !ok {
			nsLabels[s.Policies[i].Namespace] = NamespaceLabels(s.Policies[i].Namespace, nil)
		}
	}

	pods := make([]*corev1.Pod, len(s.Pods))
	for i := range s.Pods {
		pods[i] = &s.Pods[i]
	}
	slices.SortFunc(pods, func(a, b *corev1.Pod) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	e.pods = make([]podInfo, len(pods))
	for i, p := range pods {
		e.pods[i] = newPodInfo(p, nsLabels[p.Namespace])
		k := podKey{p.Namespace, p.Name}
		if _, dup := e.podIndex[k]; dup {
			return nil, fmt.Errorf("duplicate Pod %s", e.pods[i].key)
		}
		e.podIndex[k] = i
		e.podByPtr[p] = i
	}

	nsNames := make([]string, 0, len(nsLabels))
	for name := range nsLabels {
		nsNames = append(nsNames, name)
	}
	slices.Sort(nsNames)
	e.namespaces = make([]nsInfo, len(nsNames))
	for i, name := range nsNames {
		lo, _ := slices.BinarySearchFunc(e.pods, name, func(p podInfo, ns string) int { return cmp.Compare(p.namespace, ns) })
		hi := lo
		for hi < len(e.pods) && e.pods[hi].namespace == name {
			hi++
		}
		e.namespaces[i] = nsInfo{name: name, labels: nsLabels[name], podLo: lo, podHi: hi}
		e.nsIndex[name] = i
	}

	c := &compiler{e: e, cache: map[string]bitset{}}
	seen := map[string]bool{}
	for i := range s.Policies {
		np := &s.Policies[i]
		p, err := c.compile(np)
		if err != nil {
			return nil, &PolicyError{Namespace: np.Namespace, Name: np.Name, Err: err}
		}
		if seen[p.key] {
			return nil, fmt.Errorf("duplicate NetworkPolicy %s", p.key)
		}
		seen[p.key] = true
		e.policies = append(e.policies, p)
	}
	slices.SortFunc(e.policies, func(a, b *policy) int {
		return cmp.Or(cmp.Compare(a.source.Namespace, b.source.Namespace), cmp.Compare(a.source.Name, b.source.Name))
	})
	e.index()
	if err := e.compileAddresses(s.Addresses); err != nil {
		return nil, err
	}
	return e, nil
}

// Subset returns an Evaluator over the same namespaces and pods that only enforces the
// policies for which keep returns true; keep receives the policies of the State. It
// reuses the compiled policies, so it costs far less than New; e is not changed.
//
// For example, Subset(ownedByTierwall) answers "what would our policies alone allow",
// and comparing its Flows with e's shows what other policies open in addition. Note
// that dropping policies can also make a pod non-isolated, which allows everything.
// For a single connection, Verdict's AllowedBy lists give the same answer without a
// second Evaluator: a side is opened by foreign policies alone when its list is not
// empty and names none of ours.
func (e *Evaluator) Subset(keep func(*networkingv1.NetworkPolicy) bool) *Evaluator {
	sub := *e
	sub.policies = nil
	for _, p := range e.policies {
		if keep(p.source) {
			sub.policies = append(sub.policies, p)
		}
	}
	sub.index()
	return &sub
}

// index fills ingressOf and egressOf from policies.
func (e *Evaluator) index() {
	e.ingressOf = make([][]int32, len(e.pods))
	e.egressOf = make([][]int32, len(e.pods))
	for pi, p := range e.policies {
		p.selected.each(func(i int) {
			if p.ingress {
				e.ingressOf[i] = append(e.ingressOf[i], int32(pi))
			}
			if p.egress {
				e.egressOf[i] = append(e.egressOf[i], int32(pi))
			}
		})
	}
}

// Check decides whether a connection from one endpoint to another on port and
// protocol (empty means TCP) is allowed, and says which policies allow each side.
func (e *Evaluator) Check(from, to Endpoint, port int32, protocol corev1.Protocol) Verdict {
	if protocol == "" {
		protocol = corev1.ProtocolTCP
	}
	return e.verdict(e.resolve(from), e.resolve(to), port, protocol)
}

// verdict is Check on resolved endpoints.
func (e *Evaluator) verdict(src, dst endpoint, port int32, protocol corev1.Protocol) Verdict {
	var v Verdict
	egressOK, ingressOK := true, true
	if pols := e.policiesFor(src, false); len(pols) > 0 {
		v.EgressIsolated = true
		v.EgressAllowedBy = e.allowedBy(pols, false, &dst, &dst, port, protocol)
		egressOK = len(v.EgressAllowedBy) > 0
	}
	if pols := e.policiesFor(dst, true); len(pols) > 0 {
		v.IngressIsolated = true
		v.IngressAllowedBy = e.allowedBy(pols, true, &src, &dst, port, protocol)
		ingressOK = len(v.IngressAllowedBy) > 0
	}
	v.Allowed = (egressOK && ingressOK) || samePod(src, dst)
	return v
}

// Flows yields, for every ordered pair of distinct pods of the State (sources, then
// destinations, sorted by namespace and name) and every distinct (port, protocol) of the
// destination's container ports (sorted), whether the connection is allowed. Pods
// without container ports receive no flows. Use Check for the reasons of a flow.
//
// When the State has Addresses, each pod's flows to the pods are followed by its
// flows to the addresses (in the State's order, on each address's ports), and the
// pods' flows are followed by those from each address to every pod. There are no
// flows between two addresses.
//
// Flows is an iterator because the number of flows grows with the square of the
// number of pods; use slices.Collect for small states. When iteration starts, Flows
// evaluates every rule once per destination port (not once per flow) into one pod set
// per destination port, which takes pods × ports × pods / 8 bytes: about 1 MB for
// 2,000 pods with two ports each.
func (e *Evaluator) Flows() iter.Seq[Flow] {
	return func(yield func(Flow) bool) {
		allowed := e.allowedSources()
		for s := range e.pods {
			for d := range e.pods {
				if d == s {
					continue
				}
				for i, pp := range e.pods[d].flowPorts {
					f := Flow{
						From:     e.pods[s].key,
						To:       e.pods[d].key,
						Port:     pp.port,
						Protocol: pp.protocol,
						Allowed:  allowed[d][i].has(s),
					}
					if !yield(f) {
						return
					}
				}
			}
			if !e.addressFlows(s, false, yield) {
				return
			}
		}
		for a := range e.addresses {
			if !e.addressFlows(a, true, yield) {
				return
			}
		}
	}
}

// allowedSources computes, for every pod d and every i in d.flowPorts, the pods that
// may connect to d on that port: allowed[d][i]. It evaluates each rule once per
// destination port rather than once per flow: ingress is the union of the peers of
// the rules of d's ingress policies that admit the port, egress the union of the pods
// selected by egress policies with a rule admitting d and the port.
func (e *Evaluator) allowedSources() [][]bitset {
	n := len(e.pods)
	words := len(newBitset(n))
	total := 0
	for d := range e.pods {
		total += len(e.pods[d].flowPorts)
	}
	backing := make([]uint64, total*words)
	allowed := make([][]bitset, n)

	notEgressIsolated := newBitset(n)
	for i := range e.pods {
		if len(e.egressOf[i]) == 0 {
			notEgressIsolated.set(i)
		}
	}
	var egressPolicies []*policy
	for _, p := range e.policies {
		if p.egress {
			egressPolicies = append(egressPolicies, p)
		}
	}

	egress := newBitset(n)
	for d := range e.pods {
		dst := endpoint{idx: d, pod: &e.pods[d]}
		allowed[d] = make([]bitset, len(e.pods[d].flowPorts))
		for i, pp := range e.pods[d].flowPorts {
			set := bitset(backing[:words:words])
			backing = backing[words:]
			allowed[d][i] = set

			if len(e.ingressOf[d]) == 0 {
				set.fill(n)
			}
		ingress:
			for _, pi := range e.ingressOf[d] {
				for _, r := range e.policies[pi].ingressRules {
					if !r.portsMatch(&dst, pp.port, pp.protocol) {
						continue
					}
					if len(r.peers) == 0 {
						set.fill(n)
						break ingress
					}
					for _, peer := range r.peers {
						set.or(peer.pods)
					}
				}
			}

			copy(egress, notEgressIsolated)
			for _, p := range egressPolicies {
				if !p.selected.intersects(set) {
					continue
				}
				for _, r := range p.egressRules {
					if r.portsMatch(&dst, pp.port, pp.protocol) && r.peersMatch(&dst) {
						egress.or(p.selected)
						break
					}
				}
			}
			set.and(egress)
		}
	}
	return allowed
}

// endpoint is a resolved Endpoint: a pod of the State (idx >= 0), a pod outside the
// State (idx < 0, pod set), or an external address (pod nil).
type endpoint struct {
	idx int
	pod *podInfo
	ip  netip.Addr
}

func (e *Evaluator) resolve(ep Endpoint) endpoint {
	if ep.Pod == nil {
		ip, err := netip.ParseAddr(ep.IP)
		if err != nil {
			return endpoint{idx: -1}
		}
		return endpoint{idx: -1, ip: ip.Unmap()}
	}
	if i, ok := e.podByPtr[ep.Pod]; ok {
		return endpoint{idx: i, pod: &e.pods[i]}
	}
	if i, ok := e.podIndex[podKey{ep.Pod.Namespace, ep.Pod.Name}]; ok {
		return endpoint{idx: i, pod: &e.pods[i]}
	}
	nsl := NamespaceLabels(ep.Pod.Namespace, nil)
	if i, ok := e.nsIndex[ep.Pod.Namespace]; ok {
		nsl = e.namespaces[i].labels
	}
	pi := newPodInfo(ep.Pod, nsl)
	return endpoint{idx: -1, pod: &pi}
}

func samePod(a, b endpoint) bool {
	return a.pod != nil && b.pod != nil && a.pod.key == b.pod.key
}

// policiesFor returns the indexes of the policies selecting ep for the direction.
func (e *Evaluator) policiesFor(ep endpoint, ingress bool) []int32 {
	switch {
	case ep.pod == nil:
		return nil
	case ep.idx >= 0 && ingress:
		return e.ingressOf[ep.idx]
	case ep.idx >= 0:
		return e.egressOf[ep.idx]
	}
	var out []int32
	for i, p := range e.policies {
		if (ingress && p.ingress || !ingress && p.egress) && p.selectsPod(ep.pod) {
			out = append(out, int32(i))
		}
	}
	return out
}

// allowedBy returns the keys of the policies among pols whose rules for the direction
// allow a connection to dst; peer is the other side of the connection, which the
// rules' peers must match.
func (e *Evaluator) allowedBy(pols []int32, ingress bool, peer, dst *endpoint, port int32, protocol corev1.Protocol) []string {
	var out []string
	for _, i := range pols {
		if e.policies[i].allows(ingress, peer, dst, port, protocol) {
			out = append(out, e.policies[i].key)
		}
	}
	return out
}

// NamespaceLabels returns the labels a namespace selector sees on the
// namespace name: its own labels plus kubernetes.io/metadata.name, which the
// control plane sets on every namespace.
func NamespaceLabels(name string, own map[string]string) labels.Set {
	l := labels.Set{}
	maps.Copy(l, own)
	if _, ok := l[corev1.LabelMetadataName]; !ok {
		l[corev1.LabelMetadataName] = name
	}
	return l
}

func newPodInfo(p *corev1.Pod, nsLabels labels.Set) podInfo {
	pi := podInfo{
		source:    p,
		key:       p.Namespace + "/" + p.Name,
		namespace: p.Namespace,
		labels:    labels.Set(p.Labels),
		nsLabels:  nsLabels,
	}
	addIP := func(s string) {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return
		}
		ip = ip.Unmap()
		if !slices.Contains(pi.ips, ip) {
			pi.ips = append(pi.ips, ip)
		}
	}
	for _, ip := range p.Status.PodIPs {
		addIP(ip.IP)
	}
	if p.Status.PodIP != "" {
		addIP(p.Status.PodIP)
	}
	addPorts := func(c *corev1.Container) {
		for _, cp := range c.Ports {
			proto := cmp.Or(cp.Protocol, corev1.ProtocolTCP)
			pi.ports = append(pi.ports, containerPort{name: cp.Name, port: cp.ContainerPort, protocol: proto})
			pp := portProto{port: cp.ContainerPort, protocol: proto}
			if !slices.Contains(pi.flowPorts, pp) {
				pi.flowPorts = append(pi.flowPorts, pp)
			}
		}
	}
	for i := range p.Spec.Containers {
		addPorts(&p.Spec.Containers[i])
	}
	for i := range p.Spec.InitContainers {
		c := &p.Spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			addPorts(c)
		}
	}
	slices.SortFunc(pi.flowPorts, comparePortProto)
	return pi
}

// PolicyError says which NetworkPolicy the evaluator cannot read, and why.
type PolicyError struct {
	// Namespace and Name identify the policy.
	Namespace, Name string
	// Err is the problem, naming the field.
	Err error
}

func (e *PolicyError) Error() string {
	return fmt.Sprintf("invalid NetworkPolicy %s/%s: %v", e.Namespace, e.Name, e.Err)
}

func (e *PolicyError) Unwrap() error { return e.Err }
