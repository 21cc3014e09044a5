// Package plan decides, as a pure function, which NetworkPolicy writes bring
// a namespace in line with an AppIsolation: what to create, update and
// delete, in which order, which names are taken by policies the AppIsolation
// does not own, and which policies are in force once the writes are done.
// The operator executes a plan; the CLI and the foreign-policy check read
// the same plan's InForce, so "the policies after reconcile" is modelled once.
package plan

import (
	"cmp"
	"maps"
	"slices"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
)

// Action is what a Step does to a NetworkPolicy.
type Action string

// The actions of a plan.
const (
	Create Action = "Create"
	Update Action = "Update"
	Delete Action = "Delete"
)

// Step is one write: the object to create, the updated object to send, or
// the existing object to delete.
type Step struct {
	Action Action
	Policy networkingv1.NetworkPolicy
}

// Plan is the outcome of New.
type Plan struct {
	// Steps are the writes, in the order they must be sent: creates and
	// updates in render order (allows before the default-deny), then deletes
	// default-deny first, so that no declared flow drops on the way.
	Steps []Step
	// Conflicts are the rendered names held by policies the AppIsolation
	// does not own, sorted. A plan with conflicts has no steps: tierwall
	// never half-applies an AppIsolation.
	Conflicts []string
	// Owned are the existing policies the AppIsolation owns (adopted ones
	// included), sorted by name.
	Owned []networkingv1.NetworkPolicy
	// Others are the existing policies of the namespace it does not own,
	// sorted by name: what the foreign-policy check looks at.
	Others []networkingv1.NetworkPolicy
	// InForce are the namespace's policies once the steps are done (all of
	// Others, and what the AppIsolation enforces), sorted by name.
	InForce []networkingv1.NetworkPolicy
}

// Counts returns how many steps of each action the plan has.
func (p *Plan) Counts() map[Action]int {
	counts := map[Action]int{}
	for _, s := range p.Steps {
		counts[s.Action]++
	}
	return counts
}

// New plans the writes that make the namespace enforce rendered, the
// policies app renders, given existing, the policies in app's namespace.
// In DryRun mode nothing is enforced: the plan deletes what app owns.
func New(app *tierwallv1alpha1.AppIsolation, rendered, existing []networkingv1.NetworkPolicy) Plan {
	var p Plan
	byName := map[string]*networkingv1.NetworkPolicy{}
	for i := range existing {
		e := &existing[i]
		if e.Namespace != app.Namespace {
			continue
		}
		byName[e.Name] = e
	}
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		if Owns(app, byName[name]) {
			p.Owned = append(p.Owned, *byName[name])
		} else {
			p.Others = append(p.Others, *byName[name])
		}
	}
	for i := range rendered {
		if have, ok := byName[rendered[i].Name]; ok && !Owns(app, have) {
			p.Conflicts = append(p.Conflicts, rendered[i].Name)
		}
	}
	slices.Sort(p.Conflicts)
	if len(p.Conflicts) > 0 {
		p.InForce = sortedByName(append(slices.Clone(p.Others), p.Owned...))
		return p
	}

	enforced := rendered
	if app.Spec.Mode == tierwallv1alpha1.ModeDryRun {
		enforced = nil
	}
	wanted := map[string]bool{}
	for i := range enforced {
		want := &enforced[i]
		wanted[want.Name] = true
		have, ok := byName[want.Name]
		switch {
		case !ok:
			p.Steps = append(p.Steps, Step{Action: Create, Policy: *want.DeepCopy()})
		case !UpToDate(app, have, want):
			p.Steps = append(p.Steps, Step{Action: Update, Policy: merge(app, have, want)})
		}
	}
	stale := slices.DeleteFunc(slices.Clone(p.Owned), func(o networkingv1.NetworkPolicy) bool { return wanted[o.Name] })
	slices.SortStableFunc(stale, func(a, b networkingv1.NetworkPolicy) int { return removalRank(&a) - removalRank(&b) })
	for _, s := range stale {
		p.Steps = append(p.Steps, Step{Action: Delete, Policy: s})
	}
	p.InForce = sortedByName(append(slices.Clone(p.Others), enforced...))
	return p
}

