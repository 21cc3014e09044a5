package render_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/pkg/render"
)

// paymentsAPI is an AppIsolation of namespace payments whose backend tier
// accepts the WordPress frontend on 9090, and anyone it names on 8080.
func paymentsAPI(tweaks ...func(app *tierwallv1alpha1.AppIsolation)) tierwallv1alpha1.AppIsolation {
	app := tierwallv1alpha1.AppIsolation{
		ObjectMeta: metav1.ObjectMeta{Namespace: "payments", Name: "api"},
		Spec: tierwallv1alpha1.AppIsolationSpec{
			PodSelector: matchLabels("app", "api"),
			Tiers: []tierwallv1alpha1.Tier{{
				Name:        "backend",
				PodSelector: *matchLabels("tier", "backend"),
				Ports:       []tierwallv1alpha1.Port{{Port: intstr.FromInt32(8080)}},
				AllowFrom: []tierwallv1alpha1.Peer{{
					AppIsolation: &tierwallv1alpha1.AppIsolationReference{Namespace: "dev-wordpress", Name: "wordpress"},
					Tier:         "frontend",
					Ports:        []tierwallv1alpha1.Port{{Port: intstr.FromInt32(9090)}},
				}},
			}},
		},
	}
	for _, tweak := range tweaks {
		tweak(&app)
	}
	return app
}

