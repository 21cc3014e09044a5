package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// AppIsolationKind is the kind of the AppIsolation resource.
const AppIsolationKind = "AppIsolation"

// Mode says whether tierwall enforces the rendered policies.
// +kubebuilder:validation:Enum=Enforce;DryRun
type Mode string

const (
	// ModeEnforce applies the rendered NetworkPolicies.
	ModeEnforce Mode = "Enforce"
	// ModeDryRun renders and reports the policies without applying them, and
	// removes the ones tierwall had applied.
	ModeDryRun Mode = "DryRun"
)

// PolicyType is a direction of traffic an AppIsolation isolates, as in
// NetworkPolicy's policyTypes.
// +kubebuilder:validation:Enum=Ingress;Egress
type PolicyType string

const (
	// PolicyTypeIngress isolates the traffic the governed pods accept.
	PolicyTypeIngress PolicyType = "Ingress"
	// PolicyTypeEgress isolates the traffic the governed pods open.
	PolicyTypeEgress PolicyType = "Egress"
)

// Protocol is a transport protocol a NetworkPolicy port can name.
// +kubebuilder:validation:Enum=TCP;UDP;SCTP
type Protocol string

// AppIsolationSpec declares the tiers of an application and who may reach them.
// +kubebuilder:validation:XValidation:rule="!has(self.tiers) || self.tiers.all(t, !has(t.allowFrom) || t.allowFrom.all(p, !has(p.tier) || has(p.appIsolation) || self.tiers.exists(u, u.name == p.tier)))",message="every allowFrom[].tier without appIsolation must be the name of a tier declared in spec.tiers",fieldPath=".tiers",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="!has(self.tiers) || self.tiers.all(t, !has(t.allowFrom) || t.allowFrom.all(p, !has(p.ingressController) || (has(self.ingressControllers) && self.ingressControllers.exists(c, c.name == p.ingressController))))",message="every allowFrom[].ingressController must be the name of an entry of spec.ingressControllers",fieldPath=".tiers",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="!has(self.policyTypes) || 'Egress' in self.policyTypes || !has(self.tiers) || self.tiers.all(t, !has(t.egressTo) || size(t.egressTo) == 0)",message="egressTo has no effect when spec.policyTypes does not include Egress: the governed pods' egress is not isolated",fieldPath=".tiers",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!has(self.policyTypes) || 'Egress' in self.policyTypes || !has(self.dns)",message="dns has no effect when spec.policyTypes does not include Egress: the governed pods may query any DNS server",fieldPath=".dns",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!has(self.policyTypes) || 'Ingress' in self.policyTypes || !has(self.ingressControllers) || size(self.ingressControllers) == 0",message="ingressControllers has no effect when spec.policyTypes does not include Ingress: the governed pods' ingress is not isolated",fieldPath=".ingressControllers",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!has(self.policyTypes) || 'Ingress' in self.policyTypes || !has(self.tiers) || self.tiers.all(t, !has(t.allowFrom) || t.allowFrom.all(p, has(p.tier) && !has(p.appIsolation)))",message="allowFrom may only name tiers of this AppIsolation when spec.policyTypes does not include Ingress: such a peer allows the other tier's egress, any other peer would only allow ingress, which is not isolated",fieldPath=".tiers",reason=FieldValueForbidden
type AppIsolationSpec struct {
	// Mode is Enforce (the default) to apply the rendered NetworkPolicies, or
	// DryRun to only report what would be applied. Switching to DryRun
	// removes the policies tierwall had applied, default-deny first.
	// +kubebuilder:default=Enforce
	// +optional
	Mode Mode `json:"mode,omitempty"`

	// PodSelector selects the pods this AppIsolation governs: each of them is
	// denied all ingress and egress that the tiers do not allow. Omitted, it
	// governs every pod in the namespace.
	// +kubebuilder:validation:XValidation:rule="!has(self.matchLabels) || size(self.matchLabels) <= 8",message="must have at most 8 entries",fieldPath=".matchLabels",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || size(self.matchExpressions) <= 4",message="must have at most 4 entries",fieldPath=".matchExpressions",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || [0, 1, 2, 3].all(i, i >= size(self.matchExpressions) || (size(self.matchExpressions[i].key) <= 317 && size(self.matchExpressions[i].operator) <= 12 && (!has(self.matchExpressions[i].values) || (size(self.matchExpressions[i].values) <= 16 && [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15].all(j, j >= size(self.matchExpressions[i].values) || size(self.matchExpressions[i].values[j]) <= 63)))))",message="every entry must have a key of at most 317 characters, an operator of at most 12 and at most 16 values of at most 63 characters",fieldPath=".matchExpressions",reason=FieldValueInvalid
	// +optional
	PodSelector *metav1.LabelSelector `json:"podSelector,omitempty"`

	// PolicyTypes are the directions the AppIsolation isolates, as in
	// NetworkPolicy: [Ingress, Egress] (the default) denies the governed
	// pods every connection in or out that the tiers do not allow.
	// [Ingress] leaves their egress untouched (no DNS policy, no egress
	// rules), so dns and egressTo are refused; [Egress] leaves their ingress
	// untouched, so ingressControllers and allowFrom peers other than tiers
	// are refused (a tier peer still allows the other tier's egress, on the
	// ports of the entry).
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=2
	// +kubebuilder:default={Ingress,Egress}
	// +optional
	PolicyTypes []PolicyType `json:"policyTypes,omitempty"`

	// IngressControllers are the entry points from outside the namespace that
	// tiers may accept traffic from, such as Traefik or ingress-nginx.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=8
	// +optional
	IngressControllers []IngressController `json:"ingressControllers,omitempty"`

	// Tiers are groups of governed pods and the traffic each accepts.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +required
	Tiers []Tier `json:"tiers"`

	// DNS says which DNS servers governed pods may query. Omitted, they may
	// query pods labelled k8s-app=kube-dns in kube-system on UDP and TCP 53.
	// +optional
	DNS *DNS `json:"dns,omitempty"`
}

