package reach_test

import (
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/tierwall/tierwall/internal/input"
	"github.com/tierwall/tierwall/pkg/reach"
	"github.com/tierwall/tierwall/pkg/render"
)

// seed reads the WordPress story: its namespaces and pods, the hand-written
// policies, and the sample AppIsolation.
func seed(t *testing.T) *input.Objects {
	t.Helper()
	r := input.NewReader(input.Options{Kinds: []string{input.KindNamespace, input.KindPod, input.KindNetworkPolicy, input.KindAppIsolation}})
	for _, name := range []string{
		"../../config/samples/tierwall_v1alpha1_appisolation.yaml",
		"../../internal/cli/testdata/wordpress-pods.yaml",
		"../../internal/cli/testdata/wordpress-handwritten-policies.yaml",
	} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Read(name, data); err != nil {
			t.Fatal(err)
		}
	}
	return r.Objects()
}

func flowStrings(flows []reach.Flow) []string {
	out := make([]string, 0, len(flows))
	for _, f := range flows {
		out = append(out, fmt.Sprintf("%s -> %s %d/%s", f.From, f.To, f.Port, f.Protocol))
	}
	return out
}

// TestWouldBlockOnTheSeed computes what enforcing the WordPress
// AppIsolation would block, in the seed's situation and around it.
func TestWouldBlockOnTheSeed(t *testing.T) {
	objs := seed(t)
	rendered, err := render.Render(&objs.AppIsolations[0], render.Platform{})
	if err != nil {
		t.Fatal(err)
	}
	handwritten := objs.NetworkPolicies
	tests := []struct {
		name       string
		now, after []networkingv1.NetworkPolicy
		limit      int
		want       []string
		wantTotal  int
	}{
		{
			// The hand-written default-deny already isolates every pod of
			// the namespace both ways: adding the AppIsolation's policies
			// only adds allows, so nothing is blocked (and the hand-written
			// allow-alls keep everything they open: the operator reports
			// them as foreign policies).
			name: "hand-written policies kept", now: handwritten, after: append(slices.Clone(handwritten), rendered...),
			limit: 10, want: nil,
		},
		{
			// The migration: the hand-written policies go, the
			// AppIsolation's come. What was open and is no longer.
			name: "hand-written policies replaced", now: handwritten, after: rendered, limit: 10,
			want: []string{
				"default/debug -> dev-wordpress/mysql-0 3306/TCP",
				"dev-wordpress/mysql-0 -> default/debug 8080/TCP",
				"dev-wordpress/mysql-0 -> kube-system/traefik 8000/TCP",
				"dev-wordpress/wordpress -> default/debug 8080/TCP",
				"dev-wordpress/wordpress -> kube-system/traefik 8000/TCP",
				"kube-system/coredns -> dev-wordpress/mysql-0 3306/TCP",
				"kube-system/traefik -> dev-wordpress/mysql-0 3306/TCP",
			},
			wantTotal: 7,
		},
		{
			name: "the same, bounded", now: handwritten, after: rendered, limit: 2,
			want: []string{
				"default/debug -> dev-wordpress/mysql-0 3306/TCP",
				"dev-wordpress/mysql-0 -> default/debug 8080/TCP",
			},
			wantTotal: 7,
		},
		{
			// No policy at all before: everything is open, and Enforce
			// closes all but what the tiers and DNS allow.
			name: "no policies before", now: nil, after: rendered, limit: -1,
			want: []string{
				"default/debug -> dev-wordpress/mysql-0 3306/TCP",
				"default/debug -> dev-wordpress/wordpress 80/TCP",
				"dev-wordpress/mysql-0 -> default/debug 8080/TCP",
				"dev-wordpress/mysql-0 -> dev-wordpress/wordpress 80/TCP",
				"dev-wordpress/mysql-0 -> kube-system/traefik 8000/TCP",
				"dev-wordpress/wordpress -> default/debug 8080/TCP",
				"dev-wordpress/wordpress -> kube-system/traefik 8000/TCP",
				"kube-system/coredns -> dev-wordpress/mysql-0 3306/TCP",
				"kube-system/coredns -> dev-wordpress/wordpress 80/TCP",
				"kube-system/traefik -> dev-wordpress/mysql-0 3306/TCP",
			},
			wantTotal: 10,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := reach.WouldBlock(reach.State{Namespaces: objs.Namespaces, Pods: objs.Pods, Policies: tc.now}, tc.after, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, flowStrings(got.Flows), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("blocked flows (-want +got):\n%s", diff)
			}
			if got.Total != tc.wantTotal {
				t.Errorf("Total = %d, want %d", got.Total, tc.wantTotal)
			}
		})
	}
}
