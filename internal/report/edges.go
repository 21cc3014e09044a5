package report

import (
	"bytes"

	"github.com/tierwall/tierwall/internal/peering"
)

// Edges writes the edges between tiers of AppIsolations, one per line after
// a blank line and a heading, each with its ports and, when one side blocks
// it, which and why; nothing when there are none, so that it follows the
// matrix or the list only when the input has such edges.
func Edges(edges []peering.Edge) []byte {
	if len(edges) == 0 {
		return nil
	}
	var b bytes.Buffer
	b.WriteString("\nEdges between tiers of AppIsolations:\n")
	for _, e := range edges {
		b.WriteString("  " + e.String() + "\n")
	}
	return b.Bytes()
}
