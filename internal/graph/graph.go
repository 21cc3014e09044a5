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
// open, and not drawn.
package graph

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
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
	ID    string
	Label string
	Tiers []Node
}

// Edge is an allowed connection. From may be a Cluster's ID: every pod the
// AppIsolation governs may open that connection.
type Edge struct {
	From, To string
	// Label lists the destination ports, such as "80/TCP, 443/TCP".
	Label string
}

// Graph is the tier graph of one or more AppIsolations.
type Graph struct {
	// Clusters, one per AppIsolation, in input order.
	Clusters []Cluster
	// Nodes are the nodes outside the clusters: ingress controllers, then
	// peers and DNS, in order of first use.
	Nodes []Node
	// Edges, per AppIsolation, per tier in spec order: allowFrom, then
	// egressTo; DNS last.
	Edges []Edge
}

// Build returns the graph of apps. It expects specs that render.Render
// accepts: a reference to an unknown tier or ingress controller is left out.
func Build(apps ...*tierwallv1alpha1.AppIsolation) *Graph {
	b := builder{g: &Graph{}, ids: map[string]bool{}, nodes: map[string]string{}, edges: map[Edge]bool{}}
	var ingress, others []Node
	for _, app := range apps {
		cluster := Cluster{ID: b.id("app_"+app.Name, false), Label: "AppIsolation " + app.Namespace + "/" + app.Name}
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
		tierIDs := map[string]string{}
		for _, t := range app.Spec.Tiers {
			tierIDs[t.Name] = b.id(app.Name+"_"+t.Name, false)
			cluster.Tiers = append(cluster.Tiers, Node{ID: tierIDs[t.Name], Kind: Tier, Label: []string{t.Name}})
		}
		b.g.Clusters = append(b.g.Clusters, cluster)

		for _, t := range app.Spec.Tiers {
			to := tierIDs[t.Name]
			for _, peer := range t.AllowFrom {
				ports := portsLabel(t.PeerPorts(&peer))
				switch {
				case peer.Tier != "":
					if from, ok := tierIDs[peer.Tier]; ok {
						b.edge(from, to, ports)
					}
				case peer.IngressController != "":
					c := app.Spec.IngressControllerNamed(peer.IngressController)
					if c == nil {
						continue
					}
					n := controllerNode(c)
					key := fmt.Sprintf("ingress %q %s", n.Label, selectorString(c.PodSelector))
					b.edge(b.node(key, "ingress_"+c.Name, n, &ingress), to, ports)
				default:
					n := peerNode(app.Namespace, peer.NamespaceSelector, peer.PodSelector, peer.IPBlock)
					b.edge(b.node(fmt.Sprintf("peer %q", n.Label), "peer", n, &others), to, ports)
				}
			}
			for _, e := range t.EgressTo {
				if e.KubeAPIServer != nil {
					// The addresses and ports are the cluster's: in the status.
					n := Node{Kind: Peer, Label: []string{"the API server (endpoints of " +
						tierwallv1alpha1.KubeAPIServerNamespace + "/" + tierwallv1alpha1.KubeAPIServerService + ")"}}
					b.edge(to, b.node("kube-apiserver", "apiserver", n, &others), "its ports")
					continue
				}
				n := peerNode(app.Namespace, e.NamespaceSelector, e.PodSelector, e.IPBlock)
				b.edge(to, b.node(fmt.Sprintf("peer %q", n.Label), "peer", n, &others), portsLabel(e.Ports))
			}
		}
		if namespace, pods, enabled := app.Spec.DNSPeer(); enabled {
			n := dnsNode(namespace, &pods)
			if address, ok := app.Spec.NodeLocalDNSAddress(); ok {
				n.Label = append(n.Label, "NodeLocal DNSCache "+address)
			}
			b.edge(cluster.ID, b.node(fmt.Sprintf("dns %q", n.Label), "dns", n, &others),
				fmt.Sprintf("%d/UDP, %d/TCP", tierwallv1alpha1.DNSPort, tierwallv1alpha1.DNSPort))
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

func (b *builder) edge(from, to, label string) {
	e := Edge{From: from, To: to, Label: label}
	if !b.edges[e] {
		b.edges[e] = true
		b.g.Edges = append(b.g.Edges, e)
	}
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
		n.Label = append(n.Label, "from the Nodes' InternalIPs")
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
	out := make([]string, 0, len(ports))
	for _, p := range ports {
		s := p.Port.String()
		if p.EndPort != nil {
			s += "-" + strconv.Itoa(int(*p.EndPort))
		}
		out = append(out, s+"/"+string(p.EffectiveProtocol()))
	}
	return strings.Join(out, ", ")
}
