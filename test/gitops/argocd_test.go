package gitops

import (
	"os"
	"strings"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/test/fixtures"
)

// The statuses below are shaped exactly as updateStatus in
// controllers/appisolation_status.go writes them (that function is internal
// to the controller package, whose envtest suite belongs to it):
//   - success: Ready=True (Reconciled, or DryRun), no Reconciling or Stalled,
//     observedGeneration = generation;
//   - terminal error: Ready=False and Stalled=True with the same reason
//     (InvalidSpec, PolicyConflict, ApplyFailed), observedGeneration =
//     generation;
//   - retryable error: Ready=False (ApplyFailed) and Reconciling=True
//     (Progressing), observedGeneration left where it was.
// The e2e suite (test/e2e) runs the same script over AppIsolations that the
// real manager reconciled: Healthy, Progressing while no manager runs after
// a spec change, and Degraded on a policy name conflict.

// observed is an AppIsolation at generation gen whose status says what
// tierwall saw at generation observedGen.
func observed(t *testing.T, gen, observedGen int64) *tierwallv1alpha1.AppIsolation {
	t.Helper()
	app, err := fixtures.WordPress("dev-wordpress")
	if err != nil {
		t.Fatal(err)
	}
	app.Generation = gen
	app.Status.ObservedGeneration = observedGen
	return app
}

func setCondition(
	app *tierwallv1alpha1.AppIsolation, conditionType string, status metav1.ConditionStatus,
	reason, message string, gen int64,
) {
	meta.SetStatusCondition(&app.Status.Conditions, metav1.Condition{
		Type: conditionType, Status: status, Reason: reason, Message: message, ObservedGeneration: gen,
		LastTransitionTime: metav1.Now(),
	})
}

// succeeded is updateStatus's outcome of a successful reconcile of gen.
func succeeded(app *tierwallv1alpha1.AppIsolation, gen int64) *tierwallv1alpha1.AppIsolation {
	app.Status.TierCount, app.Status.PolicyCount = 2, ptr.To[int32](4)
	app.Status.Policies = []string{"wordpress-tier-frontend", "wordpress-tier-database", "wordpress-dns",
		"wordpress-default-deny"}
	setCondition(app, tierwallv1alpha1.ReadyCondition, metav1.ConditionTrue, tierwallv1alpha1.ReconciledReason,
		"Enforcing 4 NetworkPolicies for 2 tiers", gen)
	setCondition(app, tierwallv1alpha1.SelectorsMatchedCondition, metav1.ConditionTrue,
		tierwallv1alpha1.SelectorsMatchReason,
		"Every tier and ingress controller selects pods, and every governed pod is in exactly one tier", gen)
	meta.RemoveStatusCondition(&app.Status.Conditions, tierwallv1alpha1.ReconcilingCondition)
	meta.RemoveStatusCondition(&app.Status.Conditions, tierwallv1alpha1.StalledCondition)
	app.Status.ObservedGeneration = gen
	return app
}

// failedTerminally is summarize's outcome of an error a retry cannot fix at
// gen.
func failedTerminally(
	app *tierwallv1alpha1.AppIsolation, gen int64, reason, message string,
) *tierwallv1alpha1.AppIsolation {
	setCondition(app, tierwallv1alpha1.ReadyCondition, metav1.ConditionFalse, reason, message, gen)
	setCondition(app, tierwallv1alpha1.StalledCondition, metav1.ConditionTrue, reason, message, gen)
	meta.RemoveStatusCondition(&app.Status.Conditions, tierwallv1alpha1.ReconcilingCondition)
	app.Status.ObservedGeneration = gen
	return app
}

// failedRetryably is summarize's outcome of an error that may pass on retry,
// at gen: observedGeneration does not move.
func failedRetryably(app *tierwallv1alpha1.AppIsolation, gen int64, message string) *tierwallv1alpha1.AppIsolation {
	setCondition(app, tierwallv1alpha1.ReadyCondition, metav1.ConditionFalse, tierwallv1alpha1.ApplyFailedReason,
		message, gen)
	setCondition(app, tierwallv1alpha1.ReconcilingCondition, metav1.ConditionTrue, tierwallv1alpha1.ProgressingReason,
		"Retrying after an error: "+message, gen)
	meta.RemoveStatusCondition(&app.Status.Conditions, tierwallv1alpha1.StalledCondition)
	return app
}

