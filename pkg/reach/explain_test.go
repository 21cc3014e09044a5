package reach

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	networkingv1 "k8s.io/api/networking/v1"
)

func TestExplain(t *testing.T) {
	dbIngress := netpol("dev/db-in", networkingv1.NetworkPolicySpec{
		PodSelector: *match("app", "db"),
		PolicyTypes: types(ingress),
		Ingress: []networkingv1.NetworkPolicyIngressRule{
			{Ports: []networkingv1.NetworkPolicyPort{numPort(tcp, 3306)}, From: []networkingv1.NetworkPolicyPeer{{PodSelector: match("app", "web")}}},
			{Ports: []networkingv1.NetworkPolicyPort{numPort(tcp, 9104)}, From: []networkingv1.NetworkPolicyPeer{{PodSelector: match("app", "client")}}},
			{Ports: []networkingv1.NetworkPolicyPort{numPort(tcp, 3306)}, From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: match("team", "b")}}},
			{Ports: []networkingv1.NetworkPolicyPort{numPort(tcp, 3306)}, From: []networkingv1.NetworkPolicyPeer{ipBlockPeer("192.168.0.0/16")}},
		},
	})
	dbDeny := netpol("dev/db-deny", networkingv1.NetworkPolicySpec{PodSelector: *match("app", "db"), PolicyTypes: types(ingress)})
	clientOut := clientEgress(networkingv1.NetworkPolicyEgressRule{
		Ports: []networkingv1.NetworkPolicyPort{numPort(tcp, 3306)},
		To:    []networkingv1.NetworkPolicyPeer{{PodSelector: match("app", "db")}},
	})
	tests := []struct {
		name     string
		state    State
		from, to Endpoint
		port     int32
		want     Explanation
	}{
		{
			name:  "allowed by one rule, the source not isolated",
			state: baseState(dbIngress, dbDeny), from: at("dev/web"), to: at("dev/db"), port: 3306,
			want: Explanation{
				Verdict: ingressBy("dev/db-in"),
				Ingress: Side{Isolated: true, IsolatedBy: []string{"dev/db-deny", "dev/db-in"}, AllowedBy: []RuleRef{{"dev/db-in", 0}}},
			},
		},
		{
			name:  "denied: the nearest miss is the rule whose peer matches but not its port",
			state: baseState(dbIngress, dbDeny, clientOut), from: at("dev/client"), to: at("dev/db"), port: 3306,
			want: Explanation{
				Verdict: Verdict{EgressIsolated: true, IngressIsolated: true, EgressAllowedBy: []string{"dev/client-out"}},
				Egress:  Side{Isolated: true, IsolatedBy: []string{"dev/client-out"}, AllowedBy: []RuleRef{{"dev/client-out", 0}}},
				Ingress: Side{Isolated: true, IsolatedBy: []string{"dev/db-deny", "dev/db-in"}, Misses: []Miss{
					{RuleRef{"dev/db-in", 1}, MissPort},
					{RuleRef{"dev/db-in", 0}, MissPodSelector},
					{RuleRef{"dev/db-in", 2}, MissNamespace},
					{RuleRef{"dev/db-in", 3}, MissIPBlock},
					{RuleRef{"dev/db-deny", -1}, MissNoRules},
				}},
			},
		},
		{
			name:  "denied on both sides, on a port no rule names",
			state: baseState(dbIngress, clientOut), from: at("dev/client"), to: at("dev/db"), port: 80,
			want: Explanation{
				Verdict: Verdict{EgressIsolated: true, IngressIsolated: true},
				Egress:  Side{Isolated: true, IsolatedBy: []string{"dev/client-out"}, Misses: []Miss{{RuleRef{"dev/client-out", 0}, MissPort}}},
				Ingress: Side{Isolated: true, IsolatedBy: []string{"dev/db-in"}, Misses: []Miss{
					{RuleRef{"dev/db-in", 1}, MissPort},
					{RuleRef{"dev/db-in", 0}, MissPortAndPeer},
					{RuleRef{"dev/db-in", 2}, MissPortAndPeer},
					{RuleRef{"dev/db-in", 3}, MissPortAndPeer},
				}},
			},
		},
		{
			name:  "an address outside the cluster matches only ipBlocks",
			state: baseState(dbIngress), from: IPEndpoint("172.16.0.1"), to: at("dev/db"), port: 3306,
			want: Explanation{
				Verdict: Verdict{IngressIsolated: true},
				Ingress: Side{Isolated: true, IsolatedBy: []string{"dev/db-in"}, Misses: []Miss{
					{RuleRef{"dev/db-in", 0}, MissIPBlock},
					{RuleRef{"dev/db-in", 2}, MissIPBlock},
					{RuleRef{"dev/db-in", 3}, MissIPBlock},
					{RuleRef{"dev/db-in", 1}, MissPortAndPeer},
				}},
			},
		},
		{
			name:  "a pod never blocks itself",
			state: baseState(dbDeny), from: at("dev/db"), to: at("dev/db"), port: 3306,
			want: Explanation{
				Verdict: Verdict{Allowed: true, IngressIsolated: true},
				SamePod: true,
				Ingress: Side{Isolated: true, IsolatedBy: []string{"dev/db-deny"}, Misses: []Miss{{RuleRef{"dev/db-deny", -1}, MissNoRules}}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(tc.state)
			if err != nil {
				t.Fatal(err)
			}
			got := e.Explain(tc.from, tc.to, tc.port, "")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Explain() (-want +got):\n%s", diff)
			}
			checkExplanation(t, got)
		})
	}
}

