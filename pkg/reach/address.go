package reach

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Address is an endpoint of the State that is not a pod: a client or a server
// outside the cluster, a node, the API server. It has no policies of its own:
// only ipBlock peers match it. Flows yields the connections from every
// address to every pod's container ports, and from every pod to every
// address on the address's ports; none between two addresses.
type Address struct {
	// Name identifies the address in flows (Flow.From and Flow.To): a name the
	// user gave, or node/<name>. Empty means the IP address itself. It must
	// not be the key ("namespace/name") of a pod of the State.
	Name string
	// IP is the IPv4 or IPv6 address.
	IP string
	// Ports are the ports connections to the address go to. When empty, they
	// are the numeric ports of the egress rules, of any policy of the State,
	// that have an ipBlock peer containing IP (the first port of a range);
	// named ports never apply to an address. No ports: no flows to it.
	Ports []AddressPort
}

// AddressPort is a port of an Address.
type AddressPort struct {
	// Port is the number, from 1 to 65535.
	Port int32
	// Protocol is TCP (when empty), UDP or SCTP.
	Protocol corev1.Protocol
}

// addressInfo is an Address as the Evaluator uses it.
type addressInfo struct {
	name string
	ep   endpoint
	// flowPorts are the distinct ports of the address, sorted.
	flowPorts []portProto
}

// compileAddresses checks the State's addresses and resolves their ports; it
// runs once the policies are compiled.
func (e *Evaluator) compileAddresses(addrs []Address) error {
	seen := map[string]bool{}
	for i, a := range addrs {
		ip, err := netip.ParseAddr(a.IP)
		if err != nil {
			return fmt.Errorf("addresses[%d]: invalid IP address %q", i, a.IP)
		}
		ip = ip.Unmap()
		name := cmp.Or(a.Name, ip.String())
		if seen[name] {
			return fmt.Errorf("duplicate address %s", name)
		}
		seen[name] = true
		if ns, pod, ok := strings.Cut(name, "/"); ok {
			if _, clash := e.podIndex[podKey{ns, pod}]; clash {
				return fmt.Errorf("address %s has the name of a pod of the State", name)
			}
		}
		ai := addressInfo{name: name, ep: endpoint{idx: -1, ip: ip}}
		for j, p := range a.Ports {
			pp := portProto{port: p.Port, protocol: cmp.Or(p.Protocol, corev1.ProtocolTCP)}
			if pp.port < 1 || pp.port > 65535 {
				return fmt.Errorf("address %s: ports[%d]: port %d is not from 1 to 65535", name, j, p.Port)
			}
			switch pp.protocol {
			case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
			default:
				return fmt.Errorf("address %s: ports[%d]: unsupported protocol %q", name, j, pp.protocol)
			}
			ai.flowPorts = append(ai.flowPorts, pp)
		}
		if len(a.Ports) == 0 {
			ai.flowPorts = e.ipBlockPorts(ip)
		}
		slices.SortFunc(ai.flowPorts, comparePortProto)
		ai.flowPorts = slices.Compact(ai.flowPorts)
		e.addresses = append(e.addresses, ai)
	}
	return nil
}

// ipBlockPorts returns the numeric ports of the egress rules that have an
// ipBlock peer containing ip.
func (e *Evaluator) ipBlockPorts(ip netip.Addr) []portProto {
	var out []portProto
	for _, p := range e.policies {
		for _, r := range p.egressRules {
			if !slices.ContainsFunc(r.peers, func(pr peer) bool { return pr.block != nil && pr.block.contains(ip) }) {
				continue
			}
			for _, m := range r.ports {
				if !m.all && m.name == "" {
					out = append(out, portProto{port: m.port, protocol: m.protocol})
				}
			}
		}
	}
	return out
}

func comparePortProto(a, b portProto) int {
	return cmp.Or(cmp.Compare(a.port, b.port), cmp.Compare(a.protocol, b.protocol))
}

// Addresses returns the State's addresses, in the State's order, as Flows
// enumerates them, with their names and ports resolved (see Address).
func (e *Evaluator) Addresses() []Address {
	out := make([]Address, len(e.addresses))
	for i, a := range e.addresses {
		out[i] = Address{Name: a.name, IP: a.ep.ip.String()}
		for _, pp := range a.flowPorts {
			out[i].Ports = append(out[i].Ports, AddressPort{Port: pp.port, Protocol: pp.protocol})
		}
	}
	return out
}

// addressFlows yields the flows between pods and addresses: from pod s to
// every address, when address is false; from address s to every pod, when
// it is true. It returns false when yield asks to stop.
func (e *Evaluator) addressFlows(s int, address bool, yield func(Flow) bool) bool {
	if !address {
		src := endpoint{idx: s, pod: &e.pods[s]}
		for a := range e.addresses {
			dst := &e.addresses[a]
			for _, pp := range dst.flowPorts {
				f := Flow{From: e.pods[s].key, To: dst.name, ToIP: dst.ep.ip.String(), Port: pp.port, Protocol: pp.protocol,
					Allowed: e.verdict(src, dst.ep, pp.port, pp.protocol).Allowed}
				if !yield(f) {
					return false
				}
			}
		}
		return true
	}
	src := &e.addresses[s]
	for d := range e.pods {
		dst := endpoint{idx: d, pod: &e.pods[d]}
		for _, pp := range e.pods[d].flowPorts {
			f := Flow{From: src.name, FromIP: src.ep.ip.String(), To: e.pods[d].key, Port: pp.port, Protocol: pp.protocol,
				Allowed: e.verdict(src.ep, dst, pp.port, pp.protocol).Allowed}
			if !yield(f) {
				return false
			}
		}
	}
	return true
}
