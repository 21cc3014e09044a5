// Package render turns an AppIsolation into the exact NetworkPolicies that
// enforce it. It is pure: the operator, the CLI and the tests share it as the
// one source of truth for what an AppIsolation means.
package render

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
)

// NamespaceNameLabel is set by the control plane on every namespace to its
// name, and cannot be changed: the one safe way to select a namespace.
const NamespaceNameLabel = "kubernetes.io/metadata.name"

// DefaultDenyName is the name of the policy that isolates the governed pods.
func DefaultDenyName(app string) string { return app + "-default-deny" }

// DNSName is the name of the policy that lets the governed pods query DNS.
func DNSName(app string) string { return app + "-dns" }

// TierName is the name of a tier's allow policy.
func TierName(app, tier string) string { return app + "-tier-" + tier }

// Render returns the NetworkPolicies that enforce app, in the order they must
// be applied: tier allows, then DNS, then the default-deny last, so that
// applying them one by one never drops traffic the AppIsolation allows.
// Remove them in the reverse order.
//
// A NetworkPolicy that allows egress also isolates egress, so each tier
// policy carries every egress its pods are allowed, DNS included; the DNS
// policy covers the governed pods that are in no tier. Every policy lists
// only the directions of spec.policyTypes: with Ingress only, there is no
// DNS policy and no egress rule, and the governed pods' egress stays open.
//
// platform gives the cluster's addresses that the spec follows rather than
// names (the Nodes' for an ingress controller with hostNetwork); its zero
// value knows none, and then a peer made of them allows nothing rather
// than everything.
//
// An error means the spec cannot be rendered whatever the cluster holds (an
// invalid label selector, a reference to an unknown tier): retrying will not
// help until the spec changes.
func Render(app *tierwallv1alpha1.AppIsolation, platform Platform) ([]networkingv1.NetworkPolicy, error) {
	if err := validate(&app.Spec); err != nil {
		return nil, err
	}
	r := renderer{app: app, tiers: map[string]*tierwallv1alpha1.Tier{},
		nodes: canonical(platform.NodeAddresses), apiServer: platform.KubeAPIServer.canonical(),
		others: map[tierwallv1alpha1.AppIsolationReference]*tierwallv1alpha1.AppIsolation{}}
	for i := range platform.AppIsolations {
		other := &platform.AppIsolations[i]
		r.others[other.Reference()] = other
	}
	for i := range app.Spec.Tiers {
		r.tiers[app.Spec.Tiers[i].Name] = &app.Spec.Tiers[i]
	}
	policies := make([]networkingv1.NetworkPolicy, 0, len(app.Spec.Tiers)+2)
	for i := range app.Spec.Tiers {
		policies = append(policies, r.tierPolicy(&app.Spec.Tiers[i]))
	}
	if dns := r.dnsRule(); dns != nil {
		p := r.policy(DNSName(app.Name), tierwallv1alpha1.RoleDNS, "", r.governed())
		p.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
		p.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{*dns}
		policies = append(policies, p)
	}
	deny := r.policy(DefaultDenyName(app.Name), tierwallv1alpha1.RoleDefaultDeny, "", r.governed())
	deny.Spec.PolicyTypes = r.policyTypes()
	return append(policies, deny), nil
}

type renderer struct {
	app   *tierwallv1alpha1.AppIsolation
	tiers map[string]*tierwallv1alpha1.Tier
	// nodes are the Node addresses, sorted, without duplicates.
	nodes []netip.Addr
	// apiServer are the API server's endpoints, sorted, without duplicates.
	apiServer Endpoints
	// others are the AppIsolations the platform knows, by reference.
	others map[tierwallv1alpha1.AppIsolationReference]*tierwallv1alpha1.AppIsolation
}

