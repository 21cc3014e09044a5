package v1alpha1

import (
	"cmp"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Defaults of the spec, decided here once for the renderer, the graph and
// the status.
const (
	// KubeAPIServerNamespace and KubeAPIServerService name the Service of
	// the API server, whose EndpointSlices give its addresses after DNAT.
	KubeAPIServerNamespace = "default"
	KubeAPIServerService   = "kubernetes"
	// DefaultDNSNamespace is where the cluster DNS runs when spec.dns does
	// not say.
	DefaultDNSNamespace = "kube-system"
	// DefaultDNSLabelKey and DefaultDNSLabelValue select the cluster DNS
	// pods (CoreDNS, kube-dns) when spec.dns does not say.
	DefaultDNSLabelKey   = "k8s-app"
	DefaultDNSLabelValue = "kube-dns"
	// DNSPort is the port DNS is allowed on, over UDP and TCP.
	DNSPort = 53
	// DefaultNodeLocalDNSAddress is the address NodeLocal DNSCache listens
	// on when spec.dns.nodeLocal names none: the one its manifests use.
	DefaultNodeLocalDNSAddress = "169.254.20.10"
)

// DefaultProtocol is a port's protocol when it names none, as in
// NetworkPolicy.
const DefaultProtocol Protocol = "TCP"

// EffectiveProtocol is the port's protocol: DefaultProtocol when unset.
func (p Port) EffectiveProtocol() Protocol {
	if p.Protocol == "" {
		return DefaultProtocol
	}
	return p.Protocol
}

// IngressControllerNamed returns the ingress controller called name, or nil.
func (s *AppIsolationSpec) IngressControllerNamed(name string) *IngressController {
	for i := range s.IngressControllers {
		if s.IngressControllers[i].Name == name {
			return &s.IngressControllers[i]
		}
	}
	return nil
}

// Isolates tells whether the AppIsolation isolates direction t. An empty
// spec.policyTypes, as the API server never stores it, means both.
func (s *AppIsolationSpec) Isolates(t PolicyType) bool {
	return len(s.PolicyTypes) == 0 || slices.Contains(s.PolicyTypes, t)
}

// PeerPorts returns the ports peer may connect to on tier t: the peer's own
// ports when it lists some, else the tier's.
func (t *Tier) PeerPorts(peer *Peer) []Port {
	if len(peer.Ports) > 0 {
		return peer.Ports
	}
	return t.Ports
}

// DNSPeer returns the namespace and pod selector of the DNS servers the
// governed pods may query, defaults applied, and false when DNS is
// disabled or egress is not isolated (the pods may then query any server).
func (s *AppIsolationSpec) DNSPeer() (namespace string, pods metav1.LabelSelector, enabled bool) {
	dns := s.DNS
	if (dns != nil && dns.Disabled) || !s.Isolates(PolicyTypeEgress) {
		return "", metav1.LabelSelector{}, false
	}
	namespace, pods = DefaultDNSNamespace, metav1.LabelSelector{MatchLabels: map[string]string{DefaultDNSLabelKey: DefaultDNSLabelValue}}
	if dns != nil && dns.Namespace != "" {
		namespace = dns.Namespace
	}
	if dns != nil && dns.PodSelector != nil {
		pods = *dns.PodSelector.DeepCopy()
	}
	return namespace, pods, true
}

// NodeLocalDNSAddress returns the address of NodeLocal DNSCache the governed
// pods may query, default applied, and false when spec.dns.nodeLocal is not
// set or DNS is not allowed at all (see DNSPeer).
func (s *AppIsolationSpec) NodeLocalDNSAddress() (string, bool) {
	if _, _, enabled := s.DNSPeer(); !enabled || s.DNS == nil || s.DNS.NodeLocal == nil {
		return "", false
	}
	if s.DNS.NodeLocal.Address == "" {
		return DefaultNodeLocalDNSAddress, true
	}
	return s.DNS.NodeLocal.Address, true
}

// FollowsNodes tells whether an ingress controller runs with hostNetwork,
// so that the policies follow the Nodes' addresses.
func (s *AppIsolationSpec) FollowsNodes() bool {
	return slices.ContainsFunc(s.IngressControllers, func(c IngressController) bool { return c.HostNetwork })
}

// FollowsKubeAPIServer tells whether a tier may connect to the API server,
// so that the policies follow its endpoints.
func (s *AppIsolationSpec) FollowsKubeAPIServer() bool {
	return s.Isolates(PolicyTypeEgress) && slices.ContainsFunc(s.Tiers, func(t Tier) bool {
		return slices.ContainsFunc(t.EgressTo, func(e EgressRule) bool { return e.KubeAPIServer != nil })
	})
}

// Reference names the AppIsolation, as another AppIsolation's peers do.
func (a *AppIsolation) Reference() AppIsolationReference {
	return AppIsolationReference{Namespace: a.Namespace, Name: a.Name}
}

// TierNamed returns the tier called name, or nil.
func (s *AppIsolationSpec) TierNamed(name string) *Tier {
	for i := range s.Tiers {
		if s.Tiers[i].Name == name {
			return &s.Tiers[i]
		}
	}
	return nil
}

// References returns the AppIsolations that the spec's allowFrom and
// egressTo entries name, sorted by namespace, then name, without
// duplicates.
func (s *AppIsolationSpec) References() []AppIsolationReference {
	var out []AppIsolationReference
	for i := range s.Tiers {
		for _, p := range s.Tiers[i].AllowFrom {
			if p.AppIsolation != nil {
				out = append(out, *p.AppIsolation)
			}
		}
		for _, e := range s.Tiers[i].EgressTo {
			if e.AppIsolation != nil {
				out = append(out, *e.AppIsolation)
			}
		}
	}
	slices.SortFunc(out, func(a, b AppIsolationReference) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return slices.Compact(out)
}

// AcceptedPorts returns the ports tier t accepts from the tier named tier
// of the AppIsolation from (nil: of t's own AppIsolation), over every
// allowFrom entry naming it, and false when none names it.
func (t *Tier) AcceptedPorts(from *AppIsolationReference, tier string) ([]Port, bool) {
	var out []Port
	found := false
	for i := range t.AllowFrom {
		peer := &t.AllowFrom[i]
		if peer.Tier != tier || !sameReference(peer.AppIsolation, from) {
			continue
		}
		found = true
		for _, p := range t.PeerPorts(peer) {
			if !slices.ContainsFunc(out, p.Equal) {
				out = append(out, p)
			}
		}
	}
	return out, found
}

// EgressPorts are the ports a tier of another AppIsolation, from, may
// connect to on tier t when its egressTo entry lists none: the ports t
// accepts from it when t names it, else t's ports, else every port t
// accepts from some peer.
func (t *Tier) EgressPorts(from AppIsolationReference, tier string) []Port {
	if ports, ok := t.AcceptedPorts(&from, tier); ok {
		return ports
	}
	if len(t.Ports) > 0 {
		return t.Ports
	}
	var out []Port
	for i := range t.AllowFrom {
		for _, p := range t.AllowFrom[i].Ports {
			if !slices.ContainsFunc(out, p.Equal) {
				out = append(out, p)
			}
		}
	}
	return out
}

// Equal tells whether p and q are the same port, range and protocol, the
// default protocol applied.
func (p Port) Equal(q Port) bool {
	return p.Port == q.Port && p.EffectiveProtocol() == q.EffectiveProtocol() &&
		(p.EndPort == nil) == (q.EndPort == nil) && (p.EndPort == nil || *p.EndPort == *q.EndPort)
}

func sameReference(a, b *AppIsolationReference) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}
