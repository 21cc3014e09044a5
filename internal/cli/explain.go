package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/internal/evalstate"
	"github.com/tierwall/tierwall/pkg/reach"
)

// maxMissesShown bounds the nearest misses the text explanation lists.
const maxMissesShown = 5

// flowQuery is the connection --explain asks about.
type flowQuery struct {
	from, to         reach.Endpoint
	fromName, toName string
	port             int32
	protocol         corev1.Protocol
}

// EndpointError is a --from or --to that names no pod of the input and is
// not an address, or is malformed.
type EndpointError struct {
	// Flag is "from" or "to".
	Flag string
	// Value is the flag's value.
	Value string
	// Reason says what is wrong.
	Reason string
}

// Error implements error.
func (e *EndpointError) Error() string {
	return fmt.Sprintf("invalid --%s %q: %s", e.Flag, e.Value, e.Reason)
}

// parseFlow reads --from (ns/pod, pod, or an address) and --to (the same,
// with :port and optionally /protocol), looking pods up in pods.
func parseFlow(from, to, namespace string, pods []corev1.Pod) (flowQuery, error) {
	var q flowQuery
	var err error
	if q.from, q.fromName, err = parseEndpoint("from", from, namespace, pods); err != nil {
		return q, err
	}
	target, portProto, ok := cutLast(to, ":")
	if !ok {
		return q, &EndpointError{Flag: "to", Value: to, Reason: "give the destination port: ns/pod:PORT[/PROTOCOL] or ADDRESS:PORT[/PROTOCOL]"}
	}
	portText, proto, _ := strings.Cut(portProto, "/")
	port, err := strconv.ParseInt(portText, 10, 32)
	if err != nil || port < 1 || port > 65535 {
		return q, &EndpointError{Flag: "to", Value: to, Reason: fmt.Sprintf("port %q is not a number from 1 to 65535", portText)}
	}
	q.port = int32(port)
	q.protocol = corev1.Protocol(strings.ToUpper(proto))
	switch q.protocol {
	case "":
		q.protocol = corev1.ProtocolTCP
	case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
	default:
		return q, &EndpointError{Flag: "to", Value: to, Reason: fmt.Sprintf("protocol %q is not TCP, UDP or SCTP", proto)}
	}
	target = strings.TrimSuffix(strings.TrimPrefix(target, "["), "]")
	q.to, q.toName, err = parseEndpoint("to", target, namespace, pods)
	return q, err
}

// cutLast cuts s around the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// parseEndpoint reads a pod (ns/name, or name in namespace) or an address.
func parseEndpoint(flag, value, namespace string, pods []corev1.Pod) (reach.Endpoint, string, error) {
	if ip, err := netip.ParseAddr(value); err == nil {
		return reach.IPEndpoint(value), ip.String(), nil
	}
	ns, name, ok := strings.Cut(value, "/")
	if !ok {
		ns, name = namespace, value
		if ns == "" {
			ns = "default"
		}
	}
	for i := range pods {
		if pods[i].Namespace == ns && pods[i].Name == name {
			return reach.PodEndpoint(&pods[i]), ns + "/" + name, nil
		}
	}
	return reach.Endpoint{}, "", &EndpointError{Flag: flag, Value: value, Reason: fmt.Sprintf("no pod %s/%s in the input, and not an IP address", ns, name)}
}

// origins names, for each policy "namespace/name" of the state, the
// AppIsolation and tier it was generated for, when tierwall generated it.
type origins map[string]origin

// origin is the AppIsolation and tier a generated policy comes from.
type origin struct {
	appIsolation, tier, role string
}

func originsOf(policies []networkingv1.NetworkPolicy) origins {
	o := origins{}
	for i := range policies {
		p := &policies[i]
		if app, ok := evalstate.RenderedFrom(p); ok {
			o[p.Namespace+"/"+p.Name] = origin{
				appIsolation: p.Namespace + "/" + app,
				tier:         p.Labels[tierwallv1alpha1.TierLabel],
				role:         p.Labels[tierwallv1alpha1.RoleLabel],
			}
		}
	}
	return o
}

// describe returns " (AppIsolation ns/name, tier t)" for a generated policy,
// and "" for any other.
func (o origins) describe(policy string) string {
	g, ok := o[policy]
	if !ok {
		return ""
	}
	switch {
	case g.tier != "":
		return fmt.Sprintf(" (AppIsolation %s, tier %s)", g.appIsolation, g.tier)
	case g.role != "":
		return fmt.Sprintf(" (AppIsolation %s, %s)", g.appIsolation, g.role)
	}
	return fmt.Sprintf(" (AppIsolation %s)", g.appIsolation)
}

