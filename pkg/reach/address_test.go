package reach

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// addressState is two pods and policies with ipBlock rules:
//
//	a/web 10.0.0.1 (http 80/TCP): ingress on "http" from 203.0.113.0/24 except
//	  203.0.113.128/25, and from fd00:1::/64 on 80; egress to 198.51.100.0/24 on
//	  443/TCP and on the named port "https", to fd00:1::/64 on 8443-8500/UDP, and
//	  to 192.0.2.0/24 on every port.
//	a/db 10.0.0.2 (5432/TCP): not isolated.
func addressState(addrs ...Address) State {
	return State{
		Pods: []corev1.Pod{
			pod("a/web", []string{"10.0.0.1"}, []string{"app", "web"}, cport("http", 80, "")),
			pod("a/db", []string{"10.0.0.2"}, []string{"app", "db"}, cport("pg", 5432, "")),
		},
		Policies: []networkingv1.NetworkPolicy{
			netpol("a/web", networkingv1.NetworkPolicySpec{
				PodSelector: *match("app", "web"),
				PolicyTypes: types(ingress, egress),
				Ingress: []networkingv1.NetworkPolicyIngressRule{
					{Ports: []networkingv1.NetworkPolicyPort{namedPort("", "http")}, From: []networkingv1.NetworkPolicyPeer{ipBlockPeer("203.0.113.0/24", "203.0.113.128/25")}},
					{Ports: []networkingv1.NetworkPolicyPort{numPort(tcp, 80)}, From: []networkingv1.NetworkPolicyPeer{ipBlockPeer("fd00:1::/64")}},
				},
				Egress: []networkingv1.NetworkPolicyEgressRule{
					{Ports: []networkingv1.NetworkPolicyPort{numPort(tcp, 443), namedPort("", "https")}, To: []networkingv1.NetworkPolicyPeer{ipBlockPeer("198.51.100.0/24")}},
					{Ports: []networkingv1.NetworkPolicyPort{rangePort(udp, 8443, 8500)}, To: []networkingv1.NetworkPolicyPeer{ipBlockPeer("fd00:1::/64")}},
					{To: []networkingv1.NetworkPolicyPeer{ipBlockPeer("192.0.2.0/24")}},
				},
			}),
		},
		Addresses: addrs,
	}
}

