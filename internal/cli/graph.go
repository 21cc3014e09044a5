package cli

import (
	"io"

	"github.com/spf13/cobra"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/internal/evalstate"
	"github.com/tierwall/tierwall/internal/graph"
	"github.com/tierwall/tierwall/internal/input"
)

// Output formats of graph.
const (
	outputMermaid = "mermaid"
	outputDOT     = "dot"
)

func newGraphCommand(s *streams) *cobra.Command {
	var in inputFlags
	var output string
	cmd := &cobra.Command{
		Use:   "graph -f FILE [-o mermaid|dot]",
		Short: "Draw the tier graph of AppIsolations as Mermaid or Graphviz DOT",
		Long: `Draw the tier graph that AppIsolations declare: ingress controllers, tiers,
other peers, egress destinations and DNS, with an arrow for each allowed
connection (from the side that opens it), labelled with the destination ports.
The tiers of an AppIsolation are grouped in a box; the arrow to DNS leaves the
box, because every pod the AppIsolation governs may query DNS.

An allowFrom or egressTo entry naming a tier of another AppIsolation is one
arrow between the two tiers, however many sides declare it: into that tier's
box when the input holds its AppIsolation, else to a node outside the boxes.
With both AppIsolations in the input, an arrow one side blocks is dashed and
says which side: each AppIsolation only opens its own half. The platform
endpoints that follow the cluster are drawn as the spec names them: a
hostNetwork ingress controller (every Node's InternalIP), the Kubernetes API
server (the endpoints of default/kubernetes) and NodeLocal DNSCache.

The graph shows the spec, not the cluster: use reach to see which pods it
allows. The output is deterministic, so it can be committed and diffed. The
input may also hold the Nodes and the EndpointSlices of default/kubernetes, as
render reads them: the hostNetwork controller's and the API server's nodes then
list their addresses (the first few, and how many more).

Output formats (-o):
  mermaid  a Mermaid flowchart; put it in a ` + "```mermaid" + ` block of a
           Markdown file and GitHub or GitLab draw it.
  dot      a Graphviz digraph; draw it with dot -Tsvg.`,
		Example: `  # The WordPress sample, for a README
  tierwall graph -f config/samples/tierwall_v1alpha1_appisolation.yaml

  # Two AppIsolations in two namespaces, and the edge between them
  tierwall graph -f config/samples/tierwall_v1alpha1_appisolation_shop.yaml

  # As an SVG image, with Graphviz
  tierwall graph -f app.yaml -o dot | dot -Tsvg > app.svg`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := in.checkUsage(); err != nil {
				return err
			}
			if err := oneOf("output", output, outputMermaid, outputDOT); err != nil {
				return err
			}
			objs, err := in.read(cmd, s, input.KindAppIsolation, input.KindNode, input.KindEndpointSlice)
			if err != nil {
				return fail(err)
			}
			// Rendering checks the spec: a graph of a spec that does not
			// render would show a promise the operator cannot keep.
			rendered, err := evalstate.RenderAll(s.notes(), objs)
			if err != nil {
				return fail(err)
			}
			apps := make([]*tierwallv1alpha1.AppIsolation, 0, len(rendered))
			for _, r := range rendered {
				apps = append(apps, r.App)
			}
			g := graph.BuildWith(evalstate.Platform(objs), apps...)
			text := g.Mermaid()
			if output == outputDOT {
				text = g.DOT()
			}
			_, err = io.WriteString(s.out, text)
			return err
		},
	}
	in.add(cmd, "AppIsolations to draw; Nodes and EndpointSlices for their addresses")
	cmd.Flags().StringVarP(&output, "output", "o", outputMermaid, "Output format: mermaid or dot.")
	return cmd
}
