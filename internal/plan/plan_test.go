package plan_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/internal/plan"
	"github.com/tierwall/tierwall/pkg/render"
	"github.com/tierwall/tierwall/test/fixtures"
)

const ns = "dev-wordpress"

func app(mode tierwallv1alpha1.Mode) *tierwallv1alpha1.AppIsolation {
	a, err := fixtures.WordPress(ns)
	if err != nil {
		panic(err)
	}
	a.UID = types.UID("uid-wordpress")
	a.Spec.Mode = mode
	return a
}

func rendered(t *testing.T, a *tierwallv1alpha1.AppIsolation) []networkingv1.NetworkPolicy {
	t.Helper()
	policies, err := render.Render(a, render.Platform{})
	if err != nil {
		t.Fatal(err)
	}
	return policies
}

func foreignPolicy(name string) networkingv1.NetworkPolicy {
	return networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
}

// step is a Step in short: action and policy name.
type step struct{ Action, Name string }

// steps are p's steps, nil for none.
func steps(p plan.Plan) []step {
	if len(p.Steps) == 0 {
		return nil
	}
	out := make([]step, 0, len(p.Steps))
	for _, s := range p.Steps {
		out = append(out, step{string(s.Action), s.Policy.Name})
	}
	return out
}

// names are the names of policies, nil for none.
func names(policies []networkingv1.NetworkPolicy) []string {
	if len(policies) == 0 {
		return nil
	}
	out := make([]string, 0, len(policies))
	for _, p := range policies {
		out = append(out, p.Name)
	}
	return out
}