func TestAddressFlows(t *testing.T) {
	tests := []struct {
		name    string
		address Address
		// want are the flows from and to the address.
		want []Flow
	}{
		{
			name:    "a client inside the ipBlock reaches web on its named port, and db which is not isolated",
			address: Address{Name: "client", IP: "203.0.113.7"},
			want: []Flow{
				{From: "client", FromIP: "203.0.113.7", To: "a/db", Port: 5432, Protocol: tcp, Allowed: true},
				{From: "client", FromIP: "203.0.113.7", To: "a/web", Port: 80, Protocol: tcp, Allowed: true},
			},
		},
		{
			name:    "a client in the except is denied; no name means the IP",
			address: Address{IP: "203.0.113.200"},
			want: []Flow{
				{From: "203.0.113.200", FromIP: "203.0.113.200", To: "a/db", Port: 5432, Protocol: tcp, Allowed: true},
				{From: "203.0.113.200", FromIP: "203.0.113.200", To: "a/web", Port: 80, Protocol: tcp, Allowed: false},
			},
		},
		{
			name:    "a server without ports gets the numeric ports of the egress rules naming it, not the named ones",
			address: Address{Name: "api", IP: "198.51.100.10"},
			want: []Flow{
				{From: "a/db", To: "api", ToIP: "198.51.100.10", Port: 443, Protocol: tcp, Allowed: true},
				{From: "a/web", To: "api", ToIP: "198.51.100.10", Port: 443, Protocol: tcp, Allowed: true},
				{From: "api", FromIP: "198.51.100.10", To: "a/db", Port: 5432, Protocol: tcp, Allowed: true},
				{From: "api", FromIP: "198.51.100.10", To: "a/web", Port: 80, Protocol: tcp, Allowed: false},
			},
		},
		{
			name:    "given ports: the named port https does not apply to an address",
			address: Address{Name: "api", IP: "198.51.100.10", Ports: []AddressPort{{Port: 8443}, {Port: 443, Protocol: tcp}, {Port: 53, Protocol: udp}}},
			want: []Flow{
				{From: "a/db", To: "api", ToIP: "198.51.100.10", Port: 53, Protocol: udp, Allowed: true},
				{From: "a/db", To: "api", ToIP: "198.51.100.10", Port: 443, Protocol: tcp, Allowed: true},
				{From: "a/db", To: "api", ToIP: "198.51.100.10", Port: 8443, Protocol: tcp, Allowed: true},
				{From: "a/web", To: "api", ToIP: "198.51.100.10", Port: 53, Protocol: udp, Allowed: false},
				{From: "a/web", To: "api", ToIP: "198.51.100.10", Port: 443, Protocol: tcp, Allowed: true},
				{From: "a/web", To: "api", ToIP: "198.51.100.10", Port: 8443, Protocol: tcp, Allowed: false},
				{From: "api", FromIP: "198.51.100.10", To: "a/db", Port: 5432, Protocol: tcp, Allowed: true},
				{From: "api", FromIP: "198.51.100.10", To: "a/web", Port: 80, Protocol: tcp, Allowed: false},
			},
		},
		{
			name:    "IPv6: the first port of a range, and ingress on 80",
			address: Address{Name: "v6", IP: "FD00:1::5"},
			want: []Flow{
				{From: "a/db", To: "v6", ToIP: "fd00:1::5", Port: 8443, Protocol: udp, Allowed: true},
				{From: "a/web", To: "v6", ToIP: "fd00:1::5", Port: 8443, Protocol: udp, Allowed: true},
				{From: "v6", FromIP: "fd00:1::5", To: "a/db", Port: 5432, Protocol: tcp, Allowed: true},
				{From: "v6", FromIP: "fd00:1::5", To: "a/web", Port: 80, Protocol: tcp, Allowed: true},
			},
		},
		{
			name:    "IPv4-mapped IPv6 is the IPv4 address; a rule on every port names no port",
			address: Address{Name: "mapped", IP: "::ffff:192.0.2.9"},
			want: []Flow{
				{From: "mapped", FromIP: "192.0.2.9", To: "a/db", Port: 5432, Protocol: tcp, Allowed: true},
				{From: "mapped", FromIP: "192.0.2.9", To: "a/web", Port: 80, Protocol: tcp, Allowed: false},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(addressState(tc.address))
			if err != nil {
				t.Fatal(err)
			}
			var got []Flow
			for f := range e.Flows() {
				if f.FromIP != "" || f.ToIP != "" {
					got = append(got, f)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("address flows (-want +got):\n%s", diff)
			}
			// Each agrees with Check, by IP.
			for _, f := range got {
				from, to := flowEndpoint(e, f.From, f.FromIP), flowEndpoint(e, f.To, f.ToIP)
				if v := e.Check(from, to, f.Port, f.Protocol); v.Allowed != f.Allowed {
					t.Errorf("Check(%s -> %s %d/%s).Allowed = %v, Flows says %v", f.From, f.To, f.Port, f.Protocol, v.Allowed, f.Allowed)
				}
			}
			// The pods' flows come first, as without addresses.
			plain, err := New(addressState())
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Collect(plain.Flows())
			if all := slices.Collect(e.Flows()); !slices.Equal(want, slices.DeleteFunc(all, func(f Flow) bool { return f.FromIP != "" || f.ToIP != "" })) {
				t.Errorf("pod flows changed with an address")
			}
		})
	}
}

// flowEndpoint is the Endpoint of a flow's side.
func flowEndpoint(e *Evaluator, name, ip string) Endpoint {
	if ip != "" {
		return IPEndpoint(ip)
	}
	ns, pod, _ := strings.Cut(name, "/")
	p, _ := e.Pod(ns, pod)
	return PodEndpoint(p)
}

func TestAddressFlowsOrder(t *testing.T) {
	e, err := New(addressState(Address{Name: "z", IP: "198.51.100.1"}, Address{Name: "b", IP: "203.0.113.1"}))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for f := range e.Flows() {
		got = append(got, f.From+" -> "+f.To)
	}
	got = slices.Compact(got)
	want := []string{"a/db -> a/web", "a/db -> z", "a/web -> a/db", "a/web -> z", "z -> a/db", "z -> a/web", "b -> a/db", "b -> a/web"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	wantAddrs := []Address{
		{Name: "z", IP: "198.51.100.1", Ports: []AddressPort{{Port: 443, Protocol: tcp}}},
		{Name: "b", IP: "203.0.113.1"},
	}
	if diff := cmp.Diff(wantAddrs, e.Addresses()); diff != "" {
		t.Errorf("Addresses() (-want +got):\n%s", diff)
	}
	// A Subset keeps the addresses and their ports.
	if diff := cmp.Diff(wantAddrs, e.Subset(func(*networkingv1.NetworkPolicy) bool { return false }).Addresses()); diff != "" {
		t.Errorf("Subset().Addresses() (-want +got):\n%s", diff)
	}
}

func TestNewAddressErrors(t *testing.T) {
	tests := []struct {
		name  string
		addrs []Address
		want  string
	}{
		{"invalid IP", []Address{{Name: "x", IP: "203.0.113.300"}}, `addresses[0]: invalid IP address "203.0.113.300"`},
		{"CIDR is not an address", []Address{{IP: "10.0.0.0/8"}}, `addresses[0]: invalid IP address "10.0.0.0/8"`},
		{"duplicate name", []Address{{Name: "x", IP: "10.1.0.1"}, {Name: "x", IP: "10.1.0.2"}}, "duplicate address x"},
		{"duplicate IP without names", []Address{{IP: "fd00::1"}, {IP: "FD00::1"}}, "duplicate address fd00::1"},
		{"the name of a pod", []Address{{Name: "a/web", IP: "10.1.0.1"}}, "address a/web has the name of a pod of the State"},
		{"port out of range", []Address{{Name: "x", IP: "10.1.0.1", Ports: []AddressPort{{Port: 0}}}}, "address x: ports[0]: port 0 is not from 1 to 65535"},
		{"unknown protocol", []Address{{Name: "x", IP: "10.1.0.1", Ports: []AddressPort{{Port: 1, Protocol: "ICMP"}}}}, `address x: ports[0]: unsupported protocol "ICMP"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(addressState(tc.addrs...))
			if err == nil || err.Error() != tc.want {
				t.Errorf("New() error = %v, want %q", err, tc.want)
			}
		})
	}
}
