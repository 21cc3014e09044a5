// Package graph draws the tier graph of AppIsolations, as their specs declare
// it: which ingress controllers, tiers and other peers may connect to which
// tier on which ports, where each tier may connect outside the application,
// and DNS. It is pure and its output is deterministic, so a diagram can be
// committed next to the AppIsolation it describes and diffed in review.
//
// Arrows point from the side that opens the connection to the side that
// accepts it, and are labelled with the destination ports: an allowFrom
// entry's own ports, or its tier's. An AppIsolation that isolates one
// direction only says so in its cluster's label; the other direction is
// open, and not drawn. An arrow between tiers of two AppIsolations is drawn
// once, dashed when one side blocks it. The platform endpoints that follow
// the cluster (the Nodes' addresses of a hostNetwork ingress controller,
// the API server's endpoints, NodeLocal DNSCache) are drawn as the spec
// names them: their addresses are the cluster's.
package graph

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/internal/peering"
	"github.com/tierwall/tierwall/pkg/render"
)

// NodeKind says what a node stands for; it decides the node's shape.
type NodeKind int

const (
	// IngressController is an entry of spec.ingressControllers.
	IngressController NodeKind = iota
	// Tier is a tier of an AppIsolation.
	Tier
	// Peer is a source or destination given by selectors or an ipBlock in
	// allowFrom or egressTo.
	Peer
	// DNS is the DNS servers the governed pods may query.
	DNS
	// OtherTier is a tier of another AppIsolation, outside the boxes: the
	// input does not hold that AppIsolation, or it has no such tier.
	OtherTier
)

// Node is a box of the diagram.
type Node struct {
	ID   string
	Kind NodeKind
	// Label is the text of the node, one element per line.
	Label []string
}

// Cluster groups the tiers of one AppIsolation.
type Cluster struct {
	ID string
	// AppIsolation is the AppIsolation whose tiers these are.
	AppIsolation tierwallv1alpha1.AppIsolationReference
	Label        string
	Tiers        []Node
}

// Edge is an allowed connection. From may be a Cluster's ID: every pod the
// AppIsolation governs may open that connection.
type Edge struct {
	From, To string
	// Label lists the destination ports, such as "80/TCP, 443/TCP".
	Label string
	// OneSided, on an edge between tiers of two AppIsolations, says which
	// side blocks it, as "one-sided: not in payments/api's allowFrom";
	// empty when both sides allow it or the input lacks one of them.
	OneSided string
}

// Graph is the tier graph of one or more AppIsolations.
type Graph struct {
	// Clusters, one per AppIsolation, in input order.
	Clusters []Cluster
	// Nodes are the nodes outside the clusters: ingress controllers, then
	// peers, tiers of other AppIsolations and DNS, in order of first use.
	Nodes []Node
	// Edges, per AppIsolation, per tier in spec order: allowFrom, then
	// egressTo; DNS last.
	Edges []Edge
}

// Build returns the graph of apps. It expects specs that render.Render
// accepts: a reference to an unknown tier or ingress controller is left out.
//
// An allowFrom or egressTo entry naming a tier of another AppIsolation is an
// arrow between the two tiers, drawn once however many sides declare it
// (see internal/peering): to or from that tier's node in its AppIsolation's
// box when apps hold it, else a node outside the boxes. When apps hold both
// sides, an edge one of them blocks is marked one-sided (Edge.OneSided);
// with one side only, the other side's verdict is unknown and not drawn.
func Build(apps ...*tierwallv1alpha1.AppIsolation) *Graph {
	return BuildWith(render.Platform{}, apps...)
}

// MaxAddresses is how many addresses a node of the platform lists, at most;
// a last line says how many more there are.
const MaxAddresses = 4