// IngressController is an entry point from outside the namespace, selected
// by namespace and pod labels, or, for controllers that run with
// hostNetwork, by the addresses of every Node (hostNetwork) or by address
// blocks.
// +kubebuilder:validation:XValidation:rule="has(self.namespace) || (has(self.ipBlocks) && size(self.ipBlocks) > 0) || (has(self.hostNetwork) && self.hostNetwork)",message="set namespace (and optionally podSelector) to select the controller's pods, or hostNetwork or ipBlocks for a hostNetwork controller: a controller that selects nothing would allow traffic from everywhere"
// +kubebuilder:validation:XValidation:rule="!has(self.podSelector) || has(self.namespace)",message="podSelector requires namespace: the controller's pods are selected in that namespace only"
type IngressController struct {
	// Name identifies the controller in allowFrom entries. It is a DNS label of
	// at most 40 characters.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=40
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit"
	// +required
	Name string `json:"name"`

	// Namespace is the namespace the controller's pods run in.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit"
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// PodSelector selects the controller's pods in Namespace. Omitted, every
	// pod of Namespace is the controller.
	// +kubebuilder:validation:XValidation:rule="!has(self.matchLabels) || size(self.matchLabels) <= 8",message="must have at most 8 entries",fieldPath=".matchLabels",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || size(self.matchExpressions) <= 4",message="must have at most 4 entries",fieldPath=".matchExpressions",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || [0, 1, 2, 3].all(i, i >= size(self.matchExpressions) || (size(self.matchExpressions[i].key) <= 317 && size(self.matchExpressions[i].operator) <= 12 && (!has(self.matchExpressions[i].values) || (size(self.matchExpressions[i].values) <= 16 && [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15].all(j, j >= size(self.matchExpressions[i].values) || size(self.matchExpressions[i].values[j]) <= 63)))))",message="every entry must have a key of at most 317 characters, an operator of at most 12 and at most 16 values of at most 63 characters",fieldPath=".matchExpressions",reason=FieldValueInvalid
	// +optional
	PodSelector *metav1.LabelSelector `json:"podSelector,omitempty"`

	// IPBlocks are the addresses the controller's traffic comes from when it
	// runs with hostNetwork (usually the node addresses).
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	// +optional
	IPBlocks []IPBlock `json:"ipBlocks,omitempty"`

	// HostNetwork, when true, says the controller runs on the nodes'
	// network, as ingress-nginx's hostNetwork mode does: its traffic comes
	// from the InternalIP of every Node (a /32 or /128 each), which tierwall
	// follows as nodes join, leave or change address. Until a Node is
	// known, nothing is allowed from it.
	// +optional
	HostNetwork bool `json:"hostNetwork,omitempty"`
}

