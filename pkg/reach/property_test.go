package reach_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/pkg/matchers"
	"github.com/tierwall/tierwall/pkg/reach"
	"github.com/tierwall/tierwall/pkg/render"
)

// TestRenderedPoliciesAllowExactlyTheDeclaredGraph is a property test: for
// random valid AppIsolations and pod populations, the policies the renderer
// produces allow exactly what the spec declares (tier graph, ingress
// controllers, DNS), nothing more, nothing less. The expectation comes from
// an oracle that reads the spec directly, not from the renderer; the
// matcher IsolateExactly, with an oracle of its own, must agree.
func TestRenderedPoliciesAllowExactlyTheDeclaredGraph(t *testing.T) {
	for seed := range uint64(500) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			w := newWorld(rand.New(rand.NewPCG(seed, 42)))
			policies, err := render.Render(w.app, w.platform)
			if err != nil {
				t.Fatalf("render: %v\n%s", err, w)
			}
			e, err := reach.New(reach.State{Pods: w.pods, Policies: policies})
			if err != nil {
				t.Fatalf("evaluate: %v", err)
			}
			var got, want []string
			for f := range e.Flows() {
				if f.Allowed {
					got = append(got, fmt.Sprintf("%s -> %s:%d/%s", f.From, f.To, f.Port, f.Protocol))
				}
			}
			for _, src := range w.pods {
				for _, dst := range w.pods {
					if src.Name == dst.Name && src.Namespace == dst.Namespace {
						continue
					}
					for _, cp := range ports(&dst) {
						if w.allowed(&src, &dst, cp) {
							want = append(want, fmt.Sprintf("%s/%s -> %s/%s:%d/%s", src.Namespace, src.Name, dst.Namespace, dst.Name, cp.ContainerPort, cp.Protocol))
						}
					}
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("allowed flows (-declared +rendered):\n%s\n%s", diff, w)
			}
			// The matcher users assert with reads the spec with an oracle
			// of its own: it must agree with this one and the renderer.
			g := gomega.NewGomega(func(message string, _ ...int) { t.Errorf("%s\n%s", message, w) })
			g.Expect(e).To(matchers.IsolateExactly(w.app, matchers.OnPlatform(w.platform)))
		})
	}
}

const appNS = "app"

// world is a random AppIsolation with a pod population.
type world struct {
	app  *tierwallv1alpha1.AppIsolation
	pods []corev1.Pod
	// platform are the Node addresses the AppIsolation is rendered for.
	platform render.Platform
}

func (w *world) String() string {
	return fmt.Sprintf("spec: %+v", w.app.Spec)
}

var portChoices = []tierwallv1alpha1.Port{
	{Port: intstr.FromInt32(80)},
	{Port: intstr.FromInt32(443)},
	{Port: intstr.FromInt32(3306)},
	{Port: intstr.FromInt32(53), Protocol: "UDP"},
	{Port: intstr.FromString("metrics")},
	{Port: intstr.FromInt32(8000), EndPort: ptr.To[int32](8010)},
}

// containerPorts are the ports every pod listens on: each declared port
// choice is matched by one of them, and 9999 by none.
var containerPorts = []corev1.ContainerPort{
	{ContainerPort: 80, Protocol: corev1.ProtocolTCP},
	{ContainerPort: 443, Protocol: corev1.ProtocolTCP},
	{ContainerPort: 3306, Protocol: corev1.ProtocolTCP},
	{ContainerPort: 53, Protocol: corev1.ProtocolUDP},
	{Name: "metrics", ContainerPort: 9090, Protocol: corev1.ProtocolTCP},
	{ContainerPort: 8005, Protocol: corev1.ProtocolTCP},
	{ContainerPort: 9999, Protocol: corev1.ProtocolTCP},
}

