package matchers

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/pkg/render"
)

// intent is what an AppIsolation declares, read from its spec alone, not
// from the policies pkg/render makes of it: IsolateExactly compares the
// evaluator's verdicts with it, so that a renderer bug cannot hide itself.
//
// Its reading of the spec:
//   - The governed pods are the pods of the app's namespace that
//     spec.podSelector selects (all of them when it is omitted); a tier's pods
//     are the governed pods its podSelector selects.
//   - Only the directions of spec.policyTypes are declared; the other one is
//     not the AppIsolation's business, and is not compared.
//   - A governed pod accepts a connection when an allowFrom peer of one of
//     its tiers matches the source, on the peer's own ports if it lists some,
//     else on the tier's (none listed: every port).
//   - The Kubernetes API server (egressTo kubeAPIServer) is every address
//     of the platform's API server endpoints on every one of their ports.
//   - A governed pod may open a connection to the DNS servers on port 53
//     over UDP and TCP (unless DNS is disabled), and to the address of
//     NodeLocal DNSCache when spec.dns.nodeLocal is set (an address peer,
//     169.254.20.10 unless it names another); to the pods of a tier that
//     lists one of its own tiers in allowFrom, on that entry's ports; and to
//     the egressTo destinations of its tiers, on their ports.
//   - A tier of another AppIsolation (an appIsolation peer) is that
//     AppIsolation's governed pods in the tier, in its namespace, as the
//     platform's AppIsolations declare them; one the platform does not
//     hold is nothing. Egress to it is on the entry's ports, else on the
//     ports that tier accepts from this one, else on its tier's ports,
//     else on every port it accepts from some peer.
//   - Peers have NetworkPolicy semantics: a podSelector alone selects pods of
//     the app's namespace, a namespaceSelector alone every pod of the
//     namespaces it selects, both together pods matching both; an ipBlock
//     matches pods by their IPs. An ingress controller is the pods of its
//     namespace its podSelector selects, the pods in its ipBlocks, and,
//     with hostNetwork, the pods at the Node addresses of the platform.
//   - Ports resolve as in NetworkPolicy: the protocol defaults to TCP, a
//     named port is a container port of the destination with that name and
//     protocol, and endPort makes a range.
type intent struct {
	// isolatesIngress and isolatesEgress are the directions of
	// spec.policyTypes.
	isolatesIngress, isolatesEgress bool
	namespace                       string
	governed                        labels.Selector
	tiers                           []intentTier
	// dns are the DNS servers: the cluster DNS pods, and NodeLocal
	// DNSCache's address.
	dns []intentPeer
	// nsLabels gives the labels a namespaceSelector sees on a namespace.
	nsLabels func(namespace string) labels.Set
}

// intentTier is a tier, its selectors parsed.
type intentTier struct {
	name     string
	pods     labels.Selector
	ports    []tierwallv1alpha1.Port
	from     []intentPeer
	fromTier []intentTierPeer
	egress   []intentEgress
}

// intentTierPeer is an allowFrom entry naming a tier, with the ports it
// may connect to.
type intentTierPeer struct {
	name  string
	ports []tierwallv1alpha1.Port
}

// intentEgress is an egressTo entry of a tier.
type intentEgress struct {
	to    intentPeer
	ports []tierwallv1alpha1.Port
}

// intentPeer is a set of pods: by namespace (name or selector) and pod
// selector, or by address.
type intentPeer struct {
	// namespace, when set, is the only namespace the peer matches;
	// otherwise namespaces selects them; both nil means the app's namespace.
	namespace  string
	namespaces labels.Selector
	// pods selects pods in the matching namespaces; nil means all.
	pods labels.Selector
	// blocks, when set, make this an address peer.
	blocks []tierwallv1alpha1.IPBlock
	// ports are the ports an allowFrom peer may connect to.
	ports []tierwallv1alpha1.Port
}

