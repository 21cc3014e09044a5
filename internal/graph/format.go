package graph

import (
	"fmt"
	"strings"
)

// Mermaid writes g as a Mermaid flowchart, left to right, that GitHub and
// GitLab render in a ```mermaid block.
func (g *Graph) Mermaid() string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	shape := map[NodeKind][2]string{
		IngressController: {"([", "])"},
		Tier:              {"[", "]"},
		Peer:              {"{{", "}}"},
		DNS:               {"{{", "}}"},
	}
	writeNode := func(indent string, n Node) {
		s := shape[n.Kind]
		fmt.Fprintf(&b, "%s%s%s\"%s\"%s\n", indent, n.ID, s[0], mermaidText(n.Label...), s[1])
	}
	nodes := g.Nodes
	for len(nodes) > 0 && nodes[0].Kind == IngressController {
		writeNode("  ", nodes[0])
		nodes = nodes[1:]
	}
	for _, c := range g.Clusters {
		fmt.Fprintf(&b, "  subgraph %s[\"%s\"]\n", c.ID, mermaidText(c.Label))
		for _, n := range c.Tiers {
			writeNode("    ", n)
		}
		b.WriteString("  end\n")
	}
	for _, n := range nodes {
		writeNode("  ", n)
	}
	for _, e := range g.Edges {
		fmt.Fprintf(&b, "  %s -->|\"%s\"| %s\n", e.From, mermaidText(e.Label), e.To)
	}
	return b.String()
}

// mermaidText escapes lines for a quoted Mermaid label and joins them with
// line breaks.
func mermaidText(lines ...string) string {
	escape := strings.NewReplacer(`&`, "#amp;", `"`, "#quot;", `<`, "#lt;", `>`, "#gt;")
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = escape.Replace(l)
	}
	return strings.Join(out, "<br/>")
}

// DOT writes g as a Graphviz digraph, left to right; render it with
// `dot -Tsvg`. An edge from a cluster leaves from the cluster's border.
func (g *Graph) DOT() string {
	var b strings.Builder
	b.WriteString("digraph tierwall {\n")
	b.WriteString("  rankdir=LR;\n  compound=true;\n  fontname=\"Helvetica\";\n")
	b.WriteString("  node [fontname=\"Helvetica\", fontsize=11];\n  edge [fontname=\"Helvetica\", fontsize=10];\n")
	attrs := map[NodeKind]string{
		IngressController: "shape=box, style=rounded",
		Tier:              "shape=box",
		Peer:              "shape=hexagon",
		DNS:               "shape=hexagon",
	}
	writeNode := func(indent string, n Node) {
		fmt.Fprintf(&b, "%s%s [label=%s, %s];\n", indent, dotQuote(n.ID), dotQuote(strings.Join(n.Label, "\n")), attrs[n.Kind])
	}
	nodes := g.Nodes
	for len(nodes) > 0 && nodes[0].Kind == IngressController {
		writeNode("  ", nodes[0])
		nodes = nodes[1:]
	}
	// An edge cannot start at a cluster: it starts at the cluster's last tier
	// (usually the rightmost, so the label lands outside the cluster) and is
	// clipped at the cluster's border (ltail).
	anchor := map[string]string{}
	for _, c := range g.Clusters {
		fmt.Fprintf(&b, "  subgraph %s {\n    label=%s;\n", dotQuote("cluster_"+c.ID), dotQuote(c.Label))
		for _, n := range c.Tiers {
			writeNode("    ", n)
		}
		b.WriteString("  }\n")
		if len(c.Tiers) > 0 {
			anchor[c.ID] = c.Tiers[len(c.Tiers)-1].ID
		}
	}
	for _, n := range nodes {
		writeNode("  ", n)
	}
	for _, e := range g.Edges {
		from, extra := e.From, ""
		if tier, ok := anchor[e.From]; ok {
			from, extra = tier, ", ltail="+dotQuote("cluster_"+e.From)
		}
		fmt.Fprintf(&b, "  %s -> %s [label=%s%s];\n", dotQuote(from), dotQuote(e.To), dotQuote(e.Label), extra)
	}
	b.WriteString("}\n")
	return b.String()
}

// dotQuote returns s as a DOT string: in double quotes, with quotes and
// backslashes escaped and line breaks as \n.
func dotQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// Sentences writes g as one line per edge, such as
// "kube-system/traefik -> tier frontend on 80/TCP", for status fields and
// terminals. An edge from a cluster reads "every governed pod".
func (g *Graph) Sentences() []string {
	names := map[string]string{}
	for _, c := range g.Clusters {
		names[c.ID] = "every governed pod"
		for _, n := range c.Tiers {
			names[n.ID] = "tier " + strings.Join(n.Label, " ")
		}
	}
	for _, n := range g.Nodes {
		names[n.ID] = strings.Join(n.Label, " ")
		if n.Kind == DNS {
			names[n.ID] = n.Label[0] + " (" + strings.Join(n.Label[1:], ", ") + ")"
		}
	}
	out := make([]string, 0, len(g.Edges))
	for _, e := range g.Edges {
		out = append(out, fmt.Sprintf("%s -> %s on %s", names[e.From], names[e.To], e.Label))
	}
	return out
}
