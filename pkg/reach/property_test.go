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
	networkingv1 "k8s.io/api/networking/v1"
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
			var policies []networkingv1.NetworkPolicy
			for _, app := range w.apps() {
				rendered, err := render.Render(app, w.platformOf(app))
				if err != nil {
					t.Fatalf("render: %v\n%s", err, w)
				}
				policies = append(policies, rendered...)
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
			for _, app := range w.apps() {
				g.Expect(e).To(matchers.IsolateExactly(app, matchers.OnPlatform(w.platformOf(app))))
			}
		})
	}
}

// appNS and peerNS are the namespaces of the AppIsolation under test and of
// the one whose tiers it may name (and that may name its tiers).
const (
	appNS  = "app"
	peerNS = "peer"
)

// world is a random AppIsolation with a pod population, and maybe a second
// AppIsolation in another namespace that the two may name each other's
// tiers in.
type world struct {
	app *tierwallv1alpha1.AppIsolation
	// peer is the other AppIsolation, nil when the cluster does not hold
	// it (the app may still name it).
	peer *tierwallv1alpha1.AppIsolation
	pods []corev1.Pod
	// platform are the Node addresses and API server endpoints the
	// AppIsolations are rendered for.
	platform render.Platform
}

func (w *world) String() string {
	if w.peer == nil {
		return fmt.Sprintf("spec: %+v", w.app.Spec)
	}
	return fmt.Sprintf("spec: %+v\npeer spec: %+v", w.app.Spec, w.peer.Spec)
}

// apps are the AppIsolations the cluster holds.
func (w *world) apps() []*tierwallv1alpha1.AppIsolation {
	if w.peer == nil {
		return []*tierwallv1alpha1.AppIsolation{w.app}
	}
	return []*tierwallv1alpha1.AppIsolation{w.app, w.peer}
}

// platformOf is the platform app is rendered on: the world's, and the
// other AppIsolation, if the cluster holds it.
func (w *world) platformOf(app *tierwallv1alpha1.AppIsolation) render.Platform {
	p := w.platform
	for _, other := range w.apps() {
		if other != app {
			p.AppIsolations = append(p.AppIsolations, *other)
		}
	}
	return p
}

