package v1alpha1

// Condition types of an AppIsolation. Ready is always present; Reconciling
// and Stalled follow kstatus and are present only while true.
const (
	// ReadyCondition is True when tierwall has applied exactly the
	// NetworkPolicies the current generation renders (in DryRun mode: has
	// computed them and enforces none). It says nothing about whether the
	// selectors match the pods meant, whether other policies widen access,
	// or whether the other AppIsolations it names agree: SelectorsMatched,
	// Isolated and PeersAgree say that, and status.warnings (the WARNINGS
	// column of kubectl get) lists their reasons while they are False.
	ReadyCondition = "Ready"
	// ReconcilingCondition is True while tierwall works towards a new
	// generation.
	ReconcilingCondition = "Reconciling"
	// StalledCondition is True when tierwall cannot make progress until the
	// spec or the cluster changes.
	StalledCondition = "Stalled"
	// SelectorsMatchedCondition is True when every tier and ingress controller
	// selects pods, and every governed pod is in exactly one tier.
	SelectorsMatchedCondition = "SelectorsMatched"
	// IsolatedCondition is True when no NetworkPolicy that this AppIsolation
	// did not render opens its governed pods beyond what it declares.
	IsolatedCondition = "Isolated"
	// PeersAgreeCondition, present only while the AppIsolation takes part
	// in edges with tiers of other AppIsolations (an allowFrom or egressTo
	// entry with appIsolation, its own or theirs), is True when both sides
	// allow every such edge, and False, naming the other side and the
	// edge, when an edge only one side allows carries no traffic.
	PeersAgreeCondition = "PeersAgree"
	// WouldBlockCondition, present in DryRun mode only, is True when
	// enforcing the AppIsolation would block flows that the policies in
	// force allow today (status.wouldBlock lists the first of them), and
	// False when it would block none.
	WouldBlockCondition = "WouldBlock"
)

// Condition reasons, reused as event reasons.
const (
	// ReconciledReason: the policies match the spec.
	ReconciledReason = "Reconciled"
	// DryRunReason: DryRun mode, nothing enforced.
	DryRunReason = "DryRun"
	// ProgressingReason: a new generation is being applied.
	ProgressingReason = "Progressing"
	// InvalidSpecReason: the spec cannot be rendered (for example, a label
	// selector with an invalid value).
	InvalidSpecReason = "InvalidSpec"
	// PolicyConflictReason: a NetworkPolicy that tierwall did not create has
	// a name tierwall needs.
	PolicyConflictReason = "PolicyConflict"
	// ApplyFailedReason: the API server refused or failed a write.
	ApplyFailedReason = "ApplyFailed"
	// SelectorsMatchReason: every selector matches as intended.
	SelectorsMatchReason = "SelectorsMatch"
	// TierSelectsNoPodsReason: a tier selects no pods.
	TierSelectsNoPodsReason = "TierSelectsNoPods"
	// IngressControllerSelectsNoPodsReason: an ingress controller selector
	// matches no pods.
	IngressControllerSelectsNoPodsReason = "IngressControllerSelectsNoPods"
	// NoNodeAddressesReason: an ingress controller runs with hostNetwork
	// and no Node address is known, so nothing is allowed from it.
	NoNodeAddressesReason = "NoNodeAddresses"
	// NoKubeAPIServerEndpointsReason: a tier may connect to the API server
	// and none of its endpoints is known, so nothing is allowed to it.
	NoKubeAPIServerEndpointsReason = "NoKubeAPIServerEndpoints"
	// PodInNoTierReason: a governed pod is in no tier, so it only gets DNS.
	PodInNoTierReason = "PodInNoTier"
	// PodInMultipleTiersReason: a pod is in two or more tiers and gets the
	// union of their allows.
	PodInMultipleTiersReason = "PodInMultipleTiers"
	// NoForeignAccessReason: no other policy widens what the governed pods
	// may send or receive.
	NoForeignAccessReason = "NoForeignAccess"
	// ForeignPolicyWidensAccessReason: another policy opens the governed
	// pods beyond the declared graph.
	ForeignPolicyWidensAccessReason = "ForeignPolicyWidensAccess"
	// EdgesAllowedOnBothSidesReason: both sides allow every edge with a
	// tier of another AppIsolation.
	EdgesAllowedOnBothSidesReason = "EdgesAllowedOnBothSides"
	// OneSidedEdgeReason: an edge with a tier of another AppIsolation is
	// declared by one side and blocked by the other, or the other
	// AppIsolation or its tier does not exist, or the sides share no port.
	OneSidedEdgeReason = "OneSidedEdge"
	// IngressControllerGovernedReason: an ingress controller runs on pods
	// this AppIsolation governs, so the default-deny blocks its egress and
	// the declared flows from it are denied.
	IngressControllerGovernedReason = "IngressControllerGoverned"
	// FlowsWouldBeBlockedReason: in DryRun, enforcing would block flows
	// that are open today.
	FlowsWouldBeBlockedReason = "FlowsWouldBeBlocked"
	// NothingWouldBeBlockedReason: in DryRun, enforcing would block no flow
	// that is open today.
	NothingWouldBeBlockedReason = "NothingWouldBeBlocked"
	// NotObservedReason: the inputs a condition depends on could not be
	// read in this reconcile; the condition is Unknown.
	NotObservedReason = "NotObserved"
)

// Event reasons for side effects on NetworkPolicies.
const (
	// PoliciesChangedReason: tierwall created, updated or deleted
	// NetworkPolicies; one event per reconcile names them all.
	PoliciesChangedReason = "PoliciesChanged"
)
