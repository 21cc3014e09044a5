package dataplane

import (
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/pkg/reach"
	"github.com/tierwall/tierwall/pkg/render"
	"github.com/tierwall/tierwall/test/fixtures"
)

const (
	apiServerNamespace = "apiserver-wordpress"
	// apiServerPort is the port of the lab's API server endpoint (the
	// kube-apiserver's usual one, as the default/kubernetes Service's
	// EndpointSlices list it), apiServerOtherPort another port of the same
	// address, where a listener answers too.
	apiServerPort      = 6443
	apiServerOtherPort = 6444
	// apiServerName names the endpoint's current address in the matrices.
	apiServerName = "apiserver"
)

// TestKubeAPIServerEgress gives the lab an API server endpoint outside the
// pod network, listeners on the second node's addresses, and renders the
// WordPress sample with `egressTo: [{kubeAPIServer: {}}]` on its frontend
// tier, with pkg/render, for a platform whose default/kubernetes endpoint
// is the second node's address on 6443 (as the operator renders it from
// the Service's EndpointSlices). It proves with packets under kube-router,
// cell by cell and equal to tierwall reach, that the frontend reaches the
// endpoint on its port and nothing else of it (not another port of the
// same address, not the spare address), and that the database and the
// governed pod in no tier reach neither. Then the endpoint moves to the
// spare address: rendered again, the ipBlock follows, the new address
// connects and the old one is blocked.
func TestKubeAPIServerEgress(t *testing.T) {
	pods := theLab.addPods(t, map[string]map[string]string{apiServerNamespace: nil},
		slices.DeleteFunc(fixtures.WordPressPods(apiServerNamespace, "", ""), func(p *corev1.Pod) bool {
			return p.Namespace != apiServerNamespace
		}))
	for _, port := range []int32{apiServerPort, apiServerOtherPort} {
		closer, err := listen(theLab.node2, port, corev1.ProtocolTCP)
		if err != nil {
			t.Fatalf("the API server endpoint in the second node's namespace: %v", err)
		}
		t.Cleanup(func() { _ = closer.Close() })
	}

	ports := []reach.AddressPort{{Port: apiServerPort}, {Port: apiServerOtherPort}}
	at := func(current, old string) []cell {
		t.Helper()
		cs, err := cells(pods, reach.Address{Name: apiServerName, IP: current, Ports: ports}, reach.Address{IP: old, Ports: ports})
		if err != nil {
			t.Fatal(err)
		}
		// The pods' egress to the addresses is the point; the addresses
		// send nothing here.
		return slices.DeleteFunc(cs, func(c cell) bool { return c.from == nil })
	}
	cs := at(theLab.node2IP, theLab.spareIP)
	// The baseline also proves the routes to the endpoint and its
	// listeners, on both addresses.
	theLab.requireBaseline(t, pods, cs)

	app, err := fixtures.WordPress(apiServerNamespace)
	if err != nil {
		t.Fatal(err)
	}
	frontend := app.Spec.TierNamed("frontend")
	if frontend == nil {
		t.Fatal("the WordPress sample has no frontend tier")
	}
	frontend.EgressTo = append(frontend.EgressTo, tierwallv1alpha1.EgressRule{KubeAPIServer: &tierwallv1alpha1.KubeAPIServer{}})
	endpoint := func(ip string) render.Platform {
		return render.Platform{KubeAPIServer: render.Endpoints{
			Addresses: []netip.Addr{netip.MustParseAddr(ip)},
			Ports:     []render.EndpointPort{{Port: apiServerPort, Protocol: corev1.ProtocolTCP}},
		}}
	}
	declared := func(cs []cell) []reach.Flow {
		return declare(cs, map[string]bool{
			apiServerNamespace + "/wordpress -> " + apiServerNamespace + "/mysql:3306/TCP": true,
			apiServerNamespace + "/wordpress -> " + apiServerName + ":6443/TCP":            true,
		})
	}

	applyRendered(t, app, endpoint(theLab.node2IP))
	measured := requireMatrix(t, "the API server at "+theLab.node2IP, pods, cs, declared(cs))
	requireQuoted(t, "the API server endpoint", pods, measured)

	cs = at(theLab.spareIP, theLab.node2IP)
	applyRendered(t, app, endpoint(theLab.spareIP))
	measured = requireMatrix(t, "the API server endpoint moved to "+theLab.spareIP, pods, cs, declared(cs))
	requireQuoted(t, "the moved API server endpoint", pods, measured)
}
