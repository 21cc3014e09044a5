package controllers

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/internal/foreign"
)

// reasonedError carries the condition reason that describes an error.
type reasonedError struct {
	reason string
	err    error
}

func (e *reasonedError) Error() string { return e.err.Error() }
func (e *reasonedError) Unwrap() error { return e.err }

// stalled is an error that retrying cannot fix: the reconcile stops backing
// off and reports Stalled until the spec or the cluster changes.
func stalled(reason string, err error) error {
	return reconcile.TerminalError(&reasonedError{reason: reason, err: err})
}

// retryable is an error that may pass on retry, with the reason to report
// meanwhile.
func retryable(reason string, err error) error {
	return &reasonedError{reason: reason, err: err}
}

// summarize sets the kstatus conditions (Ready, Reconciling, Stalled), the
// tier count and observedGeneration from the outcome of a reconcile.
// observedGeneration moves only on success or on a terminal failure.
func summarize(app *tierwallv1alpha1.AppIsolation, err error) {
	app.Status.TierCount = int32(len(app.Spec.Tiers))
	gen := app.Generation
	set := func(condition string, status metav1.ConditionStatus, reason, message string) {
		meta.SetStatusCondition(&app.Status.Conditions, metav1.Condition{
			Type: condition, Status: status, Reason: reason, Message: message, ObservedGeneration: gen,
		})
	}
	switch {
	case err == nil:
		reason, message := tierwallv1alpha1.ReconciledReason, fmt.Sprintf(
			"Enforcing %d NetworkPolicies for %d tiers", app.Status.PolicyCount, len(app.Spec.Tiers))
		if app.Spec.Mode == tierwallv1alpha1.ModeDryRun {
			reason, message = tierwallv1alpha1.DryRunReason, fmt.Sprintf(
				"DryRun: %d NetworkPolicies rendered (see status.policies), none enforced", len(app.Status.Policies))
		}
		set(tierwallv1alpha1.ReadyCondition, metav1.ConditionTrue, reason, message)
		meta.RemoveStatusCondition(&app.Status.Conditions, tierwallv1alpha1.ReconcilingCondition)
		meta.RemoveStatusCondition(&app.Status.Conditions, tierwallv1alpha1.StalledCondition)
		app.Status.ObservedGeneration = gen
	case errors.Is(err, reconcile.TerminalError(nil)):
		reason, message := describe(err)
		set(tierwallv1alpha1.ReadyCondition, metav1.ConditionFalse, reason, message)
		set(tierwallv1alpha1.StalledCondition, metav1.ConditionTrue, reason, message)
		meta.RemoveStatusCondition(&app.Status.Conditions, tierwallv1alpha1.ReconcilingCondition)
		app.Status.ObservedGeneration = gen
	default:
		reason, message := describe(err)
		set(tierwallv1alpha1.ReadyCondition, metav1.ConditionFalse, reason, message)
		set(tierwallv1alpha1.ReconcilingCondition, metav1.ConditionTrue, tierwallv1alpha1.ProgressingReason,
			"Retrying after an error: "+message)
		meta.RemoveStatusCondition(&app.Status.Conditions, tierwallv1alpha1.StalledCondition)
	}
}

// describe returns the condition reason and message for an error: the
// reason it carries (ApplyFailed when it has none), and its message without
// controller-runtime's "terminal error" prefix.
func describe(err error) (reason, message string) {
	if r, ok := errors.AsType[*reasonedError](err); ok {
		return r.reason, r.err.Error()
	}
	return tierwallv1alpha1.ApplyFailedReason, err.Error()
}

// maxNamed is how many objects a condition message names before it says
// "and N more".
const maxNamed = 5

