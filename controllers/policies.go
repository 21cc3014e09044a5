package controllers

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/internal/plan"
)

// reconcilePolicies executes the plan gather made: creates and updates in
// render order, then deletes default-deny first (see internal/plan). It
// sends nothing when a rendered name belongs to a policy the AppIsolation
// does not own, and one event summarising the writes when it sent any. Its
// error decides Ready, Reconciling and Stalled; updateStatus reads the plan.
func (r *AppIsolationReconciler) reconcilePolicies(ctx context.Context, app *tierwallv1alpha1.AppIsolation, obs *observedState) error {
	if conflicts := obs.plan.Conflicts; len(conflicts) > 0 {
		return stalled(tierwallv1alpha1.PolicyConflictReason, fmt.Errorf(
			"NetworkPolicy %s already exists and is not managed by this AppIsolation: delete or rename it, or rename the AppIsolation or tier",
			strings.Join(conflicts, ", ")))
	}
	var done []plan.Step
	defer func() { r.summarizeWrites(app, done) }()
	for _, step := range obs.plan.Steps {
		if err := r.write(ctx, app, step); err != nil {
			return err
		}
		done = append(done, step)
	}
	return nil
}

// write sends one step of the plan of app.
func (r *AppIsolationReconciler) write(ctx context.Context, app *tierwallv1alpha1.AppIsolation, step plan.Step) error {
	policy := step.Policy.DeepCopy()
	key := client.ObjectKeyFromObject(policy)
	if step.Action != plan.Delete {
		r.echoes().writing(echoPolicy, policy, client.ObjectKeyFromObject(app))
	}
	var err error
	switch step.Action {
	case plan.Create:
		err = r.Create(ctx, policy, client.FieldOwner(FieldManager))
	case plan.Update:
		err = r.Update(ctx, policy, client.FieldOwner(FieldManager))
	case plan.Delete:
		err = client.IgnoreNotFound(r.Delete(ctx, policy, client.Preconditions{UID: &policy.UID}))
	}
	if apierrors.IsConflict(err) {
		// The cache was behind: the watch event that follows re-plans.
		return retryable(tierwallv1alpha1.ProgressingReason, fmt.Errorf("NetworkPolicy %s changed while being written: %w", key, err))
	}
	if err != nil {
		return writeError(fmt.Errorf("failed to %s NetworkPolicy %s: %w", strings.ToLower(string(step.Action)), key, err))
	}
	return nil
}

// summarizeWrites emits one event for the writes of a reconcile, naming the
// policies created, updated and deleted, instead of one per policy: the
// events would otherwise double the API writes of every change.
func (r *AppIsolationReconciler) summarizeWrites(app *tierwallv1alpha1.AppIsolation, done []plan.Step) {
	if r.Recorder == nil || len(done) == 0 {
		return
	}
	byAction := map[plan.Action][]string{}
	for _, s := range done {
		byAction[s.Action] = append(byAction[s.Action], s.Policy.Name)
	}
	var parts []string
	for _, a := range []struct {
		action plan.Action
		verb   string
	}{{plan.Create, "created"}, {plan.Update, "updated"}, {plan.Delete, "deleted"}} {
		if names := byAction[a.action]; len(names) > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", a.verb, strings.Join(names, ", ")))
		}
	}
	r.Recorder.Eventf(app, nil, corev1.EventTypeNormal, tierwallv1alpha1.PoliciesChangedReason, "Reconcile",
		"NetworkPolicies %s", strings.Join(parts, "; "))
}
