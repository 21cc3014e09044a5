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
		OtherTier:         {"[", "]"},
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
		arrow, label := "-->", []string{e.Label}
		if e.OneSided != "" {
			arrow, label = "-.->", append(label, e.OneSided)
		}
		fmt.Fprintf(&b, "  %s %s|\"%s\"| %s\n", e.From, arrow, mermaidText(label...), e.To)
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
		OtherTier:         "shape=box",
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
		from, label, extra := e.From, e.Label, ""
		if tier, ok := anchor[e.From]; ok {
			from, extra = tier, ", ltail="+dotQuote("cluster_"+e.From)
		}
		if e.OneSided != "" {
			label, extra = label+"\n"+e.OneSided, extra+", style=dashed"
		}
		fmt.Fprintf(&b, "  %s -> %s [label=%s%s];\n", dotQuote(from), dotQuote(e.To), dotQuote(label), extra)
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
// terminals. An edge from a cluster reads "every governed pod"; a node of
// several lines reads "first (others)"; the tiers at the ends of an edge
// between AppIsolations are named with their AppIsolation, and a one-sided
// edge says so in parentheses.
func (g *Graph) Sentences() []string {
	names := map[string]string{}
	// app is the AppIsolation of each tier in a cluster.
	app := map[string]string{}
	for _, c := range g.Clusters {
		names[c.ID] = "every governed pod"
		for _, n := range c.Tiers {
			names[n.ID] = "tier " + strings.Join(n.Label, " ")
			app[n.ID] = c.AppIsolation.String()
		}
	}
	others := map[string]bool{}
	for _, n := range g.Nodes {
		names[n.ID] = n.Label[0]
		if len(n.Label) > 1 {
			names[n.ID] += " (" + strings.Join(n.Label[1:], ", ") + ")"
		}
		others[n.ID] = n.Kind == OtherTier
	}
	name := func(id, other string) string {
		if a, ok := app[id]; ok && (others[other] || app[other] != "" && app[other] != a) {
			return a + " " + names[id]
		}
		return names[id]
	}
	out := make([]string, 0, len(g.Edges))
	for _, e := range g.Edges {
		s := fmt.Sprintf("%s -> %s on %s", name(e.From, e.To), name(e.To, e.From), e.Label)
		if e.OneSided != "" {
			s += " (" + e.OneSided + ")"
		}
		out = append(out, s)
	}
	return out
}