// Platform is what the cluster says about the endpoints that selectors
// cannot match and that an AppIsolation follows rather than names. The
// operator reads it from the cluster on every reconcile; the zero value
// knows nothing.
type Platform struct {
	// NodeAddresses are the InternalIP addresses of the cluster's Nodes,
	// in any order: an ingress controller with hostNetwork sends from
	// them. Render sorts them and drops duplicates.
	NodeAddresses []netip.Addr
	// KubeAPIServer are the endpoints of the default/kubernetes Service:
	// where a connection to the API server goes after DNAT.
	KubeAPIServer Endpoints
	// AppIsolations are the other AppIsolations the spec's appIsolation
	// peers name, in any namespace and order; others are ignored. A peer
	// whose AppIsolation or tier is missing allows nothing.
	AppIsolations []tierwallv1alpha1.AppIsolation
}

// Endpoints are the addresses and ports of a Service's endpoints. Every
// address is allowed on every port.
type Endpoints struct {
	// Addresses are the endpoints' addresses, in any order.
	Addresses []netip.Addr
	// Ports are the endpoints' ports, in any order.
	Ports []EndpointPort
}

// EndpointPort is a port of a Service's endpoints.
type EndpointPort struct {
	Port     int32
	Protocol corev1.Protocol
}

// KubeAPIServerEndpoints returns the endpoints of slices, the
// EndpointSlices of the default/kubernetes Service: the addresses of the
// ready endpoints (readiness unknown counts as ready) and the ports, sorted,
// without duplicates.
func KubeAPIServerEndpoints(endpointSlices []discoveryv1.EndpointSlice) Endpoints {
	var out Endpoints
	for i := range endpointSlices {
		s := &endpointSlices[i]
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && !*e.Conditions.Ready {
				continue
			}
			for _, a := range e.Addresses {
				if ip, err := netip.ParseAddr(a); err == nil {
					out.Addresses = append(out.Addresses, ip)
				}
			}
		}
		for _, p := range s.Ports {
			if p.Port != nil {
				out.Ports = append(out.Ports, EndpointPort{Port: *p.Port, Protocol: ptr.Deref(p.Protocol, corev1.ProtocolTCP)})
			}
		}
	}
	return out.canonical()
}

// canonical sorts the addresses and ports and drops duplicates.
func (e Endpoints) canonical() Endpoints {
	ports := slices.Clone(e.Ports)
	slices.SortFunc(ports, func(a, b EndpointPort) int {
		return cmp.Or(cmp.Compare(a.Port, b.Port), cmp.Compare(a.Protocol, b.Protocol))
	})
	return Endpoints{Addresses: canonical(e.Addresses), Ports: slices.Compact(ports)}
}

// Strings are the endpoints as "address:port", sorted by address, then
// port, protocol left out unless UDP or SCTP ("address:port/UDP").
func (e Endpoints) Strings() []string {
	e = e.canonical()
	out := make([]string, 0, len(e.Addresses)*len(e.Ports))
	for _, a := range e.Addresses {
		for _, p := range e.Ports {
			s := netip.AddrPortFrom(a, uint16(p.Port)).String()
			if p.Protocol != corev1.ProtocolTCP {
				s += "/" + string(p.Protocol)
			}
			out = append(out, s)
		}
	}
	return out
}

// NodeAddressStrings are addrs, sorted, without duplicates, as strings.
func NodeAddressStrings(addrs []netip.Addr) []string {
	out := make([]string, 0, len(addrs))
	for _, a := range canonical(addrs) {
		out = append(out, a.String())
	}
	return out
}

// Known tells whether some endpoint is known: an address and a port.
func (e Endpoints) Known() bool { return len(e.Addresses) > 0 && len(e.Ports) > 0 }

// NodeAddresses returns the InternalIP addresses of nodes, sorted, without
// duplicates; an address that does not parse is left out.
func NodeAddresses(nodes []corev1.Node) []netip.Addr {
	var out []netip.Addr
	for i := range nodes {
		for _, a := range nodes[i].Status.Addresses {
			if a.Type != corev1.NodeInternalIP {
				continue
			}
			if ip, err := netip.ParseAddr(a.Address); err == nil {
				out = append(out, ip)
			}
		}
	}
	return canonical(out)
}

