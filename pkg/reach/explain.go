package reach

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// Explanation says why Check decides as it does for one connection: for each
// side, the policies that isolate it, the rules that allow the connection, and
// when none does, how close each rule of the isolating policies came.
type Explanation struct {
	// Verdict is what Check returns for the same connection.
	Verdict Verdict
	// SamePod reports that source and destination are the same pod, which
	// policies never block.
	SamePod bool
	// Egress is the source's side, Ingress the destination's.
	Egress, Ingress Side
}

// Side explains one direction of a connection: the source's egress or the
// destination's ingress.
type Side struct {
	// Isolated reports whether some policy selects the pod for the direction.
	// A side that is not isolated allows everything.
	Isolated bool
	// IsolatedBy lists the policies selecting the pod for the direction, as
	// "namespace/name", sorted.
	IsolatedBy []string
	// AllowedBy lists the rules of the isolating policies that allow the
	// connection, sorted by policy, then rule.
	AllowedBy []RuleRef
	// Misses lists, when no rule allows the connection, every rule of the
	// isolating policies (and every such policy without rules for the
	// direction) with what does not match, nearest first. Empty when the
	// side allows the connection.
	Misses []Miss
}

// Allowed reports whether the side allows the connection.
func (s Side) Allowed() bool { return !s.Isolated || len(s.AllowedBy) > 0 }

// Nearest returns the misses that are nearest to matching: those of the
// smallest Distance.
func (s Side) Nearest() []Miss {
	if len(s.Misses) == 0 {
		return nil
	}
	d := s.Misses[0].Kind.Distance()
	i := slices.IndexFunc(s.Misses, func(m Miss) bool { return m.Kind.Distance() > d })
	if i < 0 {
		return s.Misses
	}
	return s.Misses[:i]
}

// RuleRef names one rule of a policy.
type RuleRef struct {
	// Policy is the policy as "namespace/name".
	Policy string
	// Rule is the index of the rule in spec.ingress or spec.egress (the side
	// tells which), or -1 for a policy without rules for the direction.
	Rule int
}

// Miss is a rule that does not allow the connection, and why.
type Miss struct {
	RuleRef
	// Kind says what does not match.
	Kind MissKind
}

// MissKind says why a rule does not allow a connection.
type MissKind string

// Kinds of Miss, from the nearest to matching to the farthest.
const (
	// MissPort: a peer of the rule matches, its ports do not.
	MissPort MissKind = "port"
	// MissPodSelector: the ports match, and a peer's namespace matches, but
	// not its podSelector.
	MissPodSelector MissKind = "podSelector"
	// MissNamespace: the ports match, but no selector peer's namespace does.
	MissNamespace MissKind = "namespace"
	// MissIPBlock: the ports match, but the endpoint is in no ipBlock of the
	// rule, and no selector peer could match it: the endpoint is an address
	// outside the cluster, or the rule has only ipBlock peers.
	MissIPBlock MissKind = "ipBlock"
	// MissPortAndPeer: neither the ports nor the peers match.
	MissPortAndPeer MissKind = "portAndPeer"
	// MissNoRules: the policy has no rule for the direction: it only
	// isolates.
	MissNoRules MissKind = "noRules"
)

// Distance orders the kinds of Miss: the smaller, the nearer to matching.
func (k MissKind) Distance() int {
	switch k {
	case MissPort:
		return 1
	case MissPodSelector:
		return 2
	case MissNamespace, MissIPBlock:
		return 3
	case MissPortAndPeer:
		return 4
	}
	return 5
}

// Explain explains the connection that Check(from, to, port, protocol)
// decides. It evaluates the same compiled rules with the same matching code
// as Check, rule by rule; Explanation.Verdict is Check's answer.
func (e *Evaluator) Explain(from, to Endpoint, port int32, protocol corev1.Protocol) Explanation {
	if protocol == "" {
		protocol = corev1.ProtocolTCP
	}
	x := Explanation{Verdict: e.Check(from, to, port, protocol)}
	src, dst := e.resolve(from), e.resolve(to)
	x.SamePod = samePod(src, dst)
	x.Egress = e.explainSide(e.policiesFor(src, false), false, &dst, &dst, port, protocol)
	x.Ingress = e.explainSide(e.policiesFor(dst, true), true, &src, &dst, port, protocol)
	return x
}