// BuildWith is Build with the addresses platform knows (its AppIsolations
// are not read: apps are the graph's): a hostNetwork ingress controller's
// node lists the Nodes' InternalIPs, the API server's its endpoints, up to
// MaxAddresses each.
func BuildWith(platform render.Platform, apps ...*tierwallv1alpha1.AppIsolation) *Graph {
	nodes := make([]string, 0, len(platform.NodeAddresses))
	for _, ip := range slices.Compact(slices.SortedFunc(slices.Values(platform.NodeAddresses), netip.Addr.Compare)) {
		nodes = append(nodes, ip.String())
	}
	b := builder{g: &Graph{}, ids: map[string]bool{}, nodes: map[string]string{}, edges: map[Edge]bool{},
		tiers: map[peering.Tier]string{}, held: map[tierwallv1alpha1.AppIsolationReference]bool{}}
	// Every tier's ID first: an edge may point to a later AppIsolation's.
	values := make([]tierwallv1alpha1.AppIsolation, 0, len(apps))
	for _, app := range apps {
		values = append(values, *app)
		self := app.Reference()
		b.held[self] = true
		cluster := Cluster{ID: b.id("app_"+app.Name, false), AppIsolation: self, Label: "AppIsolation " + self.String()}
		var notes []string
		if app.Spec.Mode == tierwallv1alpha1.ModeDryRun {
			notes = append(notes, "DryRun")
		}
		switch {
		case !app.Spec.Isolates(tierwallv1alpha1.PolicyTypeEgress):
			notes = append(notes, "Ingress only")
		case !app.Spec.Isolates(tierwallv1alpha1.PolicyTypeIngress):
			notes = append(notes, "Egress only")
		}
		if len(notes) > 0 {
			cluster.Label += " (" + strings.Join(notes, ", ") + ")"
		}
		for _, t := range app.Spec.Tiers {
			id := b.id(app.Name+"_"+t.Name, false)
			b.tiers[peering.Tier{AppIsolation: self, Name: t.Name}] = id
			cluster.Tiers = append(cluster.Tiers, Node{ID: id, Kind: Tier, Label: []string{t.Name}})
		}
		b.g.Clusters = append(b.g.Clusters, cluster)
	}
	between := map[[2]peering.Tier]peering.Edge{}
	for _, e := range peering.Edges(values) {
		between[[2]peering.Tier{e.From, e.To}] = e
	}

	var ingress, others []Node
	for i, app := range apps {
		self := app.Reference()
		for _, t := range app.Spec.Tiers {
			here := peering.Tier{AppIsolation: self, Name: t.Name}
			to := b.tiers[here]
			for _, peer := range t.AllowFrom {
				ports := portsLabel(t.PeerPorts(&peer))
				switch {
				case peer.AppIsolation != nil:
					b.peering(between[[2]peering.Tier{{AppIsolation: *peer.AppIsolation, Name: peer.Tier}, here}], &others)
				case peer.Tier != "":
					if from, ok := b.tiers[peering.Tier{AppIsolation: self, Name: peer.Tier}]; ok {
						b.edge(Edge{From: from, To: to, Label: ports})
					}
				case peer.IngressController != "":
					c := app.Spec.IngressControllerNamed(peer.IngressController)
					if c == nil {
						continue
					}
					n := controllerNode(c)
					if c.HostNetwork {
						n.Label = append(n.Label, addressLines(nodes)...)
					}
					key := fmt.Sprintf("ingress %q %s", n.Label, selectorString(c.PodSelector))
					b.edge(Edge{From: b.node(key, "ingress_"+c.Name, n, &ingress), To: to, Label: ports})
				default:
					n := peerNode(app.Namespace, peer.NamespaceSelector, peer.PodSelector, peer.IPBlock)
					b.edge(Edge{From: b.node(fmt.Sprintf("peer %q", n.Label), "peer", n, &others), To: to, Label: ports})
				}
			}
			for _, e := range t.EgressTo {
				switch {
				case e.AppIsolation != nil:
					b.peering(between[[2]peering.Tier{here, {AppIsolation: *e.AppIsolation, Name: e.Tier}}], &others)
				case e.KubeAPIServer != nil:
					// The addresses and ports are the cluster's, after
					// DNAT: in the status, and in reach with the input's
					// EndpointSlices.
					n := Node{Kind: Peer, Label: append([]string{"Kubernetes API server", "endpoints of " +
						tierwallv1alpha1.KubeAPIServerNamespace + "/" + tierwallv1alpha1.KubeAPIServerService},
						addressLines(platform.KubeAPIServer.Strings())...)}
					b.edge(Edge{From: to, To: b.node("kube-apiserver", "apiserver", n, &others), Label: "the endpoints' ports"})
				default:
					n := peerNode(app.Namespace, e.NamespaceSelector, e.PodSelector, e.IPBlock)
					b.edge(Edge{From: to, To: b.node(fmt.Sprintf("peer %q", n.Label), "peer", n, &others), Label: portsLabel(e.Ports)})
				}
			}
		}
		if namespace, pods, enabled := app.Spec.DNSPeer(); enabled {
			n := dnsNode(namespace, &pods)
			if address, ok := app.Spec.NodeLocalDNSAddress(); ok {
				n.Label = append(n.Label, "NodeLocal DNSCache "+address)
			}
			b.edge(Edge{From: b.g.Clusters[i].ID, To: b.node(fmt.Sprintf("dns %q", n.Label), "dns", n, &others),
				Label: fmt.Sprintf("%d/UDP, %d/TCP", tierwallv1alpha1.DNSPort, tierwallv1alpha1.DNSPort)})
		}
	}
	b.g.Nodes = slices.Concat(ingress, others)
	return b.g
}

