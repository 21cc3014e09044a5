package cli

import (
	"bufio"
	"encoding/json"
	"io"
	"iter"

	corev1 "k8s.io/api/core/v1"

	"github.com/tierwall/tierwall/internal/peering"
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

// edgeJSON is, in the json output, an edge between tiers of AppIsolations:
// an element {"edge": {...}} after the flows, which filters on flows'
// fields (.allowed, .port) leave out.
type edgeJSON struct {
	From tierJSON `json:"from"`
	To   tierJSON `json:"to"`
	// Ports are the ports the edge is declared on, as "9090/TCP, 53/UDP".
	Ports    string `json:"ports,omitempty"`
	OneSided bool   `json:"oneSided"`
	// Problem says which side blocks a one-sided edge, and why.
	Problem string `json:"problem,omitempty"`
}

// tierJSON is one end of an edgeJSON.
type tierJSON struct {
	AppIsolation string `json:"appIsolation"`
	Tier         string `json:"tier"`
}

// writeFlowsJSON writes a JSON array with one flow per line, so that the
// output is valid JSON that also reads, greps and diffs well; it writes as
// it goes, so a large cluster's flows are never held at once. why, when not
// nil, explains each denied flow. The edges between tiers of AppIsolations
// follow the flows, one {"edge": ...} element each.
func writeFlowsJSON(out io.Writer, flows iter.Seq[reach.Flow], why func(reach.Flow) *explanationJSON, edges []peering.Edge) error {
	w := bufio.NewWriter(out)
	first := true
	writeElement := func(line []byte) {
		if first {
			_, _ = w.WriteString("[\n  ")
			first = false
		} else {
			_, _ = w.WriteString(",\n  ")
		}
		_, _ = w.Write(line)
	}
	for f := range flows {
		j := flowJSON{From: f.From, FromIP: f.FromIP, To: f.To, ToIP: f.ToIP, Port: f.Port, Protocol: f.Protocol, Allowed: f.Allowed}
		if !f.Allowed && why != nil {
			j.Why = why(f)
		}
		line, _ := json.Marshal(j) // cannot fail: strings, numbers, booleans
		writeElement(line)
	}
	for _, e := range edges {
		line, _ := json.Marshal(struct {
			Edge edgeJSON `json:"edge"`
		}{edgeJSON{
			From:     tierJSON{e.From.AppIsolation.String(), e.From.Name},
			To:       tierJSON{e.To.AppIsolation.String(), e.To.Name},
			Ports:    peering.PortsString(e.Ports()),
			OneSided: e.OneSided(),
			Problem:  e.Problem(),
		}}) // cannot fail: strings and booleans
		writeElement(line)
	}
	if first {
		_, _ = w.WriteString("[]\n")
	} else {
		_, _ = w.WriteString("\n]\n")
	}
	return w.Flush()
}
