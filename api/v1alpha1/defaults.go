package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Defaults of the spec, decided here once for the renderer, the graph and
// the status.
const (
	// DefaultDNSNamespace is where the cluster DNS runs when spec.dns does
	// not say.
	DefaultDNSNamespace = "kube-system"
	// DefaultDNSLabelKey and DefaultDNSLabelValue select the cluster DNS
	// pods (CoreDNS, kube-dns) when spec.dns does not say.
	DefaultDNSLabelKey   = "k8s-app"
	DefaultDNSLabelValue = "kube-dns"
	// DNSPort is the port DNS is allowed on, over UDP and TCP.
	DNSPort = 53
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

// DNSPeer returns the namespace and pod selector of the DNS servers the
// governed pods may query, defaults applied, and false when DNS is
// disabled.
func (s *AppIsolationSpec) DNSPeer() (namespace string, pods metav1.LabelSelector, enabled bool) {
	dns := s.DNS
	if dns != nil && dns.Disabled {
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