const (
	conflictMessage = "NetworkPolicy wordpress-dns in namespace dev-wordpress already exists and is not managed " +
		"by this AppIsolation; tierwall does not modify it: delete or rename it, or rename the AppIsolation or tier"
	timeoutMessage = "failed to create NetworkPolicy dev-wordpress/wordpress-dns: the server was unable to " +
		"return a response in the time allotted"
	invalidMessage = "tier database: invalid podSelector: values[0][tier]: Invalid value: \"-mysql\""
)

func TestArgoCDHealth(t *testing.T) {
	script, err := HealthScript()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		app  func(t *testing.T) *tierwallv1alpha1.AppIsolation
		want Health
	}{{
		name: "just created, no status yet",
		app:  func(t *testing.T) *tierwallv1alpha1.AppIsolation { return observed(t, 1, 0) },
		want: Health{Progressing, "Waiting for tierwall to reconcile the AppIsolation"},
	}, {
		name: "reconciled at the current generation",
		app:  func(t *testing.T) *tierwallv1alpha1.AppIsolation { return succeeded(observed(t, 1, 0), 1) },
		want: Health{Healthy, "Reconciled: Enforcing 4 NetworkPolicies for 2 tiers"},
	}, {
		name: "dry run reconciled",
		app: func(t *testing.T) *tierwallv1alpha1.AppIsolation {
			app := succeeded(observed(t, 1, 0), 1)
			app.Spec.Mode = tierwallv1alpha1.ModeDryRun
			app.Status.PolicyCount = ptr.To[int32](0)
			setCondition(app, tierwallv1alpha1.ReadyCondition, metav1.ConditionTrue, tierwallv1alpha1.DryRunReason,
				"DryRun: 4 NetworkPolicies rendered (see status.policies), none enforced", 1)
			return app
		},
		want: Health{Healthy, "DryRun: DryRun: 4 NetworkPolicies rendered (see status.policies), none enforced"},
	}, {
		name: "reconciled, but a tier selects no pods: a warning, not a failure",
		app: func(t *testing.T) *tierwallv1alpha1.AppIsolation {
			app := succeeded(observed(t, 1, 0), 1)
			setCondition(app, tierwallv1alpha1.SelectorsMatchedCondition, metav1.ConditionFalse,
				tierwallv1alpha1.TierSelectsNoPodsReason,
				"Tiers that select no pods: database", 1)
			app.Status.Warnings = tierwallv1alpha1.TierSelectsNoPodsReason
			return app
		},
		want: Health{Healthy,
			"Reconciled: Enforcing 4 NetworkPolicies for 2 tiers. Warnings: TierSelectsNoPods (see the conditions)"},
	}, {
		name: "spec changed, the new generation not reconciled yet",
		app:  func(t *testing.T) *tierwallv1alpha1.AppIsolation { return succeeded(observed(t, 2, 0), 1) },
		want: Health{Progressing, "Waiting for tierwall to reconcile generation 2"},
	}, {
		name: "retryable error on a new generation",
		app: func(t *testing.T) *tierwallv1alpha1.AppIsolation {
			return failedRetryably(succeeded(observed(t, 2, 0), 1), 2, timeoutMessage)
		},
		want: Health{Progressing, "Progressing: Retrying after an error: " + timeoutMessage},
	}, {
		name: "retryable error at the observed generation (repairing drift)",
		app: func(t *testing.T) *tierwallv1alpha1.AppIsolation {
			return failedRetryably(succeeded(observed(t, 3, 0), 3), 3, timeoutMessage)
		},
		want: Health{Progressing, "Progressing: Retrying after an error: " + timeoutMessage},
	}, {
		name: "retryable error before the first success",
		app: func(t *testing.T) *tierwallv1alpha1.AppIsolation {
			return failedRetryably(observed(t, 1, 0), 1, timeoutMessage)
		},
		want: Health{Progressing, "Progressing: Retrying after an error: " + timeoutMessage},
	}, {
		name: "policy name conflict",
		app: func(t *testing.T) *tierwallv1alpha1.AppIsolation {
			return failedTerminally(observed(t, 1, 0), 1, tierwallv1alpha1.PolicyConflictReason, conflictMessage)
		},
		want: Health{Degraded, "PolicyConflict: " + conflictMessage},
	}, {
		name: "invalid spec after a success",
		app: func(t *testing.T) *tierwallv1alpha1.AppIsolation {
			return failedTerminally(succeeded(observed(t, 2, 0), 1), 2, tierwallv1alpha1.InvalidSpecReason, invalidMessage)
		},
		want: Health{Degraded, "InvalidSpec: " + invalidMessage},
	}, {
		name: "the API server refuses a policy as invalid",
		app: func(t *testing.T) *tierwallv1alpha1.AppIsolation {
			return failedTerminally(observed(t, 1, 0), 1, tierwallv1alpha1.ApplyFailedReason, "NetworkPolicy is invalid")
		},
		want: Health{Degraded, "ApplyFailed: NetworkPolicy is invalid"},
	}, {
		name: "stalled, then the spec is fixed: waits for the new generation",
		app: func(t *testing.T) *tierwallv1alpha1.AppIsolation {
			return failedTerminally(observed(t, 3, 0), 2, tierwallv1alpha1.InvalidSpecReason, invalidMessage)
		},
		want: Health{Progressing, "Waiting for tierwall to reconcile generation 3"},
	}, {
		name: "stalled, then fixed and reconciled",
		app: func(t *testing.T) *tierwallv1alpha1.AppIsolation {
			return succeeded(failedTerminally(observed(t, 3, 0), 2, tierwallv1alpha1.InvalidSpecReason, invalidMessage), 3)
		},
		want: Health{Healthy, "Reconciled: Enforcing 4 NetworkPolicies for 2 tiers"},
	}, {
		// Not written by tierwall (a failure is either Stalled or
		// Reconciling), but kstatus would read it as not progressing.
		name: "Ready=False without Reconciling or Stalled",
		app: func(t *testing.T) *tierwallv1alpha1.AppIsolation {
			app := observed(t, 1, 1)
			setCondition(app, tierwallv1alpha1.ReadyCondition, metav1.ConditionFalse, tierwallv1alpha1.ApplyFailedReason, "", 1)
			return app
		},
		want: Health{Degraded, "ApplyFailed"},
	}, {
		// Not written by tierwall either: conditions without Ready.
		name: "no Ready condition",
		app: func(t *testing.T) *tierwallv1alpha1.AppIsolation {
			app := observed(t, 1, 1)
			setCondition(app, tierwallv1alpha1.SelectorsMatchedCondition, metav1.ConditionTrue,
				tierwallv1alpha1.SelectorsMatchReason, "", 1)
			return app
		},
		want: Health{Progressing, "Waiting for the Ready condition"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := tt.app(t)
			// Argo CD sees the object as the API server serves it.
			app.APIVersion, app.Kind = tierwallv1alpha1.GroupVersion.String(), "AppIsolation"
			obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(app)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ArgoCDHealth(script, obj)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("health (-want +got):\n%s", diff)
			}
		})
	}
}