// canonical sorts addresses and drops duplicates, zones and IPv4-in-IPv6
// mappings, so that the same cluster always renders the same policies.
func canonical(addrs []netip.Addr) []netip.Addr {
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if a.IsValid() {
			out = append(out, a.Unmap().WithZone(""))
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// hostBlock is the ipBlock of one address: a /32 or a /128.
func hostBlock(ip netip.Addr) *networkingv1.IPBlock {
	return &networkingv1.IPBlock{CIDR: netip.PrefixFrom(ip, ip.BitLen()).String()}
}

// policy returns an empty policy with tierwall's name, labels and owner.
func (r *renderer) policy(name, role, tier string, selector metav1.LabelSelector) networkingv1.NetworkPolicy {
	labels := map[string]string{
		tierwallv1alpha1.ManagedByLabel:    tierwallv1alpha1.ManagedByValue,
		tierwallv1alpha1.AppIsolationLabel: r.app.Name,
		tierwallv1alpha1.RoleLabel:         role,
	}
	if tier != "" {
		labels[tierwallv1alpha1.TierLabel] = tier
	}
	return networkingv1.NetworkPolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: networkingv1.SchemeGroupVersion.String(), Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            name,
			Namespace:       r.app.Namespace,
			Labels:          labels,
			OwnerReferences: []metav1.OwnerReference{OwnerReference(r.app)},
		},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: selector},
	}
}

// OwnerReference is the controller reference every generated policy carries.
func OwnerReference(app *tierwallv1alpha1.AppIsolation) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion:         tierwallv1alpha1.GroupVersion.String(),
		Kind:               tierwallv1alpha1.AppIsolationKind,
		Name:               app.Name,
		UID:                app.UID,
		Controller:         ptr.To(true),
		BlockOwnerDeletion: ptr.To(true),
	}
}

// policyTypes are the directions the AppIsolation isolates, in
// NetworkPolicy's order: Ingress, then Egress.
func (r *renderer) policyTypes() []networkingv1.PolicyType {
	var out []networkingv1.PolicyType
	if r.app.Spec.Isolates(tierwallv1alpha1.PolicyTypeIngress) {
		out = append(out, networkingv1.PolicyTypeIngress)
	}
	if r.app.Spec.Isolates(tierwallv1alpha1.PolicyTypeEgress) {
		out = append(out, networkingv1.PolicyTypeEgress)
	}
	return out
}

// tierPolicy allows a tier's ingress from its allowFrom peers on their
// ports, and its egress to the tiers that allow it, to its egressTo and to
// DNS, in the directions the AppIsolation isolates: a policy that lists a
// direction isolates it, so it lists only those.
func (r *renderer) tierPolicy(t *tierwallv1alpha1.Tier) networkingv1.NetworkPolicy {
	p := r.policy(TierName(r.app.Name, t.Name), tierwallv1alpha1.RoleTier, t.Name, r.tierSelector(t))
	p.Spec.PolicyTypes = r.policyTypes()
	// sources name, for the annotation, the addresses that follow the
	// cluster.
	var sources []string
	if r.app.Spec.Isolates(tierwallv1alpha1.PolicyTypeIngress) {
		p.Spec.Ingress = r.ingressRules(t)
		if from := r.hostNetworkControllers(t); len(from) > 0 && len(r.nodes) > 0 {
			sources = append(sources, fmt.Sprintf(
				"InternalIPs of the Nodes (%d), for hostNetwork ingress controllers: %s", len(r.nodes), strings.Join(from, ", ")))
		}
	}
	if !r.app.Spec.Isolates(tierwallv1alpha1.PolicyTypeEgress) {
		if len(sources) > 0 {
			p.Annotations = map[string]string{tierwallv1alpha1.IPBlocksFromAnnotation: strings.Join(sources, "; ")}
		}
		return p
	}
	for i := range r.app.Spec.Tiers {
		dest := &r.app.Spec.Tiers[i]
		if ports, ok := portsFrom(dest, t.Name); ok {
			p.Spec.Egress = append(p.Spec.Egress, networkingv1.NetworkPolicyEgressRule{
				To:    []networkingv1.NetworkPolicyPeer{{PodSelector: ptr.To(r.tierSelector(dest))}},
				Ports: ports,
			})
		}
	}
	apiServer := false
	for _, e := range t.EgressTo {
		if e.AppIsolation != nil {
			if rule := r.otherTierRule(t, &e); rule != nil {
				p.Spec.Egress = append(p.Spec.Egress, *rule)
			}
			continue
		}
		if e.KubeAPIServer != nil {
			// No endpoint known: no rule, rather than one without peers
			// or ports, which would allow more.
			if rule := r.apiServerRule(); rule != nil && !apiServer {
				p.Spec.Egress = append(p.Spec.Egress, *rule)
			}
			apiServer = true
			continue
		}
		p.Spec.Egress = append(p.Spec.Egress, networkingv1.NetworkPolicyEgressRule{
			To:    []networkingv1.NetworkPolicyPeer{rawPeer(e.NamespaceSelector, e.PodSelector, e.IPBlock)},
			Ports: policyPorts(e.Ports),
		})
	}
	if apiServer && r.apiServer.Known() {
		sources = append(sources, fmt.Sprintf("the endpoints of the %s/%s Service (%d addresses)",
			tierwallv1alpha1.KubeAPIServerNamespace, tierwallv1alpha1.KubeAPIServerService, len(r.apiServer.Addresses)))
	}
	if len(sources) > 0 {
		p.Annotations = map[string]string{tierwallv1alpha1.IPBlocksFromAnnotation: strings.Join(sources, "; ")}
	}
	if dns := r.dnsRule(); dns != nil {
		p.Spec.Egress = append(p.Spec.Egress, *dns)
	}
	return p
}

