package reach

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The base state: three namespaces, and pods with labels, IPs and named ports.
//
//	dev (team=a):         web 10.0.0.1 (http 80/TCP, metrics 9090/TCP), db 10.0.0.2 (mysql 3306/TCP),
//	                      client 10.0.0.3, pending (no IP)
//	prod (team=b, env=prod): web 10.0.1.1 (http 80/TCP), client 10.0.1.3
//	kube-system:          traefik 10.0.2.1, dns 10.0.2.2 + fd00::2 (dns 53/UDP, dns-tcp 53/TCP)
func baseState(policies ...networkingv1.NetworkPolicy) State {
	return State{
		Namespaces: []corev1.Namespace{
			namespace("dev", "team", "a"),
			namespace("prod", "team", "b", "env", "prod"),
			namespace("kube-system"),
		},
		Pods: []corev1.Pod{
			pod("dev/web", []string{"10.0.0.1"}, []string{"app", "web"}, cport("http", 80, ""), cport("metrics", 9090, corev1.ProtocolTCP)),
			pod("dev/db", []string{"10.0.0.2"}, []string{"app", "db"}, cport("mysql", 3306, "")),
			pod("dev/client", []string{"10.0.0.3"}, []string{"app", "client"}),
			pod("dev/pending", nil, []string{"app", "pending"}),
			pod("prod/web", []string{"10.0.1.1"}, []string{"app", "web"}, cport("http", 80, "")),
			pod("prod/client", []string{"10.0.1.3"}, []string{"app", "client"}),
			pod("kube-system/traefik", []string{"10.0.2.1"}, []string{"app", "traefik"}),
			pod("kube-system/dns", []string{"10.0.2.2", "fd00::2"}, []string{"k8s-app", "kube-dns"},
				cport("dns", 53, corev1.ProtocolUDP), cport("dns-tcp", 53, corev1.ProtocolTCP)),
		},
		Policies: policies,
	}
}

func namespace(name string, kv ...string) corev1.Namespace {
	return corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labelMap(kv...)}}
}

func pod(key string, ips []string, kv []string, ports ...corev1.ContainerPort) corev1.Pod {
	ns, name, _ := strings.Cut(key, "/")
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labelMap(kv...)},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Ports: ports}}},
	}
	for _, ip := range ips {
		p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: ip})
	}
	if len(ips) > 0 {
		p.Status.PodIP = ips[0]
	}
	return p
}

func cport(name string, port int32, proto corev1.Protocol) corev1.ContainerPort {
	return corev1.ContainerPort{Name: name, ContainerPort: port, Protocol: proto}
}

func labelMap(kv ...string) map[string]string {
	if len(kv) == 0 {
		return nil
	}
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// at returns the endpoint of the State's pod "namespace/name".
func at(key string) Endpoint {
	ns, name, _ := strings.Cut(key, "/")
	return PodEndpoint(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})
}

func netpol(key string, spec networkingv1.NetworkPolicySpec) networkingv1.NetworkPolicy {
	ns, name, _ := strings.Cut(key, "/")
	return networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
}

func match(kv ...string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: labelMap(kv...)}
}

func expr(key string, op metav1.LabelSelectorOperator, values ...string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: key, Operator: op, Values: values}}}
}

func types(t ...networkingv1.PolicyType) []networkingv1.PolicyType { return t }

const (
	ingress = networkingv1.PolicyTypeIngress
	egress  = networkingv1.PolicyTypeEgress
	tcp     = corev1.ProtocolTCP
	udp     = corev1.ProtocolUDP
)

func numPort(proto corev1.Protocol, port int32) networkingv1.NetworkPolicyPort {
	p := intstr.FromInt32(port)
	return networkingv1.NetworkPolicyPort{Protocol: &proto, Port: &p}
}

func rangePort(proto corev1.Protocol, port, end int32) networkingv1.NetworkPolicyPort {
	p := numPort(proto, port)
	p.EndPort = &end
	return p
}

// namedPort returns a port by name; an empty proto leaves the protocol out.
func namedPort(proto corev1.Protocol, name string) networkingv1.NetworkPolicyPort {
	p := intstr.FromString(name)
	np := networkingv1.NetworkPolicyPort{Port: &p}
	if proto != "" {
		np.Protocol = &proto
	}
	return np
}

func ptr[T any](v T) *T { return &v }

func ipBlockPeer(cidr string, except ...string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr, Except: except}}
}

// webIngress is the policy dev/<name> that selects app=web and allows one ingress rule.
func webIngress(name string, r networkingv1.NetworkPolicyIngressRule) networkingv1.NetworkPolicy {
	return netpol("dev/"+name, networkingv1.NetworkPolicySpec{
		PodSelector: *match("app", "web"),
		PolicyTypes: types(ingress),
		Ingress:     []networkingv1.NetworkPolicyIngressRule{r},
	})
}

