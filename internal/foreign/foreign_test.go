package foreign

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
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

// wordpress returns the policies the WordPress sample renders in namespace,
// and the selector of the pods it governs.
func wordpress(tb testing.TB, namespace string) ([]networkingv1.NetworkPolicy, labels.Selector) {
	tb.Helper()
	app, err := fixtures.WordPress(namespace)
	if err != nil {
		tb.Fatal(err)
	}
	own, err := render.Render(app, render.Platform{})
	if err != nil {
		tb.Fatal(err)
	}
	governed, err := metav1.LabelSelectorAsSelector(app.Spec.PodSelector)
	if err != nil {
		tb.Fatal(err)
	}
	return own, governed
}

func TestFind(t *testing.T) {
	own, governed := wordpress(t, ns)
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

// TestFindTriesTwoOfEachClass proves that trying two governed pods of each
// class finds what trying every pod finds: on a namespace where only the
// second pod of a class shows the flow (the first is its own example peer,
// and the 20 example peers stop before the second), and on generated
// namespaces of replicas (up to 25 per class) and foreign policies built
// from the shapes that matter: selectors that pick one class or several,
// peers of the same class, ipBlocks, every port or one.
func TestFindTriesTwoOfEachClass(t *testing.T) {
	own, governed := wordpress(t, ns)
	frontend := map[string]string{"app": "wordpress", "tier": "frontend"}
	mysql := map[string]string{"app": "wordpress", "tier": "mysql"}
	wordpress := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "wordpress"}}
	findBoth := func(in Input) (everyPod, byClass []Finding) {
		t.Helper()
		everyPod, err := find(in, true)
		if err != nil {
			t.Fatal(err)
		}
		byClass, err = find(in, false)
		if err != nil {
			t.Fatal(err)
		}
		return everyPod, byClass
	}

	// 19 frontend pods, then mysql b-00 and b-01: a rule's example peers
	// are a-00..a-18 and b-00. For b-00 the flows from the frontend are
	// tierwall's own and b-00 -> b-00 is a pod to itself; only b-01 shows
	// that the policy opens mysql to mysql.
	pods := make([]corev1.Pod, 0, 21)
	pods = append(pods, pod(ns, "b-00", mysql), pod(ns, "b-01", mysql))
	for i := range 19 {
		pods = append(pods, pod(ns, fmt.Sprintf("a-%02d", i), frontend))
	}
	mesh := policy("mysql-mesh", map[string]string{"tier": "mysql"}, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		[]networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: wordpress}}, Ports: tcp(3306)}},
		[]networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: wordpress}}, Ports: tcp(3306)}})
	everyPod, byClass := findBoth(Input{Governed: governed, Namespace: ns, Own: own, Others: []networkingv1.NetworkPolicy{mesh}, Pods: pods})
	want := []Finding{{Policy: "mysql-mesh", From: ns + "/b-00", To: ns + "/b-01", Port: 3306, Protocol: corev1.ProtocolTCP}}
	if diff := cmp.Diff(want, everyPod); diff != "" {
		t.Fatalf("every pod (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, byClass); diff != "" {
		t.Fatalf("two of each class (-want +got):\n%s", diff)
	}

	classes := []map[string]string{frontend, {"app": "wordpress", "tier": "frontend", "track": "canary"}, mysql, {"app": "wordpress"}, {"app": "adminer"}}
	selectors := []map[string]string{nil, {"app": "wordpress"}, {"tier": "frontend"}, {"tier": "mysql"}, {"track": "canary"}, {"app": "adminer"}}
	peers := make([]networkingv1.NetworkPolicyPeer, 0, 2+len(selectors))
	peers = append(peers,
		networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}},
		networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{}})
	for _, l := range selectors {
		peers = append(peers, networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: l}})
	}
	ports := [][]networkingv1.NetworkPolicyPort{nil, tcp(80), tcp(3306), tcp(9999)}
	rng := rand.New(rand.NewPCG(12, 1))
	for world := range 300 {
		pods := make([]corev1.Pod, 0, 25*len(classes)+1)
		for c, l := range classes {
			for r := range rng.IntN(25) {
				pods = append(pods, pod(ns, fmt.Sprintf("c%d-%02d", c, r), l))
			}
		}
		pods = append(pods, pod("monitoring", "prometheus", map[string]string{"app": "prometheus"}))
		var others []networkingv1.NetworkPolicy
		for i := range 1 + rng.IntN(4) {
			rulePeers := make([]networkingv1.NetworkPolicyPeer, 0, 2)
			for range rng.IntN(3) {
				rulePeers = append(rulePeers, peers[rng.IntN(len(peers))])
			}
			rulePorts := ports[rng.IntN(len(ports))]
			name := fmt.Sprintf("foreign-%d", i)
			selector := selectors[rng.IntN(len(selectors))]
			if rng.IntN(2) == 0 {
				others = append(others, policy(name, selector, nil, []networkingv1.NetworkPolicyIngressRule{{From: rulePeers, Ports: rulePorts}}, nil))
			} else {
				others = append(others, policy(name, selector, []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}, nil,
					[]networkingv1.NetworkPolicyEgressRule{{To: rulePeers, Ports: rulePorts}}))
			}
		}
		everyPod, byClass := findBoth(Input{Governed: governed, Namespace: ns, Own: own, Others: others, Pods: pods})
		if diff := cmp.Diff(everyPod, byClass); diff != "" {
			t.Fatalf("world %d: two of each class found other flows than every pod (-every pod +by class):\n%s", world, diff)
		}
	}
}