// setSelectorsMatchedCondition reports how many pods each tier and ingress
// controller selects, and sets SelectorsMatched to False, naming the
// objects, when a tier or controller selects no pods, a governed pod is in
// no tier, or a pod is in several tiers. The selectors must be valid.
func setSelectorsMatchedCondition(app *tierwallv1alpha1.AppIsolation, pods []metav1.PartialObjectMetadata, controllerPods map[string]int) {
	governed := mustSelector(app.Spec.PodSelector, true)
	tierSelectors := make([]labels.Selector, len(app.Spec.Tiers))
	for i := range app.Spec.Tiers {
		tierSelectors[i] = mustSelector(&app.Spec.Tiers[i].PodSelector, false)
	}
	counts := make([]int32, len(app.Spec.Tiers))
	var inNoTier, inManyTiers []string
	for _, pod := range pods {
		set := labels.Set(pod.Labels)
		if !governed.Matches(set) {
			continue
		}
		var tiers []string
		for i, s := range tierSelectors {
			if s.Matches(set) {
				counts[i]++
				tiers = append(tiers, app.Spec.Tiers[i].Name)
			}
		}
		switch {
		case len(tiers) == 0:
			inNoTier = append(inNoTier, pod.Name)
		case len(tiers) > 1:
			inManyTiers = append(inManyTiers, fmt.Sprintf("%s (%s)", pod.Name, strings.Join(tiers, ", ")))
		}
	}

	app.Status.Tiers = nil
	var emptyTiers, emptyControllers []string
	for i, t := range app.Spec.Tiers {
		app.Status.Tiers = append(app.Status.Tiers, tierwallv1alpha1.SelectorStatus{Name: t.Name, Pods: counts[i]})
		if counts[i] == 0 {
			emptyTiers = append(emptyTiers, t.Name)
		}
	}
	app.Status.IngressControllers = nil
	for _, c := range app.Spec.IngressControllers {
		if c.Namespace == "" {
			continue // selected by address only: there are no pods to count
		}
		n := int32(controllerPods[c.Name])
		app.Status.IngressControllers = append(app.Status.IngressControllers, tierwallv1alpha1.SelectorStatus{Name: c.Name, Pods: n})
		if n == 0 {
			emptyControllers = append(emptyControllers, fmt.Sprintf("%s (namespace %s)", c.Name, c.Namespace))
		}
	}

	// The first problem found names the reason; the message lists them all.
	var reasons, messages []string
	add := func(reason string, names []string, format string) {
		if len(names) > 0 {
			reasons = append(reasons, reason)
			messages = append(messages, fmt.Sprintf(format, nameList(names)))
		}
	}
	add(tierwallv1alpha1.TierSelectsNoPodsReason, emptyTiers, "tiers that select no pods: %s")
	add(tierwallv1alpha1.IngressControllerSelectsNoPodsReason, emptyControllers,
		"ingress controllers whose selector matches no pods, so no traffic from them is allowed: %s")
	add(tierwallv1alpha1.PodInNoTierReason, inNoTier, "governed pods in no tier, allowed DNS only: %s")
	add(tierwallv1alpha1.PodInMultipleTiersReason, inManyTiers, "pods in several tiers, allowed the union of their tiers: %s")
	condition := metav1.Condition{
		Type:               tierwallv1alpha1.SelectorsMatchedCondition,
		Status:             metav1.ConditionTrue,
		Reason:             tierwallv1alpha1.SelectorsMatchReason,
		Message:            "Every tier and ingress controller selects pods, and every governed pod is in exactly one tier",
		ObservedGeneration: app.Generation,
	}
	if len(reasons) > 0 {
		condition.Status, condition.Reason = metav1.ConditionFalse, reasons[0]
		condition.Message = capitalize(strings.Join(messages, "; "))
	}
	meta.SetStatusCondition(&app.Status.Conditions, condition)
}

// nameList joins names, naming at most maxNamed of them.
func nameList(names []string) string {
	if len(names) <= maxNamed {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:maxNamed], ", "), len(names)-maxNamed)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// mustSelector converts a selector that Render has already validated. A nil
// selector matches everything when nilMatchesAll, nothing otherwise.
func mustSelector(s *metav1.LabelSelector, nilMatchesAll bool) labels.Selector {
	if s == nil {
		if nilMatchesAll {
			return labels.Everything()
		}
		return labels.Nothing()
	}
	selector, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return labels.Nothing()
	}
	return selector
}

// setIsolatedCondition reports whether other NetworkPolicies open the
// governed pods beyond what the AppIsolation declares, naming each such
// policy with one flow it opens. tierwall never modifies those policies.
func setIsolatedCondition(app *tierwallv1alpha1.AppIsolation, findings []foreign.Finding) {
	condition := metav1.Condition{
		Type:               tierwallv1alpha1.IsolatedCondition,
		Status:             metav1.ConditionTrue,
		Reason:             tierwallv1alpha1.NoForeignAccessReason,
		Message:            "No other NetworkPolicy opens the governed pods beyond what this AppIsolation declares",
		ObservedGeneration: app.Generation,
	}
	if len(findings) > 0 {
		described := make([]string, len(findings))
		for i, f := range findings {
			described[i] = f.String()
		}
		condition.Status, condition.Reason = metav1.ConditionFalse, tierwallv1alpha1.ForeignPolicyWidensAccessReason
		condition.Message = fmt.Sprintf("Other NetworkPolicies open the governed pods beyond what this AppIsolation declares "+
			"(NetworkPolicies add up, so tierwall cannot take that back, and does not modify them): %s. "+
			"Narrow or delete them, or declare the access in the AppIsolation", nameList(described))
	}
	meta.SetStatusCondition(&app.Status.Conditions, condition)
}