// ingressRules are a tier's ingress rules, one per distinct set of ports:
// the peers on the tier's ports first, in one rule, then the peers with
// ports of their own, a rule per set in order of first appearance.
func (r *renderer) ingressRules(t *tierwallv1alpha1.Tier) []networkingv1.NetworkPolicyIngressRule {
	var rules []networkingv1.NetworkPolicyIngressRule
	index := map[string]int{}
	if slices.ContainsFunc(t.AllowFrom, func(p tierwallv1alpha1.Peer) bool { return len(p.Ports) == 0 }) {
		rules = append(rules, networkingv1.NetworkPolicyIngressRule{Ports: policyPorts(t.Ports)})
		index[portsKey(rules[0].Ports)] = 0
	}
	for i := range t.AllowFrom {
		peer := &t.AllowFrom[i]
		ports := policyPorts(t.PeerPorts(peer))
		key := portsKey(ports)
		j, ok := index[key]
		if !ok {
			j = len(rules)
			index[key] = j
			rules = append(rules, networkingv1.NetworkPolicyIngressRule{Ports: ports})
		}
		rules[j].From = append(rules[j].From, r.ingressPeers(*peer)...)
	}
	// A rule whose peers are all Node addresses, with no Node known, or
	// tiers of AppIsolations the platform does not know, has no peers: it
	// would allow everyone. It allows no one, so it goes.
	rules = slices.DeleteFunc(rules, func(rule networkingv1.NetworkPolicyIngressRule) bool { return len(rule.From) == 0 })
	if len(rules) == 0 {
		return nil
	}
	return rules
}

// otherTier returns the peer selecting the pods of tier of the AppIsolation
// ref, and the tier, or false when the platform does not know them.
func (r *renderer) otherTier(ref tierwallv1alpha1.AppIsolationReference, tier string) (networkingv1.NetworkPolicyPeer, *tierwallv1alpha1.Tier, bool) {
	other := r.others[ref]
	if other == nil {
		return networkingv1.NetworkPolicyPeer{}, nil, false
	}
	t := other.Spec.TierNamed(tier)
	if t == nil {
		return networkingv1.NetworkPolicyPeer{}, nil, false
	}
	var governed metav1.LabelSelector
	if other.Spec.PodSelector != nil {
		governed = *other.Spec.PodSelector.DeepCopy()
	}
	// The other AppIsolation does not render with an invalid selector, and
	// this one would not apply with it: its tier is as good as unknown.
	opts := metav1validation.LabelSelectorValidationOptions{}
	if len(metav1validation.ValidateLabelSelector(&governed, opts, nil)) > 0 ||
		len(metav1validation.ValidateLabelSelector(&t.PodSelector, opts, nil)) > 0 {
		return networkingv1.NetworkPolicyPeer{}, nil, false
	}
	// Namespace AND pods in one peer: two peers would mean OR.
	selector := Intersect(governed, t.PodSelector)
	return networkingv1.NetworkPolicyPeer{NamespaceSelector: namespaceByName(ref.Namespace), PodSelector: &selector}, t, true
}

