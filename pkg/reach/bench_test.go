package reach

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	benchPods = 2000
	benchApps = 100
)

// benchState generates a namespace "shop" of 2,000 pods (100 apps of 20 replicas, two
// or three named ports each) with 200 policies in the style of a generated set: a
// default deny, DNS egress, and per app an ingress and an egress policy using named
// ports, port ranges, namespace selectors and ipBlocks. Monitoring and kube-system
// pods complete the picture.
func benchState() State { return sizedState(benchPods, benchApps) }

// sizedState is benchState with pods pods over apps apps, and 2*apps
// policies.
func sizedState(pods, apps int) State {
	tiers := []string{"frontend", "backend", "db", "cache"}
	s := State{Namespaces: []corev1.Namespace{
		namespace("shop", "team", "shop"),
		namespace("monitoring", "team", "ops"),
		namespace("kube-system"),
	}}
	for i := range pods {
		app := i % apps
		ports := []corev1.ContainerPort{cport("http", 8080, ""), cport("metrics", 9090, "")}
		if app%10 == 0 {
			ports = append(ports, cport("pg", 5432, ""))
		}
		s.Pods = append(s.Pods, pod(fmt.Sprintf("shop/app-%d-%d", app, i/apps),
			[]string{fmt.Sprintf("10.1.%d.%d", i/250, i%250+1)},
			[]string{"app", fmt.Sprintf("app-%d", app), "tier", tiers[app%len(tiers)]},
			ports...))
	}
	for i := range 5 {
		s.Pods = append(s.Pods, pod(fmt.Sprintf("monitoring/prometheus-%d", i), []string{fmt.Sprintf("10.2.0.%d", i+1)}, []string{"app", "prometheus"}))
	}
	s.Pods = append(s.Pods,
		pod("kube-system/coredns-0", []string{"10.3.0.1"}, []string{"k8s-app", "kube-dns"}, cport("dns", 53, udp), cport("dns-tcp", 53, tcp)),
		pod("kube-system/coredns-1", []string{"10.3.0.2"}, []string{"k8s-app", "kube-dns"}, cport("dns", 53, udp), cport("dns-tcp", 53, tcp)),
		pod("kube-system/traefik-0", []string{"10.3.0.3"}, []string{"app", "traefik"}, cport("web", 8000, "")),
	)

	kubeDNS := networkingv1.NetworkPolicyPeer{
		NamespaceSelector: match(corev1.LabelMetadataName, "kube-system"),
		PodSelector:       match("k8s-app", "kube-dns"),
	}
	s.Policies = append(s.Policies,
		netpol("shop/default-deny", networkingv1.NetworkPolicySpec{PolicyTypes: types(ingress, egress)}),
		netpol("shop/allow-dns", networkingv1.NetworkPolicySpec{
			PolicyTypes: types(egress),
			Egress: []networkingv1.NetworkPolicyEgressRule{{
				Ports: []networkingv1.NetworkPolicyPort{numPort(udp, 53), numPort(tcp, 53)},
				To:    []networkingv1.NetworkPolicyPeer{kubeDNS},
			}},
		}),
		netpol("shop/frontend-internet", networkingv1.NetworkPolicySpec{
			PodSelector: *match("tier", "frontend"),
			PolicyTypes: types(egress),
			Egress: []networkingv1.NetworkPolicyEgressRule{{
				Ports: []networkingv1.NetworkPolicyPort{numPort(tcp, 443)},
				To:    []networkingv1.NetworkPolicyPeer{ipBlockPeer("0.0.0.0/0", "10.0.0.0/8", "192.168.0.0/16")},
			}},
		}),
	)
	for app := range apps {
		s.Policies = append(s.Policies, netpol(fmt.Sprintf("shop/app-%d-in", app), networkingv1.NetworkPolicySpec{
			PodSelector: *match("app", fmt.Sprintf("app-%d", app)),
			PolicyTypes: types(ingress),
			Ingress: []networkingv1.NetworkPolicyIngressRule{
				{
					Ports: []networkingv1.NetworkPolicyPort{namedPort("", "http")},
					From: []networkingv1.NetworkPolicyPeer{
						{PodSelector: match("app", fmt.Sprintf("app-%d", (app+apps-1)%apps))},
						{NamespaceSelector: match(corev1.LabelMetadataName, "kube-system"), PodSelector: match("app", "traefik")},
					},
				},
				{
					Ports: []networkingv1.NetworkPolicyPort{namedPort("", "metrics")},
					From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: match("team", "ops"), PodSelector: match("app", "prometheus")}},
				},
			},
		}))
	}
	for app := range apps - 3 {
		s.Policies = append(s.Policies, netpol(fmt.Sprintf("shop/app-%d-out", app), networkingv1.NetworkPolicySpec{
			PodSelector: *match("app", fmt.Sprintf("app-%d", app)),
			PolicyTypes: types(egress),
			Egress: []networkingv1.NetworkPolicyEgressRule{
				{
					Ports: []networkingv1.NetworkPolicyPort{namedPort("", "http")},
					To:    []networkingv1.NetworkPolicyPeer{{PodSelector: match("app", fmt.Sprintf("app-%d", (app+1)%apps))}},
				},
				{
					Ports: []networkingv1.NetworkPolicyPort{rangePort(tcp, 5000, 6000)},
					To:    []networkingv1.NetworkPolicyPeer{{PodSelector: expr("tier", metav1.LabelSelectorOpIn, "db", "cache")}},
				},
			},
		}))
	}
	return s
}

func BenchmarkNew(b *testing.B) {
	s := benchState()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSubset(b *testing.B) {
	e, err := New(benchState())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		e.Subset(func(p *networkingv1.NetworkPolicy) bool { return p.Name != "default-deny" })
	}
}

func BenchmarkCheck(b *testing.B) {
	s := benchState()
	e, err := New(s)
	if err != nil {
		b.Fatal(err)
	}
	eps := make([]Endpoint, 0, len(s.Pods)+1)
	for i := range s.Pods {
		eps = append(eps, PodEndpoint(&s.Pods[i]))
	}
	eps = append(eps, IPEndpoint("203.0.113.7"))
	ports := []int32{8080, 9090, 5432, 443}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e.Check(eps[i%len(eps)], eps[(i*7+1)%len(eps)], ports[i%len(ports)], tcp)
		i++
	}
}

func BenchmarkFlows(b *testing.B) {
	e, err := New(benchState())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var flows, allowed int
	for b.Loop() {
		flows, allowed = 0, 0
		for f := range e.Flows() {
			flows++
			if f.Allowed {
				allowed++
			}
		}
	}
	b.ReportMetric(float64(flows), "flows/op")
	b.ReportMetric(float64(allowed), "allowed/op")
}

// BenchmarkMatrix is the full matrix of the target, end to end:
// compile 2,000 pods and 500 policies, then evaluate every ordered pair of
// pods on every port (what `tierwall reach` does on a cluster dump).
func BenchmarkMatrix(b *testing.B) {
	s := sizedState(2000, 250)
	b.ReportAllocs()
	var flows int
	for b.Loop() {
		e, err := New(s)
		if err != nil {
			b.Fatal(err)
		}
		flows = 0
		for range e.Flows() {
			flows++
		}
	}
	b.ReportMetric(float64(len(s.Policies)), "policies")
	b.ReportMetric(float64(flows), "flows/op")
}
