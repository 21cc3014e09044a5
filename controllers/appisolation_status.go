package controllers

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/internal/foreign"
	"github.com/tierwall/tierwall/internal/graph"
	"github.com/tierwall/tierwall/internal/peering"
	"github.com/tierwall/tierwall/pkg/reach"
	"github.com/tierwall/tierwall/pkg/render"
)

// updateStatus sets every status field and condition from what the
// reconcile observed and its outcome, on every reconcile, so that no
// condition is left describing an older generation. A condition whose
// inputs could not be read is Unknown. It is the only writer of the status.
func updateStatus(app *tierwallv1alpha1.AppIsolation, obs *observedState, err error) {
	app.Status.TierCount = int32(len(app.Spec.Tiers))
	if obs.rendered != nil {
		app.Status.Policies = make([]string, 0, len(obs.rendered))
		for _, p := range obs.rendered {
			app.Status.Policies = append(app.Status.Policies, p.Name)
		}
		app.Status.Connectivity = graph.Build(app).Sentences()
	}
	if obs.plan != nil && err == nil {
		enforced := int32(len(obs.rendered))
		if app.Spec.Mode == tierwallv1alpha1.ModeDryRun {
			enforced = 0
		}
		app.Status.PolicyCount = &enforced
	}
	app.Status.NodeAddresses, app.Status.KubeAPIServer = nil, nil
	if obs.platform != nil && app.Spec.FollowsNodes() {
		app.Status.NodeAddresses = addressesStatus(render.NodeAddressStrings(obs.platform.NodeAddresses))
	}
	if obs.platform != nil && app.Spec.FollowsKubeAPIServer() {
		app.Status.KubeAPIServer = addressesStatus(obs.platform.KubeAPIServer.Strings())
	}
	setSelectorsMatchedCondition(app, obs)
	setIsolatedCondition(app, obs.foreign)
	setPeersAgreeCondition(app, obs.edges)
	setWouldBlockCondition(app, obs.wouldBlock)
	setReadyConditions(app, err)
	app.Status.Warnings = warnings(app)
}