// otherTierRule is tier t's egress rule to the tier of another
// AppIsolation that e names, on e's ports or, when it lists none, on those
// the other tier accepts from t; nil when the other tier is unknown or
// accepts no port, rather than a rule that would allow every port.
func (r *renderer) otherTierRule(t *tierwallv1alpha1.Tier, e *tierwallv1alpha1.EgressRule) *networkingv1.NetworkPolicyEgressRule {
	peer, dest, ok := r.otherTier(*e.AppIsolation, e.Tier)
	if !ok {
		return nil
	}
	ports := e.Ports
	if len(ports) == 0 {
		ports = dest.EgressPorts(r.app.Reference(), t.Name)
	}
	if len(ports) == 0 {
		return nil
	}
	return &networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{peer}, Ports: policyPorts(ports)}
}

// apiServerRule is the egress rule to the API server's endpoints, or nil
// when none is known.
func (r *renderer) apiServerRule() *networkingv1.NetworkPolicyEgressRule {
	if !r.apiServer.Known() {
		return nil
	}
	rule := &networkingv1.NetworkPolicyEgressRule{}
	for _, ip := range r.apiServer.Addresses {
		rule.To = append(rule.To, networkingv1.NetworkPolicyPeer{IPBlock: hostBlock(ip)})
	}
	for _, port := range r.apiServer.Ports {
		rule.Ports = append(rule.Ports, networkingv1.NetworkPolicyPort{
			Protocol: ptr.To(port.Protocol), Port: ptr.To(intstr.FromInt32(port.Port)),
		})
	}
	return rule
}

// hostNetworkControllers names, in order, the ingress controllers with
// hostNetwork that tier t accepts traffic from.
func (r *renderer) hostNetworkControllers(t *tierwallv1alpha1.Tier) []string {
	var out []string
	for _, peer := range t.AllowFrom {
		if c := r.app.Spec.IngressControllerNamed(peer.IngressController); c != nil && c.HostNetwork && !slices.Contains(out, c.Name) {
			out = append(out, c.Name)
		}
	}
	return out
}

// portsFrom returns the ports dest accepts from the tier named source, the
// ports of every allowFrom entry naming it, and false when none does.
func portsFrom(dest *tierwallv1alpha1.Tier, source string) ([]networkingv1.NetworkPolicyPort, bool) {
	ports, found := dest.AcceptedPorts(nil, source)
	return policyPorts(ports), found
}

// portsKey identifies a list of ports, so that rules on the same ports are
// merged.
func portsKey(ports []networkingv1.NetworkPolicyPort) string {
	var b strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&b, "%s/%s-%d;", p.Port.String(), ptr.Deref(p.Protocol, ""), ptr.Deref(p.EndPort, 0))
	}
	return b.String()
}

// ingressPeers turns one allowFrom entry into NetworkPolicy peers.
func (r *renderer) ingressPeers(peer tierwallv1alpha1.Peer) []networkingv1.NetworkPolicyPeer {
	switch {
	case peer.AppIsolation != nil:
		if p, _, ok := r.otherTier(*peer.AppIsolation, peer.Tier); ok {
			return []networkingv1.NetworkPolicyPeer{p}
		}
		return nil
	case peer.Tier != "":
		return []networkingv1.NetworkPolicyPeer{{PodSelector: ptr.To(r.tierSelector(r.tiers[peer.Tier]))}}
	case peer.IngressController != "":
		c := r.app.Spec.IngressControllerNamed(peer.IngressController)
		var peers []networkingv1.NetworkPolicyPeer
		if c.Namespace != "" {
			// Namespace AND pods in one peer: two peers would mean OR.
			peers = append(peers, networkingv1.NetworkPolicyPeer{
				NamespaceSelector: namespaceByName(c.Namespace),
				PodSelector:       c.PodSelector.DeepCopy(),
			})
		}
		for _, b := range c.IPBlocks {
			peers = append(peers, networkingv1.NetworkPolicyPeer{IPBlock: ipBlock(&b)})
		}
		if c.HostNetwork {
			for _, ip := range r.nodes {
				peers = append(peers, networkingv1.NetworkPolicyPeer{IPBlock: hostBlock(ip)})
			}
		}
		return peers
	default:
		return []networkingv1.NetworkPolicyPeer{rawPeer(peer.NamespaceSelector, peer.PodSelector, peer.IPBlock)}
	}
}

