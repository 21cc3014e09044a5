package cli

import (
	"bytes"
	"encoding/json"

	corev1 "k8s.io/api/core/v1"

	"github.com/tierwall/tierwall/internal/report"
	"github.com/tierwall/tierwall/pkg/reach"
)

// flowJSON is a flow as the json output writes it.
type flowJSON struct {
	From     string          `json:"from"`
	To       string          `json:"to"`
	Port     int32           `json:"port"`
	Protocol corev1.Protocol `json:"protocol"`
	Allowed  bool            `json:"allowed"`
	// Why explains a denied flow.
	Why *explanationJSON `json:"why,omitempty"`
}

// flowsJSON writes a JSON array with one flow per line, so that the output
// is valid JSON that also reads, greps and diffs well. why, when not nil,
// explains each denied flow.
func flowsJSON(flows []reach.Flow, why func(reach.Flow) *explanationJSON) []byte {
	if len(flows) == 0 {
		return []byte("[]\n")
	}
	var b bytes.Buffer
	b.WriteString("[\n")
	for i, f := range flows {
		j := flowJSON{From: f.From, To: f.To, Port: f.Port, Protocol: f.Protocol, Allowed: f.Allowed}
		if !f.Allowed && why != nil {
			j.Why = why(f)
		}
		line, _ := json.Marshal(j) // cannot fail: strings, numbers, booleans
		b.WriteString("  ")
		b.Write(line)
		if i < len(flows)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]\n")
	return b.Bytes()
}

// flowsList writes the allowed flows, one per line (-o list).
func flowsList(flows []reach.Flow) []byte { return report.FlowsList(flows) }

// FlowsTable writes the matrix of who may reach whom (-o table), as
// report.FlowsTable does.
func FlowsTable(pods []corev1.Pod, flows []reach.Flow) []byte { return report.FlowsTable(pods, flows) }
