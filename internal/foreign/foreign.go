// Package foreign finds NetworkPolicies that tierwall did not write but that
// open the pods an AppIsolation governs beyond what it declares. NetworkPolicies
// only add up: any policy selecting a governed pod widens what that pod may
// receive or send, and tierwall's own policies cannot take that back. The
// operator reports such policies; it never deletes them.
package foreign

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/tierwall/tierwall/pkg/reach"
)

// ExternalAddress stands for "any address outside the cluster" in flows
// that a rule with no peers opens. It is in TEST-NET-3 (RFC 5737).
const ExternalAddress = "203.0.113.10"

// probePort is the port tried, as an example, for a rule with no ports
// (every port): one no tier is likely to declare.
const probePort int32 = 1

// maxCandidates bounds the example endpoints tried per peer.
const maxCandidates = 20

// Input is what Find looks at.
type Input struct {
	// Governed selects the pods of the namespace the AppIsolation governs.
	Governed labels.Selector
	// Namespace is the AppIsolation's namespace.
	Namespace string
	// Own are the policies the AppIsolation renders.
	Own []networkingv1.NetworkPolicy
	// Others are the other NetworkPolicies of Namespace.
	Others []networkingv1.NetworkPolicy
	// Namespaces are the namespaces of Pods, for namespaceSelectors. A
	// namespace with none of Pods changes no finding.
	Namespaces []corev1.Namespace
	// Pods are the pods of Namespace and of the namespaces the other
	// policies' peers select: the sources and destinations to try. Labels
	// are enough.
	Pods []corev1.Pod
	// Observable tells whether findings may name pods of a namespace; the
	// others are described as "a pod in another namespace". Nil: all.
	Observable func(namespace string) bool
}

// Finding is a policy that widens access, with one flow it opens that the
// AppIsolation's own policies deny.
type Finding struct {
	// Policy is the name of the foreign policy, in the AppIsolation's namespace.
	Policy string
	// From and To are "namespace/pod", or an address outside the cluster.
	From, To string
	// Port and Protocol of the flow; Port is 0 when the policy opens every
	// port.
	Port     int32
	Protocol corev1.Protocol
}

// String describes the finding for a condition message.
func (f Finding) String() string {
	port := fmt.Sprintf("%d/%s", f.Port, f.Protocol)
	if f.Port == 0 {
		port = "any port"
	}
	return fmt.Sprintf("NetworkPolicy %s allows %s -> %s on %s", f.Policy, f.From, f.To, port)
}

// Find returns, for each other policy that opens a governed pod beyond what
// the AppIsolation's own policies allow, one example flow, sorted by policy
// name. It tries the flows the policy's own rules describe: for each governed
// pod it selects, each peer of each rule (an example pod, or an address of
// an ipBlock) on each port of the rule.
func Find(in Input) ([]Finding, error) {
	return find(in, false)
}

// find is Find; everyPod tries every governed pod a policy selects instead
// of two of each class, for the test that proves the two agree.
func find(in Input, everyPod bool) ([]Finding, error) {
	// Sorted inputs give the same example every time, so the status the
	// operator writes does not change unless the cluster does.
	in.Pods = sortedPods(in.Pods)
	others := slices.Clone(in.Others)
	slices.SortFunc(others, func(a, b networkingv1.NetworkPolicy) int { return strings.Compare(a.Name, b.Name) })
	state := reach.State{Namespaces: in.Namespaces, Pods: in.Pods, Policies: append(slices.Clone(in.Own), others...)}
	all, err := reach.New(state)
	if err != nil {
		return nil, err
	}
	own := map[string]bool{}
	for _, p := range in.Own {
		own[p.Namespace+"/"+p.Name] = true
	}
	ownOnly := all.Subset(func(p *networkingv1.NetworkPolicy) bool { return own[p.Namespace+"/"+p.Name] })
	f := finder{in: in, all: all, ownOnly: ownOnly, everyPod: everyPod}
	var findings []Finding
	for i := range others {
		if finding, ok := f.widening(&others[i]); ok {
			findings = append(findings, finding)
		}
	}
	return findings, nil
}

// sortedPods returns pods sorted by namespace and name: pods itself when
// they are (as the controller passes them), else a sorted copy, made by
// sorting an index and copying each pod once, since a corev1.Pod is a
// kilobyte.
func sortedPods(pods []corev1.Pod) []corev1.Pod {
	byKey := func(a, b *corev1.Pod) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	}
	sorted := true
	for i := 1; i < len(pods) && sorted; i++ {
		sorted = byKey(&pods[i-1], &pods[i]) <= 0
	}
	if sorted {
		// Find does not modify them.
		return pods
	}
	order := make([]int, len(pods))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return byKey(&pods[a], &pods[b]) })
	out := make([]corev1.Pod, len(pods))
	for i, j := range order {
		out[i] = pods[j]
	}
	return out
}

type finder struct {
	in           Input
	all, ownOnly *reach.Evaluator
	everyPod     bool
}