// dnsRule is the egress rule to the cluster DNS, and to NodeLocal DNSCache's
// address when spec.dns.nodeLocal is set, or nil when DNS is disabled.
func (r *renderer) dnsRule() *networkingv1.NetworkPolicyEgressRule {
	namespace, selector, enabled := r.app.Spec.DNSPeer()
	if !enabled {
		return nil
	}
	to := []networkingv1.NetworkPolicyPeer{{NamespaceSelector: namespaceByName(namespace), PodSelector: &selector}}
	if address, ok := r.app.Spec.NodeLocalDNSAddress(); ok {
		// validate has checked that it parses.
		to = append(to, networkingv1.NetworkPolicyPeer{IPBlock: hostBlock(netip.MustParseAddr(address))})
	}
	return &networkingv1.NetworkPolicyEgressRule{
		To: to,
		Ports: []networkingv1.NetworkPolicyPort{
			{Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To(intstr.FromInt32(tierwallv1alpha1.DNSPort))},
			{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(tierwallv1alpha1.DNSPort))},
		},
	}
}

// governed is the selector of the pods the AppIsolation governs.
func (r *renderer) governed() metav1.LabelSelector {
	if r.app.Spec.PodSelector == nil {
		return metav1.LabelSelector{}
	}
	return *r.app.Spec.PodSelector.DeepCopy()
}

// tierSelector selects the governed pods that are in tier t.
func (r *renderer) tierSelector(t *tierwallv1alpha1.Tier) metav1.LabelSelector {
	return Intersect(r.governed(), t.PodSelector)
}

// Intersect returns a selector matching exactly the objects both a and b
// match. A label both require with different values becomes a match
// expression, so the result matches nothing, as it should.
func Intersect(a, b metav1.LabelSelector) metav1.LabelSelector {
	out := *a.DeepCopy()
	for _, k := range slices.Sorted(maps.Keys(b.MatchLabels)) {
		v := b.MatchLabels[k]
		if have, ok := out.MatchLabels[k]; ok {
			if have != v {
				out.MatchExpressions = append(out.MatchExpressions, metav1.LabelSelectorRequirement{
					Key: k, Operator: metav1.LabelSelectorOpIn, Values: []string{v},
				})
			}
			continue
		}
		if out.MatchLabels == nil {
			out.MatchLabels = map[string]string{}
		}
		out.MatchLabels[k] = v
	}
	for _, e := range b.MatchExpressions {
		if !containsRequirement(out.MatchExpressions, e) {
			out.MatchExpressions = append(out.MatchExpressions, *e.DeepCopy())
		}
	}
	return out
}

func containsRequirement(list []metav1.LabelSelectorRequirement, r metav1.LabelSelectorRequirement) bool {
	for _, e := range list {
		if e.Key == r.Key && e.Operator == r.Operator && slices.Equal(e.Values, r.Values) {
			return true
		}
	}
	return false
}

func namespaceByName(name string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{NamespaceNameLabel: name}}
}

func rawPeer(ns, pods *metav1.LabelSelector, block *tierwallv1alpha1.IPBlock) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{
		NamespaceSelector: ns.DeepCopy(),
		PodSelector:       pods.DeepCopy(),
		IPBlock:           ipBlock(block),
	}
}