// Tier is a group of governed pods that accepts traffic on its ports from the
// peers it lists.
// +kubebuilder:validation:XValidation:rule="!has(self.allowFrom) || self.allowFrom.all(p, has(p.ports)) || (has(self.ports) && size(self.ports) > 0)",message="ports is required when an allowFrom entry has no ports of its own: list the ports the tier's pods listen on, or set ports on every allowFrom entry",fieldPath=".ports",reason=FieldValueRequired
type Tier struct {
	// Name identifies the tier; it is part of the generated policy names. It
	// is a DNS label of at most 40 characters.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=40
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit"
	// +required
	Name string `json:"name"`

	// PodSelector selects the tier's pods among the governed pods.
	// +kubebuilder:validation:XValidation:rule="!has(self.matchLabels) || size(self.matchLabels) <= 8",message="must have at most 8 entries",fieldPath=".matchLabels",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || size(self.matchExpressions) <= 4",message="must have at most 4 entries",fieldPath=".matchExpressions",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || [0, 1, 2, 3].all(i, i >= size(self.matchExpressions) || (size(self.matchExpressions[i].key) <= 317 && size(self.matchExpressions[i].operator) <= 12 && (!has(self.matchExpressions[i].values) || (size(self.matchExpressions[i].values) <= 16 && [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15].all(j, j >= size(self.matchExpressions[i].values) || size(self.matchExpressions[i].values[j]) <= 63)))))",message="every entry must have a key of at most 317 characters, an operator of at most 12 and at most 16 values of at most 63 characters",fieldPath=".matchExpressions",reason=FieldValueInvalid
	// +required
	PodSelector metav1.LabelSelector `json:"podSelector"`

	// Ports are the ports the tier's pods accept traffic on.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Ports []Port `json:"ports,omitempty"`

	// AllowFrom lists who may connect to the tier's ports, or to the ports
	// an entry lists itself. Omitted, nothing may.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +optional
	AllowFrom []Peer `json:"allowFrom,omitempty"`

	// EgressTo lists destinations outside the application the tier's pods may
	// connect to, such as an update server. Tiers that allow this tier and
	// DNS need no entry here.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +optional
	EgressTo []EgressRule `json:"egressTo,omitempty"`
}

// Port is a port, or a range of ports, and a protocol.
// +kubebuilder:validation:XValidation:rule="type(self.port) == int ? (self.port >= 1 && self.port <= 65535) : (self.port.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && self.port.matches('[a-z]') && !self.port.contains('--'))",message="port must be a number from 1 to 65535 or the name of a container port, such as http: lowercase letters, digits and single dashes, with at least one letter",fieldPath=".port",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="!has(self.endPort) || type(self.port) == int",message="endPort needs a numeric port: a range cannot start at a named port",fieldPath=".endPort",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!has(self.endPort) || type(self.port) != int || self.endPort >= self.port",message="endPort must be greater than or equal to port",fieldPath=".endPort",reason=FieldValueInvalid
type Port struct {
	// Port is a port number or the name of a container port of the
	// destination pods.
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:MaxLength=15
	// +required
	Port intstr.IntOrString `json:"port"`

	// Protocol is TCP (the default), UDP or SCTP.
	// +kubebuilder:default=TCP
	// +optional
	Protocol Protocol `json:"protocol,omitempty"`

	// EndPort, with a numeric Port, makes the range Port..EndPort.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	EndPort *int32 `json:"endPort,omitempty"`
}

