package controllers

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/internal/graph"
)

// reconcilePolicies makes the cluster enforce the rendered policies: in
// Enforce mode it creates or updates them in render order (allows before the
// default-deny) and only then deletes the ones no longer rendered, default-deny
// first; in DryRun mode it deletes every policy it had applied, default-deny
// first. It touches nothing when a rendered name belongs to a policy that
// tierwall does not manage. It sets status.policies, status.connectivity and
// status.policyCount;
// its errors decide Ready, Reconciling and Stalled.
func (r *AppIsolationReconciler) reconcilePolicies(ctx context.Context, app *tierwallv1alpha1.AppIsolation, obs *observedState) error {
	if conflicts := obs.conflicts(app); len(conflicts) > 0 {
		return stalled(tierwallv1alpha1.PolicyConflictReason, fmt.Errorf(
			"NetworkPolicy %s in namespace %s already exists and is not managed by this AppIsolation; tierwall does not modify it: delete or rename it, or rename the AppIsolation or tier",
			strings.Join(conflicts, ", "), app.Namespace))
	}
	app.Status.Policies = make([]string, 0, len(obs.desired))
	for _, p := range obs.desired {
		app.Status.Policies = append(app.Status.Policies, p.Name)
	}
	app.Status.Connectivity = graph.Build(app).Sentences()

	owned := obs.owned(app)
	if app.Spec.Mode == tierwallv1alpha1.ModeDryRun {
		app.Status.PolicyCount = int32(len(owned))
		if err := r.deletePolicies(ctx, app, owned); err != nil {
			return err
		}
		app.Status.PolicyCount = 0
		return nil
	}
	for i := range obs.desired {
		if err := r.applyPolicy(ctx, app, &obs.desired[i], obs.policies[obs.desired[i].Name]); err != nil {
			return err
		}
	}
	wanted := map[string]bool{}
	for _, p := range obs.desired {
		wanted[p.Name] = true
	}
	stale := slices.DeleteFunc(owned, func(p *networkingv1.NetworkPolicy) bool { return wanted[p.Name] })
	if err := r.deletePolicies(ctx, app, stale); err != nil {
		return err
	}
	app.Status.PolicyCount = int32(len(obs.desired))
	return nil
}

// conflicts returns the rendered names taken by policies this AppIsolation
// does not control.
func (obs *observedState) conflicts(app *tierwallv1alpha1.AppIsolation) []string {
	var names []string
	for _, want := range obs.desired {
		if have, ok := obs.policies[want.Name]; ok && !controlledBy(have, app) {
			names = append(names, want.Name)
		}
	}
	return names
}

// owned returns the policies this AppIsolation controls, in removal order:
// default-deny first, so that nothing allowed drops while they go away.
func (obs *observedState) owned(app *tierwallv1alpha1.AppIsolation) []*networkingv1.NetworkPolicy {
	var owned []*networkingv1.NetworkPolicy
	for _, name := range slices.Sorted(maps.Keys(obs.policies)) {
		if p := obs.policies[name]; controlledBy(p, app) {
			owned = append(owned, p)
		}
	}
	slices.SortStableFunc(owned, func(a, b *networkingv1.NetworkPolicy) int {
		return removalRank(a) - removalRank(b)
	})
	return owned
}

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

// controlledBy tells whether app is the controller owner of obj.
func controlledBy(obj metav1.Object, app *tierwallv1alpha1.AppIsolation) bool {
	ref := metav1.GetControllerOf(obj)
	return ref != nil && ref.UID == app.UID
}

// applyPolicy creates want, or updates have to match it. It sends nothing
// when have already matches.
func (r *AppIsolationReconciler) applyPolicy(ctx context.Context, app *tierwallv1alpha1.AppIsolation, want, have *networkingv1.NetworkPolicy) error {
	key := client.ObjectKeyFromObject(want)
	if have == nil {
		if err := r.Create(ctx, want.DeepCopy(), client.FieldOwner(FieldManager)); err != nil {
			return writeError(fmt.Errorf("failed to create NetworkPolicy %s: %w", key, err))
		}
		r.event(app, want, tierwallv1alpha1.PolicyCreatedReason, "Create", "Created NetworkPolicy %s", key)
		return nil
	}
	if upToDate(have, want) {
		return nil
	}
	updated := have.DeepCopy()
	updated.Spec = want.Spec
	if updated.Labels == nil {
		updated.Labels = map[string]string{}
	}
	maps.Copy(updated.Labels, want.Labels)
	updated.OwnerReferences = want.OwnerReferences
	if err := r.Update(ctx, updated, client.FieldOwner(FieldManager)); err != nil {
		return writeError(fmt.Errorf("failed to update NetworkPolicy %s: %w", key, err))
	}
	r.event(app, want, tierwallv1alpha1.PolicyUpdatedReason, "Update", "Updated NetworkPolicy %s to match the AppIsolation", key)
	return nil
}

// upToDate tells whether have already says what want says. Labels and owner
// references that others added are left alone.
func upToDate(have, want *networkingv1.NetworkPolicy) bool {
	for k, v := range want.Labels {
		if have.Labels[k] != v {
			return false
		}
	}
	return equality.Semantic.DeepEqual(have.Spec, want.Spec) &&
		equality.Semantic.DeepEqual(have.OwnerReferences, want.OwnerReferences)
}

// deletePolicies deletes policies in the order given.
func (r *AppIsolationReconciler) deletePolicies(ctx context.Context, app *tierwallv1alpha1.AppIsolation, policies []*networkingv1.NetworkPolicy) error {
	for _, p := range policies {
		err := r.Delete(ctx, p, client.Preconditions{UID: &p.UID})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return writeError(fmt.Errorf("failed to delete NetworkPolicy %s: %w", client.ObjectKeyFromObject(p), err))
		}
		r.event(app, p, tierwallv1alpha1.PolicyDeletedReason, "Delete", "Deleted NetworkPolicy %s", client.ObjectKeyFromObject(p))
	}
	return nil
}

// writeError classifies a failed write: the API server refusing the object
// as invalid will refuse it again, anything else may pass on retry.
func writeError(err error) error {
	if apierrors.IsInvalid(err) {
		return stalled(tierwallv1alpha1.ApplyFailedReason, err)
	}
	return retryable(tierwallv1alpha1.ApplyFailedReason, err)
}

func (r *AppIsolationReconciler) event(app *tierwallv1alpha1.AppIsolation, policy *networkingv1.NetworkPolicy, reason, action, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(app, policy, corev1.EventTypeNormal, reason, action, note, args...)
	}
}