// setReadyConditions sets the kstatus conditions (Ready, Reconciling,
// Stalled) and observedGeneration from the outcome of a reconcile.
// observedGeneration moves only on success or on a terminal failure.
func setReadyConditions(app *tierwallv1alpha1.AppIsolation, err error) {
	gen := app.Generation
	set := func(condition string, status metav1.ConditionStatus, reason, message string) {
		meta.SetStatusCondition(&app.Status.Conditions, metav1.Condition{
			Type: condition, Status: status, Reason: reason, Message: message, ObservedGeneration: gen,
		})
	}
	switch {
	case err == nil:
		reason, message := tierwallv1alpha1.ReconciledReason, fmt.Sprintf(
			"Enforcing %d NetworkPolicies for %d tiers", ptr.Deref(app.Status.PolicyCount, 0), len(app.Spec.Tiers))
		if app.Spec.Mode == tierwallv1alpha1.ModeDryRun {
			reason, message = tierwallv1alpha1.DryRunReason, fmt.Sprintf(
				"DryRun: %d NetworkPolicies rendered (see status.policies), none enforced", len(app.Status.Policies))
		}
		set(tierwallv1alpha1.ReadyCondition, metav1.ConditionTrue, reason, message)
		meta.RemoveStatusCondition(&app.Status.Conditions, tierwallv1alpha1.ReconcilingCondition)
		meta.RemoveStatusCondition(&app.Status.Conditions, tierwallv1alpha1.StalledCondition)
		app.Status.ObservedGeneration = gen
	case isStalled(err):
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

// setReconcilingCondition marks a new generation as being worked on, as
// kstatus expects as soon as it is seen. It reports whether it changed the
// status.
func setReconcilingCondition(app *tierwallv1alpha1.AppIsolation) bool {
	if app.Status.ObservedGeneration == app.Generation {
		return false
	}
	c := meta.FindStatusCondition(app.Status.Conditions, tierwallv1alpha1.ReconcilingCondition)
	if c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == app.Generation {
		return false
	}
	meta.SetStatusCondition(&app.Status.Conditions, metav1.Condition{
		Type: tierwallv1alpha1.ReconcilingCondition, Status: metav1.ConditionTrue, Reason: tierwallv1alpha1.ProgressingReason,
		Message: fmt.Sprintf("Reconciling generation %d", app.Generation), ObservedGeneration: app.Generation,
	})
	return true
}

// warningConditions are the conditions whose False status is a warning
// about the app rather than a failure to apply its policies.
var warningConditions = []string{tierwallv1alpha1.SelectorsMatchedCondition, tierwallv1alpha1.IsolatedCondition,
	tierwallv1alpha1.PeersAgreeCondition}

// warnings joins the reasons of the warning conditions that are False.
func warnings(app *tierwallv1alpha1.AppIsolation) string {
	var reasons []string
	for _, t := range warningConditions {
		if c := meta.FindStatusCondition(app.Status.Conditions, t); c != nil && c.Status == metav1.ConditionFalse {
			reasons = append(reasons, c.Reason)
		}
	}
	return strings.Join(reasons, ",")
}

// maxNamed is how many objects a condition message names before it says
// "and N more": messages stay one readable sentence.
const maxNamed = 3

// unknown sets condition t to Unknown: its inputs could not be read.
func unknown(app *tierwallv1alpha1.AppIsolation, t string) {
	meta.SetStatusCondition(&app.Status.Conditions, metav1.Condition{
		Type: t, Status: metav1.ConditionUnknown, Reason: tierwallv1alpha1.NotObservedReason,
		Message: "The pods and policies this condition depends on could not be read in the last reconcile", ObservedGeneration: app.Generation,
	})
}

// setSelectorsMatchedCondition reports how many pods each tier and ingress
// controller selects, and sets SelectorsMatched to False, naming the
// objects, when a tier or controller selects no pods, a governed pod is in
// no tier or in several, or an ingress controller runs on governed pods.
func setSelectorsMatchedCondition(app *tierwallv1alpha1.AppIsolation, obs *observedState) {
	if obs.pods == nil || obs.rendered == nil {
		unknown(app, tierwallv1alpha1.SelectorsMatchedCondition)
		return
	}
	governed := mustSelector(app.Spec.PodSelector, true)
	tierSelectors := make([]labels.Selector, len(app.Spec.Tiers))
	for i := range app.Spec.Tiers {
		tierSelectors[i] = mustSelector(&app.Spec.Tiers[i].PodSelector, false)
	}
	counts := make([]int32, len(app.Spec.Tiers))
	var inNoTier, inManyTiers, governedControllers []string
	for _, pod := range obs.pods {
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
		for _, c := range app.Spec.IngressControllers {
			if c.Namespace == app.Namespace && mustSelector(c.PodSelector, true).Matches(set) {
				governedControllers = append(governedControllers, fmt.Sprintf("%s (pod %s)", c.Name, pod.Name))
			}
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
		n, observed := obs.controllerPods[c.Name]
		if !observed {
			continue // selected by address only, or in a namespace tierwall may not describe
		}
		app.Status.IngressControllers = append(app.Status.IngressControllers, tierwallv1alpha1.SelectorStatus{Name: c.Name, Pods: int32(n)})
		if n == 0 {
			emptyControllers = append(emptyControllers, fmt.Sprintf("%s (namespace %s)", c.Name, c.Namespace))
		}
	}

	var addressless, apiServerless []string
	if obs.platform != nil && len(obs.platform.NodeAddresses) == 0 {
		for _, c := range app.Spec.IngressControllers {
			if c.HostNetwork {
				addressless = append(addressless, c.Name)
			}
		}
	}
	if obs.platform != nil && !obs.platform.KubeAPIServer.Known() && app.Spec.FollowsKubeAPIServer() {
		for _, t := range app.Spec.Tiers {
			if slices.ContainsFunc(t.EgressTo, func(e tierwallv1alpha1.EgressRule) bool { return e.KubeAPIServer != nil }) {
				apiServerless = append(apiServerless, t.Name)
			}
		}
	}

	// The first problem found names the reason; the message lists them all.
	var reasons, messages []string
	add := func(reason string, names []string, what string) {
		if len(names) > 0 {
			reasons = append(reasons, reason)
			messages = append(messages, what+": "+nameList(names))
		}
	}
	add(tierwallv1alpha1.IngressControllerGovernedReason, governedControllers,
		"ingress controllers on governed pods, whose egress the default-deny blocks")
	add(tierwallv1alpha1.TierSelectsNoPodsReason, emptyTiers, "tiers that select no pods")
	add(tierwallv1alpha1.IngressControllerSelectsNoPodsReason, emptyControllers,
		"ingress controllers that select no pods, so nothing is allowed from them")
	add(tierwallv1alpha1.NoNodeAddressesReason, addressless,
		"ingress controllers with hostNetwork while no Node address is known, so nothing is allowed from their nodes")
	add(tierwallv1alpha1.NoKubeAPIServerEndpointsReason, apiServerless,
		"tiers allowed to the API server while none of its endpoints is known, so nothing is allowed to it")
	add(tierwallv1alpha1.PodInNoTierReason, inNoTier, "governed pods in no tier, allowed DNS only")
	add(tierwallv1alpha1.PodInMultipleTiersReason, inManyTiers, "pods in several tiers, allowed the union")
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

// addressesStatus reports sorted addresses: how many, and the first
// MaxStatusAddresses.
func addressesStatus(addrs []string) *tierwallv1alpha1.AddressesStatus {
	return &tierwallv1alpha1.AddressesStatus{
		Count: int32(len(addrs)), Addresses: addrs[:min(len(addrs), tierwallv1alpha1.MaxStatusAddresses)],
	}
}

// setIsolatedCondition reports whether other NetworkPolicies open the
// governed pods beyond what the AppIsolation declares, naming each such
// policy with one flow it opens. tierwall never modifies those policies.
func setIsolatedCondition(app *tierwallv1alpha1.AppIsolation, findings *[]foreign.Finding) {
	if findings == nil {
		unknown(app, tierwallv1alpha1.IsolatedCondition)
		return
	}
	condition := metav1.Condition{
		Type:               tierwallv1alpha1.IsolatedCondition,
		Status:             metav1.ConditionTrue,
		Reason:             tierwallv1alpha1.NoForeignAccessReason,
		Message:            "No other NetworkPolicy opens the governed pods beyond what this AppIsolation declares",
		ObservedGeneration: app.Generation,
	}
	if len(*findings) > 0 {
		described := make([]string, len(*findings))
		for i, f := range *findings {
			described[i] = f.String()
		}
		condition.Status, condition.Reason = metav1.ConditionFalse, tierwallv1alpha1.ForeignPolicyWidensAccessReason
		condition.Message = fmt.Sprintf("Other NetworkPolicies open the governed pods beyond the declared tiers, "+
			"which tierwall cannot take back: %s", nameList(described))
	}
	meta.SetStatusCondition(&app.Status.Conditions, condition)
}

// setPeersAgreeCondition reports the edges between the AppIsolation's
// tiers and tiers of other AppIsolations in status.peers, and whether both
// sides allow each in PeersAgree: False, naming the edges and the side at
// fault, when an edge that only one side allows carries no traffic. tierwall never
// writes the other side's namespace, so only its owner can fix that side.
// Without edges the condition and the list go; with edges unread, the
// condition is Unknown and the list stays.
func setPeersAgreeCondition(app *tierwallv1alpha1.AppIsolation, edges *[]peering.Edge) {
	if edges == nil {
		if meta.FindStatusCondition(app.Status.Conditions, tierwallv1alpha1.PeersAgreeCondition) != nil || len(app.Spec.References()) > 0 {
			unknown(app, tierwallv1alpha1.PeersAgreeCondition)
		}
		return
	}
	if len(*edges) == 0 {
		meta.RemoveStatusCondition(&app.Status.Conditions, tierwallv1alpha1.PeersAgreeCondition)
		app.Status.Peers = nil
		return
	}
	app.Status.Peers = nil
	var oneSided []string
	for _, e := range *edges {
		if len(app.Status.Peers) < tierwallv1alpha1.MaxStatusPeers {
			app.Status.Peers = append(app.Status.Peers, e.String())
		}
		if e.OneSided() {
			oneSided = append(oneSided, e.String())
		}
	}
	condition := metav1.Condition{
		Type:               tierwallv1alpha1.PeersAgreeCondition,
		Status:             metav1.ConditionTrue,
		Reason:             tierwallv1alpha1.EdgesAllowedOnBothSidesReason,
		Message:            "Both sides allow the edge with a tier of another AppIsolation (status.peers)",
		ObservedGeneration: app.Generation,
	}
	if len(*edges) > 1 {
		condition.Message = fmt.Sprintf("Both sides allow each of the %d edges with tiers of other AppIsolations (status.peers)", len(*edges))
	}
	if len(oneSided) > 0 {
		condition.Status, condition.Reason = metav1.ConditionFalse, tierwallv1alpha1.OneSidedEdgeReason
		condition.Message = fmt.Sprintf("%d of the %d edges with tiers of other AppIsolations carry no traffic, "+
			"because only one side allows them: %s", len(oneSided), len(*edges), joinList(oneSided, "; "))
		if len(*edges) == 1 {
			condition.Message = "The edge with a tier of another AppIsolation carries no traffic, because only one side allows it: " + oneSided[0]
		}
	}
	meta.SetStatusCondition(&app.Status.Conditions, condition)
}

// nameList joins names, naming at most maxNamed of them.
func nameList(names []string) string { return joinList(names, ", ") }

// joinList joins items with sep, at most maxNamed of them, for items that
// hold commas themselves.
func joinList(items []string, sep string) string {
	if len(items) <= maxNamed {
		return strings.Join(items, sep)
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:maxNamed], sep), len(items)-maxNamed)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// setWouldBlockCondition reports, in DryRun mode, the flows open today that
// Enforce would block, and removes the condition and the list otherwise.
func setWouldBlockCondition(app *tierwallv1alpha1.AppIsolation, blocked *reach.Blocked) {
	if app.Spec.Mode != tierwallv1alpha1.ModeDryRun || blocked == nil {
		if app.Spec.Mode != tierwallv1alpha1.ModeDryRun {
			meta.RemoveStatusCondition(&app.Status.Conditions, tierwallv1alpha1.WouldBlockCondition)
			app.Status.WouldBlock = nil
		}
		return
	}
	app.Status.WouldBlock = nil
	for _, f := range blocked.Flows {
		app.Status.WouldBlock = append(app.Status.WouldBlock, fmt.Sprintf("%s -> %s %d/%s", f.From, f.To, f.Port, f.Protocol))
	}
	condition := metav1.Condition{
		Type: tierwallv1alpha1.WouldBlockCondition, Status: metav1.ConditionFalse,
		Reason:             tierwallv1alpha1.NothingWouldBeBlockedReason,
		Message:            "Enforce would block no flow that the policies in force allow today",
		ObservedGeneration: app.Generation,
	}
	if blocked.Total > 0 {
		condition.Status, condition.Reason = metav1.ConditionTrue, tierwallv1alpha1.FlowsWouldBeBlockedReason
		condition.Message = fmt.Sprintf("Enforce would block %d flows that the policies in force allow today, "+
			"the first %d in status.wouldBlock", blocked.Total, len(blocked.Flows))
	}
	meta.SetStatusCondition(&app.Status.Conditions, condition)
}