// Owns tells whether policy belongs to app. It does when its controller
// reference is app: by UID when both have one (the operator), by name
// otherwise (manifests read from files carry no UIDs). A policy with no
// controller reference at all is adopted when tierwall's labels say it was
// generated for app, for example after someone removed the reference; a
// policy that another controller owns is never app's.
func Owns(app *tierwallv1alpha1.AppIsolation, policy *networkingv1.NetworkPolicy) bool {
	if policy.Namespace != app.Namespace {
		return false
	}
	ref := metav1.GetControllerOf(policy)
	if ref == nil {
		return policy.Labels[tierwallv1alpha1.ManagedByLabel] == tierwallv1alpha1.ManagedByValue &&
			policy.Labels[tierwallv1alpha1.AppIsolationLabel] == app.Name
	}
	if ref.Kind != tierwallv1alpha1.AppIsolationKind || groupOf(ref.APIVersion) != tierwallv1alpha1.GroupVersion.Group {
		return false
	}
	if app.UID != "" && ref.UID != "" {
		return ref.UID == app.UID
	}
	return ref.Name == app.Name
}

// UpToDate tells whether have already says what want says: the same spec,
// want's labels, tierwall's annotation (present or absent, as in want),
// and app as its controller. Labels, annotations and owner references that
// others added do not count.
func UpToDate(app *tierwallv1alpha1.AppIsolation, have, want *networkingv1.NetworkPolicy) bool {
	for k, v := range want.Labels {
		if have.Labels[k] != v {
			return false
		}
	}
	if have.Annotations[tierwallv1alpha1.IPBlocksFromAnnotation] != want.Annotations[tierwallv1alpha1.IPBlocksFromAnnotation] {
		return false
	}
	ref := metav1.GetControllerOf(have)
	return ref != nil && Owns(app, have) && slices.ContainsFunc(want.OwnerReferences, func(w metav1.OwnerReference) bool {
		return equality.Semantic.DeepEqual(*ref, w)
	}) && equality.Semantic.DeepEqual(have.Spec, want.Spec)
}

// merge returns have updated to say what want says, keeping the labels,
// annotations and owner references that others added.
func merge(app *tierwallv1alpha1.AppIsolation, have, want *networkingv1.NetworkPolicy) networkingv1.NetworkPolicy {
	out := *have.DeepCopy()
	out.Spec = *want.Spec.DeepCopy()
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	maps.Copy(out.Labels, want.Labels)
	if from, ok := want.Annotations[tierwallv1alpha1.IPBlocksFromAnnotation]; ok {
		if out.Annotations == nil {
			out.Annotations = map[string]string{}
		}
		out.Annotations[tierwallv1alpha1.IPBlocksFromAnnotation] = from
	} else {
		delete(out.Annotations, tierwallv1alpha1.IPBlocksFromAnnotation)
	}
	refs := slices.DeleteFunc(slices.Clone(out.OwnerReferences), func(r metav1.OwnerReference) bool {
		// Ours, or a second controller reference the API server would refuse.
		return (r.Controller != nil && *r.Controller) || (r.Kind == tierwallv1alpha1.AppIsolationKind && r.Name == app.Name &&
			groupOf(r.APIVersion) == tierwallv1alpha1.GroupVersion.Group)
	})
	out.OwnerReferences = append(refs, want.OwnerReferences...)
	return out
}

// removalRank orders deletes: the default-deny first, then DNS, then tiers,
// so that nothing still declared drops while policies go away.
func removalRank(p *networkingv1.NetworkPolicy) int {
	switch p.Labels[tierwallv1alpha1.RoleLabel] {
	case tierwallv1alpha1.RoleDefaultDeny:
		return 0
	case tierwallv1alpha1.RoleDNS:
		return 1
	default:
		return 2
	}
}

// groupOf is the API group of an apiVersion, "" when it has none.
func groupOf(apiVersion string) string {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return ""
	}
	return gv.Group
}

func sortedByName(policies []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
	slices.SortFunc(policies, func(a, b networkingv1.NetworkPolicy) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return policies
}