// Peer is one source of traffic a tier accepts: exactly one of another tier
// (of this AppIsolation, or of another one, in any namespace), an ingress
// controller, pods and namespaces chosen by labels, or an address block.
// +kubebuilder:validation:XValidation:rule="[has(self.tier), has(self.ingressController), has(self.namespaceSelector) || has(self.podSelector), has(self.ipBlock)].filter(x, x).size() == 1",message="set exactly one of tier (with appIsolation for another AppIsolation's tier), ingressController, ipBlock, or namespaceSelector and/or podSelector"
// +kubebuilder:validation:XValidation:rule="!has(self.appIsolation) || has(self.tier)",message="appIsolation needs tier: name the tier of that AppIsolation to accept traffic from",fieldPath=".tier",reason=FieldValueRequired
type Peer struct {
	// Tier is the name of a tier of this AppIsolation or, with
	// AppIsolation, of that one.
	// +kubebuilder:validation:MaxLength=40
	// +optional
	Tier string `json:"tier,omitempty"`

	// AppIsolation, with Tier, names a tier of another AppIsolation, in any
	// namespace: its pods (the other AppIsolation's governed pods in that
	// tier) may connect. tierwall follows the other AppIsolation as it
	// changes but never writes its namespace: the other side must allow
	// the egress itself (an egressTo entry naming this tier), and both
	// AppIsolations report an edge only one side allows.
	// +optional
	AppIsolation *AppIsolationReference `json:"appIsolation,omitempty"`

	// IngressController is the name of an entry of spec.ingressControllers.
	// +kubebuilder:validation:MaxLength=40
	// +optional
	IngressController string `json:"ingressController,omitempty"`

	// NamespaceSelector selects namespaces by label; with PodSelector, pods
	// that match both. Omitted with PodSelector set, the AppIsolation's own
	// namespace. Select a namespace by name with the label
	// kubernetes.io/metadata.name.
	// +kubebuilder:validation:XValidation:rule="!has(self.matchLabels) || size(self.matchLabels) <= 8",message="must have at most 8 entries",fieldPath=".matchLabels",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || size(self.matchExpressions) <= 4",message="must have at most 4 entries",fieldPath=".matchExpressions",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || [0, 1, 2, 3].all(i, i >= size(self.matchExpressions) || (size(self.matchExpressions[i].key) <= 317 && size(self.matchExpressions[i].operator) <= 12 && (!has(self.matchExpressions[i].values) || (size(self.matchExpressions[i].values) <= 16 && [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15].all(j, j >= size(self.matchExpressions[i].values) || size(self.matchExpressions[i].values[j]) <= 63)))))",message="every entry must have a key of at most 317 characters, an operator of at most 12 and at most 16 values of at most 63 characters",fieldPath=".matchExpressions",reason=FieldValueInvalid
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`

	// PodSelector selects pods by label.
	// +kubebuilder:validation:XValidation:rule="!has(self.matchLabels) || size(self.matchLabels) <= 8",message="must have at most 8 entries",fieldPath=".matchLabels",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || size(self.matchExpressions) <= 4",message="must have at most 4 entries",fieldPath=".matchExpressions",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || [0, 1, 2, 3].all(i, i >= size(self.matchExpressions) || (size(self.matchExpressions[i].key) <= 317 && size(self.matchExpressions[i].operator) <= 12 && (!has(self.matchExpressions[i].values) || (size(self.matchExpressions[i].values) <= 16 && [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15].all(j, j >= size(self.matchExpressions[i].values) || size(self.matchExpressions[i].values[j]) <= 63)))))",message="every entry must have a key of at most 317 characters, an operator of at most 12 and at most 16 values of at most 63 characters",fieldPath=".matchExpressions",reason=FieldValueInvalid
	// +optional
	PodSelector *metav1.LabelSelector `json:"podSelector,omitempty"`

	// IPBlock selects addresses, meant for sources outside the cluster.
	// +optional
	IPBlock *IPBlock `json:"ipBlock,omitempty"`

	// Ports, when set, are the ports this peer may connect to, instead of
	// the tier's ports: LMTP only from the MTA tier on a mail server that
	// accepts SMTP from anywhere, say. A tier peer's egress to this tier
	// follows them too.
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Ports []Port `json:"ports,omitempty"`
}

// EgressRule is a destination outside the application that a tier may
// connect to: pods and namespaces chosen by labels, an address block, the
// Kubernetes API server, or a tier of another AppIsolation.
// +kubebuilder:validation:XValidation:rule="[has(self.namespaceSelector) || has(self.podSelector), has(self.ipBlock), has(self.kubeAPIServer), has(self.appIsolation)].filter(x, x).size() == 1",message="set exactly one of ipBlock, kubeAPIServer, appIsolation (with tier), or namespaceSelector and/or podSelector"
// +kubebuilder:validation:XValidation:rule="!has(self.kubeAPIServer) || !has(self.ports)",message="ports has no effect with kubeAPIServer: the API server's endpoints give the ports",fieldPath=".ports",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="has(self.appIsolation) == has(self.tier)",message="appIsolation and tier go together: tier names a tier of the AppIsolation that appIsolation names",fieldPath=".tier",reason=FieldValueInvalid
type EgressRule struct {
	// AppIsolation, with Tier, names a tier of another AppIsolation, in any
	// namespace, as a destination: its governed pods in that tier, on Ports
	// or, when Ports is omitted, on the ports that tier accepts from this
	// one (its own ports when it does not name this tier). tierwall never
	// writes the other namespace: the other AppIsolation must accept the
	// traffic itself (an allowFrom entry naming this tier).
	// +optional
	AppIsolation *AppIsolationReference `json:"appIsolation,omitempty"`

	// Tier is the name of a tier of the AppIsolation that AppIsolation
	// names.
	// +kubebuilder:validation:MaxLength=40
	// +optional
	Tier string `json:"tier,omitempty"`

	// NamespaceSelector selects namespaces by label; with PodSelector, pods
	// that match both. Omitted with PodSelector set, the AppIsolation's own
	// namespace.
	// +kubebuilder:validation:XValidation:rule="!has(self.matchLabels) || size(self.matchLabels) <= 8",message="must have at most 8 entries",fieldPath=".matchLabels",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || size(self.matchExpressions) <= 4",message="must have at most 4 entries",fieldPath=".matchExpressions",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || [0, 1, 2, 3].all(i, i >= size(self.matchExpressions) || (size(self.matchExpressions[i].key) <= 317 && size(self.matchExpressions[i].operator) <= 12 && (!has(self.matchExpressions[i].values) || (size(self.matchExpressions[i].values) <= 16 && [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15].all(j, j >= size(self.matchExpressions[i].values) || size(self.matchExpressions[i].values[j]) <= 63)))))",message="every entry must have a key of at most 317 characters, an operator of at most 12 and at most 16 values of at most 63 characters",fieldPath=".matchExpressions",reason=FieldValueInvalid
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`

	// PodSelector selects pods by label.
	// +kubebuilder:validation:XValidation:rule="!has(self.matchLabels) || size(self.matchLabels) <= 8",message="must have at most 8 entries",fieldPath=".matchLabels",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || size(self.matchExpressions) <= 4",message="must have at most 4 entries",fieldPath=".matchExpressions",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || [0, 1, 2, 3].all(i, i >= size(self.matchExpressions) || (size(self.matchExpressions[i].key) <= 317 && size(self.matchExpressions[i].operator) <= 12 && (!has(self.matchExpressions[i].values) || (size(self.matchExpressions[i].values) <= 16 && [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15].all(j, j >= size(self.matchExpressions[i].values) || size(self.matchExpressions[i].values[j]) <= 63)))))",message="every entry must have a key of at most 317 characters, an operator of at most 12 and at most 16 values of at most 63 characters",fieldPath=".matchExpressions",reason=FieldValueInvalid
	// +optional
	PodSelector *metav1.LabelSelector `json:"podSelector,omitempty"`

	// IPBlock selects addresses outside the cluster.
	// +optional
	IPBlock *IPBlock `json:"ipBlock,omitempty"`

	// KubeAPIServer, set to {}, allows the Kubernetes API server: the
	// addresses and ports of the endpoints of the default/kubernetes
	// Service (where connections to the Service go after DNAT), which
	// tierwall follows as they change. Until one is known, nothing is
	// allowed.
	// +optional
	KubeAPIServer *KubeAPIServer `json:"kubeAPIServer,omitempty"`

	// Ports restricts the rule to these ports. Omitted, every port.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Ports []Port `json:"ports,omitempty"`
}

