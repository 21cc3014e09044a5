package admission_test

import (
	"context"
	"maps"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/config/crd"
	"github.com/tierwall/tierwall/internal/admission"
)

// validator admits AppIsolations with the embedded CRD.
func validator(t *testing.T) *admission.Validator {
	t.Helper()
	def, err := crd.AppIsolation()
	if err != nil {
		t.Fatal(err)
	}
	v, err := admission.New(def, tierwallv1alpha1.GroupVersion.Version)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// app is an AppIsolation with spec, as a user writes it.
func app(spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "tierwall.dev/v1alpha1",
		"kind":       "AppIsolation",
		"metadata":   map[string]any{"name": "web", "namespace": "dev"},
		"spec":       spec,
	}}
}

// webTier is a tier named web, with extra fields.
func webTier(extra map[string]any) map[string]any {
	tier := map[string]any{"name": "web", "podSelector": map[string]any{"matchLabels": map[string]any{"app": "web"}}}
	maps.Copy(tier, extra)
	return tier
}

func TestAdmit(t *testing.T) {
	v := validator(t)
	tests := []struct {
		name string
		obj  *unstructured.Unstructured
		// want are the field errors, as the API server prints them.
		want []string
		// wantSpec is the spec after admission, when it is accepted.
		wantSpec map[string]any
	}{{
		name: "accepted: the defaults are applied and unknown fields dropped",
		obj: app(map[string]any{
			"tiers": []any{webTier(map[string]any{
				"ports":     []any{map[string]any{"port": int64(80)}},
				"allowFrom": []any{map[string]any{"ipBlock": map[string]any{"cidr": "10.0.0.0/8"}}},
			})},
			"unknown": true,
		}),
		wantSpec: map[string]any{
			"mode":        "Enforce",
			"policyTypes": []any{"Ingress", "Egress"},
			"tiers": []any{webTier(map[string]any{
				"ports":     []any{map[string]any{"port": int64(80), "protocol": "TCP"}},
				"allowFrom": []any{map[string]any{"ipBlock": map[string]any{"cidr": "10.0.0.0/8"}}},
			})},
		},
	}, {
		name: "a schema error that does not block the CEL rules: too few items",
		obj:  app(map[string]any{"tiers": []any{}}),
		want: []string{"spec.tiers: Invalid value: 0: spec.tiers in body should have at least 1 items"},
	}, {
		name: "a CEL rule: allowFrom needs ports",
		obj: app(map[string]any{"tiers": []any{webTier(map[string]any{
			"allowFrom": []any{map[string]any{"ipBlock": map[string]any{"cidr": "10.0.0.0/8"}}},
		})}}),
		want: []string{"spec.tiers[0].ports: Required value: " +
			"ports is required when an allowFrom entry has no ports of its own: list the ports the tier's pods listen on, or set ports on every allowFrom entry"},
	}, {
		name: "metadata is validated too, and a missing field blocks the CEL rules",
		obj: func() *unstructured.Unstructured {
			u := app(map[string]any{"tiers": []any{webTier(nil)}})
			u.SetNamespace("")
			return u
		}(),
		want: []string{
			"metadata.namespace: Required value",
			"<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; " +
				"correct the existing errors to complete validation",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range v.Admit(context.Background(), tt.obj) {
				got = append(got, e.Error())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if tt.wantSpec != nil {
				if diff := cmp.Diff(tt.wantSpec, tt.obj.Object["spec"]); diff != "" {
					t.Errorf("spec (-want +got):\n%s", diff)
				}
			}
		})
	}
}
