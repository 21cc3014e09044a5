package render_test

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/pkg/render"
	"github.com/tierwall/tierwall/test/fixtures"
)

// appUID is the UID of the AppIsolation under test, as the API server would
// have set it.
const appUID = types.UID("3f1c9a5e-2b7d-4c61-9e0a-8d5f4b2c7a10")

// wordpress is the WordPress sample from config/samples, as the API server
// stores it in namespace dev-wordpress, with tweaks applied.
func wordpress(t testing.TB, tweaks ...func(app *tierwallv1alpha1.AppIsolation)) *tierwallv1alpha1.AppIsolation {
	t.Helper()
	app, err := fixtures.WordPress("dev-wordpress")
	if err != nil {
		t.Fatal(err)
	}
	app.UID = appUID
	for _, tweak := range tweaks {
		tweak(app)
	}
	return app
}

// The sample's tiers, and where their policies are in Render's output.
const (
	frontendTier = 0
	databaseTier = 1
)

const (
	frontendPolicy = iota
	databasePolicy
	dnsPolicy
	defaultDenyPolicy
)

// wantWordPress is the contract: exactly what the WordPress sample renders
// to, in apply order.
func wantWordPress() []networkingv1.NetworkPolicy {
	typeMeta := metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"}
	owner := []metav1.OwnerReference{{
		APIVersion:         "tierwall.dev/v1alpha1",
		Kind:               "AppIsolation",
		Name:               "wordpress",
		UID:                appUID,
		Controller:         ptr.To(true),
		BlockOwnerDeletion: ptr.To(true),
	}}
	tcp, udp := ptr.To(corev1.ProtocolTCP), ptr.To(corev1.ProtocolUDP)
	return []networkingv1.NetworkPolicy{
		{
			TypeMeta: typeMeta,
			ObjectMeta: metav1.ObjectMeta{
				Name:      "wordpress-tier-frontend",
				Namespace: "dev-wordpress",
				Labels: map[string]string{
					"app.kubernetes.io/managed-by": "tierwall",
					"tierwall.dev/appisolation":    "wordpress",
					"tierwall.dev/role":            "tier",
					"tierwall.dev/tier":            "frontend",
				},
				OwnerReferences: owner,
			},
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "wordpress", "tier": "frontend"}},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					Ports: []networkingv1.NetworkPolicyPort{{Protocol: tcp, Port: ptr.To(intstr.FromInt32(80))}},
					From: []networkingv1.NetworkPolicyPeer{{
						NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
						PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "traefik"}},
					}},
				}},
				Egress: []networkingv1.NetworkPolicyEgressRule{
					{
						To: []networkingv1.NetworkPolicyPeer{{
							PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "wordpress", "tier": "mysql"}},
						}},
						Ports: []networkingv1.NetworkPolicyPort{{Protocol: tcp, Port: ptr.To(intstr.FromInt32(3306))}},
					},
					{
						To: []networkingv1.NetworkPolicyPeer{{
							NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
							PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
						}},
						Ports: []networkingv1.NetworkPolicyPort{
							{Protocol: udp, Port: ptr.To(intstr.FromInt32(53))},
							{Protocol: tcp, Port: ptr.To(intstr.FromInt32(53))},
						},
					},
				},
			},
		},
		{
			TypeMeta: typeMeta,
			ObjectMeta: metav1.ObjectMeta{
				Name:      "wordpress-tier-database",
				Namespace: "dev-wordpress",
				Labels: map[string]string{
					"app.kubernetes.io/managed-by": "tierwall",
					"tierwall.dev/appisolation":    "wordpress",
					"tierwall.dev/role":            "tier",
					"tierwall.dev/tier":            "database",
				},
				OwnerReferences: owner,
			},
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "wordpress", "tier": "mysql"}},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					Ports: []networkingv1.NetworkPolicyPort{{Protocol: tcp, Port: ptr.To(intstr.FromInt32(3306))}},
					From: []networkingv1.NetworkPolicyPeer{{
						PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "wordpress", "tier": "frontend"}},
					}},
				}},
				Egress: []networkingv1.NetworkPolicyEgressRule{{
					To: []networkingv1.NetworkPolicyPeer{{
						NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
						PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
					}},
					Ports: []networkingv1.NetworkPolicyPort{
						{Protocol: udp, Port: ptr.To(intstr.FromInt32(53))},
						{Protocol: tcp, Port: ptr.To(intstr.FromInt32(53))},
					},
				}},
			},
		},
		{
			TypeMeta: typeMeta,
			ObjectMeta: metav1.ObjectMeta{
				Name:      "wordpress-dns",
				Namespace: "dev-wordpress",
				Labels: map[string]string{
					"app.kubernetes.io/managed-by": "tierwall",
					"tierwall.dev/appisolation":    "wordpress",
					"tierwall.dev/role":            "dns",
				},
				OwnerReferences: owner,
			},
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "wordpress"}},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
				Egress: []networkingv1.NetworkPolicyEgressRule{{
					To: []networkingv1.NetworkPolicyPeer{{
						NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
						PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
					}},
					Ports: []networkingv1.NetworkPolicyPort{
						{Protocol: udp, Port: ptr.To(intstr.FromInt32(53))},
						{Protocol: tcp, Port: ptr.To(intstr.FromInt32(53))},
					},
				}},
			},
		},
		{
			TypeMeta: typeMeta,
			ObjectMeta: metav1.ObjectMeta{
				Name:      "wordpress-default-deny",
				Namespace: "dev-wordpress",
				Labels: map[string]string{
					"app.kubernetes.io/managed-by": "tierwall",
					"tierwall.dev/appisolation":    "wordpress",
					"tierwall.dev/role":            "default-deny",
				},
				OwnerReferences: owner,
			},
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "wordpress"}},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			},
		},
	}
}

func TestRenderWordPressSample(t *testing.T) {
	got, err := render.Render(wordpress(t), render.Platform{})
	if err != nil {
		t.Fatalf("Render() error = %v", err)
	}
	if diff := cmp.Diff(wantWordPress(), got); diff != "" {
		t.Errorf("Render() mismatch (-want +got):\n%s", diff)
	}
}

// Shorthands for the expected values below.
var (
	tcp  = ptr.To(corev1.ProtocolTCP)
	udp  = ptr.To(corev1.ProtocolUDP)
	sctp = ptr.To(corev1.ProtocolSCTP)
)

func matchLabels(kv ...string) *metav1.LabelSelector {
	s := &metav1.LabelSelector{MatchLabels: map[string]string{}}
	for i := 0; i < len(kv); i += 2 {
		s.MatchLabels[kv[i]] = kv[i+1]
	}
	return s
}

func namespaceNamed(name string) *metav1.LabelSelector {
	return matchLabels("kubernetes.io/metadata.name", name)
}

func port(p int32, protocol *corev1.Protocol) networkingv1.NetworkPolicyPort {
	return networkingv1.NetworkPolicyPort{Protocol: protocol, Port: ptr.To(intstr.FromInt32(p))}
}

func dnsRule(namespace string, pods *metav1.LabelSelector) networkingv1.NetworkPolicyEgressRule {
	return networkingv1.NetworkPolicyEgressRule{
		To:    []networkingv1.NetworkPolicyPeer{{NamespaceSelector: namespaceNamed(namespace), PodSelector: pods}},
		Ports: []networkingv1.NetworkPolicyPort{port(53, udp), port(53, tcp)},
	}
}

// kubeDNS is the default DNS rule.
var kubeDNS = dnsRule("kube-system", matchLabels("k8s-app", "kube-dns"))

