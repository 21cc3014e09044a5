// Package report writes what the evaluator decides for people: the
// explanation of one connection and the matrix of who may reach whom. The
// CLI and the Gomega matchers (pkg/matchers) print the same text with it.
package report

import (
	"bytes"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/internal/evalstate"
	"github.com/tierwall/tierwall/pkg/reach"
)

// maxMissesShown bounds the nearest misses the text explanation lists.
const maxMissesShown = 5

// Query is the connection an explanation is about, with the names to print.
type Query struct {
	// From and To are the endpoints; only whether each is a pod matters here.
	From, To reach.Endpoint
	// FromName and ToName are printed for the endpoints: "namespace/name" or
	// the address.
	FromName, ToName string
	// Port and Protocol are the destination's.
	Port     int32
	Protocol corev1.Protocol
}

// Origins names, for each policy "namespace/name", the AppIsolation and
// tier it was generated for, when tierwall generated it.
type Origins map[string]Origin

// Origin is the AppIsolation and tier (or role) a generated policy comes
// from.
type Origin struct {
	// AppIsolation is "namespace/name".
	AppIsolation string
	// Tier is the tier's name, for a tier's policy.
	Tier string
	// Role is the policy's role label (tier, dns, default-deny).
	Role string
}

// OriginsOf returns the origins of the generated policies among policies.
func OriginsOf(policies []networkingv1.NetworkPolicy) Origins {
	o := Origins{}
	for i := range policies {
		o.Add(&policies[i])
	}
	return o
}

// Add records the origin of p when tierwall generated it.
func (o Origins) Add(p *networkingv1.NetworkPolicy) {
	if app, ok := evalstate.RenderedFrom(p); ok {
		o[p.Namespace+"/"+p.Name] = Origin{
			AppIsolation: p.Namespace + "/" + app,
			Tier:         p.Labels[tierwallv1alpha1.TierLabel],
			Role:         p.Labels[tierwallv1alpha1.RoleLabel],
		}
	}
}

// Describe returns " (AppIsolation ns/name, tier t)" for a generated policy,
// and "" for any other.
func (o Origins) Describe(policy string) string {
	g, ok := o[policy]
	if !ok {
		return ""
	}
	switch {
	case g.Tier != "":
		return fmt.Sprintf(" (AppIsolation %s, tier %s)", g.AppIsolation, g.Tier)
	case g.Role != "":
		return fmt.Sprintf(" (AppIsolation %s, %s)", g.AppIsolation, g.Role)
	}
	return fmt.Sprintf(" (AppIsolation %s)", g.AppIsolation)
}

// MissText says in words what a kind of miss means, for the side.
func MissText(k reach.MissKind, ingress bool) string {
	other := "destination"
	if ingress {
		other = "source"
	}
	switch k {
	case reach.MissPort:
		return "a peer matches the " + other + ", the ports do not"
	case reach.MissPodSelector:
		return "the ports match, and a peer's namespace, but not its podSelector"
	case reach.MissNamespace:
		return "the ports match, no peer's namespace does"
	case reach.MissIPBlock:
		return "the ports match; the " + other + " is in no ipBlock of the rule"
	case reach.MissPortAndPeer:
		return "neither the ports nor the peers match"
	case reach.MissNoRules:
		if ingress {
			return "the policy has no ingress rule: it only isolates"
		}
		return "the policy has no egress rule: it only isolates"
	}
	return string(k)
}

// RuleName names a rule as "namespace/name ingress[i]" (or egress[i]), and
// a policy without rules for the direction by its name alone.
func RuleName(r reach.RuleRef, ingress bool) string {
	if r.Rule < 0 {
		return r.Policy
	}
	if ingress {
		return fmt.Sprintf("%s ingress[%d]", r.Policy, r.Rule)
	}
	return fmt.Sprintf("%s egress[%d]", r.Policy, r.Rule)
}

// ExplainText writes the explanation of x, the connection q, for people:
// the verdict, then for each side the rules that allow it, or the isolating
// policies and the nearest misses. `tierwall reach --explain` prints it.
func ExplainText(q Query, x reach.Explanation, o Origins) []byte {
	var b bytes.Buffer
	verdict := "denied"
	if x.Verdict.Allowed {
		verdict = "allowed"
	}
	fmt.Fprintf(&b, "%s -> %s:%d/%s: %s\n", q.FromName, q.ToName, q.Port, q.Protocol, verdict)
	if x.SamePod {
		b.WriteString("The source is the destination: a pod never blocks traffic to itself.\n")
	}
	writeSide := func(name, pod string, s reach.Side, ingress bool) {
		b.WriteByte('\n')
		switch {
		case pod == "":
			fmt.Fprintf(&b, "%s: allowed: an address outside the cluster has no policies\n", name)
			return
		case !s.Isolated:
			fmt.Fprintf(&b, "%s: allowed: no NetworkPolicy selects %s for %s\n", name, pod, direction(ingress))
			return
		case s.Allowed():
			fmt.Fprintf(&b, "%s: allowed by\n", name)
			for _, r := range s.AllowedBy {
				fmt.Fprintf(&b, "  %s%s\n", RuleName(r, ingress), o.Describe(r.Policy))
			}
		default:
			fmt.Fprintf(&b, "%s: denied: no rule of the isolating policies matches\n", name)
		}
		b.WriteString("  isolated by\n")
		for _, p := range s.IsolatedBy {
			fmt.Fprintf(&b, "    %s%s\n", p, o.Describe(p))
		}
		if s.Allowed() {
			return
		}
		nearest := s.Nearest()
		b.WriteString("  nearest miss\n")
		for i, m := range nearest {
			if i == maxMissesShown {
				fmt.Fprintf(&b, "    ... and %d more\n", len(nearest)-i)
				break
			}
			fmt.Fprintf(&b, "    %s%s: %s\n", RuleName(m.RuleRef, ingress), o.Describe(m.Policy), MissText(m.Kind, ingress))
		}
	}
	podName := func(ep reach.Endpoint, name string) string {
		if ep.Pod == nil {
			return ""
		}
		return name
	}
	writeSide("Egress of "+q.FromName, podName(q.From, q.FromName), x.Egress, false)
	writeSide("Ingress of "+q.ToName, podName(q.To, q.ToName), x.Ingress, true)
	return b.Bytes()
}

func direction(ingress bool) string {
	if ingress {
		return "Ingress"
	}
	return "Egress"
}