// newIntent reads app's spec. nsLabels gives the labels of a namespace, as
// namespaceSelectors see them; platform the Node addresses a hostNetwork
// ingress controller sends from, the API server's endpoints and the other
// AppIsolations whose tiers the spec names.
func newIntent(app *tierwallv1alpha1.AppIsolation, nsLabels func(string) labels.Set, platform render.Platform) (*intent, error) {
	in := &intent{namespace: app.Namespace, governed: labels.Everything(), nsLabels: nsLabels,
		isolatesIngress: app.Spec.Isolates(tierwallv1alpha1.PolicyTypeIngress),
		isolatesEgress:  app.Spec.Isolates(tierwallv1alpha1.PolicyTypeEgress)}
	var err error
	if app.Spec.PodSelector != nil {
		if in.governed, err = selector(app.Spec.PodSelector, "spec.podSelector"); err != nil {
			return nil, err
		}
	}
	if namespace, pods, enabled := app.Spec.DNSPeer(); enabled {
		s, err := selector(&pods, "spec.dns.podSelector")
		if err != nil {
			return nil, err
		}
		in.dns = append(in.dns, intentPeer{namespace: namespace, pods: s})
	}
	if app.Spec.DNS != nil && app.Spec.DNS.NodeLocal != nil && in.dns != nil {
		address := cmp.Or(app.Spec.DNS.NodeLocal.Address, tierwallv1alpha1.DefaultNodeLocalDNSAddress)
		ip, err := netip.ParseAddr(address)
		if err != nil {
			return nil, fmt.Errorf("spec.dns.nodeLocal.address: %w", err)
		}
		in.dns = append(in.dns, intentPeer{blocks: []tierwallv1alpha1.IPBlock{{CIDR: netip.PrefixFrom(ip, ip.BitLen()).String()}}})
	}
	for i := range app.Spec.Tiers {
		it, err := readTier(app, i, platform)
		if err != nil {
			return nil, err
		}
		in.tiers = append(in.tiers, it)
	}
	return in, nil
}

// readTier reads the tier of index i of app's spec.
func readTier(app *tierwallv1alpha1.AppIsolation, i int, platform render.Platform) (intentTier, error) {
	t := &app.Spec.Tiers[i]
	path := fmt.Sprintf("spec.tiers[%d]", i)
	it := intentTier{name: t.Name, ports: t.Ports}
	var err error
	if it.pods, err = selector(&t.PodSelector, path+".podSelector"); err != nil {
		return it, err
	}
	for j, p := range t.AllowFrom {
		if err := it.readPeer(app, t, p, fmt.Sprintf("%s.allowFrom[%d]", path, j), platform); err != nil {
			return it, err
		}
	}
	for j, e := range t.EgressTo {
		if e.AppIsolation != nil {
			peer, dest, err := otherTier(platform, *e.AppIsolation, e.Tier)
			if err != nil {
				return it, fmt.Errorf("%s.egressTo[%d]: %w", path, j, err)
			}
			ports := e.Ports
			if peer != nil && len(ports) == 0 {
				ports = dest.EgressPorts(app.Reference(), t.Name)
			}
			// An unknown tier, or one that accepts no port: nothing.
			if peer != nil && len(ports) > 0 {
				it.egress = append(it.egress, intentEgress{to: *peer, ports: ports})
			}
			continue
		}
		if e.KubeAPIServer != nil {
			// Every endpoint address on every endpoint port; none known,
			// nothing.
			to := intentPeer{blocks: []tierwallv1alpha1.IPBlock{}}
			var ports []tierwallv1alpha1.Port
			for _, ip := range platform.KubeAPIServer.Addresses {
				ip = ip.Unmap()
				to.blocks = append(to.blocks, tierwallv1alpha1.IPBlock{CIDR: netip.PrefixFrom(ip, ip.BitLen()).String()})
			}
			for _, p := range platform.KubeAPIServer.Ports {
				ports = append(ports, tierwallv1alpha1.Port{Port: intstr.FromInt32(p.Port), Protocol: tierwallv1alpha1.Protocol(p.Protocol)})
			}
			if len(to.blocks) > 0 && len(ports) > 0 {
				it.egress = append(it.egress, intentEgress{to: to, ports: ports})
			}
			continue
		}
		peer, err := rawPeer(e.NamespaceSelector, e.PodSelector, e.IPBlock, fmt.Sprintf("%s.egressTo[%d]", path, j))
		if err != nil {
			return it, err
		}
		it.egress = append(it.egress, intentEgress{to: peer, ports: e.Ports})
	}
	return it, nil
}