func ipBlock(b *tierwallv1alpha1.IPBlock) *networkingv1.IPBlock {
	if b == nil {
		return nil
	}
	return &networkingv1.IPBlock{CIDR: b.CIDR, Except: append([]string(nil), b.Except...)}
}

// policyPorts converts ports, making the TCP default explicit.
func policyPorts(ports []tierwallv1alpha1.Port) []networkingv1.NetworkPolicyPort {
	if len(ports) == 0 {
		return nil
	}
	out := make([]networkingv1.NetworkPolicyPort, 0, len(ports))
	for _, p := range ports {
		out = append(out, networkingv1.NetworkPolicyPort{
			Protocol: ptr.To(corev1.Protocol(p.EffectiveProtocol())),
			Port:     ptr.To(p.Port),
			EndPort:  copyPtr(p.EndPort),
		})
	}
	return out
}

// validate checks what the CRD schema cannot (label selectors), and, for
// callers that bypass the API server like the CLI, the schema rules whose
// violation would render a policy that allows more than declared: a rule
// whose peers all vanish allows everything.
func validate(spec *tierwallv1alpha1.AppIsolationSpec) error {
	var errs field.ErrorList
	opts := metav1validation.LabelSelectorValidationOptions{}
	checkSelector := func(s *metav1.LabelSelector, path *field.Path) {
		if s != nil {
			errs = append(errs, metav1validation.ValidateLabelSelector(s, opts, path)...)
		}
	}
	specPath := field.NewPath("spec")
	checkSelector(spec.PodSelector, specPath.Child("podSelector"))
	for i, t := range spec.PolicyTypes {
		if t != tierwallv1alpha1.PolicyTypeIngress && t != tierwallv1alpha1.PolicyTypeEgress {
			// An unknown direction would leave a policy with no policyTypes,
			// which NetworkPolicy reads as Ingress.
			errs = append(errs, field.NotSupported(specPath.Child("policyTypes").Index(i), t,
				[]tierwallv1alpha1.PolicyType{tierwallv1alpha1.PolicyTypeIngress, tierwallv1alpha1.PolicyTypeEgress}))
		}
	}
	controllers := map[string]bool{}
	for i, c := range spec.IngressControllers {
		path := specPath.Child("ingressControllers").Index(i)
		controllers[c.Name] = true
		checkSelector(c.PodSelector, path.Child("podSelector"))
		if c.Namespace == "" && len(c.IPBlocks) == 0 && !c.HostNetwork {
			// It would render as a rule without peers: allow from everywhere.
			errs = append(errs, field.Required(path.Child("namespace"), "set namespace (and optionally podSelector), hostNetwork or ipBlocks"))
		}
		if c.PodSelector != nil && c.Namespace == "" {
			errs = append(errs, field.Required(path.Child("namespace"), "podSelector requires namespace"))
		}
	}
	tiers := map[string]bool{}
	for _, t := range spec.Tiers {
		tiers[t.Name] = true
	}
	if len(spec.Tiers) == 0 {
		errs = append(errs, field.Required(specPath.Child("tiers"), "declare at least one tier"))
	}
	for i, t := range spec.Tiers {
		path := specPath.Child("tiers").Index(i)
		checkSelector(&t.PodSelector, path.Child("podSelector"))
		for j, p := range t.AllowFrom {
			peerPath := path.Child("allowFrom").Index(j)
			if len(t.PeerPorts(&p)) == 0 {
				// It would render as a rule without ports: every port.
				errs = append(errs, field.Required(path.Child("ports"), fmt.Sprintf(
					"allowFrom[%d] has no ports of its own: list the ports the tier's pods listen on", j)))
			}
			errs = append(errs, exactlyOne(peerPath, "tier, ingressController, namespaceSelector and/or podSelector, or ipBlock",
				p.Tier != "" || p.AppIsolation != nil, p.IngressController != "", p.NamespaceSelector != nil || p.PodSelector != nil, p.IPBlock != nil)...)
			if p.AppIsolation != nil && p.Tier == "" {
				errs = append(errs, field.Required(peerPath.Child("tier"), "name the tier of that AppIsolation to accept traffic from"))
			}
			checkSelector(p.NamespaceSelector, peerPath.Child("namespaceSelector"))
			checkSelector(p.PodSelector, peerPath.Child("podSelector"))
			if p.Tier != "" && p.AppIsolation == nil && !tiers[p.Tier] {
				errs = append(errs, field.NotFound(peerPath.Child("tier"), p.Tier))
			}
			if p.IngressController != "" && !controllers[p.IngressController] {
				errs = append(errs, field.NotFound(peerPath.Child("ingressController"), p.IngressController))
			}
		}
		for j, e := range t.EgressTo {
			egressPath := path.Child("egressTo").Index(j)
			errs = append(errs, validateEgress(&e, egressPath)...)
			checkSelector(e.NamespaceSelector, egressPath.Child("namespaceSelector"))
			checkSelector(e.PodSelector, egressPath.Child("podSelector"))
		}
	}
	if spec.DNS != nil {
		checkSelector(spec.DNS.PodSelector, specPath.Child("dns", "podSelector"))
		errs = append(errs, validateNodeLocal(spec.DNS.NodeLocal, specPath.Child("dns", "nodeLocal"))...)
	}
	if len(errs) > 0 {
		return &InvalidSpecError{Errors: errs}
	}
	return nil
}

