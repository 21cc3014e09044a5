package peering_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/internal/peering"
)

var (
	shopRef     = tierwallv1alpha1.AppIsolationReference{Namespace: "shop", Name: "web"}
	paymentsRef = tierwallv1alpha1.AppIsolationReference{Namespace: "payments", Name: "api"}
)

func tcp(port int32) tierwallv1alpha1.Port {
	return tierwallv1alpha1.Port{Port: intstr.FromInt32(port)}
}

// shop's frontend calls payments' backend, which accepts it on 8080: the
// edge both sides allow. Tweaks break it.
func shop(tweaks ...func(*tierwallv1alpha1.AppIsolation)) tierwallv1alpha1.AppIsolation {
	app := tierwallv1alpha1.AppIsolation{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
		Spec: tierwallv1alpha1.AppIsolationSpec{Tiers: []tierwallv1alpha1.Tier{{
			Name:     "frontend",
			EgressTo: []tierwallv1alpha1.EgressRule{{AppIsolation: &paymentsRef, Tier: "backend"}},
		}}},
	}
	for _, t := range tweaks {
		t(&app)
	}
	return app
}

func payments(tweaks ...func(*tierwallv1alpha1.AppIsolation)) tierwallv1alpha1.AppIsolation {
	app := tierwallv1alpha1.AppIsolation{
		ObjectMeta: metav1.ObjectMeta{Namespace: "payments", Name: "api"},
		Spec: tierwallv1alpha1.AppIsolationSpec{Tiers: []tierwallv1alpha1.Tier{{
			Name:      "backend",
			Ports:     []tierwallv1alpha1.Port{tcp(8080)},
			AllowFrom: []tierwallv1alpha1.Peer{{AppIsolation: &shopRef, Tier: "frontend"}},
		}}},
	}
	for _, t := range tweaks {
		t(&app)
	}
	return app
}