type builder struct {
	g *Graph
	// ids are the IDs in use; nodes maps a node's identity to its ID.
	ids   map[string]bool
	nodes map[string]string
	edges map[Edge]bool
	// tiers maps the tiers of apps to their IDs; held are apps.
	tiers map[peering.Tier]string
	held  map[tierwallv1alpha1.AppIsolationReference]bool
}

var notIDChar = regexp.MustCompile(`[^A-Za-z0-9_]`)

// id returns a new ID made of base: base, base_2, base_3... or, numbered,
// base1, base2...
func (b *builder) id(base string, numbered bool) string {
	base = notIDChar.ReplaceAllString(base, "_")
	candidate := func(i int) string {
		switch {
		case numbered:
			return base + strconv.Itoa(i)
		case i == 1:
			return base
		}
		return base + "_" + strconv.Itoa(i)
	}
	i := 1
	for b.ids[candidate(i)] {
		i++
	}
	b.ids[candidate(i)] = true
	return candidate(i)
}

// node returns the ID of the node with identity key, adding n to list under
// a new ID made of base if there is none yet. Peers are numbered.
func (b *builder) node(key, base string, n Node, list *[]Node) string {
	if id, ok := b.nodes[key]; ok {
		return id
	}
	n.ID = b.id(base, n.Kind == Peer)
	b.nodes[key] = n.ID
	*list = append(*list, n)
	return n.ID
}

func (b *builder) edge(e Edge) {
	if !b.edges[e] {
		b.edges[e] = true
		b.g.Edges = append(b.g.Edges, e)
	}
}

// peering draws an edge between tiers of AppIsolations: from and to the
// tiers' nodes, in their boxes when apps hold them, else outside. An edge
// that names no port is to a tier apps do not hold, on the ports it
// accepts from the caller.
func (b *builder) peering(e peering.Edge, others *[]Node) {
	end := func(t peering.Tier) string {
		if id, ok := b.tiers[t]; ok {
			return id
		}
		n := Node{Kind: OtherTier, Label: []string{t.String()}}
		return b.node("tier "+t.String(), t.AppIsolation.Namespace+"_"+t.AppIsolation.Name+"_"+t.Name, n, others)
	}
	label := "the ports it accepts"
	if ports := e.Ports(); len(ports) > 0 {
		label = portsLabel(ports)
	}
	edge := Edge{From: end(e.From), To: end(e.To), Label: label}
	if b.held[e.From.AppIsolation] && b.held[e.To.AppIsolation] {
		edge.OneSided = oneSided(e)
	}
	b.edge(edge)
}

