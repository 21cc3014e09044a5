package v1alpha1

// Labels tierwall puts on every NetworkPolicy it generates. They say who
// manages the policy; they never carry Argo CD's tracking label or
// annotation, which would make Argo CD prune the policies.
const (
	// ManagedByLabel is the standard app.kubernetes.io/managed-by label.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of ManagedByLabel on generated policies.
	ManagedByValue = "tierwall"
	// AppIsolationLabel names the AppIsolation a policy was generated for.
	AppIsolationLabel = "tierwall.dev/appisolation"
	// TierLabel names the tier a policy was generated for, when it has one.
	TierLabel = "tierwall.dev/tier"
	// RoleLabel says what a generated policy does: default-deny, dns or tier.
	RoleLabel = "tierwall.dev/role"
)

// Values of RoleLabel.
const (
	// RoleDefaultDeny marks the policy that isolates the governed pods.
	RoleDefaultDeny = "default-deny"
	// RoleDNS marks the policy that lets the governed pods query DNS.
	RoleDNS = "dns"
	// RoleTier marks a tier's allow policy.
	RoleTier = "tier"
)

// IPBlocksFromAnnotation is set on a generated policy to name where the
// address blocks tierwall follows in the cluster came from, such as the Nodes'
// InternalIPs for an ingress controller with hostNetwork, so that a reader
// of the policy knows why they are there and that they will change.
const IPBlocksFromAnnotation = "tierwall.dev/ip-blocks-from"
