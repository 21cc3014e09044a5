package reach_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/tierwall/tierwall/pkg/reach"
)

func TestNamespaceLabels(t *testing.T) {
	tests := []struct {
		name string
		own  map[string]string
		want labels.Set
	}{
		{name: "no labels", want: labels.Set{"kubernetes.io/metadata.name": "dev"}},
		{name: "own labels kept", own: map[string]string{"team": "a"}, want: labels.Set{"team": "a", "kubernetes.io/metadata.name": "dev"}},
		{name: "the control plane's label wins over nothing, not over itself", own: map[string]string{"kubernetes.io/metadata.name": "dev"},
			want: labels.Set{"kubernetes.io/metadata.name": "dev"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, reach.NamespaceLabels("dev", tt.own)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestPolicyView(t *testing.T) {
	pod := func(ns, name, ip string, l map[string]string) corev1.Pod {
		return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: l}, Status: corev1.PodStatus{PodIP: ip}}
	}
	port := []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromInt32(3306))}}
	state := reach.State{
		Namespaces: []corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "mon", Labels: map[string]string{"team": "sre"}}}},
		Pods: []corev1.Pod{
			pod("app", "web", "10.0.0.2", map[string]string{"tier": "web"}),
			pod("app", "db", "10.0.0.3", map[string]string{"tier": "db"}),
			pod("mon", "prom", "10.1.0.2", map[string]string{"app": "prom"}),
		},
		Policies: []networkingv1.NetworkPolicy{{
			ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "db"},
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": "db"}},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					From: []networkingv1.NetworkPolicyPeer{
						{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "web"}}},
						{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "sre"}}},
						{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/24", Except: []string{"10.0.0.0/31"}}},
					},
					Ports: port,
				}},
			},
		}},
	}
	e, err := reach.New(state)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Policy("app", "missing"); ok {
		t.Error("Policy(app, missing) found a policy")
	}
	got, ok := e.Policy("app", "db")
	if !ok {
		t.Fatal("Policy(app, db) found nothing")
	}
	names := func(pods []*corev1.Pod) []string {
		out := make([]string, 0, len(pods))
		for _, p := range pods {
			out = append(out, p.Namespace+"/"+p.Name)
		}
		return out
	}
	// policyTypes omitted, no egress rules: Ingress only.
	if !got.Ingress || got.Egress {
		t.Errorf("Ingress, Egress = %v, %v, want true, false", got.Ingress, got.Egress)
	}
	if diff := cmp.Diff([]string{"app/db"}, names(got.Selected)); diff != "" {
		t.Errorf("Selected (-want +got):\n%s", diff)
	}
	if len(got.IngressRules) != 1 || len(got.EgressRules) != 0 {
		t.Fatalf("rules: %d ingress, %d egress, want 1, 0", len(got.IngressRules), len(got.EgressRules))
	}
	rule := got.IngressRules[0]
	if diff := cmp.Diff(port, rule.Ports); diff != "" {
		t.Errorf("Ports (-want +got):\n%s", diff)
	}
	type peer struct {
		Pods    []string
		Address string
	}
	peers := make([]peer, 0, len(rule.Peers))
	for _, p := range rule.Peers {
		peers = append(peers, peer{Pods: names(p.Pods), Address: p.Address})
	}
	want := []peer{
		{Pods: []string{"app/web"}},                                // podSelector alone: the policy's namespace
		{Pods: []string{"mon/prom"}},                               // namespaceSelector alone: every pod there
		{Pods: []string{"app/db", "app/web"}, Address: "10.0.0.2"}, // pods by IP; the first host address outside except
	}
	if diff := cmp.Diff(want, peers); diff != "" {
		t.Errorf("Peers (-want +got):\n%s", diff)
	}
}

// TestLookups checks the accessors the matchers read the State through.
func TestLookups(t *testing.T) {
	state := reach.State{
		Namespaces: []corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "mon", Labels: map[string]string{"team": "sre"}}}},
		Pods: []corev1.Pod{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "mon", Name: "prom"}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "web"}},
		},
		Policies: []networkingv1.NetworkPolicy{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "mon", Name: "deny"}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "deny"}},
		},
	}
	e, err := reach.New(state)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := e.Pod("app", "web"); !ok || p != &state.Pods[1] {
		t.Errorf("Pod(app, web) = %p, %v, want the State's pod %p", p, ok, &state.Pods[1])
	}
	if p, ok := e.Pod("app", "prom"); ok {
		t.Errorf("Pod(app, prom) = %s/%s, want none", p.Namespace, p.Name)
	}
	pods := make([]string, 0, len(state.Pods))
	policies := make([]string, 0, len(state.Policies))
	for _, p := range e.Pods() {
		pods = append(pods, p.Namespace+"/"+p.Name)
	}
	for _, p := range e.Policies() {
		policies = append(policies, p.Namespace+"/"+p.Name)
	}
	if diff := cmp.Diff([]string{"app/web", "mon/prom"}, pods); diff != "" {
		t.Errorf("Pods (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"app/deny", "mon/deny"}, policies); diff != "" {
		t.Errorf("Policies (-want +got):\n%s", diff)
	}
	sub := e.Subset(func(p *networkingv1.NetworkPolicy) bool { return p.Namespace == "mon" })
	if got := len(sub.Policies()); got != 1 {
		t.Errorf("a Subset keeping one policy has %d", got)
	}
	for _, tt := range []struct {
		namespace string
		want      labels.Set
	}{
		{"mon", labels.Set{"team": "sre", "kubernetes.io/metadata.name": "mon"}},
		{"app", labels.Set{"kubernetes.io/metadata.name": "app"}},       // only a pod's namespace
		{"absent", labels.Set{"kubernetes.io/metadata.name": "absent"}}, // not in the State at all
	} {
		if diff := cmp.Diff(tt.want, e.LabelsOfNamespace(tt.namespace)); diff != "" {
			t.Errorf("LabelsOfNamespace(%s) (-want +got):\n%s", tt.namespace, diff)
		}
	}
}
