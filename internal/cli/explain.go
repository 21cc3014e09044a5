package cli

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/tierwall/tierwall/internal/report"
	"github.com/tierwall/tierwall/pkg/reach"
)

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

// parseFlow reads --from (ns/pod, pod, an address, or the name of one of
// addrs) and --to (the same, with :port and optionally /protocol), looking
// pods up in pods.
func parseFlow(from, to, namespace string, pods []corev1.Pod, addrs []reach.Address) (flowQuery, error) {
	var q flowQuery
	var err error
	if q.from, q.fromName, err = parseEndpoint("from", from, namespace, pods, addrs); err != nil {
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
	q.to, q.toName, err = parseEndpoint("to", target, namespace, pods, addrs)
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

// parseEndpoint reads a pod (ns/name, or name in namespace), an address, or
// the name of one of addrs.
func parseEndpoint(flag, value, namespace string, pods []corev1.Pod, addrs []reach.Address) (reach.Endpoint, string, error) {
	if ip, err := netip.ParseAddr(value); err == nil {
		return reach.IPEndpoint(value), ip.String(), nil
	}
	for _, a := range addrs {
		if a.Name == value {
			return reach.IPEndpoint(a.IP), a.Name, nil
		}
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

// origins are the origins of generated policies, as report names them.
type origins struct{ report.Origins }

func originsOf(policies []networkingv1.NetworkPolicy) origins {
	return origins{report.OriginsOf(policies)}
}

// describe returns " (AppIsolation ns/name, tier t)" for a generated policy,
// and "" for any other.
func (o origins) describe(policy string) string { return o.Describe(policy) }

// report returns the query as report prints it.
func (q flowQuery) report() report.Query {
	return report.Query{From: q.from, To: q.to, FromName: q.fromName, ToName: q.toName, Port: q.port, Protocol: q.protocol}
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
	g := o.Origins[r.Policy]
	return ruleJSON{Policy: r.Policy, Rule: r.Rule, AppIsolation: g.AppIsolation, Tier: g.Tier, Miss: miss}
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
