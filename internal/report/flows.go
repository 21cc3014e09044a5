package report

import (
	"bytes"
	"cmp"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	corev1 "k8s.io/api/core/v1"

	"github.com/tierwall/tierwall/pkg/reach"
)

// MaxMatrixColumns is the widest matrix FlowsTable draws: about 130
// characters with the pod names. Wider, it lists the allowed flows instead.
const MaxMatrixColumns = 30

// ListAllowed writes the allowed flows, one per line, and how many of all
// flows they are. It reads a stream and keeps only the allowed flows, so
// that the millions of flows of a large cluster are never held at once.
func ListAllowed(flows iter.Seq[reach.Flow]) []byte {
	var b bytes.Buffer
	allowed, total := 0, 0
	w := tabwriter.NewWriter(&b, 0, 0, 3, ' ', 0)
	for f := range flows {
		total++
		if !f.Allowed {
			continue
		}
		if allowed == 0 {
			_, _ = fmt.Fprintln(w, "FROM\tTO\tPORT") // into a bytes.Buffer: cannot fail
		}
		allowed++
		_, _ = fmt.Fprintf(w, "%s\t%s\t%d/%s\n", f.From, f.To, f.Port, f.Protocol)
	}
	_ = w.Flush()
	if allowed > 0 {
		b.WriteByte('\n')
	}
	b.WriteString(summary(allowed, total))
	return b.Bytes()
}

func summary(allowed, total int) string {
	switch {
	case total == 0:
		return "No flows: a flow needs two pods, the destination with a container port.\n"
	case allowed == 0:
		return fmt.Sprintf("No flow is allowed: all %d are denied.\n", total)
	}
	return fmt.Sprintf("%d of %d flows allowed; the others are denied.\n", allowed, total)
}

// column is a destination of the matrix: a pod or an address (ip set), a
// port and a protocol.
type column struct {
	to       string
	ip       string
	port     int32
	protocol corev1.Protocol
}

// FlowsTable writes a matrix of who may reach whom, with a row per pod (as
// a source) and a column per destination pod, port and protocol; or, when
// that is more than MaxMatrixColumns wide, the list of allowed flows. Flows
// from an address (reach.Flow.FromIP) get rows after the pods', and flows to
// an address columns after the pods'; every other flow's source must be
// among pods.
func FlowsTable(pods []corev1.Pod, flows []reach.Flow) []byte {
	return Table(pods, slices.Values(flows))
}

// Table is FlowsTable for a stream of flows, which it reads twice: once to
// count the destinations (stopping as soon as they are too many), then to
// draw the matrix or list the allowed flows. A stream too wide for a
// matrix is never held at once.
func Table(pods []corev1.Pod, seq iter.Seq[reach.Flow]) []byte {
	index := map[column]int{}
	var columns []column
	var addressRows []string
	seenAddress := map[string]bool{}
	for f := range seq {
		if f.FromIP != "" && !seenAddress[f.From] {
			seenAddress[f.From] = true
			addressRows = append(addressRows, f.From)
		}
		c := column{f.To, f.ToIP, f.Port, f.Protocol}
		if _, ok := index[c]; !ok {
			index[c] = 0
			columns = append(columns, c)
			if len(columns) > MaxMatrixColumns {
				return append(fmt.Appendf(nil, "More than %d destination ports, too many for a matrix: the allowed flows follow (-o json has them all).\n\n", MaxMatrixColumns), ListAllowed(seq)...)
			}
		}
	}
	flows := slices.Collect(seq)
	// Pods sorted, then addresses in the order of the flows.
	slices.SortStableFunc(columns, func(a, b column) int {
		if (a.ip == "") != (b.ip == "") {
			return cmp.Compare(a.ip, b.ip) // "" (a pod) first
		}
		if a.ip != "" {
			return 0
		}
		return cmp.Or(ComparePods(a.to, b.to), cmp.Compare(a.port, b.port), cmp.Compare(a.protocol, b.protocol))
	})
	addresses := len(addressRows) > 0
	for i, c := range columns {
		index[c] = i
		addresses = addresses || c.ip != ""
	}
	rows := make([]string, 0, len(pods)+len(addressRows))
	for _, p := range pods {
		rows = append(rows, p.Namespace+"/"+p.Name)
	}
	slices.SortFunc(rows, ComparePods)
	rows = append(rows, addressRows...)
	cells := map[string][]string{}
	for _, r := range rows {
		cells[r] = make([]string, len(columns))
		for i, c := range columns {
			if c.to == r {
				cells[r][i] = "-"
			}
		}
	}
	allowed := 0
	for _, f := range flows {
		mark := "✗"
		if f.Allowed {
			mark, allowed = "✓", allowed+1
		}
		cells[f.From][index[column{f.To, f.ToIP, f.Port, f.Protocol}]] = mark
	}

	var b bytes.Buffer
	if len(columns) == 0 {
		b.WriteString(summary(0, 0))
		return b.Bytes()
	}
	width := len(strconv.Itoa(len(columns)))
	if addresses {
		b.WriteString("Destinations (pod or address:port/protocol):\n")
	} else {
		b.WriteString("Destinations (pod:port/protocol):\n")
	}
	for i, c := range columns {
		fmt.Fprintf(&b, "  %*d  %s:%d/%s%s\n", width, i+1, hostName(c.to), c.port, c.protocol, ipNote(c))
	}
	b.WriteByte('\n')
	label := len("FROM")
	for _, r := range rows {
		label = max(label, len(r))
	}
	b.WriteString(padRight("FROM", label))
	for i := range columns {
		fmt.Fprintf(&b, "  %*d", width, i+1)
	}
	b.WriteByte('\n')
	for _, r := range rows {
		row := padRight(r, label)
		for _, cell := range cells[r] {
			row += "  " + strings.Repeat(" ", width-1) + cmp.Or(cell, " ")
		}
		if addresses {
			// Between two addresses there is no flow: blank cells, which
			// would otherwise end some rows in spaces.
			row = strings.TrimRight(row, " ")
		}
		b.WriteString(row + "\n")
	}
	if addresses {
		b.WriteString("\n✓ allowed  ✗ denied  - same pod or address, blank: no flow between two addresses. ")
	} else {
		b.WriteString("\n✓ allowed  ✗ denied  - same pod. ")
	}
	b.WriteString(summary(allowed, len(flows)))
	return b.Bytes()
}

// hostName brackets an IPv6 address, so that the port after it reads.
func hostName(name string) string {
	if strings.Contains(name, ":") {
		return "[" + name + "]"
	}
	return name
}

// ipNote gives the IP of an address column that has a name of its own.
func ipNote(c column) string {
	if c.ip == "" || c.ip == c.to {
		return ""
	}
	return " (" + c.ip + ")"
}

func padRight(s string, width int) string {
	return s + strings.Repeat(" ", width-len(s))
}

// ComparePods orders "namespace/name" keys by namespace, then name, as
// reach.Flows does.
func ComparePods(a, b string) int {
	an, ap, _ := strings.Cut(a, "/")
	bn, bp, _ := strings.Cut(b, "/")
	return cmp.Or(cmp.Compare(an, bn), cmp.Compare(ap, bp))
}