// tierPolicy returns the tier policy at index i of want.
func tierPolicy(want []networkingv1.NetworkPolicy, i int) *networkingv1.NetworkPolicySpec {
	return &want[i].Spec
}

func TestRender(t *testing.T) {
	tests := []struct {
		name string
		// tweak changes the WordPress sample into the case under test.
		tweak func(app *tierwallv1alpha1.AppIsolation)
		// want changes the WordPress sample's expected policies into the
		// expected policies of the case.
		want func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy
	}{
		{
			name: "the CR's labels and annotations, Argo CD's included, are never copied",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Labels = map[string]string{
					"app.kubernetes.io/instance":   "wordpress-dev",
					"app.kubernetes.io/managed-by": "argocd",
					"tierwall.dev/tier":            "not-a-tier",
					"team":                         "blog",
				}
				app.Annotations = map[string]string{
					"argocd.argoproj.io/tracking-id":                   "wordpress-dev:tierwall.dev/AppIsolation:dev-wordpress/wordpress",
					"kubectl.kubernetes.io/last-applied-configuration": "{}",
				}
				app.Generation, app.ResourceVersion = 7, "12345"
				app.Finalizers = []string{"example.com/keep"}
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy { return want },
		},
		{
			name: "the ingress controller is matched by its namespace AND its pods, in one peer",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.IngressControllers[0].Namespace = "traefik"
				app.Spec.IngressControllers[0].PodSelector = &metav1.LabelSelector{
					MatchLabels:      map[string]string{"app.kubernetes.io/name": "traefik"},
					MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app.kubernetes.io/component", Operator: metav1.LabelSelectorOpExists}},
				}
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				tierPolicy(want, frontendPolicy).Ingress[0].From = []networkingv1.NetworkPolicyPeer{{
					NamespaceSelector: namespaceNamed("traefik"),
					PodSelector: &metav1.LabelSelector{
						MatchLabels:      map[string]string{"app.kubernetes.io/name": "traefik"},
						MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app.kubernetes.io/component", Operator: metav1.LabelSelectorOpExists}},
					},
				}}
				return want
			},
		},
		{
			name: "an ingress controller without podSelector is every pod of its namespace",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.IngressControllers[0].PodSelector = nil
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				tierPolicy(want, frontendPolicy).Ingress[0].From = []networkingv1.NetworkPolicyPeer{{
					NamespaceSelector: namespaceNamed("kube-system"),
				}}
				return want
			},
		},
		{
			name: "a hostNetwork ingress controller is matched by its ipBlocks",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.IngressControllers[0] = tierwallv1alpha1.IngressController{
					Name: "traefik",
					IPBlocks: []tierwallv1alpha1.IPBlock{
						{CIDR: "192.168.1.0/24", Except: []string{"192.168.1.1/32"}},
						{CIDR: "fd00:1::/64"},
					},
				}
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				tierPolicy(want, frontendPolicy).Ingress[0].From = []networkingv1.NetworkPolicyPeer{
					{IPBlock: &networkingv1.IPBlock{CIDR: "192.168.1.0/24", Except: []string{"192.168.1.1/32"}}},
					{IPBlock: &networkingv1.IPBlock{CIDR: "fd00:1::/64"}},
				}
				return want
			},
		},
		{
			name: "an ingress controller with a namespace and ipBlocks is matched by either",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.IngressControllers[0].IPBlocks = []tierwallv1alpha1.IPBlock{{CIDR: "192.168.1.0/24"}}
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				spec := tierPolicy(want, frontendPolicy)
				spec.Ingress[0].From = append(spec.Ingress[0].From, networkingv1.NetworkPolicyPeer{
					IPBlock: &networkingv1.IPBlock{CIDR: "192.168.1.0/24"},
				})
				return want
			},
		},
		{
			name: "each tier reached from another tier gets ingress, and the source tier the matching egress on its ports",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Tiers = append(app.Spec.Tiers, tierwallv1alpha1.Tier{
					Name:        "cache",
					PodSelector: *matchLabels("tier", "redis"),
					Ports:       []tierwallv1alpha1.Port{{Port: intstr.FromInt32(6379)}, {Port: intstr.FromInt32(16379), Protocol: "TCP"}},
					AllowFrom:   []tierwallv1alpha1.Peer{{Tier: "frontend"}, {Tier: "database"}},
				})
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				cacheSelector := matchLabels("app", "wordpress", "tier", "redis")
				toCache := networkingv1.NetworkPolicyEgressRule{
					To:    []networkingv1.NetworkPolicyPeer{{PodSelector: cacheSelector}},
					Ports: []networkingv1.NetworkPolicyPort{port(6379, tcp), port(16379, tcp)},
				}
				frontend := tierPolicy(want, frontendPolicy)
				frontend.Egress = []networkingv1.NetworkPolicyEgressRule{frontend.Egress[0], toCache, kubeDNS}
				database := tierPolicy(want, databasePolicy)
				database.Egress = []networkingv1.NetworkPolicyEgressRule{toCache, kubeDNS}

				cache := *want[databasePolicy].DeepCopy()
				cache.Name = "wordpress-tier-cache"
				cache.Labels["tierwall.dev/tier"] = "cache"
				cache.Spec.PodSelector = *cacheSelector
				cache.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
					Ports: []networkingv1.NetworkPolicyPort{port(6379, tcp), port(16379, tcp)},
					From: []networkingv1.NetworkPolicyPeer{
						{PodSelector: matchLabels("app", "wordpress", "tier", "frontend")},
						{PodSelector: matchLabels("app", "wordpress", "tier", "mysql")},
					},
				}}
				cache.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{kubeDNS}
				return []networkingv1.NetworkPolicy{want[0], want[1], cache, want[2], want[3]}
			},
		},
		{
			name: "a tier that allows itself gets egress to itself",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Tiers[databaseTier].AllowFrom = append(app.Spec.Tiers[databaseTier].AllowFrom,
					tierwallv1alpha1.Peer{Tier: "database"})
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				database := tierPolicy(want, databasePolicy)
				self := matchLabels("app", "wordpress", "tier", "mysql")
				database.Ingress[0].From = append(database.Ingress[0].From, networkingv1.NetworkPolicyPeer{PodSelector: self})
				database.Egress = []networkingv1.NetworkPolicyEgressRule{
					{To: []networkingv1.NetworkPolicyPeer{{PodSelector: self}}, Ports: []networkingv1.NetworkPolicyPort{port(3306, tcp)}},
					kubeDNS,
				}
				return want
			},
		},
		{
			name: "egressTo adds egress rules after the tier rules and before DNS",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Tiers[frontendTier].EgressTo = []tierwallv1alpha1.EgressRule{
					{
						IPBlock: &tierwallv1alpha1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"10.0.0.0/8", "169.254.169.254/32"}},
						Ports:   []tierwallv1alpha1.Port{{Port: intstr.FromInt32(443)}},
					},
					{
						NamespaceSelector: namespaceNamed("monitoring"),
						PodSelector:       matchLabels("app", "pushgateway"),
						Ports:             []tierwallv1alpha1.Port{{Port: intstr.FromString("push"), Protocol: "TCP"}},
					},
					{PodSelector: matchLabels("app", "memcached")},
				}
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				frontend := tierPolicy(want, frontendPolicy)
				frontend.Egress = []networkingv1.NetworkPolicyEgressRule{
					frontend.Egress[0],
					{
						To:    []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"10.0.0.0/8", "169.254.169.254/32"}}}},
						Ports: []networkingv1.NetworkPolicyPort{port(443, tcp)},
					},
					{
						To:    []networkingv1.NetworkPolicyPeer{{NamespaceSelector: namespaceNamed("monitoring"), PodSelector: matchLabels("app", "pushgateway")}},
						Ports: []networkingv1.NetworkPolicyPort{{Protocol: tcp, Port: ptr.To(intstr.FromString("push"))}},
					},
					{
						// No ports: every port of the memcached pods.
						To: []networkingv1.NetworkPolicyPeer{{PodSelector: matchLabels("app", "memcached")}},
					},
					kubeDNS,
				}
				return want
			},
		},
		{
			name: "raw peers pass through as written",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Tiers[databaseTier].AllowFrom = append(app.Spec.Tiers[databaseTier].AllowFrom,
					tierwallv1alpha1.Peer{NamespaceSelector: namespaceNamed("backup"), PodSelector: matchLabels("app", "backup")},
					tierwallv1alpha1.Peer{NamespaceSelector: &metav1.LabelSelector{}},
					tierwallv1alpha1.Peer{PodSelector: matchLabels("app", "phpmyadmin")},
					tierwallv1alpha1.Peer{IPBlock: &tierwallv1alpha1.IPBlock{CIDR: "2001:db8::/32", Except: []string{"2001:db8:1::/48"}}},
				)
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				database := tierPolicy(want, databasePolicy)
				database.Ingress[0].From = append(database.Ingress[0].From,
					networkingv1.NetworkPolicyPeer{NamespaceSelector: namespaceNamed("backup"), PodSelector: matchLabels("app", "backup")},
					networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{}},
					// Not intersected with the governed pods: a raw peer means
					// exactly what it says.
					networkingv1.NetworkPolicyPeer{PodSelector: matchLabels("app", "phpmyadmin")},
					networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "2001:db8::/32", Except: []string{"2001:db8:1::/48"}}},
				)
				return want
			},
		},
		{
			name: "custom DNS servers replace the default everywhere",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.DNS = &tierwallv1alpha1.DNS{Namespace: "dns", PodSelector: matchLabels("app", "unbound")}
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				custom := dnsRule("dns", matchLabels("app", "unbound"))
				for _, i := range []int{frontendPolicy, databasePolicy, dnsPolicy} {
					egress := want[i].Spec.Egress
					egress[len(egress)-1] = custom
				}
				return want
			},
		},
		{
			name: "a custom DNS namespace keeps the default DNS pod selector",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.DNS = &tierwallv1alpha1.DNS{Namespace: "coredns"}
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				for _, i := range []int{frontendPolicy, databasePolicy, dnsPolicy} {
					egress := want[i].Spec.Egress
					egress[len(egress)-1] = dnsRule("coredns", matchLabels("k8s-app", "kube-dns"))
				}
				return want
			},
		},
		{
			name: "a custom DNS pod selector keeps kube-system",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.DNS = &tierwallv1alpha1.DNS{PodSelector: matchLabels("k8s-app", "node-local-dns")}
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				for _, i := range []int{frontendPolicy, databasePolicy, dnsPolicy} {
					egress := want[i].Spec.Egress
					egress[len(egress)-1] = dnsRule("kube-system", matchLabels("k8s-app", "node-local-dns"))
				}
				return want
			},
		},
		{
			name: "dns.nodeLocal without an address adds NodeLocal DNSCache's default address to every DNS rule",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.DNS = &tierwallv1alpha1.DNS{NodeLocal: &tierwallv1alpha1.NodeLocalDNS{}}
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				rule := dnsRule("kube-system", matchLabels("k8s-app", "kube-dns"))
				rule.To = append(rule.To, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "169.254.20.10/32"}})
				for _, i := range []int{frontendPolicy, databasePolicy, dnsPolicy} {
					egress := want[i].Spec.Egress
					egress[len(egress)-1] = rule
				}
				return want
			},
		},
		{
			name: "dns.nodeLocal with an IPv6 address allows it as a /128, next to custom DNS pods",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.DNS = &tierwallv1alpha1.DNS{Namespace: "dns", NodeLocal: &tierwallv1alpha1.NodeLocalDNS{Address: "fd00::a"}}
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				rule := dnsRule("dns", matchLabels("k8s-app", "kube-dns"))
				rule.To = append(rule.To, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "fd00::a/128"}})
				for _, i := range []int{frontendPolicy, databasePolicy, dnsPolicy} {
					egress := want[i].Spec.Egress
					egress[len(egress)-1] = rule
				}
				return want
			},
		},
		{
			name: "dns.nodeLocal with policyTypes [Ingress] renders no DNS at all",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				// Admission refuses it; the renderer still opens nothing.
				app.Spec.PolicyTypes = []tierwallv1alpha1.PolicyType{tierwallv1alpha1.PolicyTypeIngress}
				app.Spec.DNS = &tierwallv1alpha1.DNS{NodeLocal: &tierwallv1alpha1.NodeLocalDNS{}}
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				for _, i := range []int{frontendPolicy, databasePolicy, defaultDenyPolicy} {
					want[i].Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
					want[i].Spec.Egress = nil
				}
				return []networkingv1.NetworkPolicy{want[frontendPolicy], want[databasePolicy], want[defaultDenyPolicy]}
			},
		},
		{
			name: "DNS disabled: no DNS policy and no DNS rule, but egress stays isolated",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.DNS = &tierwallv1alpha1.DNS{Disabled: true}
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				frontend := tierPolicy(want, frontendPolicy)
				frontend.Egress = frontend.Egress[:1]
				tierPolicy(want, databasePolicy).Egress = nil
				return []networkingv1.NetworkPolicy{want[frontendPolicy], want[databasePolicy], want[defaultDenyPolicy]}
			},
		},
		{
			name: "spec.podSelector omitted governs every pod of the namespace",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.PodSelector = nil
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				frontend, database := matchLabels("tier", "frontend"), matchLabels("tier", "mysql")
				tierPolicy(want, frontendPolicy).PodSelector = *frontend
				tierPolicy(want, frontendPolicy).Egress[0].To[0].PodSelector = database
				tierPolicy(want, databasePolicy).PodSelector = *database
				tierPolicy(want, databasePolicy).Ingress[0].From[0].PodSelector = frontend
				want[dnsPolicy].Spec.PodSelector = metav1.LabelSelector{}
				want[defaultDenyPolicy].Spec.PodSelector = metav1.LabelSelector{}
				return want
			},
		},
		{
			name: "a tier selector that conflicts with the governed selector selects nothing",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Tiers[databaseTier].PodSelector = *matchLabels("app", "mysql", "tier", "mysql")
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				nothing := &metav1.LabelSelector{
					MatchLabels: map[string]string{"app": "wordpress", "tier": "mysql"},
					MatchExpressions: []metav1.LabelSelectorRequirement{
						{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"mysql"}},
					},
				}
				tierPolicy(want, frontendPolicy).Egress[0].To[0].PodSelector = nothing
				tierPolicy(want, databasePolicy).PodSelector = *nothing
				return want
			},
		},
		{
			name: "match expressions of the governed and tier selectors are combined",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.PodSelector.MatchExpressions = []metav1.LabelSelectorRequirement{
					{Key: "environment", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"test"}},
				}
				app.Spec.Tiers[databaseTier].PodSelector = metav1.LabelSelector{
					MatchExpressions: []metav1.LabelSelectorRequirement{
						{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"mysql", "mariadb"}},
						// Already required by the governed selector: not repeated.
						{Key: "environment", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"test"}},
						{Key: "replica", Operator: metav1.LabelSelectorOpDoesNotExist},
					},
				}
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				notTest := metav1.LabelSelectorRequirement{Key: "environment", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"test"}}
				governed := metav1.LabelSelector{
					MatchLabels:      map[string]string{"app": "wordpress"},
					MatchExpressions: []metav1.LabelSelectorRequirement{notTest},
				}
				frontend := &metav1.LabelSelector{
					MatchLabels:      map[string]string{"app": "wordpress", "tier": "frontend"},
					MatchExpressions: []metav1.LabelSelectorRequirement{notTest},
				}
				database := &metav1.LabelSelector{
					MatchLabels: map[string]string{"app": "wordpress"},
					MatchExpressions: []metav1.LabelSelectorRequirement{
						notTest,
						{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"mysql", "mariadb"}},
						{Key: "replica", Operator: metav1.LabelSelectorOpDoesNotExist},
					},
				}
				tierPolicy(want, frontendPolicy).PodSelector = *frontend
				tierPolicy(want, frontendPolicy).Egress[0].To[0].PodSelector = database
				tierPolicy(want, databasePolicy).PodSelector = *database
				tierPolicy(want, databasePolicy).Ingress[0].From[0].PodSelector = frontend
				want[dnsPolicy].Spec.PodSelector = governed
				want[defaultDenyPolicy].Spec.PodSelector = *governed.DeepCopy()
				return want
			},
		},
		{
			name: "named ports, ranges and protocols pass through; TCP is made explicit",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Tiers[databaseTier].Ports = []tierwallv1alpha1.Port{
					{Port: intstr.FromString("mysql")},
					{Port: intstr.FromInt32(33060), EndPort: ptr.To(int32(33062))},
					{Port: intstr.FromInt32(4444), Protocol: "UDP"},
					{Port: intstr.FromString("galera-ist"), Protocol: "SCTP"},
				}
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				ports := []networkingv1.NetworkPolicyPort{
					{Protocol: tcp, Port: ptr.To(intstr.FromString("mysql"))},
					{Protocol: tcp, Port: ptr.To(intstr.FromInt32(33060)), EndPort: ptr.To(int32(33062))},
					port(4444, udp),
					{Protocol: sctp, Port: ptr.To(intstr.FromString("galera-ist"))},
				}
				tierPolicy(want, databasePolicy).Ingress[0].Ports = ports
				tierPolicy(want, frontendPolicy).Egress[0].Ports = ports
				return want
			},
		},
		{
			name: "a tier without allowFrom accepts nothing, but still reaches the tiers that allow it",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Tiers[frontendTier].AllowFrom = nil
				app.Spec.Tiers[frontendTier].Ports = nil
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				tierPolicy(want, frontendPolicy).Ingress = nil
				return want
			},
		},
		{
			name: "a peer with ports of its own gets its own rule, after the peers on the tier's ports",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Tiers[databaseTier].AllowFrom = append(app.Spec.Tiers[databaseTier].AllowFrom, tierwallv1alpha1.Peer{
					IPBlock: &tierwallv1alpha1.IPBlock{CIDR: "10.0.0.0/8"},
					Ports:   []tierwallv1alpha1.Port{{Port: intstr.FromInt32(33060)}},
				})
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				database := tierPolicy(want, databasePolicy)
				database.Ingress = append(database.Ingress, networkingv1.NetworkPolicyIngressRule{
					Ports: []networkingv1.NetworkPolicyPort{port(33060, tcp)},
					From:  []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8"}}},
				})
				return want
			},
		},
		{
			name: "a tier peer's own ports narrow its ingress and the source tier's egress",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				database := &app.Spec.Tiers[databaseTier]
				database.Ports = append(database.Ports, tierwallv1alpha1.Port{Port: intstr.FromInt32(33060)})
				database.AllowFrom[0].Ports = []tierwallv1alpha1.Port{{Port: intstr.FromInt32(3306)}}
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy { return want },
		},
		{
			name: "peers with the same ports share a rule, in order of first appearance; a tier whose every peer has ports needs none",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				smtp := []tierwallv1alpha1.Port{{Port: intstr.FromInt32(25)}, {Port: intstr.FromInt32(587)}, {Port: intstr.FromInt32(993)}}
				database := &app.Spec.Tiers[databaseTier]
				database.Ports = nil
				database.AllowFrom = []tierwallv1alpha1.Peer{
					{IPBlock: &tierwallv1alpha1.IPBlock{CIDR: "0.0.0.0/0"}, Ports: smtp},
					{Tier: "frontend", Ports: []tierwallv1alpha1.Port{{Port: intstr.FromInt32(24)}}},
					{IPBlock: &tierwallv1alpha1.IPBlock{CIDR: "::/0"}, Ports: smtp},
				}
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				tierPolicy(want, databasePolicy).Ingress = []networkingv1.NetworkPolicyIngressRule{
					{
						Ports: []networkingv1.NetworkPolicyPort{port(25, tcp), port(587, tcp), port(993, tcp)},
						From: []networkingv1.NetworkPolicyPeer{
							{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}},
							{IPBlock: &networkingv1.IPBlock{CIDR: "::/0"}},
						},
					},
					{
						Ports: []networkingv1.NetworkPolicyPort{port(24, tcp)},
						From:  []networkingv1.NetworkPolicyPeer{{PodSelector: matchLabels("app", "wordpress", "tier", "frontend")}},
					},
				}
				tierPolicy(want, frontendPolicy).Egress[0].Ports = []networkingv1.NetworkPolicyPort{port(24, tcp)}
				return want
			},
		},
		{
			name: "a peer whose own ports are the tier's joins the tier's rule",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				database := &app.Spec.Tiers[databaseTier]
				database.AllowFrom = append(database.AllowFrom, tierwallv1alpha1.Peer{
					IPBlock: &tierwallv1alpha1.IPBlock{CIDR: "10.0.0.0/8"},
					Ports:   []tierwallv1alpha1.Port{{Port: intstr.FromInt32(3306), Protocol: "TCP"}},
				})
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				database := tierPolicy(want, databasePolicy)
				database.Ingress[0].From = append(database.Ingress[0].From,
					networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8"}})
				return want
			},
		},
		{
			name: "a tier listed twice by another, on different ports, gets one egress rule on both",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				database := &app.Spec.Tiers[databaseTier]
				database.AllowFrom = []tierwallv1alpha1.Peer{
					{Tier: "frontend"},
					{Tier: "frontend", Ports: []tierwallv1alpha1.Port{{Port: intstr.FromInt32(33060)}, {Port: intstr.FromInt32(3306)}}},
				}
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				database := tierPolicy(want, databasePolicy)
				database.Ingress = append(database.Ingress, networkingv1.NetworkPolicyIngressRule{
					Ports: []networkingv1.NetworkPolicyPort{port(33060, tcp), port(3306, tcp)},
					From:  database.Ingress[0].From,
				})
				tierPolicy(want, frontendPolicy).Egress[0].Ports = []networkingv1.NetworkPolicyPort{port(3306, tcp), port(33060, tcp)}
				return want
			},
		},
		{
			name: "policyTypes [Ingress, Egress] is the default",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.PolicyTypes = []tierwallv1alpha1.PolicyType{tierwallv1alpha1.PolicyTypeEgress, tierwallv1alpha1.PolicyTypeIngress}
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy { return want },
		},
		{
			name: "policyTypes [Ingress] leaves egress alone: no DNS policy, no egress rules, nothing isolates egress",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.PolicyTypes = []tierwallv1alpha1.PolicyType{tierwallv1alpha1.PolicyTypeIngress}
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				want = []networkingv1.NetworkPolicy{want[frontendPolicy], want[databasePolicy], want[defaultDenyPolicy]}
				for i := range want {
					want[i].Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
					want[i].Spec.Egress = nil
				}
				return want
			},
		},
		{
			name: "policyTypes [Egress] leaves ingress alone: tier peers still allow the source tier's egress",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.PolicyTypes = []tierwallv1alpha1.PolicyType{tierwallv1alpha1.PolicyTypeEgress}
				app.Spec.IngressControllers = nil
				app.Spec.Tiers[frontendTier].AllowFrom = nil
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				for i := range want {
					want[i].Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
					want[i].Spec.Ingress = nil
				}
				return want
			},
		},
		{
			name: "DryRun renders the same policies",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Mode = tierwallv1alpha1.ModeDryRun
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy { return want },
		},
		{
			name: "policy names and labels follow the AppIsolation's name and namespace",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Name, app.Namespace = "blog.example", "prod"
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				for i := range want {
					want[i].Name = strings.Replace(want[i].Name, "wordpress-", "blog.example-", 1)
					want[i].Namespace = "prod"
					want[i].Labels["tierwall.dev/appisolation"] = "blog.example"
					want[i].OwnerReferences[0].Name = "blog.example"
				}
				return want
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := wordpress(t, tt.tweak)
			before := app.DeepCopy()
			got, err := render.Render(app, render.Platform{})
			if err != nil {
				t.Fatalf("Render() error = %v", err)
			}
			if diff := cmp.Diff(tt.want(wantWordPress()), got); diff != "" {
				t.Errorf("Render() mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, app); diff != "" {
				t.Errorf("Render() changed its input (-before +after):\n%s", diff)
			}
			checkInvariants(t, app, got)
		})
	}
}

