package matchers

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/onsi/gomega/types"
	corev1 "k8s.io/api/core/v1"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/internal/report"
	"github.com/tierwall/tierwall/pkg/reach"
	"github.com/tierwall/tierwall/pkg/render"
)

// Bounds of IsolateExactly's failure message.
const (
	// maxListed is how many mismatching flows the message lists.
	maxListed = 20
	// maxExplained is how many of them it explains.
	maxExplained = 3
)

// AllowFlow succeeds when the *reach.Evaluator it is given allows a
// connection from one endpoint to another on port and protocol (TCP when
// omitted). An endpoint is a pod of the evaluator's State as
// "namespace/name", an IP address (an endpoint outside the cluster, as
// reach.IPEndpoint), or the name of one of the State's Addresses (such as
// kube-apiserver). A pod the State does not hold is an error, not a
// failed match, so that a typo cannot pass a NotTo.
//
// Its failure messages, for To and NotTo alike, give the explanation that
// `tierwall reach --explain` prints for the connection (the deciding
// policies and rules, or the nearest misses) and the source's row of the
// matrix `tierwall reach` prints.
func AllowFlow(from, to string, port int32, protocol ...corev1.Protocol) types.GomegaMatcher {
	return &allowFlow{from: from, to: to, port: port, protocols: protocol}
}

type allowFlow struct {
	from, to  string
	port      int32
	protocols []corev1.Protocol

	// Set by Match, for the messages.
	e *reach.Evaluator
	q report.Query
	x reach.Explanation
}

func (m *allowFlow) Match(actual any) (bool, error) {
	e, err := evaluator(actual, "AllowFlow")
	if err != nil {
		return false, err
	}
	if m.port < 1 || m.port > 65535 {
		return false, fmt.Errorf("AllowFlow: port %d is not from 1 to 65535", m.port)
	}
	protocol := corev1.ProtocolTCP
	switch len(m.protocols) {
	case 0:
	case 1:
		protocol = m.protocols[0]
	default:
		return false, fmt.Errorf("AllowFlow: give at most one protocol, not %v", m.protocols)
	}
	if !slices.Contains([]corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}, protocol) {
		return false, fmt.Errorf("AllowFlow: protocol %q is not TCP, UDP or SCTP", protocol)
	}
	m.e, m.q = e, report.Query{Port: m.port, Protocol: protocol}
	if m.q.From, m.q.FromName, err = endpoint(e, m.from); err != nil {
		return false, fmt.Errorf("AllowFlow: source: %w", err)
	}
	if m.q.To, m.q.ToName, err = endpoint(e, m.to); err != nil {
		return false, fmt.Errorf("AllowFlow: destination: %w", err)
	}
	m.x = e.Explain(m.q.From, m.q.To, m.q.Port, m.q.Protocol)
	return m.x.Verdict.Allowed, nil
}

func (m *allowFlow) FailureMessage(any) string { return m.message("allowed", "denied") }

func (m *allowFlow) NegatedFailureMessage(any) string { return m.message("denied", "allowed") }

func (m *allowFlow) message(want, got string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Expected the connection %s -> %s:%d/%s to be %s, but it is %s.\n\n", m.q.FromName, m.q.ToName, m.q.Port, m.q.Protocol, want, got)
	b.WriteString("Why (tierwall reach --explain):\n")
	b.Write(report.ExplainText(m.q, m.x, origins(m.e)))
	from, to := m.q.From.Pod, m.q.To.Pod
	switch {
	case from != nil:
		dst := ""
		if to != nil {
			dst = key(to)
		}
		flows := flowsWhere(m.e, func(f reach.Flow) bool { return f.From == key(from) })
		if columns(flows) > report.MaxMatrixColumns && dst != "" {
			flows = slices.DeleteFunc(flows, func(f reach.Flow) bool { return f.To != dst })
		}
		fmt.Fprintf(&b, "\nFlows from %s (tierwall reach):\n", key(from))
		b.Write(report.FlowsTable([]corev1.Pod{*from}, flows))
	case to != nil:
		flows := flowsWhere(m.e, func(f reach.Flow) bool { return f.To == key(to) })
		fmt.Fprintf(&b, "\nFlows into %s (tierwall reach):\n", key(to))
		b.Write(report.FlowsTable(sources(m.e, flows), flows))
	}
	return b.String()
}

