// Package peering finds the edges between tiers of different AppIsolations
// (an allowFrom or egressTo entry with appIsolation) and says, for each,
// whether both sides allow it. tierwall never writes another namespace, so
// such an edge carries traffic only when the caller's egress and the
// callee's ingress both allow it; an edge only one side allows is a
// mistake both sides are told about. It is pure: the operator's status,
// tierwall graph and tierwall reach share it.
package peering

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/intstr"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
)

// Tier is one end of an edge: a tier of an AppIsolation.
type Tier struct {
	// AppIsolation is the AppIsolation.
	AppIsolation tierwallv1alpha1.AppIsolationReference
	// Name is the tier's name.
	Name string
}

// String is the tier as "namespace/app tier name".
func (t Tier) String() string { return t.AppIsolation.String() + " tier " + t.Name }

func compareTiers(a, b Tier) int {
	return cmp.Or(cmp.Compare(a.AppIsolation.Namespace, b.AppIsolation.Namespace),
		cmp.Compare(a.AppIsolation.Name, b.AppIsolation.Name), cmp.Compare(a.Name, b.Name))
}

// Verdict is what one side of an edge says of it.
type Verdict int

const (
	// Allows says the side declares the edge, or does not isolate that
	// direction.
	Allows Verdict = iota
	// Blocks says the side isolates that direction and does not declare
	// the edge.
	Blocks
	// Missing says the side's AppIsolation, or its tier, does not exist.
	Missing
)

// Side is one AppIsolation's view of an edge.
type Side struct {
	Verdict Verdict
	// Ports the side allows the edge on, when it declares it; nil when it
	// does not isolate the direction (every port) or does not allow it.
	Ports []tierwallv1alpha1.Port
	// Why says, in words, why the side does not allow the edge; empty
	// when it does.
	Why string
}

// Edge is a connection from a tier of one AppIsolation to a tier of
// another that at least one of them declares.
type Edge struct {
	// From opens the connection, To accepts it.
	From, To Tier
	// Egress is From's side: its egressTo. Ingress is To's: its allowFrom.
	Egress, Ingress Side
}

// OneSided tells whether the edge carries no traffic although a side
// declares it: a side blocks it or is missing, or the sides allow no
// common port.
func (e Edge) OneSided() bool { return e.Problem() != "" }

// Problem says why the edge carries no traffic, naming the side at fault;
// empty when both sides allow it.
func (e Edge) Problem() string {
	switch {
	case e.Egress.Verdict != Allows:
		return e.Egress.Why
	case e.Ingress.Verdict != Allows:
		return e.Ingress.Why
	case e.Egress.Ports != nil && e.Ingress.Ports != nil && !overlap(e.Egress.Ports, e.Ingress.Ports):
		return fmt.Sprintf("%s may connect on %s, %s accepts it on %s: no port in common",
			e.From.AppIsolation, PortsString(e.Egress.Ports), e.To.AppIsolation, PortsString(e.Ingress.Ports))
	}
	return ""
}

// String is the edge as "from -> to", with ports and what is wrong with it.
func (e Edge) String() string {
	s := e.From.String() + " -> " + e.To.String()
	if ports := e.Ports(); len(ports) > 0 {
		s += " on " + PortsString(ports)
	}
	if p := e.Problem(); p != "" {
		s += ": one-sided, " + p
	}
	return s
}

// Ports are the ports the edge is declared on: the callee's when it
// declares it, else the caller's.
func (e Edge) Ports() []tierwallv1alpha1.Port {
	if e.Ingress.Ports != nil {
		return e.Ingress.Ports
	}
	return e.Egress.Ports
}

// Edges returns every edge that an AppIsolation of apps declares with a
// tier of an AppIsolation named by reference (itself included), each once,
// sorted by caller, then callee, with both sides' verdicts. An AppIsolation
// that apps does not hold is Missing: pass every AppIsolation the edges
// name to tell a missing one from an unread one.
func Edges(apps []tierwallv1alpha1.AppIsolation) []Edge {
	byRef := map[tierwallv1alpha1.AppIsolationReference]*tierwallv1alpha1.AppIsolation{}
	for i := range apps {
		byRef[apps[i].Reference()] = &apps[i]
	}
	type key struct{ from, to Tier }
	seen := map[key]bool{}
	var out []Edge
	add := func(from, to Tier) {
		if !seen[key{from, to}] {
			seen[key{from, to}] = true
			out = append(out, Edge{From: from, To: to})
		}
	}
	for i := range apps {
		self := apps[i].Reference()
		for _, t := range apps[i].Spec.Tiers {
			for _, p := range t.AllowFrom {
				if p.AppIsolation != nil {
					add(Tier{*p.AppIsolation, p.Tier}, Tier{self, t.Name})
				}
			}
			for _, e := range t.EgressTo {
				if e.AppIsolation != nil {
					add(Tier{self, t.Name}, Tier{*e.AppIsolation, e.Tier})
				}
			}
		}
	}
	for i := range out {
		out[i].Egress = egressSide(byRef, out[i].From, out[i].To)
		out[i].Ingress = ingressSide(byRef, out[i].From, out[i].To)
	}
	slices.SortFunc(out, func(a, b Edge) int {
		return cmp.Or(compareTiers(a.From, b.From), compareTiers(a.To, b.To))
	})
	return out
}