// TestRenderNodeAddresses covers ingress controllers with hostNetwork: the
// Node addresses the platform gives become their peers, sorted and without
// duplicates, named in an annotation; none known means no peer, never an
// open rule.
func TestRenderNodeAddresses(t *testing.T) {
	nodes := []netip.Addr{
		netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("fd00::1"), netip.MustParseAddr("10.0.0.1"),
		netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("::ffff:10.0.0.1"),
	}
	nodePeers := []networkingv1.NetworkPolicyPeer{
		{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.1/32"}},
		{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.2/32"}},
		{IPBlock: &networkingv1.IPBlock{CIDR: "fd00::1/128"}},
	}
	hostNetwork := func(app *tierwallv1alpha1.AppIsolation) {
		app.Spec.IngressControllers[0] = tierwallv1alpha1.IngressController{Name: "traefik", HostNetwork: true}
	}
	annotate := func(want []networkingv1.NetworkPolicy, text string) {
		want[frontendPolicy].Annotations = map[string]string{tierwallv1alpha1.IPBlocksFromAnnotation: text}
	}
	tests := []struct {
		name     string
		tweak    func(app *tierwallv1alpha1.AppIsolation)
		platform render.Platform
		want     func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy
	}{
		{
			name:     "a hostNetwork controller is allowed from every Node, sorted, without duplicates",
			tweak:    hostNetwork,
			platform: render.Platform{NodeAddresses: nodes},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				tierPolicy(want, frontendPolicy).Ingress[0].From = nodePeers
				annotate(want, "InternalIPs of the Nodes (3), for hostNetwork ingress controllers: traefik")
				return want
			},
		},
		{
			name: "hostNetwork adds to the controller's pods and address blocks",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.IngressControllers[0].HostNetwork = true
				app.Spec.IngressControllers[0].IPBlocks = []tierwallv1alpha1.IPBlock{{CIDR: "192.0.2.0/24"}}
			},
			platform: render.Platform{NodeAddresses: nodes[:1]},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				frontend := tierPolicy(want, frontendPolicy)
				frontend.Ingress[0].From = append(frontend.Ingress[0].From,
					networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "192.0.2.0/24"}},
					networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.2/32"}})
				annotate(want, "InternalIPs of the Nodes (1), for hostNetwork ingress controllers: traefik")
				return want
			},
		},
		{
			name:  "no Node known: no peer and no rule for a hostNetwork controller, never a rule open to all",
			tweak: hostNetwork,
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				tierPolicy(want, frontendPolicy).Ingress = nil
				return want
			},
		},
		{
			name: "no Node known: the other peers of the rule stay",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				hostNetwork(app)
				app.Spec.Tiers[frontendTier].AllowFrom = append(app.Spec.Tiers[frontendTier].AllowFrom,
					tierwallv1alpha1.Peer{IPBlock: &tierwallv1alpha1.IPBlock{CIDR: "192.0.2.0/24"}})
			},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				tierPolicy(want, frontendPolicy).Ingress[0].From = []networkingv1.NetworkPolicyPeer{
					{IPBlock: &networkingv1.IPBlock{CIDR: "192.0.2.0/24"}},
				}
				return want
			},
		},
		{
			name:     "Node addresses change nothing without a hostNetwork controller",
			platform: render.Platform{NodeAddresses: nodes},
			want:     func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy { return want },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := wordpress(t, func(app *tierwallv1alpha1.AppIsolation) {
				if tt.tweak != nil {
					tt.tweak(app)
				}
			})
			before := slices.Clone(tt.platform.NodeAddresses)
			got, err := render.Render(app, tt.platform)
			if err != nil {
				t.Fatalf("Render() error = %v", err)
			}
			if diff := cmp.Diff(tt.want(wantWordPress()), got); diff != "" {
				t.Errorf("Render() mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, tt.platform.NodeAddresses, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("Render() changed the platform it was given:\n%s", diff)
			}
			checkInvariants(t, app, got)
		})
	}
}