// TestArgoCDHealthConfigMap checks that the argocd-cm snippet installs
// exactly config/argocd/health.lua, under the key Argo CD looks up.
func TestArgoCDHealthConfigMap(t *testing.T) {
	script, err := HealthScript()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(HealthConfigMapPath())
	if err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{}
	if err := yaml.UnmarshalStrict(data, cm); err != nil {
		t.Fatal(err)
	}
	if cm.Name != "argocd-cm" || cm.Namespace != "argocd" {
		t.Errorf("the snippet is ConfigMap %s/%s, want argocd/argocd-cm", cm.Namespace, cm.Name)
	}
	if diff := cmp.Diff(script, cm.Data[HealthConfigMapKey]); diff != "" {
		t.Errorf("%s in %s differs from %s; copy the script over (-script +configmap):\n%s",
			HealthConfigMapKey, HealthConfigMapPath(), HealthScriptPath(), diff)
	}
}

// TestArgoCDHealthScriptErrors shows that the harness reports what Argo CD
// would: a script error, and an unknown status.
func TestArgoCDHealthScriptErrors(t *testing.T) {
	if _, err := ArgoCDHealth(`return string.format("%d", 1)`, map[string]any{}); err == nil ||
		!strings.Contains(err.Error(), "string") {
		t.Errorf("the string library is open, but Argo CD does not open it for custom health checks (err: %v)", err)
	}
	got, err := ArgoCDHealth(`return {status = "Fine"}`, map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != Unknown {
		t.Errorf("an invalid status gives %q, want %q", got.Status, Unknown)
	}
}