// AppIsolationReference names an AppIsolation, in any namespace.
type AppIsolationReference struct {
	// Namespace is the namespace of the AppIsolation.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit"
	// +required
	Namespace string `json:"namespace"`

	// Name is the name of the AppIsolation.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')",message="must be the name of an AppIsolation: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
	// +required
	Name string `json:"name"`
}

// String is the reference as namespace/name.
func (r AppIsolationReference) String() string { return r.Namespace + "/" + r.Name }

// KubeAPIServer is the Kubernetes API server, as an egress destination. It
// has no fields: the cluster says where the API server is.
type KubeAPIServer struct{}

// IPBlock is a CIDR with optional exceptions inside it.
// +kubebuilder:validation:XValidation:rule="!has(self.except) || !isCIDR(self.cidr) || self.except.all(e, isCIDR(e) && cidr(e).masked() == cidr(e) && cidr(self.cidr).containsCIDR(e) && cidr(e).prefixLength() > cidr(self.cidr).prefixLength())",message="every except entry must be a CIDR in canonical form strictly inside cidr, such as 10.1.0.0/16 in 10.0.0.0/8",fieldPath=".except",reason=FieldValueInvalid
type IPBlock struct {
	// CIDR is an IPv4 or IPv6 CIDR in canonical form, such as 10.0.0.0/8.
	// +kubebuilder:validation:MaxLength=43
	// +kubebuilder:validation:XValidation:rule="isCIDR(self) && cidr(self).masked() == cidr(self)",message="must be a CIDR in canonical form, such as 10.0.0.0/8 (no host bits set)"
	// +required
	CIDR string `json:"cidr"`

	// Except lists CIDRs inside CIDR to leave out.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=43
	// +optional
	Except []string `json:"except,omitempty"`
}