// TestRenderKubeAPIServer covers egressTo kubeAPIServer: the endpoints the
// platform gives become one rule, every address on every port; none known
// means no rule.
func TestRenderKubeAPIServer(t *testing.T) {
	apiServer := render.Endpoints{
		Addresses: []netip.Addr{netip.MustParseAddr("172.18.0.3"), netip.MustParseAddr("172.18.0.2"), netip.MustParseAddr("172.18.0.3")},
		Ports:     []render.EndpointPort{{Port: 6443, Protocol: corev1.ProtocolTCP}, {Port: 6443, Protocol: corev1.ProtocolTCP}},
	}
	toAPIServer := networkingv1.NetworkPolicyEgressRule{
		To: []networkingv1.NetworkPolicyPeer{
			{IPBlock: &networkingv1.IPBlock{CIDR: "172.18.0.2/32"}},
			{IPBlock: &networkingv1.IPBlock{CIDR: "172.18.0.3/32"}},
		},
		Ports: []networkingv1.NetworkPolicyPort{port(6443, tcp)},
	}
	twice := func(app *tierwallv1alpha1.AppIsolation) {
		app.Spec.Tiers[frontendTier].EgressTo = []tierwallv1alpha1.EgressRule{
			{KubeAPIServer: &tierwallv1alpha1.KubeAPIServer{}},
			{IPBlock: &tierwallv1alpha1.IPBlock{CIDR: "192.0.2.0/24"}},
			{KubeAPIServer: &tierwallv1alpha1.KubeAPIServer{}},
		}
	}
	toBlock := networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "192.0.2.0/24"}}}}
	tests := []struct {
		name     string
		platform render.Platform
		want     func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy
	}{
		{
			name:     "the endpoints, sorted, without duplicates, in one rule however often the tier names them",
			platform: render.Platform{KubeAPIServer: apiServer},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				frontend := tierPolicy(want, frontendPolicy)
				frontend.Egress = []networkingv1.NetworkPolicyEgressRule{frontend.Egress[0], toAPIServer, toBlock, kubeDNS}
				want[frontendPolicy].Annotations = map[string]string{
					tierwallv1alpha1.IPBlocksFromAnnotation: "the endpoints of the default/kubernetes Service (2 addresses)"}
				return want
			},
		},
		{
			name: "no endpoint known: no rule",
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				frontend := tierPolicy(want, frontendPolicy)
				frontend.Egress = []networkingv1.NetworkPolicyEgressRule{frontend.Egress[0], toBlock, kubeDNS}
				return want
			},
		},
		{
			name:     "addresses without ports: no rule",
			platform: render.Platform{KubeAPIServer: render.Endpoints{Addresses: apiServer.Addresses}},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				frontend := tierPolicy(want, frontendPolicy)
				frontend.Egress = []networkingv1.NetworkPolicyEgressRule{frontend.Egress[0], toBlock, kubeDNS}
				return want
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := wordpress(t, twice)
			got, err := render.Render(app, tt.platform)
			if err != nil {
				t.Fatalf("Render() error = %v", err)
			}
			if diff := cmp.Diff(tt.want(wantWordPress()), got); diff != "" {
				t.Errorf("Render() mismatch (-want +got):\n%s", diff)
			}
			checkInvariants(t, app, got)
		})
	}
}