// clientEgress is the policy dev/client-out that selects app=client for Egress with rules.
func clientEgress(rules ...networkingv1.NetworkPolicyEgressRule) networkingv1.NetworkPolicy {
	return netpol("dev/client-out", networkingv1.NetworkPolicySpec{
		PodSelector: *match("app", "client"),
		PolicyTypes: types(egress),
		Egress:      rules,
	})
}

func from(peers ...networkingv1.NetworkPolicyPeer) networkingv1.NetworkPolicyIngressRule {
	return networkingv1.NetworkPolicyIngressRule{From: peers}
}

// Common policies.
var (
	// devDefaultDeny selects every pod of dev and, with policyTypes omitted and no
	// egress rules, isolates them for Ingress only.
	devDefaultDeny = netpol("dev/default-deny", networkingv1.NetworkPolicySpec{})
	webDenyAll     = netpol("dev/web-deny", networkingv1.NetworkPolicySpec{PodSelector: *match("app", "web"), PolicyTypes: types(ingress)})
	// fromPeers allows ingress to dev app=web from the given peers on every port.
	fromPeers = func(peers ...networkingv1.NetworkPolicyPeer) networkingv1.NetworkPolicy {
		return webIngress("web-in", from(peers...))
	}
	// onPorts allows ingress to dev app=web from everywhere on the given ports.
	onPorts = func(ports ...networkingv1.NetworkPolicyPort) networkingv1.NetworkPolicy {
		return webIngress("web-in", networkingv1.NetworkPolicyIngressRule{Ports: ports})
	}
)

// Verdicts.
var (
	open           = Verdict{Allowed: true}
	ingressDenied  = Verdict{IngressIsolated: true}
	egressDenied   = Verdict{EgressIsolated: true}
	webInAllowed   = ingressBy("dev/web-in")
	clientOutAllow = egressBy("dev/client-out")
)

// ingressBy is the Verdict of a connection allowed by the ingress policies keys.
func ingressBy(keys ...string) Verdict {
	return Verdict{Allowed: true, IngressIsolated: true, IngressAllowedBy: keys}
}

// egressBy is the Verdict of a connection allowed by the egress policies keys.
func egressBy(keys ...string) Verdict {
	return Verdict{Allowed: true, EgressIsolated: true, EgressAllowedBy: keys}
}

type checkCase struct {
	name     string
	state    State
	from, to Endpoint
	port     int32
	proto    corev1.Protocol
	want     Verdict
}