// DNS says which DNS servers the governed pods may query on UDP and TCP 53.
// +kubebuilder:validation:XValidation:rule="!(has(self.disabled) && self.disabled) || (!has(self.namespace) && !has(self.podSelector))",message="namespace and podSelector have no effect when disabled is true"
// +kubebuilder:validation:XValidation:rule="!(has(self.disabled) && self.disabled) || !has(self.nodeLocal)",message="nodeLocal has no effect when disabled is true",fieldPath=".nodeLocal",reason=FieldValueForbidden
type DNS struct {
	// Disabled, when true, allows no DNS traffic: the governed pods resolve
	// nothing unless a tier's egressTo allows it.
	// +optional
	Disabled bool `json:"disabled,omitempty"`

	// Namespace is the namespace of the DNS pods. Default: kube-system.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit"
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// PodSelector selects the DNS pods. Default: k8s-app=kube-dns.
	// +kubebuilder:validation:XValidation:rule="!has(self.matchLabels) || size(self.matchLabels) <= 8",message="must have at most 8 entries",fieldPath=".matchLabels",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || size(self.matchExpressions) <= 4",message="must have at most 4 entries",fieldPath=".matchExpressions",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || [0, 1, 2, 3].all(i, i >= size(self.matchExpressions) || (size(self.matchExpressions[i].key) <= 317 && size(self.matchExpressions[i].operator) <= 12 && (!has(self.matchExpressions[i].values) || (size(self.matchExpressions[i].values) <= 16 && [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15].all(j, j >= size(self.matchExpressions[i].values) || size(self.matchExpressions[i].values[j]) <= 63)))))",message="every entry must have a key of at most 317 characters, an operator of at most 12 and at most 16 values of at most 63 characters",fieldPath=".matchExpressions",reason=FieldValueInvalid
	// +optional
	PodSelector *metav1.LabelSelector `json:"podSelector,omitempty"`

	// NodeLocal, when set, also allows queries to NodeLocal DNSCache: the
	// cache on each node answers on a link-local address, not from the DNS
	// pods, so selectors cannot match it.
	// +optional
	NodeLocal *NodeLocalDNS `json:"nodeLocal,omitempty"`
}