func TestKubeAPIServerEndpoints(t *testing.T) {
	slice := func(ports []int32, addresses ...string) discoveryv1.EndpointSlice {
		s := discoveryv1.EndpointSlice{}
		for _, a := range addresses {
			s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{a}})
		}
		for _, p := range ports {
			s.Ports = append(s.Ports, discoveryv1.EndpointPort{Port: ptr.To(p)})
		}
		return s
	}
	notReady := slice([]int32{6443}, "10.0.0.9")
	notReady.Endpoints[0].Conditions.Ready = ptr.To(false)
	got := render.KubeAPIServerEndpoints([]discoveryv1.EndpointSlice{
		slice([]int32{6443}, "172.18.0.3", "172.18.0.2"),
		slice([]int32{6443}, "fd00::2", "172.18.0.2"),
		notReady,
	})
	want := render.Endpoints{
		Addresses: []netip.Addr{netip.MustParseAddr("172.18.0.2"), netip.MustParseAddr("172.18.0.3"), netip.MustParseAddr("fd00::2")},
		Ports:     []render.EndpointPort{{Port: 6443, Protocol: corev1.ProtocolTCP}},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("KubeAPIServerEndpoints() (-want +got):\n%s", diff)
	}
}

func TestNodeAddresses(t *testing.T) {
	node := func(addresses ...corev1.NodeAddress) corev1.Node {
		return corev1.Node{Status: corev1.NodeStatus{Addresses: addresses}}
	}
	got := render.NodeAddresses([]corev1.Node{
		node(corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.0.0.9"},
			corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "203.0.113.1"},
			corev1.NodeAddress{Type: corev1.NodeHostName, Address: "node-a"},
			corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "fd00::9"}),
		node(corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.0.0.1"}),
		node(corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.0.0.9"}),
		node(corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "not an address"}),
		node(),
	})
	want := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.9"), netip.MustParseAddr("fd00::9")}
	if !slices.Equal(got, want) {
		t.Errorf("NodeAddresses() = %v, want %v: the InternalIPs only, sorted, without duplicates", got, want)
	}
}