// explainSide matches every rule of pols for the direction against the
// connection to dst whose other side is peer.
func (e *Evaluator) explainSide(pols []int32, ingress bool, peer, dst *endpoint, port int32, protocol corev1.Protocol) Side {
	s := Side{Isolated: len(pols) > 0}
	var misses []Miss
	for _, i := range pols {
		p := e.policies[i]
		s.IsolatedBy = append(s.IsolatedBy, p.key)
		rules := p.egressRules
		if ingress {
			rules = p.ingressRules
		}
		if len(rules) == 0 {
			misses = append(misses, Miss{RuleRef: RuleRef{Policy: p.key, Rule: -1}, Kind: MissNoRules})
		}
		for j := range rules {
			ref := RuleRef{Policy: p.key, Rule: j}
			if kind, ok := rules[j].miss(peer, dst, port, protocol); ok {
				misses = append(misses, Miss{RuleRef: ref, Kind: kind})
			} else {
				s.AllowedBy = append(s.AllowedBy, ref)
			}
		}
	}
	if len(s.AllowedBy) == 0 {
		slices.SortStableFunc(misses, func(a, b Miss) int { return cmp.Compare(a.Kind.Distance(), b.Kind.Distance()) })
		s.Misses = misses
	}
	return s
}

// miss reports whether the rule does not allow the connection, and why. It
// decides with allows, the function Check uses, and only then looks for the
// reason.
func (r *rule) miss(other, dst *endpoint, port int32, protocol corev1.Protocol) (MissKind, bool) {
	if r.allows(other, dst, port, protocol) {
		return "", false
	}
	portsOK, peersOK := r.portsMatch(dst, port, protocol), r.peersMatch(other)
	switch {
	case peersOK:
		return MissPort, true
	case !portsOK:
		return MissPortAndPeer, true
	}
	return r.peerMiss(other), true
}

// peerMiss says how near the rule's peers, none of which matches ep, come to
// matching it.
func (r *rule) peerMiss(ep *endpoint) MissKind {
	kind := MissIPBlock
	for i := range r.peers {
		p := &r.peers[i]
		switch {
		case p.block != nil || ep.pod == nil:
			continue
		case p.matchesNamespace(ep.pod.namespace, ep.pod.nsLabels):
			return MissPodSelector
		default:
			kind = MissNamespace
		}
	}
	return kind
}

// Contradiction returns an error when the explanation contradicts its
// Verdict (Check's answer): a side allowed without an allowing rule or
// denied with one, allowing policies other than the Verdict's, a denied
// side without misses. Explain never returns such an explanation; tests of
// Explain and of its callers use this to show it.
func (x Explanation) Contradiction() error {
	var errs []error
	check := func(name string, s Side, isolated bool, allowedBy []string) {
		if s.Isolated != isolated || s.Isolated != (len(s.IsolatedBy) > 0) {
			errs = append(errs, fmt.Errorf("%s: isolated %v with isolating policies %v, but the verdict says isolated %v", name, s.Isolated, s.IsolatedBy, isolated))
		}
		var policies []string
		for _, r := range s.AllowedBy {
			if !slices.Contains(policies, r.Policy) {
				policies = append(policies, r.Policy)
			}
		}
		if !slices.Equal(policies, allowedBy) {
			errs = append(errs, fmt.Errorf("%s: rules of %v allow, but the verdict says %v", name, policies, allowedBy))
		}
		switch {
		case s.Allowed() && len(s.Misses) > 0:
			errs = append(errs, fmt.Errorf("%s: allowed, yet it lists misses %v", name, s.Misses))
		case !s.Allowed() && len(s.Misses) == 0:
			errs = append(errs, fmt.Errorf("%s: denied, yet no rule misses", name))
		}
		for _, m := range s.Misses {
			if !slices.Contains(s.IsolatedBy, m.Policy) {
				errs = append(errs, fmt.Errorf("%s: a miss of %s, which does not isolate", name, m.Policy))
			}
		}
	}
	check("egress", x.Egress, x.Verdict.EgressIsolated, x.Verdict.EgressAllowedBy)
	check("ingress", x.Ingress, x.Verdict.IngressIsolated, x.Verdict.IngressAllowedBy)
	if allowed := (x.Egress.Allowed() && x.Ingress.Allowed()) || x.SamePod; allowed != x.Verdict.Allowed {
		errs = append(errs, fmt.Errorf("the sides say allowed=%v, the verdict %v", allowed, x.Verdict.Allowed))
	}
	return errors.Join(errs...)
}