// NodeLocalDNS is the address NodeLocal DNSCache listens on, on every node.
type NodeLocalDNS struct {
	// Address is the IPv4 or IPv6 address the cache listens on, in
	// canonical form. Default: 169.254.20.10, NodeLocal DNSCache's own.
	// +kubebuilder:validation:MaxLength=39
	// +kubebuilder:validation:XValidation:rule="isIP(self) && ip.isCanonical(self)",message="must be an IP address in canonical form, such as 169.254.20.10 or fd00::a"
	// +optional
	Address string `json:"address,omitempty"`
}

// AppIsolationStatus is the observed state of an AppIsolation.
type AppIsolationStatus struct {
	// ObservedGeneration is the generation of the spec that the status
	// describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready (always present), Reconciling and Stalled (present
	// only while true, per kstatus), SelectorsMatched (whether each selector
	// matches the pods it is meant to), Isolated (whether other
	// NetworkPolicies open the governed pods beyond what is declared),
	// PeersAgree (present while there are edges with tiers of other
	// AppIsolations: whether both sides allow each) and, in DryRun mode,
	// WouldBlock.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Policies are the names of the NetworkPolicies rendered for this
	// AppIsolation: enforced in Enforce mode, only planned in DryRun mode.
	// +listType=atomic
	// +optional
	Policies []string `json:"policies,omitempty"`

	// Connectivity is the declared graph in words, one connection per line:
	// what the policies allow in Enforce mode, or would allow in DryRun mode.
	// +listType=atomic
	// +optional
	Connectivity []string `json:"connectivity,omitempty"`

	// PolicyCount is the number of NetworkPolicies tierwall enforces for this
	// AppIsolation: 0 in DryRun mode. Unset until the first reconcile; a
	// pointer, so that 0 is written and kubectl get shows it.
	// +optional
	PolicyCount *int32 `json:"policyCount,omitempty"`

	// TierCount is the number of tiers.
	// +optional
	TierCount int32 `json:"tierCount,omitempty"`

	// WouldBlock lists, in DryRun mode, the first flows between live pods
	// (of the namespace and of its observable ingress controllers) that the
	// policies in force allow today and that Enforce would block, as
	// "namespace/pod -> namespace/pod port/protocol", sorted; the WouldBlock
	// condition counts them all. Ports tried are those the policies name,
	// and port 1 for any other. tierwall reach on the live cluster lists
	// every one.
	// +listType=atomic
	// +optional
	WouldBlock []string `json:"wouldBlock,omitempty"`

	// Warnings lists, comma-separated, the reasons of the conditions that
	// are False although the policies are applied (SelectorsMatched,
	// Isolated, PeersAgree): a selector that matches nothing, a pod in no
	// tier, a foreign policy that opens the app, an edge with another
	// AppIsolation that only one side allows. kubectl get shows it as WARNINGS;
	// empty when there is nothing to warn about.
	// +optional
	Warnings string `json:"warnings,omitempty"`

	// Tiers reports how many pods each tier selects.
	// +listType=map
	// +listMapKey=name
	// +optional
	Tiers []SelectorStatus `json:"tiers,omitempty"`

	// IngressControllers reports how many pods each ingress controller
	// selector matches, for controllers in the AppIsolation's own namespace
	// and in the namespaces the cluster admin declared observable (the
	// manager's --observable-namespaces): other namespaces' pods are not
	// counted, so that a tenant learns nothing about them.
	// +listType=map
	// +listMapKey=name
	// +optional
	IngressControllers []SelectorStatus `json:"ingressControllers,omitempty"`

	// NodeAddresses are the Node InternalIPs the policies allow traffic
	// from, for the ingress controllers with hostNetwork; unset when there
	// are none.
	// +optional
	NodeAddresses *AddressesStatus `json:"nodeAddresses,omitempty"`

	// Peers are the edges between a tier of this AppIsolation and a tier
	// of another (an allowFrom or egressTo entry with appIsolation, in
	// either AppIsolation), as "namespace/name tier a -> namespace/name
	// tier b on ports", with why the edge carries no traffic when only one
	// side allows it; sorted by caller, then callee, at most
	// MaxStatusPeers. The PeersAgree condition counts them all.
	// +listType=atomic
	// +optional
	Peers []string `json:"peers,omitempty"`

	// KubeAPIServer are the API server endpoints ("address:port") the
	// policies allow egress to, for the tiers with a kubeAPIServer egressTo;
	// unset when there are none.
	// +optional
	KubeAPIServer *AddressesStatus `json:"kubeAPIServer,omitempty"`
}