func newWorld(r *rand.Rand) *world {
	app := &tierwallv1alpha1.AppIsolation{ObjectMeta: metav1.ObjectMeta{Namespace: appNS, Name: "a", UID: "uid"}}
	governedLabels := map[string]string{}
	if r.IntN(4) > 0 {
		app.Spec.PodSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "a"}}
		governedLabels["app"] = "a"
	}
	app.Spec.PolicyTypes = [][]tierwallv1alpha1.PolicyType{
		nil,
		{tierwallv1alpha1.PolicyTypeIngress, tierwallv1alpha1.PolicyTypeEgress},
		{tierwallv1alpha1.PolicyTypeIngress},
		{tierwallv1alpha1.PolicyTypeEgress},
	}[r.IntN(4)]
	controllers := r.IntN(3)
	if !app.Spec.Isolates(tierwallv1alpha1.PolicyTypeIngress) {
		controllers = 0 // admission refuses them: they only allow ingress
	}
	for i := range controllers {
		c := tierwallv1alpha1.IngressController{Name: fmt.Sprintf("ic%d", i), Namespace: fmt.Sprintf("ingress%d", i)}
		if r.IntN(3) > 0 {
			c.PodSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"ic": fmt.Sprint(i)}}
		}
		switch r.IntN(4) {
		case 0: // on the nodes' network only
			c.Namespace, c.PodSelector, c.HostNetwork = "", nil, true
		case 1: // some replicas on the nodes' network
			c.HostNetwork = true
		}
		app.Spec.IngressControllers = append(app.Spec.IngressControllers, c)
	}
	tiers := 1 + r.IntN(4)
	for i := range tiers {
		t := tierwallv1alpha1.Tier{Name: fmt.Sprintf("t%d", i), PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": fmt.Sprint(i)}}}
		t.Ports = randomPorts(r)
		// A peer lists ports of its own sometimes, and always on a tier
		// without ports.
		withPorts := func(p tierwallv1alpha1.Peer) tierwallv1alpha1.Peer {
			if len(t.Ports) == 0 || r.IntN(3) == 0 {
				for len(p.Ports) == 0 {
					p.Ports = randomPorts(r)
				}
			}
			return p
		}
		for j := range tiers {
			if r.IntN(3) == 0 {
				t.AllowFrom = append(t.AllowFrom, withPorts(tierwallv1alpha1.Peer{Tier: fmt.Sprintf("t%d", j)}))
			}
		}
		for _, c := range app.Spec.IngressControllers {
			if r.IntN(2) == 0 {
				t.AllowFrom = append(t.AllowFrom, withPorts(tierwallv1alpha1.Peer{IngressController: c.Name}))
			}
		}
		if r.IntN(3) == 0 && app.Spec.Isolates(tierwallv1alpha1.PolicyTypeEgress) {
			t.EgressTo = append(t.EgressTo, tierwallv1alpha1.EgressRule{KubeAPIServer: &tierwallv1alpha1.KubeAPIServer{}})
		}
		app.Spec.Tiers = append(app.Spec.Tiers, t)
	}
	if app.Spec.Isolates(tierwallv1alpha1.PolicyTypeEgress) {
		switch r.IntN(6) {
		case 0:
			app.Spec.DNS = &tierwallv1alpha1.DNS{Disabled: true}
		case 1:
			app.Spec.DNS = &tierwallv1alpha1.DNS{NodeLocal: &tierwallv1alpha1.NodeLocalDNS{}}
		case 2:
			app.Spec.DNS = &tierwallv1alpha1.DNS{NodeLocal: &tierwallv1alpha1.NodeLocalDNS{Address: "169.254.25.10"}}
		}
	}

	w := &world{app: app}
	pod := func(namespace, name string, labels map[string]string) {
		w.pods = append(w.pods, corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Ports: containerPorts}}},
		})
	}
	with := func(extra map[string]string) map[string]string {
		l := map[string]string{}
		maps.Copy(l, governedLabels)
		maps.Copy(l, extra)
		return l
	}
	for i := range tiers {
		for j := range 1 + r.IntN(2) {
			pod(appNS, fmt.Sprintf("t%d-%d", i, j), with(map[string]string{"tier": fmt.Sprint(i)}))
		}
	}
	pod(appNS, "no-tier", with(nil))
	pod(appNS, "other-app", map[string]string{"app": "b", "tier": "0"})
	for i := range 2 {
		pod(fmt.Sprintf("ingress%d", i), fmt.Sprintf("ic%d", i), map[string]string{"ic": fmt.Sprint(i)})
		pod(fmt.Sprintf("ingress%d", i), fmt.Sprintf("ic%d-other", i), map[string]string{"ic": "other"})
		pod("elsewhere", fmt.Sprintf("ic%d-lookalike", i), map[string]string{"ic": fmt.Sprint(i)})
	}
	// hostNetwork pods, as the evaluator sees them: endpoints with a Node's
	// address. The platform knows some Nodes, maybe none.
	nodeIPs := []string{"10.0.0.1", "10.0.0.2", "fd00::1"}
	for _, ip := range nodeIPs {
		pod("nodes", "node-"+ip, nil)
		w.pods[len(w.pods)-1].Status.PodIP = ip
		if r.IntN(2) == 0 {
			w.platform.NodeAddresses = append(w.platform.NodeAddresses, netip.MustParseAddr(ip))
		}
	}
	// The API server's endpoints, as the evaluator sees them; the platform
	// knows some of them, on some ports.
	for _, ip := range []string{"172.18.0.2", "172.18.0.3"} {
		pod("default", "apiserver-"+ip, nil)
		w.pods[len(w.pods)-1].Status.PodIP = ip
		if r.IntN(3) > 0 {
			w.platform.KubeAPIServer.Addresses = append(w.platform.KubeAPIServer.Addresses, netip.MustParseAddr(ip))
		}
	}
	w.platform.KubeAPIServer.Ports = [][]render.EndpointPort{
		nil,
		{{Port: 443, Protocol: corev1.ProtocolTCP}},
		{{Port: 443, Protocol: corev1.ProtocolTCP}, {Port: 3306, Protocol: corev1.ProtocolTCP}},
	}[r.IntN(3)]
	pod("kube-system", "coredns", map[string]string{"k8s-app": "kube-dns"})
	pod("kube-system", "not-dns", map[string]string{"k8s-app": "other"})
	// NodeLocal DNSCache, as the evaluator sees it: endpoints with the
	// cache's address (the default one, and another).
	for _, ip := range []string{"169.254.20.10", "169.254.25.10"} {
		pod("kube-system", "node-local-dns-"+ip, map[string]string{"k8s-app": "node-local-dns"})
		w.pods[len(w.pods)-1].Status.PodIP = ip
	}
	return w
}