func checkCases() []checkCase {
	ghostClient := pod("dev/ghost", []string{"10.0.0.9"}, []string{"app", "client"})
	ghostWeb := pod("dev/ghost-web", []string{"10.0.0.10"}, []string{"app", "web"}, cport("http", 80, ""))
	clientOnly := fromPeers(networkingv1.NetworkPolicyPeer{PodSelector: match("app", "client")})
	sameNamespace := fromPeers(networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{}})
	allNamespaces := fromPeers(networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{}})
	teamB := fromPeers(networkingv1.NetworkPolicyPeer{NamespaceSelector: match("team", "b")})
	teamBClients := fromPeers(networkingv1.NetworkPolicyPeer{NamespaceSelector: match("team", "b"), PodSelector: match("app", "client")})
	teamBOrClients := fromPeers(
		networkingv1.NetworkPolicyPeer{NamespaceSelector: match("team", "b")},
		networkingv1.NetworkPolicyPeer{PodSelector: match("app", "client")},
	)
	traefik := fromPeers(networkingv1.NetworkPolicyPeer{
		NamespaceSelector: match(corev1.LabelMetadataName, "kube-system"),
		PodSelector:       match("app", "traefik"),
	})
	clientToDB := netpol("dev/client-out", networkingv1.NetworkPolicySpec{
		PodSelector: *match("app", "client"),
		Egress:      []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: match("app", "db")}}}},
	})
	egressOnlyDeny := netpol("dev/no-egress", networkingv1.NetworkPolicySpec{PolicyTypes: types(egress)})
	allowAll := netpol("dev/allow-all", networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{}}})
	mysqlOut := clientEgress(networkingv1.NetworkPolicyEgressRule{Ports: []networkingv1.NetworkPolicyPort{namedPort("", "mysql")}})
	dnsOut := clientEgress(networkingv1.NetworkPolicyEgressRule{
		Ports: []networkingv1.NetworkPolicyPort{namedPort(udp, "dns")},
		To: []networkingv1.NetworkPolicyPeer{{
			NamespaceSelector: match(corev1.LabelMetadataName, "kube-system"),
			PodSelector:       match("k8s-app", "kube-dns"),
		}},
	})
	httpsOut := clientEgress(networkingv1.NetworkPolicyEgressRule{
		Ports: []networkingv1.NetworkPolicyPort{numPort(tcp, 443)},
		To:    []networkingv1.NetworkPolicyPeer{ipBlockPeer("0.0.0.0/0")},
	})
	portRange := onPorts(rangePort(tcp, 8000, 8100))
	block := fromPeers(ipBlockPeer("10.0.0.0/16", "10.0.0.2/32"))
	internetOnly := clientEgress(networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{ipBlockPeer("0.0.0.0/0", "10.0.0.0/8")}})
	v6Block := fromPeers(ipBlockPeer("fd00::/64"))
	anyIPv4 := fromPeers(ipBlockPeer("0.0.0.0/0"))
	fromClients80 := webIngress("allow-clients", networkingv1.NetworkPolicyIngressRule{
		Ports: []networkingv1.NetworkPolicyPort{numPort(tcp, 80)},
		From:  []networkingv1.NetworkPolicyPeer{{PodSelector: match("app", "client")}},
	})
	fromDB80 := webIngress("allow-db", networkingv1.NetworkPolicyIngressRule{
		Ports: []networkingv1.NetworkPolicyPort{numPort(tcp, 80)},
		From:  []networkingv1.NetworkPolicyPeer{{PodSelector: match("app", "db")}},
	})
	any80 := webIngress("allow-80", networkingv1.NetworkPolicyIngressRule{Ports: []networkingv1.NetworkPolicyPort{numPort(tcp, 80)}})
	clientToWeb := clientEgress(networkingv1.NetworkPolicyEgressRule{
		Ports: []networkingv1.NetworkPolicyPort{numPort(tcp, 80)},
		To:    []networkingv1.NetworkPolicyPeer{{PodSelector: match("app", "web")}},
	})
	clientNoEgress := clientEgress()
	prodDeny := netpol("prod/deny-all", networkingv1.NetworkPolicySpec{PolicyTypes: types(ingress, egress)})
	webOrDBDeny := netpol("dev/web-db-deny", networkingv1.NetworkPolicySpec{PodSelector: *expr("app", metav1.LabelSelectorOpIn, "web", "db")})
	notClients := fromPeers(networkingv1.NetworkPolicyPeer{PodSelector: expr("app", metav1.LabelSelectorOpNotIn, "client")})
	envExists := fromPeers(networkingv1.NetworkPolicyPeer{NamespaceSelector: expr("env", metav1.LabelSelectorOpExists)})
	envAbsent := fromPeers(networkingv1.NetworkPolicyPeer{NamespaceSelector: expr("env", metav1.LabelSelectorOpDoesNotExist)})
	namedHTTP := webIngress("web-in", networkingv1.NetworkPolicyIngressRule{
		Ports: []networkingv1.NetworkPolicyPort{namedPort("", "http")},
		From:  []networkingv1.NetworkPolicyPeer{{PodSelector: match("app", "client")}},
	})

	return []checkCase{
		// policyTypes defaulting.
		{"no policies: nothing is isolated", baseState(), at("dev/client"), at("dev/web"), 80, tcp, open},
		{"policyTypes omitted, no egress rules: ingress isolated", baseState(devDefaultDeny), at("dev/client"), at("dev/web"), 80, tcp, ingressDenied},
		{"policyTypes omitted, no egress rules: egress not isolated", baseState(devDefaultDeny), at("dev/client"), IPEndpoint("8.8.8.8"), 443, tcp, open},
		{"policyTypes omitted with egress rules: egress allowed by rule", baseState(clientToDB), at("dev/client"), at("dev/db"), 3306, tcp, clientOutAllow},
		{"policyTypes omitted with egress rules: egress isolated", baseState(clientToDB), at("dev/client"), at("dev/web"), 80, tcp, egressDenied},
		{"policyTypes omitted with egress rules: ingress isolated too", baseState(clientToDB), at("dev/web"), at("dev/client"), 80, tcp, ingressDenied},
		{"policyTypes omitted, egress: []: egress not isolated", baseState(netpol("dev/p", networkingv1.NetworkPolicySpec{
			Egress: []networkingv1.NetworkPolicyEgressRule{},
		})), at("dev/client"), IPEndpoint("8.8.8.8"), 443, tcp, open},
		{"policyTypes [Egress] without rules: egress denied", baseState(egressOnlyDeny), at("dev/client"), at("dev/web"), 80, tcp, egressDenied},
		{"policyTypes [Egress]: ingress not isolated", baseState(egressOnlyDeny), IPEndpoint("1.2.3.4"), at("dev/web"), 80, tcp, open},

		// Empty and absent lists.
		{"ingress empty list allows nothing", baseState(netpol("dev/p", networkingv1.NetworkPolicySpec{
			PolicyTypes: types(ingress), Ingress: []networkingv1.NetworkPolicyIngressRule{},
		})), at("dev/client"), at("dev/web"), 80, tcp, ingressDenied},
		{"ingress [{}] allows pods of other namespaces", baseState(allowAll), at("prod/client"), at("dev/web"), 80, tcp, ingressBy("dev/allow-all")},
		{"ingress [{}] allows external addresses on any port", baseState(allowAll), IPEndpoint("203.0.113.9"), at("dev/web"), 12345, udp, ingressBy("dev/allow-all")},
		{"from: [] matches every source", baseState(webIngress("web-in", networkingv1.NetworkPolicyIngressRule{
			From: []networkingv1.NetworkPolicyPeer{}, Ports: []networkingv1.NetworkPolicyPort{numPort(tcp, 80)},
		})), at("prod/client"), at("dev/web"), 80, tcp, webInAllowed},
		{"from: [] still requires the ports", baseState(webIngress("web-in", networkingv1.NetworkPolicyIngressRule{
			From: []networkingv1.NetworkPolicyPeer{}, Ports: []networkingv1.NetworkPolicyPort{numPort(tcp, 80)},
		})), at("prod/client"), at("dev/web"), 81, tcp, ingressDenied},
		{"ports: [] matches every port and protocol", baseState(webIngress("web-in", networkingv1.NetworkPolicyIngressRule{
			From: []networkingv1.NetworkPolicyPeer{{PodSelector: match("app", "client")}}, Ports: []networkingv1.NetworkPolicyPort{},
		})), at("dev/client"), at("dev/web"), 5000, udp, webInAllowed},
		{"egress [{}] allows everything", baseState(netpol("dev/out", networkingv1.NetworkPolicySpec{
			PolicyTypes: types(egress), Egress: []networkingv1.NetworkPolicyEgressRule{{}},
		})), at("dev/client"), IPEndpoint("8.8.8.8"), 53, udp, egressBy("dev/out")},
		{"egress empty list allows nothing", baseState(netpol("dev/out", networkingv1.NetworkPolicySpec{
			PolicyTypes: types(egress), Egress: []networkingv1.NetworkPolicyEgressRule{},
		})), at("dev/client"), IPEndpoint("8.8.8.8"), 53, udp, egressDenied},

		// Peers.
		{"podSelector alone: pods of the policy's namespace", baseState(clientOnly), at("dev/client"), at("dev/web"), 80, tcp, webInAllowed},
		{"podSelector alone: not pods of other namespaces", baseState(clientOnly), at("prod/client"), at("dev/web"), 80, tcp, ingressDenied},
		{"podSelector {} alone: every pod of the policy's namespace", baseState(sameNamespace), at("dev/db"), at("dev/web"), 80, tcp, webInAllowed},
		{"podSelector {} alone: no pod of other namespaces", baseState(sameNamespace), at("prod/web"), at("dev/web"), 80, tcp, ingressDenied},
		{"namespaceSelector {}: pods of every namespace", baseState(allNamespaces), at("prod/web"), at("dev/web"), 80, tcp, webInAllowed},
		{"namespaceSelector {}: not external addresses", baseState(allNamespaces), IPEndpoint("10.0.1.50"), at("dev/web"), 80, tcp, ingressDenied},
		{"namespaceSelector alone: every pod of matching namespaces", baseState(teamB), at("prod/web"), at("dev/web"), 80, tcp, webInAllowed},
		{"namespaceSelector alone: not other namespaces", baseState(teamB), at("dev/client"), at("dev/web"), 80, tcp, ingressDenied},
		{"namespaceSelector AND podSelector: both match", baseState(teamBClients), at("prod/client"), at("dev/web"), 80, tcp, webInAllowed},
		{"namespaceSelector AND podSelector: pod does not match", baseState(teamBClients), at("prod/web"), at("dev/web"), 80, tcp, ingressDenied},
		{"namespaceSelector AND podSelector: namespace does not match", baseState(teamBClients), at("dev/client"), at("dev/web"), 80, tcp, ingressDenied},
		{"two peers OR: first peer", baseState(teamBOrClients), at("prod/web"), at("dev/web"), 80, tcp, webInAllowed},
		{"two peers OR: second peer", baseState(teamBOrClients), at("dev/client"), at("dev/web"), 80, tcp, webInAllowed},
		{"two peers OR: neither", baseState(teamBOrClients), at("dev/db"), at("dev/web"), 80, tcp, ingressDenied},
		{"kubernetes.io/metadata.name is implied", baseState(traefik), at("kube-system/traefik"), at("dev/web"), 80, tcp, webInAllowed},
		{"kubernetes.io/metadata.name with podSelector", baseState(traefik), at("kube-system/dns"), at("dev/web"), 80, tcp, ingressDenied},

		// Ports.
		{"named port resolves on the destination", baseState(onPorts(namedPort("", "http"))), at("dev/client"), at("dev/web"), 80, tcp, webInAllowed},
		{"named port: other port of the destination", baseState(onPorts(namedPort("", "http"))), at("dev/client"), at("dev/web"), 9090, tcp, ingressDenied},
		{"named port: wrong protocol in the rule", baseState(onPorts(namedPort(udp, "http"))), at("dev/client"), at("dev/web"), 80, tcp, ingressDenied},
		{"named port: wrong protocol in the connection", baseState(onPorts(namedPort(udp, "http"))), at("dev/client"), at("dev/web"), 80, udp, ingressDenied},
		{"named port absent on the destination", baseState(netpol("dev/p", networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{namedPort("", "http")}}},
		})), at("dev/client"), at("dev/db"), 80, tcp, ingressDenied},
		{"egress named port resolves on the destination pod", baseState(mysqlOut), at("dev/client"), at("dev/db"), 3306, tcp, clientOutAllow},
		{"egress named port absent on the destination pod", baseState(mysqlOut), at("dev/client"), at("dev/web"), 3306, tcp, egressDenied},
		{"egress named port never matches an external address", baseState(mysqlOut), at("dev/client"), IPEndpoint("10.9.9.9"), 3306, tcp, egressDenied},
		{"egress named UDP port", baseState(dnsOut), at("dev/client"), at("kube-system/dns"), 53, udp, clientOutAllow},
		{"egress named UDP port: TCP port has another name", baseState(dnsOut), at("dev/client"), at("kube-system/dns"), 53, tcp, egressDenied},
		{"egress numeric port to an external address", baseState(httpsOut), at("dev/client"), IPEndpoint("1.1.1.1"), 443, tcp, clientOutAllow},
		{"empty protocol in Check means TCP", baseState(httpsOut), at("dev/client"), IPEndpoint("1.1.1.1"), 443, "", clientOutAllow},
		{"endPort: first port", baseState(portRange), at("dev/client"), at("dev/web"), 8000, tcp, webInAllowed},
		{"endPort: last port", baseState(portRange), at("dev/client"), at("dev/web"), 8100, tcp, webInAllowed},
		{"endPort: above the range", baseState(portRange), at("dev/client"), at("dev/web"), 8101, tcp, ingressDenied},
		{"endPort: below the range", baseState(portRange), at("dev/client"), at("dev/web"), 7999, tcp, ingressDenied},
		{"endPort: other protocol", baseState(portRange), at("dev/client"), at("dev/web"), 8050, udp, ingressDenied},

		// ipBlock.
		{"ipBlock matches a pod IP", baseState(block), at("dev/client"), at("dev/web"), 80, tcp, webInAllowed},
		{"ipBlock except excludes a pod IP", baseState(block), at("dev/db"), at("dev/web"), 80, tcp, ingressDenied},
		{"ipBlock matches an external IP", baseState(block), IPEndpoint("10.0.200.1"), at("dev/web"), 80, tcp, webInAllowed},
		{"ipBlock: external IP outside the cidr", baseState(block), IPEndpoint("10.1.0.1"), at("dev/web"), 80, tcp, ingressDenied},
		{"ipBlock: external IP of another family", baseState(block), IPEndpoint("fd00::1"), at("dev/web"), 80, tcp, ingressDenied},
		{"ipBlock: unparsable external IP", baseState(block), IPEndpoint("not-an-ip"), at("dev/web"), 80, tcp, ingressDenied},
		{"ipBlock: IPv4-mapped external IP", baseState(block), IPEndpoint("::ffff:10.0.200.1"), at("dev/web"), 80, tcp, webInAllowed},
		{"ipBlock matches any IP of a dual-stack pod", baseState(v6Block), at("kube-system/dns"), at("dev/web"), 80, tcp, webInAllowed},
		{"ipBlock IPv6: IPv4-only pod", baseState(v6Block), at("prod/web"), at("dev/web"), 80, tcp, ingressDenied},
		{"ipBlock never matches a pod without IP", baseState(anyIPv4), at("dev/pending"), at("dev/web"), 80, tcp, ingressDenied},
		{"egress ipBlock except: external IP", baseState(internetOnly), at("dev/client"), IPEndpoint("8.8.8.8"), 443, tcp, clientOutAllow},
		{"egress ipBlock except: pod IP excluded", baseState(internetOnly), at("dev/client"), at("dev/web"), 80, tcp, egressDenied},

		// Union of policies.
		{"union: first policy", baseState(fromClients80, fromDB80), at("dev/client"), at("dev/web"), 80, tcp, ingressBy("dev/allow-clients")},
		{"union: second policy", baseState(fromClients80, fromDB80), at("dev/db"), at("dev/web"), 80, tcp, ingressBy("dev/allow-db")},
		{"union: neither", baseState(fromClients80, fromDB80), at("prod/client"), at("dev/web"), 80, tcp, ingressDenied},
		{"union: every allowing policy is listed", baseState(webDenyAll, allowAll, any80), at("dev/client"), at("dev/web"), 80, tcp,
			ingressBy("dev/allow-80", "dev/allow-all")},

		// Both sides.
		{"egress allows, ingress denies", baseState(clientToWeb, webDenyAll), at("dev/client"), at("dev/web"), 80, tcp,
			Verdict{EgressIsolated: true, IngressIsolated: true, EgressAllowedBy: []string{"dev/client-out"}}},
		{"egress denies, ingress allows", baseState(clientNoEgress, clientOnly), at("dev/client"), at("dev/web"), 80, tcp,
			Verdict{EgressIsolated: true, IngressIsolated: true, IngressAllowedBy: []string{"dev/web-in"}}},
		{"egress and ingress allow", baseState(clientToWeb, clientOnly), at("dev/client"), at("dev/web"), 80, tcp,
			Verdict{Allowed: true, EgressIsolated: true, IngressIsolated: true, EgressAllowedBy: []string{"dev/client-out"}, IngressAllowedBy: []string{"dev/web-in"}}},
		{"external to external", baseState(allowAll), IPEndpoint("1.1.1.1"), IPEndpoint("2.2.2.2"), 80, tcp, open},
		{"a pod cannot block traffic to itself", baseState(webDenyAll), at("dev/web"), at("dev/web"), 80, tcp, Verdict{Allowed: true, IngressIsolated: true}},

		// Namespaces.
		{"policies of another namespace do not select pods here", baseState(prodDeny), at("dev/client"), at("dev/web"), 80, tcp, open},
		{"policies of another namespace select pods there", baseState(prodDeny), at("dev/client"), at("prod/web"), 80, tcp, ingressDenied},

		// matchExpressions.
		{"In selects listed values", baseState(webOrDBDeny), at("dev/client"), at("dev/db"), 3306, tcp, ingressDenied},
		{"In does not select other values", baseState(webOrDBDeny), at("dev/web"), at("dev/client"), 80, tcp, open},
		{"NotIn matches other values", baseState(notClients), at("dev/db"), at("dev/web"), 80, tcp, webInAllowed},
		{"NotIn excludes listed values", baseState(notClients), at("dev/client"), at("dev/web"), 80, tcp, ingressDenied},
		{"Exists matches namespaces with the label", baseState(envExists), at("prod/client"), at("dev/web"), 80, tcp, webInAllowed},
		{"Exists excludes namespaces without the label", baseState(envExists), at("dev/client"), at("dev/web"), 80, tcp, ingressDenied},
		{"DoesNotExist matches namespaces without the label", baseState(envAbsent), at("dev/client"), at("dev/web"), 80, tcp, webInAllowed},
		{"DoesNotExist excludes namespaces with the label", baseState(envAbsent), at("prod/client"), at("dev/web"), 80, tcp, ingressDenied},

		// Pods outside the State.
		{"source pod outside the State", baseState(clientOnly), PodEndpoint(&ghostClient), at("dev/web"), 80, tcp, webInAllowed},
		{"destination pod outside the State", baseState(namedHTTP), at("dev/client"), PodEndpoint(&ghostWeb), 80, tcp, webInAllowed},
		{"destination pod outside the State: named port", baseState(namedHTTP), at("dev/client"), PodEndpoint(&ghostWeb), 81, tcp, ingressDenied},
	}
}