// reference names app.
func reference(app *tierwallv1alpha1.AppIsolation) *tierwallv1alpha1.AppIsolationReference {
	return ptr.To(app.Reference())
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
		// Tiers of the peer AppIsolation; u2 is a tier it never has.
		peer := &tierwallv1alpha1.AppIsolationReference{Namespace: peerNS, Name: "b"}
		if r.IntN(3) == 0 && app.Spec.Isolates(tierwallv1alpha1.PolicyTypeIngress) {
			t.AllowFrom = append(t.AllowFrom, withPorts(tierwallv1alpha1.Peer{AppIsolation: peer, Tier: fmt.Sprintf("u%d", r.IntN(3))}))
		}
		if r.IntN(3) == 0 && app.Spec.Isolates(tierwallv1alpha1.PolicyTypeEgress) {
			t.EgressTo = append(t.EgressTo, tierwallv1alpha1.EgressRule{AppIsolation: peer, Tier: fmt.Sprintf("u%d", r.IntN(3)), Ports: randomPorts(r)})
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
	w.peer = newPeer(r, app, tiers)
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
	// The peer's pods, and lookalikes: not governed, in another namespace.
	for i := range 2 {
		pod(peerNS, fmt.Sprintf("u%d", i), map[string]string{"app": "b", "tier": fmt.Sprint(i)})
		pod(peerNS, fmt.Sprintf("u%d-ungoverned", i), map[string]string{"tier": fmt.Sprint(i)})
		pod("elsewhere", fmt.Sprintf("u%d-lookalike", i), map[string]string{"app": "b", "tier": fmt.Sprint(i)})
	}
	pod(peerNS, "peer-no-tier", map[string]string{"app": "b"})
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

// newPeer returns, most of the time, the peer AppIsolation b of namespace
// peer: tiers u0 and maybe u1, that accept each other and tiers of app
// (t0..t<tiers-1>), and may connect to them; nil the rest of the time.
func newPeer(r *rand.Rand, app *tierwallv1alpha1.AppIsolation, tiers int) *tierwallv1alpha1.AppIsolation {
	if r.IntN(5) == 0 {
		return nil
	}
	b := &tierwallv1alpha1.AppIsolation{ObjectMeta: metav1.ObjectMeta{Namespace: peerNS, Name: "b", UID: "uid-b"}}
	b.Spec.PodSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "b"}}
	b.Spec.PolicyTypes = [][]tierwallv1alpha1.PolicyType{
		nil,
		{tierwallv1alpha1.PolicyTypeIngress},
		{tierwallv1alpha1.PolicyTypeEgress},
	}[r.IntN(3)]
	count := 1 + r.IntN(2)
	for i := range count {
		u := tierwallv1alpha1.Tier{Name: fmt.Sprintf("u%d", i), PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": fmt.Sprint(i)}}}
		u.Ports = randomPorts(r)
		withPorts := func(p tierwallv1alpha1.Peer) tierwallv1alpha1.Peer {
			if len(u.Ports) == 0 || r.IntN(4) == 0 {
				for len(p.Ports) == 0 {
					p.Ports = randomPorts(r)
				}
			}
			return p
		}
		if r.IntN(2) == 0 {
			u.AllowFrom = append(u.AllowFrom, withPorts(tierwallv1alpha1.Peer{Tier: fmt.Sprintf("u%d", r.IntN(count))}))
		}
		if r.IntN(2) == 0 && b.Spec.Isolates(tierwallv1alpha1.PolicyTypeIngress) {
			u.AllowFrom = append(u.AllowFrom, withPorts(tierwallv1alpha1.Peer{AppIsolation: reference(app), Tier: fmt.Sprintf("t%d", r.IntN(tiers))}))
		}
		if r.IntN(2) == 0 && b.Spec.Isolates(tierwallv1alpha1.PolicyTypeEgress) {
			u.EgressTo = append(u.EgressTo, tierwallv1alpha1.EgressRule{AppIsolation: reference(app), Tier: fmt.Sprintf("t%d", r.IntN(tiers)), Ports: randomPorts(r)})
		}
		b.Spec.Tiers = append(b.Spec.Tiers, u)
	}
	return b
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

// governed says whether app governs p: every AppIsolation of the world
// governs the pods of its namespace with its app label, if it has one.
func governed(app *tierwallv1alpha1.AppIsolation, p *corev1.Pod) bool {
	return app != nil && p.Namespace == app.Namespace &&
		(app.Spec.PodSelector == nil || p.Labels["app"] == app.Spec.PodSelector.MatchLabels["app"])
}

// tiersOf returns the tiers of app that p is in.
func tiersOf(app *tierwallv1alpha1.AppIsolation, p *corev1.Pod) []*tierwallv1alpha1.Tier {
	var out []*tierwallv1alpha1.Tier
	if !governed(app, p) {
		return nil
	}
	for i := range app.Spec.Tiers {
		if t := &app.Spec.Tiers[i]; p.Labels["tier"] == t.PodSelector.MatchLabels["tier"] {
			out = append(out, t)
		}
	}
	return out
}

// owner is the AppIsolation that governs p, or nil.
func (w *world) owner(p *corev1.Pod) *tierwallv1alpha1.AppIsolation {
	for _, app := range w.apps() {
		if governed(app, p) {
			return app
		}
	}
	return nil
}

// named is the AppIsolation ref names, or nil when the world has none.
func (w *world) named(ref tierwallv1alpha1.AppIsolationReference) *tierwallv1alpha1.AppIsolation {
	for _, app := range w.apps() {
		if app.Namespace == ref.Namespace && app.Name == ref.Name {
			return app
		}
	}
	return nil
}

// inTier says whether p is in the tier named tier of the AppIsolation ref.
func (w *world) inTier(p *corev1.Pod, ref tierwallv1alpha1.AppIsolationReference, tier string) bool {
	return slices.ContainsFunc(tiersOf(w.named(ref), p), func(t *tierwallv1alpha1.Tier) bool { return t.Name == tier })
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

// allowed is the oracle: what the specs declare about a connection. The
// source's AppIsolation decides its egress, the destination's its ingress.
func (w *world) allowed(src, dst *corev1.Pod, cp corev1.ContainerPort) bool {
	return w.egressAllowed(src, dst, cp) && w.ingressAllowed(src, dst, cp)
}

// isolates says whether app isolates direction d.
func isolates(app *tierwallv1alpha1.AppIsolation, d tierwallv1alpha1.PolicyType) bool {
	return len(app.Spec.PolicyTypes) == 0 || slices.Contains(app.Spec.PolicyTypes, d)
}

// entryPorts are the ports an allowFrom entry of t accepts: its own, or
// else the tier's.
func entryPorts(t *tierwallv1alpha1.Tier, peer tierwallv1alpha1.Peer) []tierwallv1alpha1.Port {
	if len(peer.Ports) > 0 {
		return peer.Ports
	}
	return t.Ports
}

// accepts says whether a tier of dst's AppIsolation lists a peer that
// fromSource says is the source, on the container port.
func accepts(app *tierwallv1alpha1.AppIsolation, dst *corev1.Pod, cp corev1.ContainerPort, fromSource func(tierwallv1alpha1.Peer) bool) bool {
	for _, t := range tiersOf(app, dst) {
		for _, peer := range t.AllowFrom {
			if fromSource(peer) && portDeclared(entryPorts(t, peer), cp) {
				return true
			}
		}
	}
	return false
}

// isSource says whether an allowFrom peer of app is src.
func (w *world) isSource(app *tierwallv1alpha1.AppIsolation, src *corev1.Pod, peer tierwallv1alpha1.Peer) bool {
	switch {
	case peer.AppIsolation != nil:
		return w.inTier(src, *peer.AppIsolation, peer.Tier)
	case peer.Tier != "":
		return slices.ContainsFunc(tiersOf(app, src), func(t *tierwallv1alpha1.Tier) bool { return t.Name == peer.Tier })
	}
	for _, c := range app.Spec.IngressControllers {
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

// ingressAllowed says whether dst's AppIsolation lets it accept the
// connection.
func (w *world) ingressAllowed(src, dst *corev1.Pod, cp corev1.ContainerPort) bool {
	app := w.owner(dst)
	return app == nil || !isolates(app, tierwallv1alpha1.PolicyTypeIngress) ||
		accepts(app, dst, cp, func(peer tierwallv1alpha1.Peer) bool { return w.isSource(app, src, peer) })
}

// egressAllowed says whether src's AppIsolation lets it open the
// connection.
func (w *world) egressAllowed(src, dst *corev1.Pod, cp corev1.ContainerPort) bool {
	app := w.owner(src)
	if app == nil || !isolates(app, tierwallv1alpha1.PolicyTypeEgress) {
		return true
	}
	nodeLocal := ""
	if app.Spec.DNS != nil && app.Spec.DNS.NodeLocal != nil {
		nodeLocal = app.Spec.DNS.NodeLocal.Address
		if nodeLocal == "" {
			nodeLocal = "169.254.20.10"
		}
	}
	dnsQuery := (app.Spec.DNS == nil || !app.Spec.DNS.Disabled) && cp.ContainerPort == 53 &&
		(dst.Namespace == "kube-system" && dst.Labels["k8s-app"] == "kube-dns" ||
			nodeLocal != "" && dst.Status.PodIP == nodeLocal)
	if dnsQuery {
		return true
	}
	for _, t := range tiersOf(app, src) {
		for _, e := range t.EgressTo {
			switch {
			case e.KubeAPIServer != nil:
				if dst.Status.PodIP != "" &&
					slices.Contains(w.platform.KubeAPIServer.Addresses, netip.MustParseAddr(dst.Status.PodIP)) &&
					slices.Contains(w.platform.KubeAPIServer.Ports, render.EndpointPort{Port: cp.ContainerPort, Protocol: cp.Protocol}) {
					return true
				}
			case e.AppIsolation != nil:
				if w.inTier(dst, *e.AppIsolation, e.Tier) && portDeclared(w.egressPorts(app, t, e), cp) {
					return true
				}
			}
		}
	}
	// to a tier of its own AppIsolation that lists one of src's tiers
	return governed(app, dst) && accepts(app, dst, cp, func(peer tierwallv1alpha1.Peer) bool {
		return peer.AppIsolation == nil && peer.Tier != "" && w.isSource(app, src, peer)
	})
}

// egressPorts are the ports of an egressTo entry e of tier t of app that
// names another AppIsolation's tier: its own; else those that tier accepts
// from t; else the tier's; else every port it accepts from some peer.
func (w *world) egressPorts(app *tierwallv1alpha1.AppIsolation, t *tierwallv1alpha1.Tier, e tierwallv1alpha1.EgressRule) []tierwallv1alpha1.Port {
	if len(e.Ports) > 0 {
		return e.Ports
	}
	dest := w.named(*e.AppIsolation).Spec.TierNamed(e.Tier)
	var accepted, all []tierwallv1alpha1.Port
	names := false
	for _, peer := range dest.AllowFrom {
		all = append(all, peer.Ports...)
		if peer.AppIsolation != nil && *peer.AppIsolation == app.Reference() && peer.Tier == t.Name {
			names = true
			accepted = append(accepted, entryPorts(dest, peer)...)
		}
	}
	switch {
	case names:
		return accepted
	case len(dest.Ports) > 0:
		return dest.Ports
	}
	return all
}