// validateEgress checks that an egressTo entry names one destination, and
// no ports with the API server.
func validateEgress(e *tierwallv1alpha1.EgressRule, path *field.Path) field.ErrorList {
	errs := exactlyOne(path, "namespaceSelector and/or podSelector, ipBlock, kubeAPIServer, or appIsolation",
		e.NamespaceSelector != nil || e.PodSelector != nil, e.IPBlock != nil, e.KubeAPIServer != nil, e.AppIsolation != nil)
	if (e.AppIsolation != nil) != (e.Tier != "") {
		errs = append(errs, field.Invalid(path.Child("tier"), e.Tier,
			"appIsolation and tier go together: tier names a tier of the AppIsolation that appIsolation names"))
	}
	if e.KubeAPIServer != nil && len(e.Ports) > 0 {
		errs = append(errs, field.Forbidden(path.Child("ports"),
			"ports has no effect with kubeAPIServer: the API server's endpoints give the ports"))
	}
	return errs
}

// validateNodeLocal checks NodeLocal DNSCache's address: an address that
// is not a canonical IP would render as an ipBlock the API server refuses.
func validateNodeLocal(local *tierwallv1alpha1.NodeLocalDNS, path *field.Path) field.ErrorList {
	if local == nil || local.Address == "" {
		return nil
	}
	address := local.Address
	if ip, err := netip.ParseAddr(address); err != nil || ip.String() != address || ip.Zone() != "" || ip.Is4In6() {
		return field.ErrorList{field.Invalid(path.Child("address"), address,
			"must be an IP address in canonical form, such as 169.254.20.10 or fd00::a")}
	}
	return nil
}

// InvalidSpecError says why an AppIsolation cannot be rendered. Retrying
// cannot help: the spec must change.
type InvalidSpecError struct {
	// Errors are the problems, each naming its field.
	Errors field.ErrorList
}

func (e *InvalidSpecError) Error() string {
	return fmt.Sprintf("invalid AppIsolation spec: %v", e.Errors.ToAggregate())
}

// IsInvalidSpec tells whether err is, or wraps, an InvalidSpecError.
func IsInvalidSpec(err error) bool {
	var invalid *InvalidSpecError
	return errors.As(err, &invalid)
}

// exactlyOne checks that exactly one kind of peer is set.
func exactlyOne(path *field.Path, kinds string, set ...bool) field.ErrorList {
	switch n := len(slices.DeleteFunc(set, func(b bool) bool { return !b })); {
	case n == 0:
		return field.ErrorList{field.Required(path, "set one of "+kinds)}
	case n > 1:
		return field.ErrorList{field.Forbidden(path, "set only one of "+kinds)}
	}
	return nil
}

// copyPtr returns a pointer to a copy of *p, so that no output shares
// memory with the AppIsolation or with another policy.
func copyPtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	return ptr.To(*p)
}