// AddressesStatus is a set of addresses tierwall follows in the cluster.
type AddressesStatus struct {
	// Count is the number of addresses.
	Count int32 `json:"count"`
	// Addresses are the first addresses, sorted, at most MaxStatusAddresses.
	// +listType=atomic
	// +optional
	Addresses []string `json:"addresses,omitempty"`
}

// MaxStatusAddresses bounds AddressesStatus.Addresses: a cluster of
// thousands of nodes must not make the status that large.
const MaxStatusAddresses = 8

// MaxStatusPeers bounds AppIsolationStatus.Peers: the list is for reading
// in kubectl, and an AppIsolation named by many others must not make the
// status that large.
const MaxStatusPeers = 8

// SelectorStatus is how many pods a named selector of the spec matches.
type SelectorStatus struct {
	// Name is the tier or ingress controller name.
	Name string `json:"name"`
	// Pods is the number of pods the selector matches.
	Pods int32 `json:"pods"`
}

// AppIsolation declares the tiers of an application (an ingress controller
// in front of a frontend in front of a database, say) and who may reach
// them. tierwall renders it into a default-deny NetworkPolicy for the
// governed pods plus least-privilege allow policies, and keeps them in sync.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=appiso,categories=tierwall
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.mode`
// +kubebuilder:printcolumn:name="Tiers",type=integer,JSONPath=`.status.tierCount`
// +kubebuilder:printcolumn:name="Policies",type=integer,JSONPath=`.status.policyCount`
// +kubebuilder:printcolumn:name="Warnings",type=string,JSONPath=`.status.warnings`
// +kubebuilder:printcolumn:name="Status",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 63",message="metadata.name must be at most 63 characters: it is used as a label value on the generated policies",fieldPath=".metadata",reason=FieldValueInvalid
type AppIsolation struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec declares the tiers and who may reach them.
	// +required
	Spec AppIsolationSpec `json:"spec"`

	// Status is what tierwall observed and did.
	// +optional
	Status AppIsolationStatus `json:"status,omitempty"`
}

// AppIsolationList is a list of AppIsolations.
// +kubebuilder:object:root=true
type AppIsolationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the AppIsolations.
	Items []AppIsolation `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(GroupVersion, &AppIsolation{}, &AppIsolationList{})
		return nil
	})
}