// readPeer reads the allowFrom entry p of tier t into it.
func (it *intentTier) readPeer(app *tierwallv1alpha1.AppIsolation, t *tierwallv1alpha1.Tier, p tierwallv1alpha1.Peer,
	peerPath string, platform render.Platform) error {
	var err error
	switch {
	case p.AppIsolation != nil:
		peer, _, err := otherTier(platform, *p.AppIsolation, p.Tier)
		if err != nil {
			return fmt.Errorf("%s: %w", peerPath, err)
		}
		if peer != nil {
			peer.ports = t.PeerPorts(&p)
			it.from = append(it.from, *peer)
		}
	case p.Tier != "":
		it.fromTier = append(it.fromTier, intentTierPeer{name: p.Tier, ports: t.PeerPorts(&p)})
	case p.IngressController != "":
		c := app.Spec.IngressControllerNamed(p.IngressController)
		if c == nil {
			return fmt.Errorf("%s: no ingress controller %q", peerPath, p.IngressController)
		}
		if c.Namespace != "" {
			peer := intentPeer{namespace: c.Namespace, ports: t.PeerPorts(&p)}
			if c.PodSelector != nil {
				if peer.pods, err = selector(c.PodSelector, peerPath+" (ingress controller's podSelector)"); err != nil {
					return err
				}
			}
			it.from = append(it.from, peer)
		}
		if len(c.IPBlocks) > 0 {
			it.from = append(it.from, intentPeer{blocks: c.IPBlocks, ports: t.PeerPorts(&p)})
		}
		if c.HostNetwork && len(platform.NodeAddresses) > 0 {
			peer := intentPeer{ports: t.PeerPorts(&p)}
			for _, ip := range platform.NodeAddresses {
				ip = ip.Unmap()
				peer.blocks = append(peer.blocks, tierwallv1alpha1.IPBlock{CIDR: netip.PrefixFrom(ip, ip.BitLen()).String()})
			}
			it.from = append(it.from, peer)
		}
	default:
		peer, err := rawPeer(p.NamespaceSelector, p.PodSelector, p.IPBlock, peerPath)
		if err != nil {
			return err
		}
		peer.ports = t.PeerPorts(&p)
		it.from = append(it.from, peer)
	}
	return nil
}

// otherTier reads the pods of the tier named tier of the AppIsolation ref,
// as the platform holds it: its governed pods in that tier, in its
// namespace. It returns nil, and no error, when the platform does not hold
// the AppIsolation or the tier.
func otherTier(platform render.Platform, ref tierwallv1alpha1.AppIsolationReference, tier string) (*intentPeer, *tierwallv1alpha1.Tier, error) {
	for i := range platform.AppIsolations {
		other := &platform.AppIsolations[i]
		if other.Reference() != ref {
			continue
		}
		t := other.Spec.TierNamed(tier)
		if t == nil {
			return nil, nil, nil
		}
		pods, err := selector(&t.PodSelector, fmt.Sprintf("tier %s of AppIsolation %s: podSelector", tier, ref))
		if err != nil {
			return nil, nil, err
		}
		if other.Spec.PodSelector != nil {
			governed, err := selector(other.Spec.PodSelector, fmt.Sprintf("AppIsolation %s: spec.podSelector", ref))
			if err != nil {
				return nil, nil, err
			}
			requirements, _ := governed.Requirements()
			pods = pods.Add(requirements...)
		}
		return &intentPeer{namespace: ref.Namespace, pods: pods}, t, nil
	}
	return nil, nil, nil
}

func selector(s *metav1.LabelSelector, path string) (labels.Selector, error) {
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return sel, nil
}

// rawPeer reads a peer given by selectors or an ipBlock.
func rawPeer(namespaces, pods *metav1.LabelSelector, block *tierwallv1alpha1.IPBlock, path string) (intentPeer, error) {
	var p intentPeer
	var err error
	switch {
	case block != nil:
		p.blocks = []tierwallv1alpha1.IPBlock{*block}
		return p, nil
	case namespaces == nil && pods == nil:
		return p, fmt.Errorf("%s: the peer sets nothing", path)
	}
	if namespaces != nil {
		if p.namespaces, err = selector(namespaces, path+".namespaceSelector"); err != nil {
			return p, err
		}
	}
	if pods != nil {
		if p.pods, err = selector(pods, path+".podSelector"); err != nil {
			return p, err
		}
	}
	return p, nil
}

// governs says whether the AppIsolation governs p.
func (in *intent) governs(p *corev1.Pod) bool {
	return p.Namespace == in.namespace && in.governed.Matches(labels.Set(p.Labels))
}

// tiersOf returns the tiers p is in.
func (in *intent) tiersOf(p *corev1.Pod) []*intentTier {
	if !in.governs(p) {
		return nil
	}
	var out []*intentTier
	for i := range in.tiers {
		if in.tiers[i].pods.Matches(labels.Set(p.Labels)) {
			out = append(out, &in.tiers[i])
		}
	}
	return out
}