// TestExplainAgreesWithCheck explains every Check case and every flow of the
// state of all their policies, and fails on an explanation that contradicts
// the verdict.
func TestExplainAgreesWithCheck(t *testing.T) {
	for _, tc := range checkCases() {
		e, err := New(tc.state)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		x := e.Explain(tc.from, tc.to, tc.port, tc.proto)
		if x.Verdict.Allowed != tc.want.Allowed {
			t.Errorf("%s: Explain().Verdict.Allowed = %v, want %v", tc.name, x.Verdict.Allowed, tc.want.Allowed)
		}
		checkExplanation(t, x)
	}
	state := baseState(allCasePolicies()...)
	e, err := New(state)
	if err != nil {
		t.Fatal(err)
	}
	for f := range e.Flows() {
		x := e.Explain(at(f.From), at(f.To), f.Port, f.Protocol)
		if x.Verdict.Allowed != f.Allowed {
			t.Errorf("%s -> %s %d/%s: Explain says allowed=%v, Flows %v", f.From, f.To, f.Port, f.Protocol, x.Verdict.Allowed, f.Allowed)
		}
		checkExplanation(t, x)
	}
}

// checkExplanation fails when an explanation contradicts its own verdict.
func checkExplanation(t *testing.T, x Explanation) {
	t.Helper()
	if err := x.Contradiction(); err != nil {
		t.Error(err)
	}
}

func TestContradiction(t *testing.T) {
	tests := []struct {
		name string
		x    Explanation
	}{
		{"allowed, but a side denies", Explanation{Verdict: Verdict{Allowed: true, IngressIsolated: true}, Ingress: Side{Isolated: true, IsolatedBy: []string{"a/b"}}}},
		{"denied, but both sides allow", Explanation{Verdict: Verdict{}}},
		{"allowing policies differ", Explanation{Verdict: ingressBy("a/b"), Ingress: Side{Isolated: true, IsolatedBy: []string{"a/b"}, AllowedBy: []RuleRef{{"a/c", 0}}}}},
		{"allowed side with misses", Explanation{Verdict: ingressBy("a/b"), Ingress: Side{Isolated: true, IsolatedBy: []string{"a/b"}, AllowedBy: []RuleRef{{"a/b", 0}}, Misses: []Miss{{RuleRef{"a/b", 1}, MissPort}}}}},
		{"denied side without misses", Explanation{Verdict: Verdict{IngressIsolated: true}, Ingress: Side{Isolated: true, IsolatedBy: []string{"a/b"}}}},
		{"isolation differs", Explanation{Verdict: Verdict{Allowed: true, EgressIsolated: true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.x.Contradiction() == nil {
				t.Errorf("Contradiction() = nil for %+v", tc.x)
			}
		})
	}
}

func TestNewReturnsPolicyError(t *testing.T) {
	_, err := New(baseState(netpol("dev/bad", networkingv1.NetworkPolicySpec{PolicyTypes: types("Both")})))
	var pe *PolicyError
	if !errors.As(err, &pe) {
		t.Fatalf("New() error = %v, want a *PolicyError", err)
	}
	if pe.Namespace != "dev" || pe.Name != "bad" {
		t.Errorf("PolicyError names %s/%s, want dev/bad", pe.Namespace, pe.Name)
	}
}

func TestNearest(t *testing.T) {
	s := Side{Misses: []Miss{{RuleRef{"a/b", 0}, MissPodSelector}, {RuleRef{"a/b", 2}, MissPodSelector}, {RuleRef{"a/b", 1}, MissNoRules}}}
	if diff := cmp.Diff(s.Misses[:2], s.Nearest()); diff != "" {
		t.Errorf("Nearest() (-want +got):\n%s", diff)
	}
	if (Side{}).Nearest() != nil {
		t.Error("Nearest() of a side without misses is not nil")
	}
}