// checkInvariants checks what every rendered set of policies must satisfy:
// tierwall's labels and nothing else, no annotations, the controller
// reference, explicit policyTypes, and the default-deny last.
func checkInvariants(t *testing.T, app *tierwallv1alpha1.AppIsolation, policies []networkingv1.NetworkPolicy) {
	t.Helper()
	if len(policies) == 0 {
		t.Fatal("Render() returned no policies")
	}
	wantOwner := []metav1.OwnerReference{render.OwnerReference(app)}
	for _, p := range policies {
		wantLabels := map[string]string{
			tierwallv1alpha1.ManagedByLabel:    tierwallv1alpha1.ManagedByValue,
			tierwallv1alpha1.AppIsolationLabel: app.Name,
			tierwallv1alpha1.RoleLabel:         p.Labels[tierwallv1alpha1.RoleLabel],
		}
		if tier, ok := p.Labels[tierwallv1alpha1.TierLabel]; ok {
			wantLabels[tierwallv1alpha1.TierLabel] = tier
			if p.Labels[tierwallv1alpha1.RoleLabel] != tierwallv1alpha1.RoleTier {
				t.Errorf("policy %s has a tier label but role %q", p.Name, p.Labels[tierwallv1alpha1.RoleLabel])
			}
		}
		if diff := cmp.Diff(wantLabels, p.Labels); diff != "" {
			t.Errorf("policy %s labels mismatch (-want +got):\n%s", p.Name, diff)
		}
		for k := range p.Annotations {
			if k != tierwallv1alpha1.IPBlocksFromAnnotation || p.Labels[tierwallv1alpha1.RoleLabel] != tierwallv1alpha1.RoleTier {
				t.Errorf("policy %s has annotations %v, want none but %s on a tier policy", p.Name, p.Annotations, tierwallv1alpha1.IPBlocksFromAnnotation)
			}
		}
		if diff := cmp.Diff(wantOwner, p.OwnerReferences); diff != "" {
			t.Errorf("policy %s ownerReferences mismatch (-want +got):\n%s", p.Name, diff)
		}
		if len(p.Spec.PolicyTypes) == 0 {
			t.Errorf("policy %s leaves policyTypes implicit", p.Name)
		}
	}
	var isolated []networkingv1.PolicyType
	for _, d := range []tierwallv1alpha1.PolicyType{tierwallv1alpha1.PolicyTypeIngress, tierwallv1alpha1.PolicyTypeEgress} {
		if app.Spec.Isolates(d) {
			isolated = append(isolated, networkingv1.PolicyType(d))
		}
	}
	for _, p := range policies {
		for _, d := range p.Spec.PolicyTypes {
			if !slices.Contains(isolated, d) {
				t.Errorf("policy %s isolates %s, which the AppIsolation does not isolate", p.Name, d)
			}
		}
		if len(p.Spec.Ingress) > 0 && !app.Spec.Isolates(tierwallv1alpha1.PolicyTypeIngress) ||
			len(p.Spec.Egress) > 0 && !app.Spec.Isolates(tierwallv1alpha1.PolicyTypeEgress) {
			t.Errorf("policy %s has rules for a direction the AppIsolation does not isolate", p.Name)
		}
	}
	deny := policies[len(policies)-1]
	if deny.Name != render.DefaultDenyName(app.Name) || !cmp.Equal(deny.Spec.PolicyTypes, isolated) {
		t.Errorf("last policy is %s with policyTypes %v, want the default-deny with %v", deny.Name, deny.Spec.PolicyTypes, isolated)
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	// Several conflicting labels and match expressions: the output must not
	// depend on map iteration order.
	app := wordpress(t, func(app *tierwallv1alpha1.AppIsolation) {
		app.Spec.PodSelector = matchLabels("app", "wordpress", "a", "1", "b", "2", "c", "3", "d", "4")
		app.Spec.Tiers[databaseTier].PodSelector = *matchLabels("a", "x", "b", "y", "c", "z", "d", "w", "tier", "mysql")
	})
	first, err := render.Render(app, render.Platform{})
	if err != nil {
		t.Fatalf("Render() error = %v", err)
	}
	for range 50 {
		again, err := render.Render(app, render.Platform{})
		if err != nil {
			t.Fatalf("Render() error = %v", err)
		}
		if diff := cmp.Diff(first, again); diff != "" {
			t.Fatalf("Render() is not deterministic (-first +again):\n%s", diff)
		}
	}
}

func TestRenderOutputDoesNotAliasInput(t *testing.T) {
	app := wordpress(t, func(app *tierwallv1alpha1.AppIsolation) {
		app.Spec.Tiers[databaseTier].AllowFrom = append(app.Spec.Tiers[databaseTier].AllowFrom,
			tierwallv1alpha1.Peer{IPBlock: &tierwallv1alpha1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"10.1.0.0/16"}}})
		app.Spec.Tiers[databaseTier].Ports[0].EndPort = ptr.To(int32(3310))
	})
	before := app.DeepCopy()
	got, err := render.Render(app, render.Platform{})
	if err != nil {
		t.Fatalf("Render() error = %v", err)
	}
	// A caller that edits the output (a defaulting client, say) must not edit
	// the AppIsolation.
	for i := range got {
		spec := &got[i].Spec
		spec.PodSelector.MatchLabels["mutated"] = "true"
		for _, rule := range spec.Ingress {
			for _, peer := range rule.From {
				for _, s := range []*metav1.LabelSelector{peer.PodSelector, peer.NamespaceSelector} {
					if s != nil && s.MatchLabels != nil {
						s.MatchLabels["mutated"] = "true"
					}
				}
				if peer.IPBlock != nil && len(peer.IPBlock.Except) > 0 {
					peer.IPBlock.Except[0] = "10.2.0.0/16"
				}
			}
			for _, p := range rule.Ports {
				*p.Port = intstr.FromInt32(1)
				if p.EndPort != nil {
					*p.EndPort = 2
				}
			}
		}
	}
	if diff := cmp.Diff(before, app); diff != "" {
		t.Errorf("editing Render()'s output changed the AppIsolation (-before +after):\n%s", diff)
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name  string
		tweak func(app *tierwallv1alpha1.AppIsolation)
		// want are substrings of the error: the field, and what is wrong.
		want []string
	}{
		{
			name: "a matchLabels value with a space",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Tiers[frontendTier].PodSelector = *matchLabels("tier", "front end")
			},
			want: []string{"spec.tiers[0].podSelector.matchLabels", `"front end"`},
		},
		{
			name: "an unknown selector operator",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.PodSelector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Foo", Values: []string{"wordpress"}}}
			},
			want: []string{"spec.podSelector.matchExpressions[0].operator", `"Foo"`, "not a valid selector operator"},
		},
		{
			name: "In with no values",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Tiers[frontendTier].EgressTo = []tierwallv1alpha1.EgressRule{{
					PodSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpIn}}},
				}}
			},
			want: []string{"spec.tiers[0].egressTo[0].podSelector.matchExpressions[0].values", "must be specified when `operator` is 'In' or 'NotIn'"},
		},
		{
			name: "an invalid label key in an ingress controller's podSelector",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.IngressControllers[0].PodSelector = matchLabels("-traefik", "yes")
			},
			want: []string{"spec.ingressControllers[0].podSelector.matchLabels", `"-traefik"`},
		},
		{
			name: "an invalid namespaceSelector in an allowFrom peer",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Tiers[databaseTier].AllowFrom = append(app.Spec.Tiers[databaseTier].AllowFrom,
					tierwallv1alpha1.Peer{NamespaceSelector: matchLabels("kubernetes.io/metadata.name", "back up")})
			},
			want: []string{"spec.tiers[1].allowFrom[1].namespaceSelector.matchLabels", `"back up"`},
		},
		{
			name: "an invalid DNS podSelector",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.DNS = &tierwallv1alpha1.DNS{PodSelector: &metav1.LabelSelector{
					MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "k8s-app", Operator: metav1.LabelSelectorOpExists, Values: []string{"kube-dns"}}},
				}}
			},
			want: []string{"spec.dns.podSelector.matchExpressions[0].values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"},
		},
		{
			name: "a dns.nodeLocal address that is not an IP",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.DNS = &tierwallv1alpha1.DNS{NodeLocal: &tierwallv1alpha1.NodeLocalDNS{Address: "169.254.20.10/32"}}
			},
			want: []string{"spec.dns.nodeLocal.address", `Invalid value: "169.254.20.10/32": must be an IP address in canonical form`},
		},
		{
			name: "a dns.nodeLocal address not in canonical form",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.DNS = &tierwallv1alpha1.DNS{NodeLocal: &tierwallv1alpha1.NodeLocalDNS{Address: "FD00::A"}}
			},
			want: []string{"spec.dns.nodeLocal.address", `Invalid value: "FD00::A": must be an IP address in canonical form`},
		},
		{
			name: "allowFrom names another AppIsolation but no tier",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Tiers[databaseTier].AllowFrom[0] = tierwallv1alpha1.Peer{
					AppIsolation: &tierwallv1alpha1.AppIsolationReference{Namespace: "payments", Name: "api"}}
			},
			want: []string{"spec.tiers[1].allowFrom[0].tier", "Required value"},
		},
		{
			name: "egressTo names a tier but no AppIsolation",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Tiers[frontendTier].EgressTo = []tierwallv1alpha1.EgressRule{{Tier: "database"}}
			},
			want: []string{"spec.tiers[0].egressTo[0].tier", "appIsolation and tier go together"},
		},
		{
			name: "allowFrom names an unknown tier",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Tiers[databaseTier].AllowFrom[0].Tier = "cache"
			},
			want: []string{"spec.tiers[1].allowFrom[0].tier", `Not found: "cache"`},
		},
		{
			name: "allowFrom names an unknown ingress controller",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Tiers[frontendTier].AllowFrom[0].IngressController = "nginx"
			},
			want: []string{"spec.tiers[0].allowFrom[0].ingressController", `Not found: "nginx"`},
		},
		{
			name: "no tiers",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Tiers = nil
				app.Spec.IngressControllers = nil
			},
			want: []string{"spec.tiers", "Required value", "declare at least one tier"},
		},
		{
			// Admission refuses these, but the CLI does not run admission:
			// the peer would vanish and leave a rule that allows everything.
			name: "an ingress controller with neither namespace nor ipBlocks",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.IngressControllers[0].Namespace = ""
				app.Spec.IngressControllers[0].PodSelector = nil
			},
			want: []string{"spec.ingressControllers[0].namespace", "set namespace (and optionally podSelector), hostNetwork or ipBlocks"},
		},
		{
			name: "an ingress controller podSelector without namespace",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.IngressControllers[0].Namespace = ""
				app.Spec.IngressControllers[0].IPBlocks = []tierwallv1alpha1.IPBlock{{CIDR: "10.0.0.0/24"}}
			},
			want: []string{"spec.ingressControllers[0].namespace", "podSelector requires namespace"},
		},
		{
			name: "an allowFrom entry that sets nothing",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Tiers[databaseTier].AllowFrom = []tierwallv1alpha1.Peer{{}}
			},
			want: []string{"spec.tiers[1].allowFrom[0]", "Required value", "set one of tier, ingressController"},
		},
		{
			name: "an allowFrom entry with two kinds of peer",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Tiers[databaseTier].AllowFrom[0].IPBlock = &tierwallv1alpha1.IPBlock{CIDR: "10.0.0.0/8"}
			},
			want: []string{"spec.tiers[1].allowFrom[0]", "Forbidden", "set only one of tier, ingressController"},
		},
		{
			name: "an egressTo entry that sets nothing",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Tiers[frontendTier].EgressTo = []tierwallv1alpha1.EgressRule{{}}
			},
			want: []string{"spec.tiers[0].egressTo[0]", "Required value", "set one of namespaceSelector and/or podSelector, ipBlock, kubeAPIServer, or appIsolation"},
		},
		{
			name: "an allowFrom entry without ports on a tier without ports",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Tiers[databaseTier].Ports = nil
			},
			want: []string{"spec.tiers[1].ports", "Required value", "allowFrom[0] has no ports of its own"},
		},
		{
			name: "an unknown policyType",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.PolicyTypes = []tierwallv1alpha1.PolicyType{"Both"}
			},
			want: []string{"spec.policyTypes[0]", `Unsupported value: "Both"`},
		},
		{
			name: "every problem is reported, not only the first",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Tiers[frontendTier].PodSelector = *matchLabels("tier", "front end")
				app.Spec.Tiers[databaseTier].AllowFrom[0].Tier = "cache"
			},
			want: []string{"spec.tiers[0].podSelector.matchLabels", "spec.tiers[1].allowFrom[0].tier"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			policies, err := render.Render(wordpress(t, tt.tweak), render.Platform{})
			if err == nil {
				t.Fatalf("Render() returned %d policies and no error, want an error", len(policies))
			}
			if !render.IsInvalidSpec(err) {
				t.Errorf("IsInvalidSpec(%v) = false, want true", err)
			}
			if policies != nil {
				t.Errorf("Render() returned policies with an error: %v", policies)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Render() error = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestIsInvalidSpec(t *testing.T) {
	_, err := render.Render(wordpress(t, func(app *tierwallv1alpha1.AppIsolation) { app.Spec.Tiers = nil }), render.Platform{})
	if !render.IsInvalidSpec(err) {
		t.Fatalf("IsInvalidSpec(%v) = false", err)
	}
	if wrapped := fmt.Errorf("failed to render: %w", err); !render.IsInvalidSpec(wrapped) {
		t.Errorf("IsInvalidSpec(%v) = false for a wrapped InvalidSpecError", wrapped)
	}
	if render.IsInvalidSpec(errors.New("connection refused")) || render.IsInvalidSpec(nil) {
		t.Error("IsInvalidSpec() = true for an error that is not an InvalidSpecError")
	}
}

func TestIntersect(t *testing.T) {
	tests := []struct {
		name string
		a, b metav1.LabelSelector
		want metav1.LabelSelector
		// matches and misses are label sets the result must and must not
		// select: the intersection means AND.
		matches, misses []labels.Set
	}{
		{
			name:    "empty and empty select everything",
			want:    metav1.LabelSelector{},
			matches: []labels.Set{{}, {"app": "x"}},
		},
		{
			name:    "empty and a selector is the selector",
			b:       *matchLabels("tier", "web"),
			want:    *matchLabels("tier", "web"),
			matches: []labels.Set{{"tier": "web", "app": "x"}},
			misses:  []labels.Set{{"tier": "db"}, {}},
		},
		{
			name:    "disjoint keys are merged",
			a:       *matchLabels("app", "wordpress"),
			b:       *matchLabels("tier", "web"),
			want:    *matchLabels("app", "wordpress", "tier", "web"),
			matches: []labels.Set{{"app": "wordpress", "tier": "web"}},
			misses:  []labels.Set{{"app": "wordpress"}, {"tier": "web"}},
		},
		{
			name:    "the same label in both is kept once",
			a:       *matchLabels("app", "wordpress"),
			b:       *matchLabels("app", "wordpress", "tier", "web"),
			want:    *matchLabels("app", "wordpress", "tier", "web"),
			matches: []labels.Set{{"app": "wordpress", "tier": "web"}},
		},
		{
			name: "a conflicting value selects nothing",
			a:    *matchLabels("app", "wordpress"),
			b:    *matchLabels("app", "mysql"),
			want: metav1.LabelSelector{
				MatchLabels:      map[string]string{"app": "wordpress"},
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"mysql"}}},
			},
			misses: []labels.Set{{"app": "wordpress"}, {"app": "mysql"}, {}},
		},
		{
			name: "match expressions are combined, without duplicates",
			a: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "env", Operator: metav1.LabelSelectorOpIn, Values: []string{"prod", "staging"}},
			}},
			b: metav1.LabelSelector{
				MatchLabels: map[string]string{"tier": "web"},
				MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: "env", Operator: metav1.LabelSelectorOpIn, Values: []string{"prod", "staging"}},
					{Key: "env", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"staging"}},
					{Key: "canary", Operator: metav1.LabelSelectorOpDoesNotExist},
				},
			},
			want: metav1.LabelSelector{
				MatchLabels: map[string]string{"tier": "web"},
				MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: "env", Operator: metav1.LabelSelectorOpIn, Values: []string{"prod", "staging"}},
					{Key: "env", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"staging"}},
					{Key: "canary", Operator: metav1.LabelSelectorOpDoesNotExist},
				},
			},
			matches: []labels.Set{{"tier": "web", "env": "prod"}},
			misses:  []labels.Set{{"tier": "web", "env": "staging"}, {"tier": "web", "env": "prod", "canary": "1"}, {"tier": "web"}},
		},
		{
			name: "a label conflicting with an expression selects nothing",
			a:    *matchLabels("tier", "web"),
			b: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "tier", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"web"}},
			}},
			want: metav1.LabelSelector{
				MatchLabels: map[string]string{"tier": "web"},
				MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: "tier", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"web"}},
				},
			},
			misses: []labels.Set{{"tier": "web"}, {"tier": "db"}, {}},
		},
		{
			name: "several conflicts become expressions in key order",
			a:    *matchLabels("b", "1", "a", "1"),
			b:    *matchLabels("b", "2", "a", "2"),
			want: metav1.LabelSelector{
				MatchLabels: map[string]string{"a": "1", "b": "1"},
				MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: "a", Operator: metav1.LabelSelectorOpIn, Values: []string{"2"}},
					{Key: "b", Operator: metav1.LabelSelectorOpIn, Values: []string{"2"}},
				},
			},
			misses: []labels.Set{{"a": "1", "b": "1"}, {"a": "2", "b": "2"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := tt.a.DeepCopy(), tt.b.DeepCopy()
			got := render.Intersect(tt.a, tt.b)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Intersect() mismatch (-want +got):\n%s", diff)
			}
			if !cmp.Equal(*a, tt.a) || !cmp.Equal(*b, tt.b) {
				t.Error("Intersect() changed its arguments")
			}
			selector, err := metav1.LabelSelectorAsSelector(&got)
			if err != nil {
				t.Fatalf("Intersect() returned an invalid selector: %v", err)
			}
			for _, set := range tt.matches {
				if !selector.Matches(set) {
					t.Errorf("Intersect() = %v does not match %v", selector, set)
				}
			}
			for _, set := range tt.misses {
				if selector.Matches(set) {
					t.Errorf("Intersect() = %v matches %v", selector, set)
				}
			}
		})
	}
}
