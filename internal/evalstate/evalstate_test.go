package evalstate_test

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/tierwall/tierwall/internal/evalstate"
	"github.com/tierwall/tierwall/internal/input"
	"github.com/tierwall/tierwall/pkg/reach"
)

// platformApp has a hostNetwork ingress controller in front of its web tier,
// and a tier that talks to the API server.
const platformApp = `apiVersion: tierwall.dev/v1alpha1
kind: AppIsolation
metadata: {name: shop, namespace: shop}
spec:
  ingressControllers:
  - {name: nginx, hostNetwork: true}
  tiers:
  - name: web
    podSelector: {matchLabels: {tier: web}}
    ports: [{port: 80}]
    allowFrom: [{ingressController: nginx}]
  - name: operator
    podSelector: {matchLabels: {tier: operator}}
    egressTo: [{kubeAPIServer: {}}]
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {tier: web}}
spec: {containers: [{name: web, ports: [{containerPort: 80}]}]}
status: {podIP: 10.42.0.10}
---
apiVersion: v1
kind: Pod
metadata: {name: operator, namespace: shop, labels: {tier: operator}}
spec: {containers: [{name: operator}]}
status: {podIP: 10.42.0.11}
`

// platform is the cluster: two Nodes, and the API server's EndpointSlice.
const platform = `apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {addresses: [{type: InternalIP, address: 192.168.1.10}, {type: Hostname, address: node-a}]}
---
apiVersion: v1
kind: Node
metadata: {name: node-b}
status: {addresses: [{type: InternalIP, address: 192.168.1.11}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: kubernetes, namespace: default, labels: {kubernetes.io/service-name: kubernetes}}
addressType: IPv4
endpoints: [{addresses: [192.168.1.10]}]
ports: [{name: https, port: 6443, protocol: TCP}]
`

// TestReconciledFollowsThePlatformOfTheInput checks that reach renders
// hostNetwork ingress controllers and egress to the API server from the
// Nodes and EndpointSlices in its input, as the operator does from the
// cluster, and says what it lacks when they are missing.
func TestReconciledFollowsThePlatformOfTheInput(t *testing.T) {
	tests := []struct {
		name      string
		input     string
		wantNodes bool // node-b reaches web:80, and the operator the API server
		wantNotes []string
	}{
		{name: "with the platform", input: platformApp + "---\n" + platform, wantNodes: true},
		{name: "without it", input: platformApp, wantNotes: []string{
			"AppIsolation shop/shop has ingress controllers with hostNetwork, and the input has no Node",
			"AppIsolation shop/shop allows egress to the API server, and the input has none of its EndpointSlices",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := input.NewReader(input.Options{
				Kinds:   []string{input.KindAppIsolation, input.KindPod, input.KindNode, input.KindEndpointSlice},
				Explain: evalstate.Explain,
			})
			if err := r.Read("in.yaml", []byte(tt.input)); err != nil {
				t.Fatal(err)
			}
			var notes []string
			state, err := evalstate.Reconciled(evalstate.Notes{Note: func(format string, args ...any) {
				notes = append(notes, fmt.Sprintf(format, args...))
			}}, r.Objects())
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tt.wantNotes {
				if !strings.Contains(strings.Join(notes, "\n"), want) {
					t.Errorf("no note %q in %q", want, notes)
				}
			}
			e, err := reach.New(state)
			if err != nil {
				t.Fatal(err)
			}
			web, _ := e.Pod("shop", "web")
			operator, _ := e.Pod("shop", "operator")
			check := func(from, to reach.Endpoint, port int32) bool {
				return e.Check(from, to, port, corev1.ProtocolTCP).Allowed
			}
			if got := check(reach.IPEndpoint("192.168.1.11"), reach.PodEndpoint(web), 80); got != tt.wantNodes {
				t.Errorf("node-b -> web:80 allowed: %v, want %v", got, tt.wantNodes)
			}
			if got := check(reach.PodEndpoint(operator), reach.IPEndpoint("192.168.1.10"), 6443); got != tt.wantNodes {
				t.Errorf("operator -> API server 192.168.1.10:6443 allowed: %v, want %v", got, tt.wantNodes)
			}
			if check(reach.IPEndpoint("203.0.113.7"), reach.PodEndpoint(web), 80) {
				t.Error("an address outside the cluster reaches web:80")
			}
			if check(reach.PodEndpoint(operator), reach.IPEndpoint("192.168.1.10"), 443) {
				t.Error("the operator reaches the API server's address on a port it does not serve")
			}
		})
	}
}
