package controllers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/internal/foreign"
	"github.com/tierwall/tierwall/internal/peering"
	"github.com/tierwall/tierwall/internal/plan"
	"github.com/tierwall/tierwall/pkg/render"
	"github.com/tierwall/tierwall/test/fixtures"
)

// ignoreTimes leaves out what moves with the clock.
var ignoreTimes = cmpopts.IgnoreFields(metav1.Condition{}, "LastTransitionTime")

func TestSetReadyConditions(t *testing.T) {
	const gen = 3
	ready := func(status metav1.ConditionStatus, reason, message string) metav1.Condition {
		return metav1.Condition{Type: tierwallv1alpha1.ReadyCondition, Status: status, Reason: reason, Message: message, ObservedGeneration: gen}
	}
	progressing := metav1.Condition{Type: tierwallv1alpha1.ReconcilingCondition, Status: metav1.ConditionTrue,
		Reason: tierwallv1alpha1.ProgressingReason, ObservedGeneration: gen}
	tests := []struct {
		name           string
		mode           tierwallv1alpha1.Mode
		before         []metav1.Condition
		err            error
		want           []metav1.Condition
		wantObservedGe int64
	}{
		{
			name:           "success: Ready, nothing else, generation observed",
			before:         []metav1.Condition{progressing},
			want:           []metav1.Condition{ready(metav1.ConditionTrue, tierwallv1alpha1.ReconciledReason, "Enforcing 4 NetworkPolicies for 2 tiers")},
			wantObservedGe: gen,
		},
		{
			name:           "dry run: Ready says nothing is enforced",
			mode:           tierwallv1alpha1.ModeDryRun,
			want:           []metav1.Condition{ready(metav1.ConditionTrue, tierwallv1alpha1.DryRunReason, "DryRun: 4 NetworkPolicies rendered (see status.policies), none enforced")},
			wantObservedGe: gen,
		},
		{
			name: "terminal error: Stalled with the error's reason, generation observed",
			err:  stalled(tierwallv1alpha1.PolicyConflictReason, errors.New("NetworkPolicy x exists")),
			want: []metav1.Condition{
				ready(metav1.ConditionFalse, tierwallv1alpha1.PolicyConflictReason, "NetworkPolicy x exists"),
				{Type: tierwallv1alpha1.StalledCondition, Status: metav1.ConditionTrue, Reason: tierwallv1alpha1.PolicyConflictReason,
					Message: "NetworkPolicy x exists", ObservedGeneration: gen},
			},
			wantObservedGe: gen,
		},
		{
			name: "retryable error: Reconciling, generation not observed",
			err:  retryable(tierwallv1alpha1.ApplyFailedReason, errors.New("timeout")),
			want: []metav1.Condition{
				ready(metav1.ConditionFalse, tierwallv1alpha1.ApplyFailedReason, "timeout"),
				{Type: tierwallv1alpha1.ReconcilingCondition, Status: metav1.ConditionTrue, Reason: tierwallv1alpha1.ProgressingReason,
					Message: "Retrying after an error: timeout", ObservedGeneration: gen},
			},
			wantObservedGe: 1,
		},
		{
			name: "plain error: ApplyFailed",
			err:  errors.New("connection refused"),
			before: []metav1.Condition{{Type: tierwallv1alpha1.StalledCondition, Status: metav1.ConditionTrue,
				Reason: tierwallv1alpha1.InvalidSpecReason, ObservedGeneration: 2}},
			want: []metav1.Condition{
				ready(metav1.ConditionFalse, tierwallv1alpha1.ApplyFailedReason, "connection refused"),
				{Type: tierwallv1alpha1.ReconcilingCondition, Status: metav1.ConditionTrue, Reason: tierwallv1alpha1.ProgressingReason,
					Message: "Retrying after an error: connection refused", ObservedGeneration: gen},
			},
			wantObservedGe: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := &tierwallv1alpha1.AppIsolation{
				ObjectMeta: metav1.ObjectMeta{Generation: gen},
				Spec:       tierwallv1alpha1.AppIsolationSpec{Mode: tt.mode, Tiers: make([]tierwallv1alpha1.Tier, 2)},
				Status: tierwallv1alpha1.AppIsolationStatus{
					ObservedGeneration: 1, Conditions: tt.before, PolicyCount: ptr.To[int32](4),
					Policies: []string{"a", "b", "c", "d"},
				},
			}
			setReadyConditions(app, tt.err)
			if diff := cmp.Diff(tt.want, app.Status.Conditions, ignoreTimes, cmpopts.SortSlices(func(a, b metav1.Condition) bool { return a.Type < b.Type })); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			if app.Status.ObservedGeneration != tt.wantObservedGe {
				t.Errorf("observedGeneration = %d, want %d", app.Status.ObservedGeneration, tt.wantObservedGe)
			}
		})
	}
}