// randomPorts returns up to two distinct port choices.
func randomPorts(r *rand.Rand) []tierwallv1alpha1.Port {
	picked := r.Perm(len(portChoices))[:r.IntN(3)]
	out := make([]tierwallv1alpha1.Port, 0, len(picked))
	for _, j := range picked {
		out = append(out, portChoices[j])
	}
	return out
}

func ports(p *corev1.Pod) []corev1.ContainerPort { return p.Spec.Containers[0].Ports }

// governed says whether the AppIsolation governs p.
func (w *world) governed(p *corev1.Pod) bool {
	return p.Namespace == appNS && (w.app.Spec.PodSelector == nil || p.Labels["app"] == "a")
}

// tiersOf returns the tiers p is in.
func (w *world) tiersOf(p *corev1.Pod) []*tierwallv1alpha1.Tier {
	var out []*tierwallv1alpha1.Tier
	if !w.governed(p) {
		return nil
	}
	for i := range w.app.Spec.Tiers {
		if t := &w.app.Spec.Tiers[i]; p.Labels["tier"] == t.PodSelector.MatchLabels["tier"] {
			out = append(out, t)
		}
	}
	return out
}

// portDeclared says whether ports include the container port.
func portDeclared(ports []tierwallv1alpha1.Port, cp corev1.ContainerPort) bool {
	for _, p := range ports {
		protocol := corev1.Protocol(p.Protocol)
		if protocol == "" {
			protocol = corev1.ProtocolTCP
		}
		if protocol != cp.Protocol {
			continue
		}
		switch {
		case p.Port.Type == intstr.String && p.Port.StrVal == cp.Name:
			return true
		case p.Port.Type == intstr.Int && p.EndPort != nil && cp.ContainerPort >= p.Port.IntVal && cp.ContainerPort <= *p.EndPort:
			return true
		case p.Port.Type == intstr.Int && p.Port.IntVal == cp.ContainerPort:
			return true
		}
	}
	return false
}