// oneSided says in a few words which side blocks e, for a label; empty
// when both allow it. Both sides are held: a Missing one lacks the tier.
func oneSided(e peering.Edge) string {
	switch {
	case !e.OneSided():
		return ""
	case e.Egress.Verdict == peering.Blocks:
		return "one-sided: not in " + e.From.AppIsolation.String() + "'s egressTo"
	case e.Ingress.Verdict == peering.Blocks:
		return "one-sided: not in " + e.To.AppIsolation.String() + "'s allowFrom"
	case e.Egress.Verdict == peering.Missing:
		return "one-sided: " + e.From.AppIsolation.String() + " has no tier " + e.From.Name
	case e.Ingress.Verdict == peering.Missing:
		return "one-sided: " + e.To.AppIsolation.String() + " has no tier " + e.To.Name
	}
	return "one-sided: no port in common"
}

// addressLines are the lines listing addresses in a node: the first
// MaxAddresses, one per line, and how many more; none when there are none.
func addressLines(addresses []string) []string {
	if len(addresses) <= MaxAddresses {
		return addresses
	}
	return append(slices.Clone(addresses[:MaxAddresses]), fmt.Sprintf("and %d more", len(addresses)-MaxAddresses))
}

// controllerNode is labelled namespace/name, the controller's ipBlocks,
// and where it sends from for a controller with hostNetwork: the graph is of
// the spec, the addresses themselves are in the status.
func controllerNode(c *tierwallv1alpha1.IngressController) Node {
	n := Node{Kind: IngressController, Label: []string{c.Name}}
	if c.Namespace != "" {
		n.Label[0] = c.Namespace + "/" + c.Name
	}
	for _, b := range c.IPBlocks {
		n.Label = append(n.Label, ipBlockLabel(&b))
	}
	if c.HostNetwork {
		n.Label = append(n.Label, "hostNetwork: every Node's InternalIP")
	}
	return n
}

// peerNode is labelled "namespaces: pods", or with the ipBlock.
func peerNode(appNamespace string, ns, pods *metav1.LabelSelector, block *tierwallv1alpha1.IPBlock) Node {
	if block != nil {
		return Node{Kind: Peer, Label: []string{ipBlockLabel(block)}}
	}
	namespaces := appNamespace
	if ns != nil {
		namespaces = namespacesLabel(ns)
	}
	podsLabel := "all pods"
	if pods != nil && !isEmpty(pods) {
		podsLabel = selectorString(pods)
	}
	return Node{Kind: Peer, Label: []string{namespaces + ": " + podsLabel}}
}

// dnsNode is labelled with the DNS pods.
func dnsNode(namespace string, pods *metav1.LabelSelector) Node {
	label := "all pods"
	if !isEmpty(pods) {
		label = selectorString(pods)
	}
	return Node{Kind: DNS, Label: []string{"DNS", namespace + ": " + label}}
}

// namespacesLabel names the namespaces a selector selects: the name when it
// selects one by name.
func namespacesLabel(s *metav1.LabelSelector) string {
	if isEmpty(s) {
		return "all namespaces"
	}
	if name, ok := s.MatchLabels[render.NamespaceNameLabel]; ok && len(s.MatchLabels) == 1 && len(s.MatchExpressions) == 0 {
		return name
	}
	return "namespaces " + selectorString(s)
}

func isEmpty(s *metav1.LabelSelector) bool {
	return len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 0
}

// selectorString writes a selector the way kubectl does: app=web,tier in (a,b).
func selectorString(s *metav1.LabelSelector) string {
	if s == nil {
		return ""
	}
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return "invalid selector"
	}
	return sel.String()
}

func ipBlockLabel(b *tierwallv1alpha1.IPBlock) string {
	if len(b.Except) == 0 {
		return b.CIDR
	}
	return b.CIDR + " except " + strings.Join(b.Except, ", ")
}

// portsLabel writes ports as 80/TCP, http/TCP or 8000-8100/TCP; no ports
// means all ports.
func portsLabel(ports []tierwallv1alpha1.Port) string {
	if len(ports) == 0 {
		return "all ports"
	}
	return peering.PortsString(ports)
}