func TestSetSelectorsMatchedCondition(t *testing.T) {
	pod := func(name string, labels map[string]string) metav1.PartialObjectMetadata {
		return metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	}
	wp := map[string]string{"app": "wordpress", "tier": "frontend"}
	db := map[string]string{"app": "wordpress", "tier": "mysql"}
	spec := func() tierwallv1alpha1.AppIsolationSpec {
		return tierwallv1alpha1.AppIsolationSpec{
			PodSelector:        &metav1.LabelSelector{MatchLabels: map[string]string{"app": "wordpress"}},
			IngressControllers: []tierwallv1alpha1.IngressController{{Name: "traefik", Namespace: "kube-system"}, {Name: "nodes", IPBlocks: []tierwallv1alpha1.IPBlock{{CIDR: "10.0.0.0/24"}}}},
			Tiers: []tierwallv1alpha1.Tier{
				{Name: "frontend", PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": "frontend"}}, Ports: []tierwallv1alpha1.Port{{Port: intstr.FromInt32(80)}}},
				{Name: "database", PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": "mysql"}}},
			},
		}
	}
	tests := []struct {
		name            string
		spec            func() tierwallv1alpha1.AppIsolationSpec
		pods            []metav1.PartialObjectMetadata
		controllerPods  map[string]int
		platform        *render.Platform
		wantTiers       []tierwallv1alpha1.SelectorStatus
		wantControllers []tierwallv1alpha1.SelectorStatus
		wantStatus      metav1.ConditionStatus
		wantReason      string
		wantMessage     string
	}{
		{
			name:            "every selector matches",
			spec:            spec,
			pods:            []metav1.PartialObjectMetadata{pod("wp", wp), pod("db", db), pod("other", map[string]string{"app": "other"})},
			controllerPods:  map[string]int{"traefik": 2},
			wantTiers:       []tierwallv1alpha1.SelectorStatus{{Name: "frontend", Pods: 1}, {Name: "database", Pods: 1}},
			wantControllers: []tierwallv1alpha1.SelectorStatus{{Name: "traefik", Pods: 2}},
			wantStatus:      metav1.ConditionTrue,
			wantReason:      tierwallv1alpha1.SelectorsMatchReason,
			wantMessage:     "Every tier and ingress controller selects pods, and every governed pod is in exactly one tier",
		},
		{
			name:            "every problem at once, the first one giving the reason",
			spec:            spec,
			pods:            []metav1.PartialObjectMetadata{pod("wp", wp), pod("stray", map[string]string{"app": "wordpress"})},
			controllerPods:  map[string]int{"traefik": 0},
			wantTiers:       []tierwallv1alpha1.SelectorStatus{{Name: "frontend", Pods: 1}, {Name: "database", Pods: 0}},
			wantControllers: []tierwallv1alpha1.SelectorStatus{{Name: "traefik", Pods: 0}},
			wantStatus:      metav1.ConditionFalse,
			wantReason:      tierwallv1alpha1.TierSelectsNoPodsReason,
			wantMessage: "Tiers that select no pods: database; ingress controllers that select no pods, " +
				"so nothing is allowed from them: traefik (namespace kube-system); governed pods in no tier, allowed DNS only: stray",
		},
		{
			name: "a pod in two tiers",
			spec: func() tierwallv1alpha1.AppIsolationSpec {
				s := spec()
				s.Tiers[1].PodSelector = metav1.LabelSelector{MatchLabels: map[string]string{"app": "wordpress"}}
				return s
			},
			pods:            []metav1.PartialObjectMetadata{pod("wp", wp)},
			controllerPods:  map[string]int{"traefik": 1},
			wantTiers:       []tierwallv1alpha1.SelectorStatus{{Name: "frontend", Pods: 1}, {Name: "database", Pods: 1}},
			wantControllers: []tierwallv1alpha1.SelectorStatus{{Name: "traefik", Pods: 1}},
			wantStatus:      metav1.ConditionFalse,
			wantReason:      tierwallv1alpha1.PodInMultipleTiersReason,
			wantMessage:     "Pods in several tiers, allowed the union: wp (frontend, database)",
		},
		{
			name: "many pods in no tier are named up to a limit",
			spec: spec,
			pods: []metav1.PartialObjectMetadata{
				pod("wp", wp), pod("db", db), pod("a", map[string]string{"app": "wordpress"}), pod("b", map[string]string{"app": "wordpress"}),
				pod("c", map[string]string{"app": "wordpress"}), pod("d", map[string]string{"app": "wordpress"}),
				pod("e", map[string]string{"app": "wordpress"}), pod("f", map[string]string{"app": "wordpress"}), pod("g", map[string]string{"app": "wordpress"}),
			},
			controllerPods:  map[string]int{"traefik": 1},
			wantTiers:       []tierwallv1alpha1.SelectorStatus{{Name: "frontend", Pods: 1}, {Name: "database", Pods: 1}},
			wantControllers: []tierwallv1alpha1.SelectorStatus{{Name: "traefik", Pods: 1}},
			wantStatus:      metav1.ConditionFalse,
			wantReason:      tierwallv1alpha1.PodInNoTierReason,
			wantMessage:     "Governed pods in no tier, allowed DNS only: a, b, c and 4 more",
		},
		{
			name: "an ingress controller on governed pods: its egress is denied",
			spec: func() tierwallv1alpha1.AppIsolationSpec {
				s := spec()
				s.IngressControllers[0].Namespace = "dev"
				s.IngressControllers[0].PodSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "frontend"}}
				return s
			},
			pods:            []metav1.PartialObjectMetadata{pod("wp", wp), pod("db", db)},
			controllerPods:  map[string]int{"traefik": 1},
			wantTiers:       []tierwallv1alpha1.SelectorStatus{{Name: "frontend", Pods: 1}, {Name: "database", Pods: 1}},
			wantControllers: []tierwallv1alpha1.SelectorStatus{{Name: "traefik", Pods: 1}},
			wantStatus:      metav1.ConditionFalse,
			wantReason:      tierwallv1alpha1.IngressControllerGovernedReason,
			wantMessage:     "Ingress controllers on governed pods, whose egress the default-deny blocks: traefik (pod wp)",
		},
		{
			name: "a hostNetwork controller with no Node known, and the API server with no endpoint known",
			spec: func() tierwallv1alpha1.AppIsolationSpec {
				s := spec()
				s.IngressControllers[1].HostNetwork = true
				s.Tiers[1].EgressTo = []tierwallv1alpha1.EgressRule{{KubeAPIServer: &tierwallv1alpha1.KubeAPIServer{}}}
				return s
			},
			pods:            []metav1.PartialObjectMetadata{pod("wp", wp), pod("db", db)},
			controllerPods:  map[string]int{"traefik": 1},
			platform:        &render.Platform{},
			wantTiers:       []tierwallv1alpha1.SelectorStatus{{Name: "frontend", Pods: 1}, {Name: "database", Pods: 1}},
			wantControllers: []tierwallv1alpha1.SelectorStatus{{Name: "traefik", Pods: 1}},
			wantStatus:      metav1.ConditionFalse,
			wantReason:      tierwallv1alpha1.NoNodeAddressesReason,
			wantMessage: "Ingress controllers with hostNetwork while no Node address is known, so nothing is allowed from their nodes: nodes; " +
				"tiers allowed to the API server while none of its endpoints is known, so nothing is allowed to it: database",
		},
		{
			name:        "an ingress controller in a namespace tierwall may not observe is not counted",
			spec:        spec,
			pods:        []metav1.PartialObjectMetadata{pod("wp", wp), pod("db", db)},
			wantTiers:   []tierwallv1alpha1.SelectorStatus{{Name: "frontend", Pods: 1}, {Name: "database", Pods: 1}},
			wantStatus:  metav1.ConditionTrue,
			wantReason:  tierwallv1alpha1.SelectorsMatchReason,
			wantMessage: "Every tier and ingress controller selects pods, and every governed pod is in exactly one tier",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := &tierwallv1alpha1.AppIsolation{ObjectMeta: metav1.ObjectMeta{Namespace: "dev", Generation: 2}, Spec: tt.spec()}
			setSelectorsMatchedCondition(app, &observedState{rendered: []networkingv1.NetworkPolicy{}, pods: tt.pods,
				controllerPods: tt.controllerPods, platform: tt.platform})
			if diff := cmp.Diff(tt.wantTiers, app.Status.Tiers); diff != "" {
				t.Errorf("tiers (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantControllers, app.Status.IngressControllers); diff != "" {
				t.Errorf("ingress controllers (-want +got):\n%s", diff)
			}
			want := []metav1.Condition{{Type: tierwallv1alpha1.SelectorsMatchedCondition, Status: tt.wantStatus,
				Reason: tt.wantReason, Message: tt.wantMessage, ObservedGeneration: 2}}
			if diff := cmp.Diff(want, app.Status.Conditions, ignoreTimes); diff != "" {
				t.Errorf("condition (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetReconcilingCondition(t *testing.T) {
	reconciling := func(gen int64) []metav1.Condition {
		return []metav1.Condition{{Type: tierwallv1alpha1.ReconcilingCondition, Status: metav1.ConditionTrue,
			Reason: tierwallv1alpha1.ProgressingReason, Message: fmt.Sprintf("Reconciling generation %d", gen), ObservedGeneration: gen}}
	}
	tests := []struct {
		name     string
		observed int64
		before   []metav1.Condition
		want     []metav1.Condition
		changed  bool
	}{
		{name: "generation already observed: nothing to say", observed: 3},
		{name: "a new generation: Reconciling at once", observed: 2, want: reconciling(3), changed: true},
		{name: "already said for this generation: no second write", observed: 2, before: reconciling(3), want: reconciling(3)},
		{name: "said for an older generation: said again", observed: 1, before: reconciling(2), want: reconciling(3), changed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := &tierwallv1alpha1.AppIsolation{ObjectMeta: metav1.ObjectMeta{Generation: 3},
				Status: tierwallv1alpha1.AppIsolationStatus{ObservedGeneration: tt.observed, Conditions: tt.before}}
			if got := setReconcilingCondition(app); got != tt.changed {
				t.Errorf("changed = %v, want %v", got, tt.changed)
			}
			if diff := cmp.Diff(tt.want, app.Status.Conditions, ignoreTimes); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetIsolatedCondition(t *testing.T) {
	finding := func(policy string) foreign.Finding {
		return foreign.Finding{Policy: policy, From: "a pod in another namespace", To: "dev/mysql", Port: 3306, Protocol: corev1.ProtocolTCP}
	}
	tests := []struct {
		name        string
		findings    *[]foreign.Finding
		wantStatus  metav1.ConditionStatus
		wantReason  string
		wantMessage string
	}{
		{"not evaluated: Unknown", nil, metav1.ConditionUnknown, tierwallv1alpha1.NotObservedReason,
			"The pods and policies this condition depends on could not be read in the last reconcile"},
		{"nothing opens the pods", &[]foreign.Finding{}, metav1.ConditionTrue, tierwallv1alpha1.NoForeignAccessReason,
			"No other NetworkPolicy opens the governed pods beyond what this AppIsolation declares"},
		{"policies open the pods: named, with a flow each, up to a limit",
			&[]foreign.Finding{finding("a"), finding("b"), finding("c"), finding("d")}, metav1.ConditionFalse,
			tierwallv1alpha1.ForeignPolicyWidensAccessReason,
			"Other NetworkPolicies open the governed pods beyond the declared tiers, which tierwall cannot take back: " +
				"NetworkPolicy a allows a pod in another namespace -> dev/mysql on 3306/TCP, " +
				"NetworkPolicy b allows a pod in another namespace -> dev/mysql on 3306/TCP, " +
				"NetworkPolicy c allows a pod in another namespace -> dev/mysql on 3306/TCP and 1 more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := &tierwallv1alpha1.AppIsolation{ObjectMeta: metav1.ObjectMeta{Generation: 2}}
			setIsolatedCondition(app, tt.findings)
			want := []metav1.Condition{{Type: tierwallv1alpha1.IsolatedCondition, Status: tt.wantStatus,
				Reason: tt.wantReason, Message: tt.wantMessage, ObservedGeneration: 2}}
			if diff := cmp.Diff(want, app.Status.Conditions, ignoreTimes); diff != "" {
				t.Errorf("condition (-want +got):\n%s", diff)
			}
		})
	}
}

// The same cluster always yields the same status, whatever order the cache
// returns pods in: a status that moves without a cluster change is a write,
// and an Argo CD refresh.
func TestUpdateStatusIsDeterministic(t *testing.T) {
	app, err := fixtures.WordPress("dev")
	if err != nil {
		t.Fatal(err)
	}
	app.Generation = 1
	rendered, err := render.Render(app, render.Platform{})
	if err != nil {
		t.Fatal(err)
	}
	pods := make([]metav1.PartialObjectMetadata, 0, 20)
	for i := range 20 {
		pods = append(pods, metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("stray-%02d", i), Namespace: "dev", Labels: map[string]string{"app": "wordpress"}}})
	}
	statusOf := func(seed int64) []byte {
		shuffled := slices.Clone(pods)
		rand.New(rand.NewSource(seed)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		slices.SortFunc(shuffled, byName) // what listPodMetadata does at the read boundary
		a := app.DeepCopy()
		updateStatus(a, &observedState{rendered: rendered, plan: &plan.Plan{}, pods: shuffled, controllerPods: map[string]int{"traefik": 1},
			foreign: &[]foreign.Finding{}}, nil)
		for i := range a.Status.Conditions {
			a.Status.Conditions[i].LastTransitionTime = metav1.Time{}
		}
		out, err := json.Marshal(a.Status)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	want := statusOf(0)
	for seed := int64(1); seed < 20; seed++ {
		if got := statusOf(seed); !bytes.Equal(got, want) {
			t.Fatalf("seed %d: status differs:\n%s\n%s", seed, got, want)
		}
	}
	if !bytes.Contains(want, []byte(`"warnings":"TierSelectsNoPods"`)) || !bytes.Contains(want, []byte(`"policyCount":4`)) {
		t.Errorf("status.warnings does not name the failing condition: %s", want)
	}
}

func TestSetPeersAgreeCondition(t *testing.T) {
	storefront, api, err := fixtures.Shop("shop", "payments")
	if err != nil {
		t.Fatal(err)
	}
	self := tierwallv1alpha1.AppIsolationReference{Namespace: "shop", Name: "storefront"}
	edgesOf := func(apps ...tierwallv1alpha1.AppIsolation) *[]peering.Edge {
		edges := peering.Of(peering.Edges(apps), self)
		return &edges
	}
	withoutAllowFrom := api.DeepCopy()
	withoutAllowFrom.Spec.Tiers[0].AllowFrom = nil
	agreed := metav1.Condition{Type: tierwallv1alpha1.PeersAgreeCondition, Status: metav1.ConditionTrue,
		Reason: tierwallv1alpha1.EdgesAllowedOnBothSidesReason, ObservedGeneration: 2,
		Message: "Both sides allow the edge with a tier of another AppIsolation (status.peers)"}
	tests := []struct {
		name      string
		edges     *[]peering.Edge
		before    []metav1.Condition
		want      []metav1.Condition
		wantPeers []string
	}{
		{
			name:      "both sides allow the edge",
			edges:     edgesOf(*storefront, *api),
			want:      []metav1.Condition{agreed},
			wantPeers: []string{"shop/storefront tier web -> payments/api tier backend on 9090/TCP"},
		},
		{
			name:  "the callee does not accept it: False, naming the callee and the edge",
			edges: edgesOf(*storefront, *withoutAllowFrom),
			want: []metav1.Condition{{Type: tierwallv1alpha1.PeersAgreeCondition, Status: metav1.ConditionFalse,
				Reason: tierwallv1alpha1.OneSidedEdgeReason, ObservedGeneration: 2,
				Message: "The edge with a tier of another AppIsolation carries no traffic, because only one side allows it: " +
					"shop/storefront tier web -> payments/api tier backend on 9090/TCP: one-sided, " +
					"payments/api tier backend's allowFrom does not name shop/storefront tier web"}},
			wantPeers: []string{"shop/storefront tier web -> payments/api tier backend on 9090/TCP: one-sided, " +
				"payments/api tier backend's allowFrom does not name shop/storefront tier web"},
		},
		{
			name:  "the callee does not exist",
			edges: edgesOf(*storefront),
			want: []metav1.Condition{{Type: tierwallv1alpha1.PeersAgreeCondition, Status: metav1.ConditionFalse,
				Reason: tierwallv1alpha1.OneSidedEdgeReason, ObservedGeneration: 2,
				Message: "The edge with a tier of another AppIsolation carries no traffic, because only one side allows it: " +
					"shop/storefront tier web -> payments/api tier backend: one-sided, AppIsolation payments/api does not exist"}},
			wantPeers: []string{"shop/storefront tier web -> payments/api tier backend: one-sided, AppIsolation payments/api does not exist"},
		},
		{
			name:   "no edge any more: the condition and the list go",
			edges:  &[]peering.Edge{},
			before: []metav1.Condition{agreed},
		},
		{
			name:   "edges not read: Unknown",
			before: []metav1.Condition{agreed},
			want: []metav1.Condition{{Type: tierwallv1alpha1.PeersAgreeCondition, Status: metav1.ConditionUnknown,
				Reason: tierwallv1alpha1.NotObservedReason, ObservedGeneration: 2,
				Message: "The pods and policies this condition depends on could not be read in the last reconcile"}},
			wantPeers: []string{"kept"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := storefront.DeepCopy()
			app.Generation = 2
			app.Status.Conditions, app.Status.Peers = slices.Clone(tt.before), []string{"kept"}
			setPeersAgreeCondition(app, tt.edges)
			if diff := cmp.Diff(tt.want, app.Status.Conditions, ignoreTimes, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantPeers, app.Status.Peers); diff != "" {
				t.Errorf("peers (-want +got):\n%s", diff)
			}
		})
	}
}

// status.peers lists at most MaxStatusPeers edges; the condition counts
// them all.
func TestSetPeersAgreeConditionBoundsTheList(t *testing.T) {
	app := &tierwallv1alpha1.AppIsolation{ObjectMeta: metav1.ObjectMeta{Namespace: "payments", Name: "api"},
		Spec: tierwallv1alpha1.AppIsolationSpec{Tiers: []tierwallv1alpha1.Tier{{Name: "backend",
			Ports: []tierwallv1alpha1.Port{{Port: intstr.FromInt32(9090)}}}}}}
	const callers = tierwallv1alpha1.MaxStatusPeers + 2
	apps := make([]tierwallv1alpha1.AppIsolation, 0, 1+callers)
	apps = append(apps, *app)
	for i := range callers {
		caller := tierwallv1alpha1.AppIsolation{ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("shop-%02d", i), Name: "storefront"},
			Spec: tierwallv1alpha1.AppIsolationSpec{Tiers: []tierwallv1alpha1.Tier{{Name: "web", EgressTo: []tierwallv1alpha1.EgressRule{{
				AppIsolation: &tierwallv1alpha1.AppIsolationReference{Namespace: "payments", Name: "api"}, Tier: "backend"}}}}}}
		apps = append(apps, caller)
	}
	edges := peering.Of(peering.Edges(apps), tierwallv1alpha1.AppIsolationReference{Namespace: "payments", Name: "api"})
	setPeersAgreeCondition(app, &edges)
	if len(app.Status.Peers) != tierwallv1alpha1.MaxStatusPeers {
		t.Errorf("status.peers has %d edges, want %d", len(app.Status.Peers), tierwallv1alpha1.MaxStatusPeers)
	}
	c := app.Status.Conditions[0]
	if c.Reason != tierwallv1alpha1.OneSidedEdgeReason || !strings.HasPrefix(c.Message, "10 of the 10 edges") || !strings.HasSuffix(c.Message, " and 7 more") {
		t.Errorf("condition = %s: %s", c.Reason, c.Message)
	}
}

// docs/reconciliation.md quotes the PeersAgree message and a status.peers
// entry of the shop sample: they must be what tierwall writes.
func TestPeersAgreeDocQuotes(t *testing.T) {
	storefront, api, err := fixtures.Shop("shop", "payments")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(fixtures.RepoRoot(), "docs", "reconciliation.md"))
	if err != nil {
		t.Fatal(err)
	}
	agreed := peering.Edges([]tierwallv1alpha1.AppIsolation{*storefront, *api})
	api.Spec.Tiers[0].AllowFrom = nil
	oneSided := peering.Edges([]tierwallv1alpha1.AppIsolation{*storefront, *api})
	setPeersAgreeCondition(storefront, &oneSided)
	for _, quote := range []string{"`" + agreed[0].String() + "`", storefront.Status.Conditions[0].Message + "\n"} {
		if !bytes.Contains(doc, []byte(quote)) {
			t.Errorf("docs/reconciliation.md does not quote %q", quote)
		}
	}
}