// allowed is the oracle: what the spec declares about a connection.
func (w *world) allowed(src, dst *corev1.Pod, cp corev1.ContainerPort) bool {
	if !w.governed(src) && !w.governed(dst) {
		return true // no policy selects either pod
	}
	// into a tier of dst, from a peer it lists, on that entry's ports: its
	// own, or else the tier's
	accepted := func(fromSource func(tierwallv1alpha1.Peer) bool) bool {
		for _, t := range w.tiersOf(dst) {
			for _, peer := range t.AllowFrom {
				ports := peer.Ports
				if len(ports) == 0 {
					ports = t.Ports
				}
				if fromSource(peer) && portDeclared(ports, cp) {
					return true
				}
			}
		}
		return false
	}
	fromSrc := func(peer tierwallv1alpha1.Peer) bool {
		if peer.Tier != "" {
			return slices.ContainsFunc(w.tiersOf(src), func(t *tierwallv1alpha1.Tier) bool { return t.Name == peer.Tier })
		}
		for _, c := range w.app.Spec.IngressControllers {
			if c.Name == peer.IngressController && src.Namespace == c.Namespace &&
				(c.PodSelector == nil || src.Labels["ic"] == c.PodSelector.MatchLabels["ic"]) {
				return true
			}
			if c.Name == peer.IngressController && c.HostNetwork && src.Status.PodIP != "" &&
				slices.Contains(w.platform.NodeAddresses, netip.MustParseAddr(src.Status.PodIP)) {
				return true
			}
		}
		return false
	}
	nodeLocal := ""
	if w.app.Spec.DNS != nil && w.app.Spec.DNS.NodeLocal != nil {
		nodeLocal = w.app.Spec.DNS.NodeLocal.Address
		if nodeLocal == "" {
			nodeLocal = "169.254.20.10"
		}
	}
	dnsQuery := (w.app.Spec.DNS == nil || !w.app.Spec.DNS.Disabled) && cp.ContainerPort == 53 &&
		(dst.Namespace == "kube-system" && dst.Labels["k8s-app"] == "kube-dns" ||
			nodeLocal != "" && dst.Status.PodIP == nodeLocal)

	// a direction the AppIsolation does not isolate is open
	isolates := func(d tierwallv1alpha1.PolicyType) bool {
		return len(w.app.Spec.PolicyTypes) == 0 || slices.Contains(w.app.Spec.PolicyTypes, d)
	}
	toAPIServer := dst.Status.PodIP != "" &&
		slices.Contains(w.platform.KubeAPIServer.Addresses, netip.MustParseAddr(dst.Status.PodIP)) &&
		slices.Contains(w.platform.KubeAPIServer.Ports, render.EndpointPort{Port: cp.ContainerPort, Protocol: cp.Protocol}) &&
		slices.ContainsFunc(w.tiersOf(src), func(t *tierwallv1alpha1.Tier) bool {
			return slices.ContainsFunc(t.EgressTo, func(e tierwallv1alpha1.EgressRule) bool { return e.KubeAPIServer != nil })
		})
	egressOK := !w.governed(src) || !isolates(tierwallv1alpha1.PolicyTypeEgress) || dnsQuery || toAPIServer ||
		(w.governed(dst) && accepted(func(peer tierwallv1alpha1.Peer) bool {
			return peer.Tier != "" && fromSrc(peer)
		}))
	ingressOK := !w.governed(dst) || !isolates(tierwallv1alpha1.PolicyTypeIngress) || accepted(fromSrc)
	return egressOK && ingressOK
}