var equateEmpty = cmpopts.EquateEmpty()

func TestCheck(t *testing.T) {
	for _, tc := range checkCases() {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(tc.state)
			if err != nil {
				t.Fatalf("New() error = %v", err)
			}
			got := e.Check(tc.from, tc.to, tc.port, tc.proto)
			if diff := cmp.Diff(tc.want, got, equateEmpty); diff != "" {
				t.Errorf("Check() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// allCasePolicies returns the policies of all Check cases, renamed to be distinct.
func allCasePolicies() []networkingv1.NetworkPolicy {
	var out []networkingv1.NetworkPolicy
	for i, tc := range checkCases() {
		for _, p := range tc.state.Policies {
			p.Name = p.Name + "-" + string(rune('a'+i/26)) + string(rune('a'+i%26))
			out = append(out, p)
		}
	}
	return out
}

var probes = []struct {
	port  int32
	proto corev1.Protocol
}{{53, udp}, {53, tcp}, {80, tcp}, {80, udp}, {443, tcp}, {3306, tcp}, {8050, tcp}, {9090, tcp}}

// TestCheckPodOutsideState checks that a pod outside the State (evaluated from its own
// labels and IPs) gets the same verdicts as the same pod inside the State.
func TestCheckPodOutsideState(t *testing.T) {
	s := baseState(allCasePolicies()...)
	e, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	ghost := func(p corev1.Pod) Endpoint {
		p.Name += "-ghost"
		return PodEndpoint(&p)
	}
	for _, src := range s.Pods {
		for _, dst := range s.Pods {
			if src.Name == dst.Name && src.Namespace == dst.Namespace {
				continue
			}
			for _, pr := range probes {
				want := e.Check(PodEndpoint(&src), PodEndpoint(&dst), pr.port, pr.proto)
				for _, ep := range [][2]Endpoint{{ghost(src), PodEndpoint(&dst)}, {PodEndpoint(&src), ghost(dst)}} {
					got := e.Check(ep[0], ep[1], pr.port, pr.proto)
					if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
						t.Errorf("%s/%s -> %s/%s %d/%s mismatch (-in state +outside):\n%s", src.Namespace, src.Name, dst.Namespace, dst.Name, pr.port, pr.proto, diff)
					}
				}
			}
		}
	}
}

// TestSubset checks that Subset gives the verdicts of an Evaluator built from the kept
// policies alone.
func TestSubset(t *testing.T) {
	s := baseState(allCasePolicies()...)
	e, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	keep := func(p *networkingv1.NetworkPolicy) bool { return strings.Contains(p.Name, "web") }
	var kept []networkingv1.NetworkPolicy
	for i := range s.Policies {
		if keep(&s.Policies[i]) {
			kept = append(kept, s.Policies[i])
		}
	}
	if len(kept) == 0 || len(kept) == len(s.Policies) {
		t.Fatalf("kept %d of %d policies, want a proper subset", len(kept), len(s.Policies))
	}
	want, err := New(baseState(kept...))
	if err != nil {
		t.Fatal(err)
	}
	sub := e.Subset(keep)
	all := e.Subset(func(*networkingv1.NetworkPolicy) bool { return true })
	endpoints := make([]Endpoint, 0, 2+len(s.Pods))
	endpoints = append(endpoints, IPEndpoint("10.0.200.1"), IPEndpoint("8.8.8.8"))
	for i := range s.Pods {
		endpoints = append(endpoints, PodEndpoint(&s.Pods[i]))
	}
	for _, src := range endpoints {
		for _, dst := range endpoints {
			for _, pr := range probes {
				if diff := cmp.Diff(want.Check(src, dst, pr.port, pr.proto), sub.Check(src, dst, pr.port, pr.proto), equateEmpty); diff != "" {
					t.Errorf("Subset: %v -> %v %d/%s mismatch (-want +got):\n%s", src, dst, pr.port, pr.proto, diff)
				}
				if diff := cmp.Diff(e.Check(src, dst, pr.port, pr.proto), all.Check(src, dst, pr.port, pr.proto), equateEmpty); diff != "" {
					t.Errorf("Subset(all): %v -> %v %d/%s mismatch (-want +got):\n%s", src, dst, pr.port, pr.proto, diff)
				}
			}
		}
	}
	if diff := cmp.Diff(slices.Collect(want.Flows()), slices.Collect(sub.Flows())); diff != "" {
		t.Errorf("Subset Flows() mismatch (-want +got):\n%s", diff)
	}
}

func TestFlows(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	x := pod("a/x", []string{"10.0.0.1"}, []string{"app", "x"}, cport("http", 80, ""), cport("dns", 53, udp))
	x.Spec.Containers = append(x.Spec.Containers, corev1.Container{Name: "second", Ports: []corev1.ContainerPort{cport("http-alt", 80, tcp)}})
	y := pod("a/y", []string{"10.0.0.2"}, []string{"app", "y"})
	z := pod("b/z", []string{"10.0.1.1"}, []string{"app", "z"}, cport("https", 443, ""))
	z.Spec.InitContainers = []corev1.Container{
		{Name: "sidecar", RestartPolicy: &always, Ports: []corev1.ContainerPort{cport("proxy", 9000, "")}},
		{Name: "init", Ports: []corev1.ContainerPort{cport("setup", 9999, "")}},
	}
	s := State{
		Namespaces: []corev1.Namespace{namespace("a"), namespace("b")},
		// Out of order on purpose.
		Pods: []corev1.Pod{z, y, x},
		Policies: []networkingv1.NetworkPolicy{
			netpol("b/z-in", networkingv1.NetworkPolicySpec{
				PolicyTypes: types(ingress),
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					Ports: []networkingv1.NetworkPolicyPort{numPort(tcp, 443)},
					From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: match(corev1.LabelMetadataName, "a"), PodSelector: match("app", "x")}},
				}},
			}),
			netpol("a/y-out", networkingv1.NetworkPolicySpec{
				PodSelector: *match("app", "y"),
				PolicyTypes: types(egress),
				Egress:      []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{numPort(tcp, 80)}}},
			}),
		},
	}
	e, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	want := []Flow{
		{From: "a/x", To: "b/z", Port: 443, Protocol: tcp, Allowed: true},
		{From: "a/x", To: "b/z", Port: 9000, Protocol: tcp, Allowed: false},
		{From: "a/y", To: "a/x", Port: 53, Protocol: udp, Allowed: false},
		{From: "a/y", To: "a/x", Port: 80, Protocol: tcp, Allowed: true},
		{From: "a/y", To: "b/z", Port: 443, Protocol: tcp, Allowed: false},
		{From: "a/y", To: "b/z", Port: 9000, Protocol: tcp, Allowed: false},
		{From: "b/z", To: "a/x", Port: 53, Protocol: udp, Allowed: true},
		{From: "b/z", To: "a/x", Port: 80, Protocol: tcp, Allowed: true},
	}
	if diff := cmp.Diff(want, slices.Collect(e.Flows())); diff != "" {
		t.Errorf("Flows() mismatch (-want +got):\n%s", diff)
	}
	for _, f := range want {
		ns, name, _ := strings.Cut(f.From, "/")
		from := PodEndpoint(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})
		ns, name, _ = strings.Cut(f.To, "/")
		to := PodEndpoint(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})
		if got := e.Check(from, to, f.Port, f.Protocol).Allowed; got != f.Allowed {
			t.Errorf("Check(%s -> %s %d/%s).Allowed = %v, Flows says %v", f.From, f.To, f.Port, f.Protocol, got, f.Allowed)
		}
	}
	n := 0
	for range e.Flows() {
		n++
		if n == 3 {
			break
		}
	}
	if n != 3 {
		t.Errorf("stopping Flows() after 3 flows saw %d", n)
	}
}