// widening returns the first flow p opens to or from a governed pod that the
// AppIsolation's policies alone deny.
func (f *finder) widening(p *networkingv1.NetworkPolicy) (Finding, bool) {
	view, ok := f.all.Policy(p.Namespace, p.Name)
	if !ok {
		return Finding{}, false
	}
	name := p.Namespace + "/" + p.Name
	// Pods of one class get the same verdicts, but for flows to themselves:
	// two members of a class answer for all of them (where one is an
	// example peer, the other is not), so the first flow found is the one
	// trying every pod would find.
	tried := map[int]int{}
	for _, pod := range view.Selected {
		if pod.Namespace != f.in.Namespace || !f.in.Governed.Matches(labels.Set(pod.Labels)) {
			continue
		}
		if class, ok := f.all.PodClass(pod); ok && !f.everyPod {
			if tried[class] == 2 {
				continue
			}
			tried[class]++
		}
		governed := reach.PodEndpoint(pod)
		if view.Ingress {
			for _, r := range view.IngressRules {
				if fl, ok := f.firstOpened(name, true, r, func(peer reach.Endpoint) (reach.Endpoint, reach.Endpoint) { return peer, governed }); ok {
					return fl, true
				}
			}
		}
		if view.Egress {
			for _, r := range view.EgressRules {
				if fl, ok := f.firstOpened(name, false, r, func(peer reach.Endpoint) (reach.Endpoint, reach.Endpoint) { return governed, peer }); ok {
					return fl, true
				}
			}
		}
	}
	return Finding{}, false
}

// firstOpened tries each example peer of a rule on each of its ports, and
// returns the first flow the policy allows and the AppIsolation's policies
// alone deny.
func (f *finder) firstOpened(policy string, ingress bool, r reach.RuleView, flow func(peer reach.Endpoint) (from, to reach.Endpoint)) (Finding, bool) {
	for _, peer := range f.examples(r) {
		from, to := flow(peer)
		for _, port := range examplePorts(r.Ports) {
			v := f.all.Check(from, to, port.port, port.protocol)
			allowedBy := v.EgressAllowedBy
			if ingress {
				allowedBy = v.IngressAllowedBy
			}
			if !v.Allowed || !slices.Contains(allowedBy, policy) || f.ownOnly.Check(from, to, port.port, port.protocol).Allowed {
				continue
			}
			finding := Finding{Policy: policy[len(f.in.Namespace)+1:], From: f.describe(from), To: f.describe(to), Port: port.port, Protocol: port.protocol}
			if port.any {
				finding.Port = 0
			}
			return finding, true
		}
	}
	return Finding{}, false
}

// examples returns endpoints a rule's peers match: up to maxCandidates pods
// and an address per peer, or an outside address and every pod when the rule
// has no peers.
func (f *finder) examples(r reach.RuleView) []reach.Endpoint {
	if len(r.Peers) == 0 {
		out := make([]reach.Endpoint, 0, 1+len(f.in.Pods))
		out = append(out, reach.IPEndpoint(ExternalAddress))
		for i := range f.in.Pods {
			out = append(out, reach.PodEndpoint(&f.in.Pods[i]))
		}
		return out
	}
	var out []reach.Endpoint
	for _, peer := range r.Peers {
		if peer.Address != "" {
			out = append(out, reach.IPEndpoint(peer.Address))
		}
		for _, pod := range peer.Pods[:min(len(peer.Pods), maxCandidates)] {
			out = append(out, reach.PodEndpoint(pod))
		}
	}
	return out
}

type examplePort struct {
	port     int32
	protocol corev1.Protocol
	// any is set when the rule opens every port, and port is an example.
	any bool
}

// examplePorts returns one numeric port per entry (the start of a range);
// named ports are skipped, since pods are known by their labels only. No
// ports means every port: probePort stands for it.
func examplePorts(ports []networkingv1.NetworkPolicyPort) []examplePort {
	if len(ports) == 0 {
		return []examplePort{{probePort, corev1.ProtocolTCP, true}}
	}
	var out []examplePort
	for _, p := range ports {
		protocol := corev1.ProtocolTCP
		if p.Protocol != nil {
			protocol = *p.Protocol
		}
		switch {
		case p.Port == nil:
			out = append(out, examplePort{probePort, protocol, true})
		case p.Port.IntValue() > 0:
			out = append(out, examplePort{int32(p.Port.IntValue()), protocol, false})
		}
	}
	return out
}

// describe names an endpoint, or only says where it is when its namespace
// is not observable.
func (f *finder) describe(e reach.Endpoint) string {
	switch {
	case e.Pod == nil:
		return e.IP
	case e.Pod.Namespace != f.in.Namespace && f.in.Observable != nil && !f.in.Observable(e.Pod.Namespace):
		return "a pod in another namespace"
	default:
		return e.Pod.Namespace + "/" + e.Pod.Name
	}
}