// TestRenderOtherAppIsolations covers peers that are tiers of another
// AppIsolation: they select that AppIsolation's governed pods in the tier,
// in its namespace, as the platform knows it, and allow nothing while it
// does not.
func TestRenderOtherAppIsolations(t *testing.T) {
	payments := tierwallv1alpha1.AppIsolationReference{Namespace: "payments", Name: "api"}
	backendPeer := networkingv1.NetworkPolicyPeer{
		NamespaceSelector: namespaceNamed("payments"),
		PodSelector:       matchLabels("app", "api", "tier", "backend"),
	}
	callBackend := func(ports ...tierwallv1alpha1.Port) func(app *tierwallv1alpha1.AppIsolation) {
		return func(app *tierwallv1alpha1.AppIsolation) {
			app.Spec.Tiers[frontendTier].EgressTo = []tierwallv1alpha1.EgressRule{{AppIsolation: &payments, Tier: "backend", Ports: ports}}
		}
	}
	acceptBackend := func(app *tierwallv1alpha1.AppIsolation) {
		app.Spec.Tiers[databaseTier].AllowFrom = append(app.Spec.Tiers[databaseTier].AllowFrom,
			tierwallv1alpha1.Peer{AppIsolation: &payments, Tier: "backend"})
	}
	toBackend := func(ports ...int32) networkingv1.NetworkPolicyEgressRule {
		rule := networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{backendPeer}}
		for _, p := range ports {
			rule.Ports = append(rule.Ports, port(p, tcp))
		}
		return rule
	}
	withEgress := func(rules ...networkingv1.NetworkPolicyEgressRule) func([]networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
		return func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
			frontend := tierPolicy(want, frontendPolicy)
			frontend.Egress = append(append([]networkingv1.NetworkPolicyEgressRule{frontend.Egress[0]}, rules...), kubeDNS)
			return want
		}
	}
	unchanged := func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy { return want }
	tests := []struct {
		name   string
		tweak  func(app *tierwallv1alpha1.AppIsolation)
		others []tierwallv1alpha1.AppIsolation
		want   func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy
	}{
		{
			name:   "egress to another AppIsolation's tier selects its governed pods in the tier, in its namespace, on the ports it accepts from this tier",
			tweak:  callBackend(),
			others: []tierwallv1alpha1.AppIsolation{paymentsAPI()},
			want:   withEgress(toBackend(9090)),
		},
		{
			name:   "the entry's own ports replace the default",
			tweak:  callBackend(tierwallv1alpha1.Port{Port: intstr.FromInt32(8443)}),
			others: []tierwallv1alpha1.AppIsolation{paymentsAPI()},
			want:   withEgress(toBackend(8443)),
		},
		{
			name:  "a callee that does not name this tier: its tier's ports, and the edge is one-sided",
			tweak: callBackend(),
			others: []tierwallv1alpha1.AppIsolation{paymentsAPI(func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Tiers[0].AllowFrom[0].Tier = "database"
			})},
			want: withEgress(toBackend(8080)),
		},
		{
			name:  "a callee tier with no ports of its own that does not name this tier: every port it accepts from some peer",
			tweak: callBackend(),
			others: []tierwallv1alpha1.AppIsolation{paymentsAPI(func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Tiers[0].Ports = nil
				app.Spec.Tiers[0].AllowFrom[0].Tier = "database"
			})},
			want: withEgress(toBackend(9090)),
		},
		{
			name:  "a callee tier that accepts nothing: no rule, never one on every port",
			tweak: callBackend(),
			others: []tierwallv1alpha1.AppIsolation{paymentsAPI(func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Tiers[0].Ports, app.Spec.Tiers[0].AllowFrom = nil, nil
			})},
			want: unchanged,
		},
		{
			name:  "a callee whose namespace-wide selector governs the tier: the tier's selector alone",
			tweak: callBackend(),
			others: []tierwallv1alpha1.AppIsolation{paymentsAPI(func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.PodSelector = nil
			})},
			want: withEgress(networkingv1.NetworkPolicyEgressRule{
				To:    []networkingv1.NetworkPolicyPeer{{NamespaceSelector: namespaceNamed("payments"), PodSelector: matchLabels("tier", "backend")}},
				Ports: []networkingv1.NetworkPolicyPort{port(9090, tcp)},
			}),
		},
		{
			name:  "an unknown AppIsolation: no rule",
			tweak: callBackend(),
			want:  unchanged,
		},
		{
			name:   "an AppIsolation of the same name in another namespace is not the one named",
			tweak:  callBackend(),
			others: []tierwallv1alpha1.AppIsolation{paymentsAPI(func(app *tierwallv1alpha1.AppIsolation) { app.Namespace = "billing" })},
			want:   unchanged,
		},
		{
			name:  "an unknown tier of a known AppIsolation: no rule",
			tweak: callBackend(),
			others: []tierwallv1alpha1.AppIsolation{paymentsAPI(func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Tiers[0].Name = "worker"
			})},
			want: unchanged,
		},
		{
			name:  "a callee whose tier selector is invalid (it does not render): no rule, rather than a policy the API server refuses",
			tweak: callBackend(),
			others: []tierwallv1alpha1.AppIsolation{paymentsAPI(func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Tiers[0].PodSelector = *matchLabels("tier", "back end")
			})},
			want: unchanged,
		},
		{
			name:   "allowFrom another AppIsolation's tier adds its pods to the rule on the tier's ports",
			tweak:  acceptBackend,
			others: []tierwallv1alpha1.AppIsolation{paymentsAPI()},
			want: func(want []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
				database := tierPolicy(want, databasePolicy)
				database.Ingress[0].From = append(database.Ingress[0].From, backendPeer)
				return want
			},
		},
		{
			name: "allowFrom an unknown AppIsolation with ports of its own: no rule, never one open to all",
			tweak: func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Tiers[databaseTier].AllowFrom = append(app.Spec.Tiers[databaseTier].AllowFrom,
					tierwallv1alpha1.Peer{AppIsolation: &payments, Tier: "backend", Ports: []tierwallv1alpha1.Port{{Port: intstr.FromInt32(33060)}}})
			},
			want: unchanged,
		},
		{
			name:  "allowFrom an unknown AppIsolation on the tier's ports: the other peers stay",
			tweak: acceptBackend,
			want:  unchanged,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := wordpress(t, tt.tweak)
			got, err := render.Render(app, render.Platform{AppIsolations: tt.others})
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
