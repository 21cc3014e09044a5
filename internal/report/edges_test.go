package report

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/intstr"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/internal/peering"
)

func TestEdges(t *testing.T) {
	web := peering.Tier{AppIsolation: tierwallv1alpha1.AppIsolationReference{Namespace: "shop", Name: "storefront"}, Name: "web"}
	backend := peering.Tier{AppIsolation: tierwallv1alpha1.AppIsolationReference{Namespace: "payments", Name: "api"}, Name: "backend"}
	ports := []tierwallv1alpha1.Port{{Port: intstr.FromInt32(9090)}}
	tests := []struct {
		name  string
		edges []peering.Edge
		want  string
	}{
		{name: "none: nothing, not even a heading", want: ""},
		{
			name: "both sides allow; one side blocks",
			edges: []peering.Edge{
				{From: web, To: backend, Egress: peering.Side{Ports: ports}, Ingress: peering.Side{Ports: ports}},
				{From: backend, To: web, Egress: peering.Side{Verdict: peering.Blocks, Why: "payments/api tier backend's egressTo does not name shop/storefront tier web"}, Ingress: peering.Side{Ports: ports}},
			},
			want: `
Edges between tiers of AppIsolations:
  shop/storefront tier web -> payments/api tier backend on 9090/TCP
  payments/api tier backend -> shop/storefront tier web on 9090/TCP: one-sided, payments/api tier backend's egressTo does not name shop/storefront tier web
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, string(Edges(tt.edges))); diff != "" {
				t.Errorf("Edges (-want +got):\n%s", diff)
			}
		})
	}
}