// IsolateExactly succeeds when the *reach.Evaluator it is given isolates
// the pods app governs exactly as app declares: every flow into a governed
// pod (pod to pod, on each container port of the destination, as
// reach.Evaluator.Flows enumerates them) is allowed by the destination's
// ingress exactly when app declares it, and every flow out of a governed pod
// is allowed by the source's egress exactly when app declares it.
//
// Each side is compared on its own: another AppIsolation's isolation of the
// far side does not count against app, but any policy that widens what the
// governed pods may send or receive (a hand-written one, or another
// AppIsolation's selecting the same pods) fails the match, as does an
// AppIsolation in DryRun (nothing isolates its pods). What app declares is
// read from its spec, not from the policies tierwall renders; the package
// documentation says how. An app that governs no pod of the State, or whose
// spec cannot be read, is an error.
//
// The failure message lists the mismatching flows, each "allowed, not
// declared" or "declared, denied", explains the first few as `tierwall
// reach --explain` does, and prints the rows of the matrix involved.
//
// An AppIsolation that follows the cluster (an ingress controller with
// hostNetwork, egress to the API server, tiers of other AppIsolations)
// declares what it declares on a platform: give the one its policies were
// rendered for with OnPlatform; without it, none of these is known.
func IsolateExactly(app *tierwallv1alpha1.AppIsolation, opts ...Option) types.GomegaMatcher {
	m := &isolateExactly{app: app}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Option tunes IsolateExactly.
type Option func(*isolateExactly)

// OnPlatform gives IsolateExactly the cluster's addresses the AppIsolation
// follows, as they were given to render.Render: a hostNetwork ingress
// controller is declared to send from the Node addresses of p, a tier with
// egressTo kubeAPIServer to reach its API server endpoints, and a peer
// naming another AppIsolation's tier to be that tier's pods as p's
// AppIsolations declare it.
func OnPlatform(p render.Platform) Option {
	return func(m *isolateExactly) { m.platform = p }
}

type isolateExactly struct {
	app      *tierwallv1alpha1.AppIsolation
	platform render.Platform

	// Set by Match, for the messages.
	e          *reach.Evaluator
	name       string
	governed   []*corev1.Pod
	checked    int
	mismatches []mismatch
}

// mismatch is one side of a flow that does not do what the app declares.
type mismatch struct {
	flow    reach.Flow
	ingress bool
	// allowed is what the side does; the app declares the opposite.
	allowed bool
}

func (m *isolateExactly) Match(actual any) (bool, error) {
	e, err := evaluator(actual, "IsolateExactly")
	if err != nil {
		return false, err
	}
	if m.app == nil {
		return false, fmt.Errorf("IsolateExactly: the AppIsolation is nil")
	}
	m.e, m.name = e, m.app.Namespace+"/"+m.app.Name
	in, err := newIntent(m.app, e.LabelsOfNamespace, m.platform)
	if err != nil {
		return false, fmt.Errorf("IsolateExactly: cannot read AppIsolation %s: %w", m.name, err)
	}
	pods := map[string]*corev1.Pod{}
	m.governed, m.checked, m.mismatches = nil, 0, nil
	for _, p := range e.Pods() {
		pods[key(p)] = p
		if in.governs(p) {
			m.governed = append(m.governed, p)
		}
	}
	if len(m.governed) == 0 {
		return false, fmt.Errorf("IsolateExactly: AppIsolation %s governs no pod of the evaluator's %d: nothing to check (is its podSelector right, are its pods in the State?)", m.name, len(pods))
	}
	for f := range e.Flows() {
		if f.FromIP != "" || f.ToIP != "" {
			continue // an address: what the app declares is about its pods' peers
		}
		src, dst := pods[f.From], pods[f.To]
		fromGoverned, toGoverned := in.governs(src), in.governs(dst)
		if !fromGoverned && !toGoverned {
			continue
		}
		m.checked++
		v := e.Check(reach.PodEndpoint(src), reach.PodEndpoint(dst), f.Port, f.Protocol)
		if fromGoverned && in.isolatesEgress {
			allowed := !v.EgressIsolated || len(v.EgressAllowedBy) > 0
			if allowed != in.egress(src, dst, f.Port, f.Protocol) {
				m.mismatches = append(m.mismatches, mismatch{flow: f, allowed: allowed})
			}
		}
		if toGoverned && in.isolatesIngress {
			allowed := !v.IngressIsolated || len(v.IngressAllowedBy) > 0
			if allowed != in.ingress(src, dst, f.Port, f.Protocol) {
				m.mismatches = append(m.mismatches, mismatch{flow: f, ingress: true, allowed: allowed})
			}
		}
	}
	return len(m.mismatches) == 0, nil
}

func (m *isolateExactly) FailureMessage(any) string {
	var b strings.Builder
	var differ []reach.Flow
	for _, mm := range m.mismatches {
		if !slices.Contains(differ, mm.flow) {
			differ = append(differ, mm.flow)
		}
	}
	fmt.Fprintf(&b, "Expected the policies to isolate AppIsolation %s exactly as declared, but %d of the %d flows to or from its %s differ:\n",
		m.name, len(differ), m.checked, plural(len(m.governed), "governed pod"))
	var listed []reach.Flow
	for i, mm := range m.mismatches {
		if i == maxListed {
			fmt.Fprintf(&b, "  ... and %d more\n", len(m.mismatches)-i)
			break
		}
		f := mm.flow
		side := "egress of " + f.From
		if mm.ingress {
			side = "ingress of " + f.To
		}
		verdict := "declared, denied"
		if mm.allowed {
			verdict = "allowed, not declared"
		}
		fmt.Fprintf(&b, "  %s -> %s:%d/%s  %s: %s\n", f.From, f.To, f.Port, f.Protocol, side, verdict)
		if !slices.Contains(listed, f) {
			listed = append(listed, f)
		}
	}
	o := origins(m.e)
	for i, f := range differ {
		if i == maxExplained {
			fmt.Fprintf(&b, "\n(%d more flows not explained: tierwall reach --explain tells about each.)\n", len(differ)-i)
			break
		}
		from, _ := m.e.Pod(splitKey(f.From))
		to, _ := m.e.Pod(splitKey(f.To))
		q := report.Query{From: reach.PodEndpoint(from), To: reach.PodEndpoint(to), FromName: f.From, ToName: f.To, Port: f.Port, Protocol: f.Protocol}
		b.WriteString("\nWhy (tierwall reach --explain):\n")
		b.Write(report.ExplainText(q, m.e.Explain(q.From, q.To, q.Port, q.Protocol), o))
	}
	froms, tos := map[string]bool{}, map[string]bool{}
	for _, f := range listed {
		froms[f.From], tos[f.To] = true, true
	}
	flows := flowsWhere(m.e, func(f reach.Flow) bool { return froms[f.From] && tos[f.To] })
	b.WriteString("\nThe rows of the matrix involved (tierwall reach):\n")
	b.Write(report.FlowsTable(sources(m.e, flows), flows))
	return b.String()
}

func (m *isolateExactly) NegatedFailureMessage(any) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Expected the policies not to isolate AppIsolation %s exactly as declared, but all %d flows to or from its %s are as declared.\n",
		m.name, m.checked, plural(len(m.governed), "governed pod"))
	governed := map[string]bool{}
	for _, p := range m.governed {
		governed[key(p)] = true
	}
	flows := flowsWhere(m.e, func(f reach.Flow) bool { return governed[f.From] })
	b.WriteString("\nThe rows of the governed pods (tierwall reach):\n")
	b.Write(report.FlowsTable(sources(m.e, flows), flows))
	return b.String()
}