// TestFlowsMatchCheck checks Flows, which evaluates per destination port, against
// Check, which evaluates per connection.
func TestFlowsMatchCheck(t *testing.T) {
	for _, tc := range []struct {
		name  string
		state State
		every int // check every n-th flow
	}{
		{"policies of the Check cases", baseState(allCasePolicies()...), 1},
		{"benchmark state", benchState(), 997},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(tc.state)
			if err != nil {
				t.Fatal(err)
			}
			pods := map[string]*corev1.Pod{}
			for i := range tc.state.Pods {
				p := &tc.state.Pods[i]
				pods[p.Namespace+"/"+p.Name] = p
			}
			n, allowed := 0, 0
			for f := range e.Flows() {
				n++
				if f.Allowed {
					allowed++
				}
				if n%tc.every != 0 && !f.Allowed {
					continue
				}
				if got := e.Check(PodEndpoint(pods[f.From]), PodEndpoint(pods[f.To]), f.Port, f.Protocol).Allowed; got != f.Allowed {
					t.Errorf("Check(%s -> %s %d/%s).Allowed = %v, Flows says %v", f.From, f.To, f.Port, f.Protocol, got, f.Allowed)
				}
			}
			if allowed == 0 || allowed == n {
				t.Errorf("%d of %d flows allowed, want some allowed and some denied", allowed, n)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	withPolicy := func(spec networkingv1.NetworkPolicySpec) State { return baseState(netpol("dev/bad", spec)) }
	ingressFrom := func(peers ...networkingv1.NetworkPolicyPeer) State {
		return withPolicy(networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{from(peers...)}})
	}
	onPorts := func(ports ...networkingv1.NetworkPolicyPort) State {
		return withPolicy(networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: ports}}})
	}
	sctpLike := corev1.Protocol("ICMP")
	namedRange := namedPort("", "http")
	namedRange.EndPort = ptr(int32(90))
	dupPod := baseState()
	dupPod.Pods = append(dupPod.Pods, dupPod.Pods[0])
	tests := []struct {
		name  string
		state State
		want  []string // substrings of the error
	}{
		{"invalid operator in podSelector", withPolicy(networkingv1.NetworkPolicySpec{PodSelector: *expr("app", "Matches", "x")}),
			[]string{"NetworkPolicy dev/bad", "spec.podSelector"}},
		{"In without values in a peer", ingressFrom(networkingv1.NetworkPolicyPeer{PodSelector: expr("app", metav1.LabelSelectorOpIn)}),
			[]string{"NetworkPolicy dev/bad", "spec.ingress[0]", "peers[0]", "podSelector"}},
		{"invalid label value in namespaceSelector", ingressFrom(networkingv1.NetworkPolicyPeer{NamespaceSelector: match("team", "not valid!")}),
			[]string{"NetworkPolicy dev/bad", "namespaceSelector"}},
		{"invalid cidr", ingressFrom(ipBlockPeer("10.0.0.0/33")), []string{"NetworkPolicy dev/bad", "cidr"}},
		{"except outside cidr", ingressFrom(ipBlockPeer("10.0.0.0/16", "10.1.0.0/24")), []string{"NetworkPolicy dev/bad", "except[0]"}},
		{"invalid except", ingressFrom(ipBlockPeer("10.0.0.0/16", "10.0.0.300/32")), []string{"NetworkPolicy dev/bad", "except[0]"}},
		{"empty peer", ingressFrom(networkingv1.NetworkPolicyPeer{}), []string{"NetworkPolicy dev/bad", "must set"}},
		{"ipBlock with a selector", ingressFrom(networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8"}, PodSelector: match("a", "b")}),
			[]string{"NetworkPolicy dev/bad", "ipBlock cannot"}},
		{"endPort with a named port", onPorts(namedRange),
			[]string{"NetworkPolicy dev/bad", "endPort"}},
		{"endPort below port", onPorts(rangePort(tcp, 90, 80)), []string{"NetworkPolicy dev/bad", "endPort"}},
		{"unknown protocol", onPorts(networkingv1.NetworkPolicyPort{Protocol: &sctpLike}), []string{"NetworkPolicy dev/bad", "ICMP"}},
		{"unknown policy type", withPolicy(networkingv1.NetworkPolicySpec{PolicyTypes: types("Both")}), []string{"NetworkPolicy dev/bad", "policyTypes"}},
		{"duplicate policy", baseState(devDefaultDeny, devDefaultDeny), []string{"duplicate NetworkPolicy dev/default-deny"}},
		{"duplicate pod", dupPod, []string{"duplicate Pod dev/web"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.state)
			if err == nil {
				t.Fatal("New() error = nil, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New() error = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}