// ingress says whether the AppIsolation declares that dst, a governed pod,
// accepts the connection from src.
func (in *intent) ingress(src, dst *corev1.Pod, port int32, protocol corev1.Protocol) bool {
	srcTiers := in.tiersOf(src)
	for _, t := range in.tiersOf(dst) {
		for _, from := range t.fromTier {
			if portDeclared(from.ports, dst, port, protocol) &&
				slices.ContainsFunc(srcTiers, func(s *intentTier) bool { return s.name == from.name }) {
				return true
			}
		}
		for i := range t.from {
			if portDeclared(t.from[i].ports, dst, port, protocol) && in.matches(&t.from[i], src) {
				return true
			}
		}
	}
	return false
}

// egress says whether the AppIsolation declares that src, a governed pod,
// may open the connection to dst.
func (in *intent) egress(src, dst *corev1.Pod, port int32, protocol corev1.Protocol) bool {
	if port == tierwallv1alpha1.DNSPort && (protocol == corev1.ProtocolUDP || protocol == corev1.ProtocolTCP) &&
		slices.ContainsFunc(in.dns, func(peer intentPeer) bool { return in.matches(&peer, dst) }) {
		return true
	}
	dstTiers := in.tiersOf(dst)
	for _, t := range in.tiersOf(src) {
		// A tier that lists t in allowFrom: t's pods may connect to the
		// ports of that entry.
		for _, d := range dstTiers {
			if slices.ContainsFunc(d.fromTier, func(from intentTierPeer) bool {
				return from.name == t.name && portDeclared(from.ports, dst, port, protocol)
			}) {
				return true
			}
		}
		for i := range t.egress {
			if in.matches(&t.egress[i].to, dst) && portDeclared(t.egress[i].ports, dst, port, protocol) {
				return true
			}
		}
	}
	return false
}

// matches says whether the peer matches pod p.
func (in *intent) matches(peer *intentPeer, p *corev1.Pod) bool {
	if len(peer.blocks) > 0 {
		return slices.ContainsFunc(peer.blocks, func(b tierwallv1alpha1.IPBlock) bool { return inBlock(b, p) })
	}
	switch {
	case peer.namespace != "":
		if p.Namespace != peer.namespace {
			return false
		}
	case peer.namespaces != nil:
		if !peer.namespaces.Matches(in.nsLabels(p.Namespace)) {
			return false
		}
	default:
		if p.Namespace != in.namespace {
			return false
		}
	}
	return peer.pods == nil || peer.pods.Matches(labels.Set(p.Labels))
}

// inBlock says whether an IP of p is inside b's CIDR and outside its
// exceptions. An unparsable CIDR contains nothing.
func inBlock(b tierwallv1alpha1.IPBlock, p *corev1.Pod) bool {
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil {
		return false
	}
	ips := []string{p.Status.PodIP}
	for _, ip := range p.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	for _, s := range ips {
		ip, err := netip.ParseAddr(s)
		if err != nil || !cidr.Contains(ip.Unmap()) {
			continue
		}
		excepted := slices.ContainsFunc(b.Except, func(e string) bool {
			except, err := netip.ParsePrefix(e)
			return err == nil && except.Contains(ip.Unmap())
		})
		if !excepted {
			return true
		}
	}
	return false
}

// portDeclared says whether ports include the destination's port and
// protocol; no ports means every port.
func portDeclared(ports []tierwallv1alpha1.Port, dst *corev1.Pod, port int32, protocol corev1.Protocol) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		if corev1.Protocol(p.EffectiveProtocol()) != protocol {
			continue
		}
		switch {
		case p.Port.Type == intstr.String:
			if slices.ContainsFunc(containerPorts(dst), func(cp corev1.ContainerPort) bool {
				return cp.Name == p.Port.StrVal && cp.ContainerPort == port && cmp.Or(cp.Protocol, corev1.ProtocolTCP) == protocol
			}) {
				return true
			}
		case p.EndPort != nil:
			if port >= p.Port.IntVal && port <= *p.EndPort {
				return true
			}
		case p.Port.IntVal == port:
			return true
		}
	}
	return false
}

// containerPorts are the ports a named port can resolve to: those of the
// containers and of the restartable (sidecar) init containers.
func containerPorts(p *corev1.Pod) []corev1.ContainerPort {
	var out []corev1.ContainerPort
	for _, c := range p.Spec.Containers {
		out = append(out, c.Ports...)
	}
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			out = append(out, c.Ports...)
		}
	}
	return out
}