// Of returns the edges that involve app.
func Of(edges []Edge, app tierwallv1alpha1.AppIsolationReference) []Edge {
	var out []Edge
	for _, e := range edges {
		if e.From.AppIsolation == app || e.To.AppIsolation == app {
			out = append(out, e)
		}
	}
	return out
}

// lookup returns the tier t, or a Missing side saying what does not exist.
func lookup(byRef map[tierwallv1alpha1.AppIsolationReference]*tierwallv1alpha1.AppIsolation, t Tier) (*tierwallv1alpha1.AppIsolation, *tierwallv1alpha1.Tier, *Side) {
	app := byRef[t.AppIsolation]
	if app == nil {
		return nil, nil, &Side{Verdict: Missing, Why: fmt.Sprintf("AppIsolation %s does not exist", t.AppIsolation)}
	}
	tier := app.Spec.TierNamed(t.Name)
	if tier == nil {
		return nil, nil, &Side{Verdict: Missing, Why: fmt.Sprintf("AppIsolation %s has no tier %s", t.AppIsolation, t.Name)}
	}
	return app, tier, nil
}

// egressSide is the caller's view: does from's egressTo name to?
func egressSide(byRef map[tierwallv1alpha1.AppIsolationReference]*tierwallv1alpha1.AppIsolation, from, to Tier) Side {
	app, tier, missing := lookup(byRef, from)
	if missing != nil {
		return *missing
	}
	if !app.Spec.Isolates(tierwallv1alpha1.PolicyTypeEgress) {
		return Side{Verdict: Allows}
	}
	var ports []tierwallv1alpha1.Port
	found := false
	for _, e := range tier.EgressTo {
		if e.AppIsolation == nil || *e.AppIsolation != to.AppIsolation || e.Tier != to.Name {
			continue
		}
		found = true
		entry := e.Ports
		if len(entry) == 0 {
			// The renderer's default: what the callee accepts, when known.
			if _, dest, missing := lookup(byRef, to); missing == nil {
				entry = dest.EgressPorts(from.AppIsolation, from.Name)
			}
		}
		ports = appendPorts(ports, entry...)
	}
	if !found {
		return Side{Verdict: Blocks, Why: fmt.Sprintf("%s's egressTo does not name %s", from, to)}
	}
	return Side{Verdict: Allows, Ports: ports}
}

// ingressSide is the callee's view: does to's allowFrom name from?
func ingressSide(byRef map[tierwallv1alpha1.AppIsolationReference]*tierwallv1alpha1.AppIsolation, from, to Tier) Side {
	app, tier, missing := lookup(byRef, to)
	if missing != nil {
		return *missing
	}
	if !app.Spec.Isolates(tierwallv1alpha1.PolicyTypeIngress) {
		return Side{Verdict: Allows}
	}
	ref := from.AppIsolation
	ports, found := tier.AcceptedPorts(&ref, from.Name)
	if !found {
		return Side{Verdict: Blocks, Why: fmt.Sprintf("%s's allowFrom does not name %s", to, from)}
	}
	return Side{Verdict: Allows, Ports: ports}
}

func appendPorts(list []tierwallv1alpha1.Port, ports ...tierwallv1alpha1.Port) []tierwallv1alpha1.Port {
	if list == nil {
		list = []tierwallv1alpha1.Port{}
	}
	for _, p := range ports {
		if !slices.ContainsFunc(list, p.Equal) {
			list = append(list, p)
		}
	}
	return list
}

// overlap tells whether a port of a may be a port of b. A named port may
// be any number, so it overlaps every number of its protocol.
func overlap(a, b []tierwallv1alpha1.Port) bool {
	for _, p := range a {
		for _, q := range b {
			if p.EffectiveProtocol() != q.EffectiveProtocol() {
				continue
			}
			if p.Port.Type == intstr.String || q.Port.Type == intstr.String {
				if p.Port.Type != q.Port.Type || p.Port.StrVal == q.Port.StrVal {
					return true
				}
				continue
			}
			pLo, pHi := portRange(p)
			qLo, qHi := portRange(q)
			if pLo <= qHi && qLo <= pHi {
				return true
			}
		}
	}
	return false
}

func portRange(p tierwallv1alpha1.Port) (int32, int32) {
	if p.EndPort != nil {
		return p.Port.IntVal, *p.EndPort
	}
	return p.Port.IntVal, p.Port.IntVal
}

// PortsString writes ports as "8080/TCP, 9000-9100/UDP".
func PortsString(ports []tierwallv1alpha1.Port) string {
	parts := make([]string, 0, len(ports))
	for _, p := range ports {
		s := p.Port.String()
		if p.EndPort != nil {
			s += fmt.Sprintf("-%d", *p.EndPort)
		}
		parts = append(parts, s+"/"+string(p.EffectiveProtocol()))
	}
	return strings.Join(parts, ", ")
}