// evaluator returns actual as an evaluator.
func evaluator(actual any, matcher string) (*reach.Evaluator, error) {
	e, ok := actual.(*reach.Evaluator)
	if !ok || e == nil {
		return nil, fmt.Errorf("%s expects a non-nil *reach.Evaluator, not %T", matcher, actual)
	}
	return e, nil
}

// endpoint reads a pod of e ("namespace/name"), an IP address, or the name
// of one of e's addresses.
func endpoint(e *reach.Evaluator, s string) (reach.Endpoint, string, error) {
	if ip, err := netip.ParseAddr(s); err == nil {
		return reach.IPEndpoint(s), ip.String(), nil
	}
	for _, a := range e.Addresses() {
		if a.Name == s {
			return reach.IPEndpoint(a.IP), s, nil
		}
	}
	namespace, name := splitKey(s)
	if namespace == "" || name == "" {
		return reach.Endpoint{}, "", fmt.Errorf("%q is neither a pod as namespace/name nor an IP address", s)
	}
	p, ok := e.Pod(namespace, name)
	if !ok {
		return reach.Endpoint{}, "", fmt.Errorf("no pod %s in the evaluator's State", s)
	}
	return reach.PodEndpoint(p), s, nil
}

// splitKey cuts "namespace/name".
func splitKey(s string) (namespace, name string) {
	namespace, name, _ = strings.Cut(s, "/")
	return namespace, name
}

func key(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

// origins names the AppIsolation and tier of e's generated policies.
func origins(e *reach.Evaluator) report.Origins {
	o := report.Origins{}
	for _, p := range e.Policies() {
		o.Add(p)
	}
	return o
}

// flowsWhere returns e's flows that keep accepts.
func flowsWhere(e *reach.Evaluator, keep func(reach.Flow) bool) []reach.Flow {
	var out []reach.Flow
	for f := range e.Flows() {
		if keep(f) {
			out = append(out, f)
		}
	}
	return out
}

// sources returns the pods flows come from, the rows of their matrix (the
// addresses' rows come with their flows).
func sources(e *reach.Evaluator, flows []reach.Flow) []corev1.Pod {
	var out []corev1.Pod
	seen := map[string]bool{}
	for _, f := range flows {
		if f.FromIP == "" && !seen[f.From] {
			seen[f.From] = true
			p, _ := e.Pod(splitKey(f.From))
			out = append(out, *p)
		}
	}
	return out
}

// columns counts the destinations (pod, port, protocol) of flows.
func columns(flows []reach.Flow) int {
	seen := map[reach.Flow]bool{}
	for _, f := range flows {
		seen[reach.Flow{To: f.To, Port: f.Port, Protocol: f.Protocol}] = true
	}
	return len(seen)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
