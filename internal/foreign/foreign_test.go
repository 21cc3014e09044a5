package foreign

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/tierwall/tierwall/pkg/render"
	"github.com/tierwall/tierwall/test/fixtures"
)

const ns = "dev-wordpress"

func pod(namespace, name string, l map[string]string) corev1.Pod {
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: l}}
}

func policy(name string, selector map[string]string, types []networkingv1.PolicyType, ingress []networkingv1.NetworkPolicyIngressRule, egress []networkingv1.NetworkPolicyEgressRule) networkingv1.NetworkPolicy {
	return networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: selector}, PolicyTypes: types, Ingress: ingress, Egress: egress,
		},
	}
}

func tcp(port int) []networkingv1.NetworkPolicyPort {
	return []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromInt(port))}}
}

func TestFind(t *testing.T) {
	app, err := fixtures.WordPress(ns)
	if err != nil {
		t.Fatal(err)
	}
	own, err := render.Render(app, render.Platform{})
	if err != nil {
		t.Fatal(err)
	}
	governed, err := metav1.LabelSelectorAsSelector(app.Spec.PodSelector)
	if err != nil {
		t.Fatal(err)
	}
	mysql := map[string]string{"tier": "mysql"}
	pods := []corev1.Pod{
		pod(ns, "wordpress", map[string]string{"app": "wordpress", "tier": "frontend"}),
		pod(ns, "mysql", map[string]string{"app": "wordpress", "tier": "mysql"}),
		pod(ns, "adminer", map[string]string{"app": "adminer"}),
		pod("kube-system", "traefik", map[string]string{"app.kubernetes.io/name": "traefik"}),
		pod("monitoring", "prometheus", map[string]string{"app": "prometheus"}),
	}
	namespaces := []corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "monitoring", Labels: map[string]string{"team": "sre"}}}}
	tests := []struct {
		name       string
		others     []networkingv1.NetworkPolicy
		observable func(string) bool
		want       []Finding
	}{
		{name: "no other policies", want: nil},
		{
			name: "the database opened to every address, as in the motivating story",
			others: []networkingv1.NetworkPolicy{policy("allow-mysql", mysql, nil, []networkingv1.NetworkPolicyIngressRule{{
				From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}}}, Ports: tcp(3306),
			}}, nil)},
			want: []Finding{{Policy: "allow-mysql", From: "0.0.0.1", To: ns + "/mysql", Port: 3306, Protocol: corev1.ProtocolTCP}},
		},
		{
			name: "egress to everywhere for every pod",
			others: []networkingv1.NetworkPolicy{policy("allow-all-egress", nil, []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}, nil,
				[]networkingv1.NetworkPolicyEgressRule{{}})},
			want: []Finding{{Policy: "allow-all-egress", From: ns + "/mysql", To: ExternalAddress, Port: 0, Protocol: corev1.ProtocolTCP}},
		},
		{
			name: "a pod of the namespace that is not governed reaching the database",
			others: []networkingv1.NetworkPolicy{policy("adminer", mysql, nil, []networkingv1.NetworkPolicyIngressRule{{
				From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "adminer"}}}},
			}}, nil)},
			want: []Finding{{Policy: "adminer", From: ns + "/adminer", To: ns + "/mysql", Port: 0, Protocol: corev1.ProtocolTCP}},
		},
		{
			name: "monitoring scraping from another namespace, selected by label",
			others: []networkingv1.NetworkPolicy{policy("scrape", map[string]string{"app": "wordpress"}, nil, []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "sre"}}}},
				Ports: tcp(9104),
			}}, nil)},
			want: []Finding{{Policy: "scrape", From: "monitoring/prometheus", To: ns + "/mysql", Port: 9104, Protocol: corev1.ProtocolTCP}},
		},
		{
			name: "pods of a namespace the tenant may not observe are not named",
			others: []networkingv1.NetworkPolicy{policy("scrape", map[string]string{"app": "wordpress"}, nil, []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "sre"}}}},
				Ports: tcp(9104),
			}}, nil)},
			observable: func(namespace string) bool { return namespace == "kube-system" },
			want:       []Finding{{Policy: "scrape", From: "a pod in another namespace", To: ns + "/mysql", Port: 9104, Protocol: corev1.ProtocolTCP}},
		},
		{
			name: "a copy of what tierwall allows opens nothing more",
			others: []networkingv1.NetworkPolicy{policy("traefik-to-wordpress", map[string]string{"tier": "frontend"}, nil, []networkingv1.NetworkPolicyIngressRule{{
				From: []networkingv1.NetworkPolicyPeer{{
					NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
					PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "traefik"}},
				}},
				Ports: tcp(80),
			}}, nil)},
		},
		{
			name: "a policy selecting only pods the AppIsolation does not govern",
			others: []networkingv1.NetworkPolicy{policy("adminer-open", map[string]string{"app": "adminer"}, nil,
				[]networkingv1.NetworkPolicyIngressRule{{}}, nil)},
		},
		{
			name:   "a deny-only policy opens nothing",
			others: []networkingv1.NetworkPolicy{policy("deny", nil, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}, nil, nil)},
		},
		{
			name: "one finding per policy, sorted by name",
			others: []networkingv1.NetworkPolicy{
				policy("z-open", mysql, nil, []networkingv1.NetworkPolicyIngressRule{{}}, nil),
				policy("a-open", map[string]string{"tier": "frontend"}, nil, []networkingv1.NetworkPolicyIngressRule{{Ports: tcp(8080)}}, nil),
			},
			want: []Finding{
				{Policy: "a-open", From: ExternalAddress, To: ns + "/wordpress", Port: 8080, Protocol: corev1.ProtocolTCP},
				{Policy: "z-open", From: ExternalAddress, To: ns + "/mysql", Port: 0, Protocol: corev1.ProtocolTCP},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Find(Input{Governed: governed, Namespace: ns, Own: own, Others: tt.others, Namespaces: namespaces, Pods: pods, Observable: tt.observable})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFindingString(t *testing.T) {
	for _, tt := range []struct {
		f    Finding
		want string
	}{
		{Finding{Policy: "p", From: "a/b", To: "c/d", Port: 3306, Protocol: corev1.ProtocolTCP}, "NetworkPolicy p allows a/b -> c/d on 3306/TCP"},
		{Finding{Policy: "p", From: ExternalAddress, To: "c/d", Port: 0, Protocol: corev1.ProtocolTCP}, "NetworkPolicy p allows 203.0.113.10 -> c/d on any port"},
		{Finding{Policy: "p", From: ExternalAddress, To: "c/d", Port: 1, Protocol: corev1.ProtocolTCP}, "NetworkPolicy p allows 203.0.113.10 -> c/d on 1/TCP"},
	} {
		if got := tt.f.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestSortedPods(t *testing.T) {
	pod := func(ns, name string) corev1.Pod {
		return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	}
	sorted := []corev1.Pod{pod("a", "x"), pod("a", "y"), pod("a-b", "a"), pod("b", "a")}
	if got := sortedPods(sorted); &got[0] != &sorted[0] {
		t.Error("sorted pods were copied")
	}
	unsorted := []corev1.Pod{pod("b", "a"), pod("a-b", "a"), pod("a", "y"), pod("a", "x")}
	got := sortedPods(unsorted)
	keys := make([]string, 0, len(got))
	for _, p := range got {
		keys = append(keys, p.Namespace+"/"+p.Name)
	}
	if want := []string{"a/x", "a/y", "a-b/a", "b/a"}; !slices.Equal(keys, want) {
		t.Errorf("sortedPods = %v, want %v", keys, want)
	}
	if unsorted[0].Name != "a" || unsorted[0].Namespace != "b" {
		t.Error("sortedPods modified its input")
	}
}
