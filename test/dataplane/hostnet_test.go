package dataplane

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/pkg/reach"
	"github.com/tierwall/tierwall/test/fixtures"
)

const (
	hostNetworkNamespace = "hostnet-wordpress"
	// node2Name is the second node: no pod runs there, only (as far as the
	// packets show) a hostNetwork ingress controller, which sends from the
	// node's address.
	node2Name = "twlab-node2"
)

// declaredHostNetwork is the intent of the WordPress story with Traefik on
// the nodes' network, written from the story rather than computed: the
// controller, from the second node's InternalIP, reaches WordPress on 80,
// WordPress reaches MySQL on 3306, nothing else reaches a governed pod (all
// the pods are). node is the row of the second node's address ("" once no
// Node has it).
func declaredHostNetwork(cs []cell, node string) []reach.Flow {
	allowed := map[string]bool{
		hostNetworkNamespace + "/wordpress -> " + hostNetworkNamespace + "/mysql:3306/TCP": true,
	}
	if node != "" {
		allowed[node+" -> "+hostNetworkNamespace+"/wordpress:80/TCP"] = true
	}
	out := make([]reach.Flow, 0, len(cs))
	for _, c := range cs {
		f := c.flow
		f.Allowed = allowed[flowKey(f)]
		out = append(out, f)
	}
	return out
}

// TestHostNetworkIngress runs the WordPress story with Traefik as a
// hostNetwork ingress controller (`hostNetwork: true`) and a second node,
// whose packets reach the pods routed by the node, from the second node's
// InternalIP, as a hostNetwork pod's do. It proves with packets under
// kube-router, cell by cell and equal to tierwall reach, that the second
// node's address reaches the frontend on its port and nothing else (not the
// database, not the frontend's other port), that an address of no Node
// reaches nothing, and that the allow follows the Node: moved to the
// InternalIP's new address when it changes, gone when the Node is deleted.
// The first node is not probed: kube-router, like CNIs generally, lets a
// node reach its own pods whatever the policies say.
func TestHostNetworkIngress(t *testing.T) {
	ctx := context.Background()
	pods := theLab.addPods(t, map[string]map[string]string{hostNetworkNamespace: nil},
		slices.DeleteFunc(fixtures.WordPressPods(hostNetworkNamespace, "", ""), func(p *corev1.Pod) bool {
			return p.Namespace != hostNetworkNamespace
		}))
	node2, err := theLab.createNode(ctx, node2Name, theLab.node2IP)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.IgnoreNotFound(theLab.c.Delete(ctx, node2)) })

	node := "node/" + node2Name
	atNode2 := []reach.Address{{Name: node, IP: theLab.node2IP}, {IP: theLab.spareIP}}
	cs, err := cells(pods, atNode2...)
	if err != nil {
		t.Fatal(err)
	}
	// The baseline also proves the routes from the second node's addresses.
	theLab.requireBaseline(t, pods, cs)

	app, err := fixtures.WordPress(hostNetworkNamespace)
	if err != nil {
		t.Fatal(err)
	}
	app.Spec.IngressControllers = []tierwallv1alpha1.IngressController{{Name: "traefik", HostNetwork: true}}
	if err := theLab.c.Create(ctx, app); err != nil {
		t.Fatalf("failed to apply the sample with Traefik on the nodes' network: %v", err)
	}
	t.Cleanup(func() {
		_ = client.IgnoreNotFound(theLab.c.Delete(ctx, app))
		_ = theLab.c.DeleteAllOf(ctx, &networkingv1NetworkPolicy, client.InNamespace(hostNetworkNamespace))
	})
	waitReady(t, app)
	requireHostNetwork(t, "the second node at "+theLab.node2IP, pods, cs, node)

	if err := theLab.setNodeIP(ctx, node2, theLab.spareIP); err != nil {
		t.Fatal(err)
	}
	moved := []reach.Address{{IP: theLab.node2IP}, {Name: node, IP: theLab.spareIP}}
	if cs, err = cells(pods, moved...); err != nil {
		t.Fatal(err)
	}
	requireHostNetwork(t, "the second node's InternalIP moved to "+theLab.spareIP, pods, cs, node)

	if err := theLab.c.Delete(ctx, node2); err != nil {
		t.Fatal(err)
	}
	if cs, err = cells(pods, reach.Address{IP: theLab.node2IP}, reach.Address{IP: theLab.spareIP}); err != nil {
		t.Fatal(err)
	}
	requireHostNetwork(t, "the second Node deleted", pods, cs, "")
}

// requireHostNetwork requires the matrix of declaredHostNetwork, measured
// and evaluated (see requireMatrix).
func requireHostNetwork(t *testing.T, when string, pods []*labPod, cs []cell, node string) {
	t.Helper()
	requireMatrix(t, when, pods, cs, declaredHostNetwork(cs, node))
}