// missText says in words what a kind of miss means, for the side.
func missText(k reach.MissKind, ingress bool) string {
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

func ruleName(r reach.RuleRef, ingress bool) string {
	if r.Rule < 0 {
		return r.Policy
	}
	if ingress {
		return fmt.Sprintf("%s ingress[%d]", r.Policy, r.Rule)
	}
	return fmt.Sprintf("%s egress[%d]", r.Policy, r.Rule)
}

// explainText writes an explanation for people.
func explainText(q flowQuery, x reach.Explanation, o origins) []byte {
	var b bytes.Buffer
	verdict := "denied"
	if x.Verdict.Allowed {
		verdict = "allowed"
	}
	fmt.Fprintf(&b, "%s -> %s:%d/%s: %s\n", q.fromName, q.toName, q.port, q.protocol, verdict)
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
				fmt.Fprintf(&b, "  %s%s\n", ruleName(r, ingress), o.describe(r.Policy))
			}
		default:
			fmt.Fprintf(&b, "%s: denied: no rule of the isolating policies matches\n", name)
		}
		b.WriteString("  isolated by\n")
		for _, p := range s.IsolatedBy {
			fmt.Fprintf(&b, "    %s%s\n", p, o.describe(p))
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
			fmt.Fprintf(&b, "    %s%s: %s\n", ruleName(m.RuleRef, ingress), o.describe(m.Policy), missText(m.Kind, ingress))
		}
	}
	podName := func(ep reach.Endpoint, name string) string {
		if ep.Pod == nil {
			return ""
		}
		return name
	}
	writeSide("Egress of "+q.fromName, podName(q.from, q.fromName), x.Egress, false)
	writeSide("Ingress of "+q.toName, podName(q.to, q.toName), x.Ingress, true)
	return b.Bytes()
}

func direction(ingress bool) string {
	if ingress {
		return "Ingress"
	}
	return "Egress"
}

// explanationJSON is an explanation as the json outputs write it.
type explanationJSON struct {
	SamePod bool     `json:"samePod,omitempty"`
	Egress  sideJSON `json:"egress"`
	Ingress sideJSON `json:"ingress"`
}

// sideJSON is one side of an explanation.
type sideJSON struct {
	Allowed       bool       `json:"allowed"`
	IsolatedBy    []string   `json:"isolatedBy,omitempty"`
	AllowedBy     []ruleJSON `json:"allowedBy,omitempty"`
	NearestMisses []ruleJSON `json:"nearestMisses,omitempty"`
}

// ruleJSON is a rule: the policy, the index of the rule (-1 for none), and
// for a generated policy, the AppIsolation and tier; for a miss, its kind.
type ruleJSON struct {
	Policy       string         `json:"policy"`
	Rule         int            `json:"rule"`
	AppIsolation string         `json:"appIsolation,omitempty"`
	Tier         string         `json:"tier,omitempty"`
	Miss         reach.MissKind `json:"miss,omitempty"`
}

func (o origins) ruleJSON(r reach.RuleRef, miss reach.MissKind) ruleJSON {
	g := o[r.Policy]
	return ruleJSON{Policy: r.Policy, Rule: r.Rule, AppIsolation: g.appIsolation, Tier: g.tier, Miss: miss}
}

func (o origins) explanationJSON(x reach.Explanation) *explanationJSON {
	side := func(s reach.Side) sideJSON {
		j := sideJSON{Allowed: s.Allowed(), IsolatedBy: s.IsolatedBy}
		for _, r := range s.AllowedBy {
			j.AllowedBy = append(j.AllowedBy, o.ruleJSON(r, ""))
		}
		for _, m := range s.Nearest() {
			j.NearestMisses = append(j.NearestMisses, o.ruleJSON(m.RuleRef, m.Kind))
		}
		return j
	}
	return &explanationJSON{SamePod: x.SamePod, Egress: side(x.Egress), Ingress: side(x.Ingress)}
}

// explainJSON writes the explanation of one flow as a JSON object.
func explainJSON(q flowQuery, x reach.Explanation, o origins) ([]byte, error) {
	out := flowJSON{From: q.fromName, To: q.toName, Port: q.port, Protocol: q.protocol, Allowed: x.Verdict.Allowed, Why: o.explanationJSON(x)}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("failed to write the explanation: %w", err)
	}
	return append(data, '\n'), nil
}
