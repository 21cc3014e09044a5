package cli

import (
	"bufio"
	"encoding/json"
	"io"
	"iter"

	corev1 "k8s.io/api/core/v1"

	"github.com/tierwall/tierwall/pkg/reach"
)

// flowJSON is a flow as the json output writes it.
type flowJSON struct {
	From string `json:"from"`
	// FromIP is the IP of a source that is an address.
	FromIP string `json:"fromIP,omitempty"`
	To     string `json:"to"`
	// ToIP is the IP of a destination that is an address.
	ToIP     string          `json:"toIP,omitempty"`
	Port     int32           `json:"port"`
	Protocol corev1.Protocol `json:"protocol"`
	Allowed  bool            `json:"allowed"`
	// Why explains a denied flow.
	Why *explanationJSON `json:"why,omitempty"`
}

// writeFlowsJSON writes a JSON array with one flow per line, so that the
// output is valid JSON that also reads, greps and diffs well; it writes as
// it goes, so a large cluster's flows are never held at once. why, when not
// nil, explains each denied flow.
func writeFlowsJSON(out io.Writer, flows iter.Seq[reach.Flow], why func(reach.Flow) *explanationJSON) error {
	w := bufio.NewWriter(out)
	first := true
	for f := range flows {
		j := flowJSON{From: f.From, FromIP: f.FromIP, To: f.To, ToIP: f.ToIP, Port: f.Port, Protocol: f.Protocol, Allowed: f.Allowed}
		if !f.Allowed && why != nil {
			j.Why = why(f)
		}
		line, _ := json.Marshal(j) // cannot fail: strings, numbers, booleans
		if first {
			_, _ = w.WriteString("[\n  ")
			first = false
		} else {
			_, _ = w.WriteString(",\n  ")
		}
		_, _ = w.Write(line)
	}
	if first {
		_, _ = w.WriteString("[]\n")
	} else {
		_, _ = w.WriteString("\n]\n")
	}
	return w.Flush()
}