func TestEdges(t *testing.T) {
	tests := []struct {
		name string
		apps []tierwallv1alpha1.AppIsolation
		// want is each edge's String.
		want []string
	}{
		{
			name: "both sides declare the edge: it is declared once, on the callee's ports",
			apps: []tierwallv1alpha1.AppIsolation{shop(), payments()},
			want: []string{"shop/web tier frontend -> payments/api tier backend on 8080/TCP"},
		},
		{
			name: "the callee does not name the caller",
			apps: []tierwallv1alpha1.AppIsolation{shop(), payments(func(a *tierwallv1alpha1.AppIsolation) { a.Spec.Tiers[0].AllowFrom = nil })},
			want: []string{"shop/web tier frontend -> payments/api tier backend on 8080/TCP: one-sided, " +
				"payments/api tier backend's allowFrom does not name shop/web tier frontend"},
		},
		{
			name: "the caller does not name the callee",
			apps: []tierwallv1alpha1.AppIsolation{shop(func(a *tierwallv1alpha1.AppIsolation) { a.Spec.Tiers[0].EgressTo = nil }), payments()},
			want: []string{"shop/web tier frontend -> payments/api tier backend on 8080/TCP: one-sided, " +
				"shop/web tier frontend's egressTo does not name payments/api tier backend"},
		},
		{
			name: "a caller that does not isolate egress allows the edge",
			apps: []tierwallv1alpha1.AppIsolation{shop(func(a *tierwallv1alpha1.AppIsolation) {
				a.Spec.Tiers[0].EgressTo = nil
				a.Spec.PolicyTypes = []tierwallv1alpha1.PolicyType{tierwallv1alpha1.PolicyTypeIngress}
			}), payments()},
			want: []string{"shop/web tier frontend -> payments/api tier backend on 8080/TCP"},
		},
		{
			name: "a callee that does not isolate ingress allows the edge, on the caller's default ports",
			apps: []tierwallv1alpha1.AppIsolation{shop(), payments(func(a *tierwallv1alpha1.AppIsolation) {
				a.Spec.Tiers[0].AllowFrom = nil
				a.Spec.PolicyTypes = []tierwallv1alpha1.PolicyType{tierwallv1alpha1.PolicyTypeEgress}
			})},
			want: []string{"shop/web tier frontend -> payments/api tier backend on 8080/TCP"},
		},
		{
			name: "the caller's ports miss the callee's",
			apps: []tierwallv1alpha1.AppIsolation{shop(func(a *tierwallv1alpha1.AppIsolation) {
				a.Spec.Tiers[0].EgressTo[0].Ports = []tierwallv1alpha1.Port{tcp(80), {Port: intstr.FromInt32(8080), Protocol: "UDP"}}
			}), payments()},
			want: []string{"shop/web tier frontend -> payments/api tier backend on 8080/TCP: one-sided, " +
				"shop/web may connect on 80/TCP, 8080/UDP, payments/api accepts it on 8080/TCP: no port in common"},
		},
		{
			name: "a range of the caller's covers the callee's port",
			apps: []tierwallv1alpha1.AppIsolation{shop(func(a *tierwallv1alpha1.AppIsolation) {
				a.Spec.Tiers[0].EgressTo[0].Ports = []tierwallv1alpha1.Port{{Port: intstr.FromInt32(8000), EndPort: ptr(int32(8999))}}
			}), payments()},
			want: []string{"shop/web tier frontend -> payments/api tier backend on 8080/TCP"},
		},
		{
			name: "a named port may be any number",
			apps: []tierwallv1alpha1.AppIsolation{shop(func(a *tierwallv1alpha1.AppIsolation) {
				a.Spec.Tiers[0].EgressTo[0].Ports = []tierwallv1alpha1.Port{{Port: intstr.FromString("http")}}
			}), payments()},
			want: []string{"shop/web tier frontend -> payments/api tier backend on 8080/TCP"},
		},
		{
			name: "the callee does not exist",
			apps: []tierwallv1alpha1.AppIsolation{shop()},
			want: []string{"shop/web tier frontend -> payments/api tier backend: one-sided, AppIsolation payments/api does not exist"},
		},
		{
			name: "the callee has no such tier",
			apps: []tierwallv1alpha1.AppIsolation{shop(), payments(func(a *tierwallv1alpha1.AppIsolation) { a.Spec.Tiers[0].Name = "worker" })},
			want: []string{
				"shop/web tier frontend -> payments/api tier backend: one-sided, AppIsolation payments/api has no tier backend",
				"shop/web tier frontend -> payments/api tier worker on 8080/TCP: one-sided, " +
					"shop/web tier frontend's egressTo does not name payments/api tier worker",
			},
		},
		{
			name: "the caller does not exist",
			apps: []tierwallv1alpha1.AppIsolation{payments()},
			want: []string{"shop/web tier frontend -> payments/api tier backend on 8080/TCP: one-sided, AppIsolation shop/web does not exist"},
		},
		{
			name: "edges within one AppIsolation are not edges between AppIsolations",
			apps: []tierwallv1alpha1.AppIsolation{shop(func(a *tierwallv1alpha1.AppIsolation) {
				a.Spec.Tiers[0].EgressTo = nil
				a.Spec.Tiers[0].AllowFrom = []tierwallv1alpha1.Peer{{Tier: "frontend"}}
				a.Spec.Tiers[0].Ports = []tierwallv1alpha1.Port{tcp(80)}
			})},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range peering.Edges(tt.apps) {
				got = append(got, e.String())
				if e.OneSided() != (e.Problem() != "") {
					t.Errorf("%s: OneSided() = %v with Problem() %q", e, e.OneSided(), e.Problem())
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Edges() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOf(t *testing.T) {
	billing := tierwallv1alpha1.AppIsolationReference{Namespace: "billing", Name: "ledger"}
	caller := shop(func(a *tierwallv1alpha1.AppIsolation) {
		a.Spec.Tiers[0].EgressTo = append(a.Spec.Tiers[0].EgressTo, tierwallv1alpha1.EgressRule{AppIsolation: &billing, Tier: "api"})
	})
	edges := peering.Edges([]tierwallv1alpha1.AppIsolation{caller, payments()})
	if got := len(peering.Of(edges, shopRef)); got != 2 {
		t.Errorf("Of(shop) = %d edges, want 2", got)
	}
	of := peering.Of(edges, paymentsRef)
	if len(of) != 1 || of[0].From != (peering.Tier{AppIsolation: shopRef, Name: "frontend"}) {
		t.Errorf("Of(payments) = %v, want the edge from shop's frontend", of)
	}
}

func ptr[T any](v T) *T { return &v }