func TestNew(t *testing.T) {
	enforce := app(tierwallv1alpha1.ModeEnforce)
	all := rendered(t, enforce)
	narrowed := app(tierwallv1alpha1.ModeEnforce)
	narrowed.Spec.Tiers = narrowed.Spec.Tiers[:1]
	narrowed.Spec.Tiers[0].AllowFrom = narrowed.Spec.Tiers[0].AllowFrom[:1]
	changedPort := func() []networkingv1.NetworkPolicy {
		p := rendered(t, enforce)
		p[1].Spec.Ingress[0].Ports[0].Port = ptr.To(intstr.FromInt32(33060))
		return p
	}

	tests := []struct {
		name      string
		app       *tierwallv1alpha1.AppIsolation
		rendered  []networkingv1.NetworkPolicy
		existing  []networkingv1.NetworkPolicy
		want      []step
		conflicts []string
		inForce   []string
	}{{
		name:     "fresh namespace: creates in render order, default-deny last",
		app:      enforce,
		rendered: all,
		existing: []networkingv1.NetworkPolicy{foreignPolicy("hand-written")},
		want: []step{{"Create", "wordpress-tier-frontend"}, {"Create", "wordpress-tier-database"},
			{"Create", "wordpress-dns"}, {"Create", "wordpress-default-deny"}},
		inForce: []string{"hand-written", "wordpress-default-deny", "wordpress-dns", "wordpress-tier-database", "wordpress-tier-frontend"},
	}, {
		name:     "in sync: nothing to do",
		app:      enforce,
		rendered: all,
		existing: rendered(t, enforce),
		inForce:  []string{"wordpress-default-deny", "wordpress-dns", "wordpress-tier-database", "wordpress-tier-frontend"},
	}, {
		name:     "a tier removed: updates before deletes",
		app:      narrowed,
		rendered: rendered(t, narrowed),
		existing: all,
		want:     []step{{"Update", "wordpress-tier-frontend"}, {"Delete", "wordpress-tier-database"}},
		inForce:  []string{"wordpress-default-deny", "wordpress-dns", "wordpress-tier-frontend"},
	}, {
		name:     "a port changed in the cluster: repaired",
		app:      enforce,
		rendered: all,
		existing: changedPort(),
		want:     []step{{"Update", "wordpress-tier-database"}},
		inForce:  []string{"wordpress-default-deny", "wordpress-dns", "wordpress-tier-database", "wordpress-tier-frontend"},
	}, {
		name:     "DryRun: deletes what it owns, default-deny first, DNS next",
		app:      app(tierwallv1alpha1.ModeDryRun),
		rendered: all,
		existing: append(rendered(t, enforce), foreignPolicy("hand-written")),
		want: []step{{"Delete", "wordpress-default-deny"}, {"Delete", "wordpress-dns"},
			{"Delete", "wordpress-tier-database"}, {"Delete", "wordpress-tier-frontend"}},
		inForce: []string{"hand-written"},
	}, {
		name:      "a rendered name taken by a foreign policy: no steps at all",
		app:       enforce,
		rendered:  all,
		existing:  []networkingv1.NetworkPolicy{foreignPolicy("wordpress-dns"), all[0]},
		conflicts: []string{"wordpress-dns"},
		inForce:   []string{"wordpress-dns", "wordpress-tier-frontend"},
	}, {
		name:     "policies of other namespaces are ignored",
		app:      enforce,
		rendered: all,
		existing: []networkingv1.NetworkPolicy{{ObjectMeta: metav1.ObjectMeta{Name: "wordpress-dns", Namespace: "elsewhere"}}},
		want: []step{{"Create", "wordpress-tier-frontend"}, {"Create", "wordpress-tier-database"},
			{"Create", "wordpress-dns"}, {"Create", "wordpress-default-deny"}},
		inForce: []string{"wordpress-default-deny", "wordpress-dns", "wordpress-tier-database", "wordpress-tier-frontend"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := plan.New(tt.app, tt.rendered, tt.existing)
			if diff := cmp.Diff(tt.want, steps(got)); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.conflicts, got.Conflicts); diff != "" {
				t.Errorf("conflicts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.inForce, names(got.InForce)); diff != "" {
				t.Errorf("in force (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOwns(t *testing.T) {
	a := app(tierwallv1alpha1.ModeEnforce)
	ours := rendered(t, a)[0]
	withRef := func(ref metav1.OwnerReference) networkingv1.NetworkPolicy {
		p := *ours.DeepCopy()
		p.OwnerReferences = []metav1.OwnerReference{ref}
		return p
	}
	otherUID := render.OwnerReference(a)
	otherUID.UID = "uid-other"
	otherController := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "x", UID: "u", Controller: ptr.To(true)}
	noRefs := *ours.DeepCopy()
	noRefs.OwnerReferences = nil
	unlabelled := *noRefs.DeepCopy()
	unlabelled.Labels = nil
	fromFile := *a.DeepCopy()
	fromFile.UID = ""

	tests := []struct {
		name   string
		app    *tierwallv1alpha1.AppIsolation
		policy networkingv1.NetworkPolicy
		want   bool
	}{
		{"its controller reference", a, ours, true},
		{"a reference to a namesake with another UID", a, withRef(otherUID), false},
		{"another controller owns it", a, withRef(otherController), false},
		{"no reference, tierwall's labels for this AppIsolation: adopted", a, noRefs, true},
		{"no reference and no labels", a, unlabelled, false},
		{"an AppIsolation from a file, without UID: by name", &fromFile, ours, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := plan.Owns(tt.app, &tt.policy); got != tt.want {
				t.Errorf("Owns() = %v, want %v", got, tt.want)
			}
		})
	}
}

// Owner references and labels others add survive an update, and a policy
// whose only difference is an owner reference someone added is up to date.
func TestUpdateKeepsWhatOthersAdded(t *testing.T) {
	a := app(tierwallv1alpha1.ModeEnforce)
	want := rendered(t, a)
	have := rendered(t, a)
	extra := metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "audit", UID: "cm"}
	have[0].OwnerReferences = append(have[0].OwnerReferences, extra)
	have[0].Labels["team"] = "web"
	if got := plan.New(a, want, have); len(got.Steps) != 0 {
		t.Fatalf("an added owner reference and label caused writes: %v", steps(got))
	}

	have[0].Spec.Ingress = nil
	have[1].OwnerReferences = nil // adopted back
	got := plan.New(a, want, have)
	if diff := cmp.Diff([]step{{"Update", "wordpress-tier-frontend"}, {"Update", "wordpress-tier-database"}}, steps(got)); diff != "" {
		t.Fatalf("steps (-want +got):\n%s", diff)
	}
	updated := got.Steps[0].Policy
	if diff := cmp.Diff([]metav1.OwnerReference{extra, render.OwnerReference(a)}, updated.OwnerReferences); diff != "" {
		t.Errorf("owner references (-want +got):\n%s", diff)
	}
	if updated.Labels["team"] != "web" {
		t.Errorf("the label others added was dropped: %v", updated.Labels)
	}
	if diff := cmp.Diff([]metav1.OwnerReference{render.OwnerReference(a)}, got.Steps[1].Policy.OwnerReferences); diff != "" {
		t.Errorf("adopted policy's owner references (-want +got):\n%s", diff)
	}
}

// TestUpdateFollowsTheIPBlocksFromAnnotation: tierwall's annotation on a
// policy is part of what it says, added and removed as the rendering
// changes, while the annotations others added stay.
func TestUpdateFollowsTheIPBlocksFromAnnotation(t *testing.T) {
	a := app(tierwallv1alpha1.ModeEnforce)
	want := rendered(t, a)
	have := rendered(t, a)
	have[0].Annotations = map[string]string{"team": "web"}
	if got := plan.New(a, want, have); len(got.Steps) != 0 {
		t.Fatalf("an annotation others added caused writes: %v", steps(got))
	}

	want[0].Annotations = map[string]string{tierwallv1alpha1.IPBlocksFromAnnotation: "InternalIPs of the Nodes (2)"}
	got := plan.New(a, want, have)
	if diff := cmp.Diff([]step{{"Update", "wordpress-tier-frontend"}}, steps(got)); diff != "" {
		t.Fatalf("steps when the annotation is added (-want +got):\n%s", diff)
	}
	added := got.Steps[0].Policy
	if diff := cmp.Diff(map[string]string{"team": "web", tierwallv1alpha1.IPBlocksFromAnnotation: "InternalIPs of the Nodes (2)"}, added.Annotations); diff != "" {
		t.Errorf("annotations after adding (-want +got):\n%s", diff)
	}

	have[0] = *added.DeepCopy()
	want[0].Annotations = nil
	got = plan.New(a, want, have)
	if diff := cmp.Diff([]step{{"Update", "wordpress-tier-frontend"}}, steps(got)); diff != "" {
		t.Fatalf("steps when the annotation goes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"team": "web"}, got.Steps[0].Policy.Annotations); diff != "" {
		t.Errorf("annotations after removing (-want +got):\n%s", diff)
	}
}
