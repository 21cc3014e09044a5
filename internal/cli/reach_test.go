package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	networkingv1 "k8s.io/api/networking/v1"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/internal/evalstate"
	"github.com/tierwall/tierwall/internal/input"
)

// TestPoliciesAfter checks that reach replaces what the operator would
// replace, and only that.
func TestPoliciesAfter(t *testing.T) {
	const app = `apiVersion: tierwall.dev/v1alpha1
kind: AppIsolation
metadata: {name: web, namespace: dev%s}
spec:
  tiers:
  - name: web
    podSelector: {matchLabels: {app: web}}
  dns: {disabled: true}
`
	policy := func(name, namespace, owner string) string {
		refs := ""
		if owner != "" {
			refs = "\n  ownerReferences: [" + owner + "]"
		}
		return "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: " + name + "\n  namespace: " + namespace + refs + "\nspec: {podSelector: {}}\n"
	}
	const (
		byName  = "{apiVersion: tierwall.dev/v1alpha1, kind: AppIsolation, name: web, uid: u1, controller: true}"
		byUID   = "{apiVersion: tierwall.dev/v1alpha1, kind: AppIsolation, name: web, uid: u2, controller: true}"
		notCtrl = "{apiVersion: tierwall.dev/v1alpha1, kind: AppIsolation, name: web, uid: u1}"
		other   = "{apiVersion: tierwall.dev/v1alpha1, kind: AppIsolation, name: api, uid: u3, controller: true}"
	)
	tests := []struct {
		name    string
		input   string
		want    []string
		wantErr string
	}{
		{
			name:  "the AppIsolation's own policies, stale ones too, give way to the rendered ones",
			input: strings.ReplaceAll(app, "%s", "") + policy("web-tier-web", "dev", byName) + policy("web-tier-old", "dev", byName),
			want:  []string{"dev/web-tier-web (rendered)", "dev/web-default-deny (rendered)"},
		},
		{
			name:  "with a uid, the uid decides",
			input: strings.ReplaceAll(app, "%s", ", uid: u2") + policy("web-tier-old", "dev", byName) + policy("web-tier-older", "dev", byUID),
			want:  []string{"dev/web-tier-web (rendered)", "dev/web-default-deny (rendered)", "dev/web-tier-old"},
		},
		{
			name:  "other policies stay: foreign, owned but not controlled, another AppIsolation's, another namespace",
			input: strings.ReplaceAll(app, "%s", "") + policy("allow-all", "dev", "") + policy("web-x", "dev", notCtrl) + policy("api-tier-api", "dev", other) + policy("web-tier-web", "prod", byName),
			want: []string{
				"dev/web-tier-web (rendered)", "dev/web-default-deny (rendered)",
				"dev/allow-all", "dev/web-x", "dev/api-tier-api", "prod/web-tier-web",
			},
		},
		{
			name:    "a rendered name taken by a policy the AppIsolation does not control",
			input:   strings.ReplaceAll(app, "%s", "") + policy("web-default-deny", "dev", notCtrl),
			wantErr: "in.yaml:10: NetworkPolicy dev/web-default-deny is not controlled by AppIsolation web (in.yaml:1), which renders a policy of that name: the operator would not replace it and would report PolicyConflict; rename one of them, or leave the policy out of the input",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := input.NewReader(input.Options{Kinds: []string{input.KindAppIsolation, input.KindNetworkPolicy}})
			if err := r.Read("in.yaml", []byte(tt.input)); err != nil {
				t.Fatal(err)
			}
			objs := r.Objects()
			s := &streams{err: &bytes.Buffer{}}
			st, err := evalstate.Reconciled(s.notes(), objs)
			policies := st.Policies
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != tt.wantErr {
				t.Errorf("error %q, want %q", gotErr, tt.wantErr)
			}
			if err != nil {
				return
			}
			var got []string
			for _, p := range policies {
				got = append(got, describePolicy(&p))
			}
			// The order of policies means nothing to the evaluator.
			if diff := cmp.Diff(tt.want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("policies (-want +got):\n%s", diff)
			}
		})
	}
}

func describePolicy(p *networkingv1.NetworkPolicy) string {
	s := p.Namespace + "/" + p.Name
	if p.Labels[tierwallv1alpha1.ManagedByLabel] == tierwallv1alpha1.ManagedByValue {
		s += " (rendered)"
	}
	return s
}
