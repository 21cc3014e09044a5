package render_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/pkg/render"
)

// FuzzRender renders AppIsolations decoded from the fuzz input. Render must
// never panic; it must succeed on every AppIsolation the API server accepts
// whose label selectors are valid, and fail with an InvalidSpecError on
// those it cannot render; and what it renders must keep tierwall's
// invariants. TestFuzzCorpusAcceptedByAPIServer checks, in envtest, that
// the generator's idea of what the API server accepts is right and that the
// API server accepts every policy rendered from it.
func FuzzRender(f *testing.F) {
	for _, seed := range handwrittenSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g := generate(data)
		policies, err := render.Render(g.app, g.platform)
		switch {
		case g.renderError != "":
			if !render.IsInvalidSpec(err) {
				t.Fatalf("Render() error = %v, want an InvalidSpecError (%s)", err, g.renderError)
			}
			return
		case g.refused != "":
			t.Skipf("the API server refuses this AppIsolation: %s", g.refused)
		}
		if err != nil {
			t.Fatalf("Render() error = %v for an AppIsolation the API server accepts", err)
		}
		checkRendered(t, g.app, policies)
	})
}

// checkRendered checks, cheaply, what the rendering of a valid AppIsolation
// must satisfy.
func checkRendered(t *testing.T, app *tierwallv1alpha1.AppIsolation, policies []networkingv1.NetworkPolicy) {
	t.Helper()
	checkInvariants(t, app, policies)

	wantCount := len(app.Spec.Tiers) + 2
	if _, _, enabled := app.Spec.DNSPeer(); !enabled {
		wantCount--
	}
	if len(policies) != wantCount {
		t.Errorf("Render() returned %d policies, want %d: one per tier, DNS unless disabled or egress not isolated, default-deny",
			len(policies), wantCount)
	}
	names := sets.New[string]()
	for _, p := range policies {
		if names.Has(p.Name) {
			t.Errorf("two policies are named %s", p.Name)
		}
		names.Insert(p.Name)
		for _, msg := range validation.IsDNS1123Subdomain(p.Name) {
			t.Errorf("policy name %q: %s", p.Name, msg)
		}
		if p.Namespace != app.Namespace {
			t.Errorf("policy %s is in namespace %q, want %q", p.Name, p.Namespace, app.Namespace)
		}
		for k, v := range p.Labels {
			for _, msg := range validation.IsValidLabelValue(v) {
				t.Errorf("policy %s label %s=%q: %s", p.Name, k, v, msg)
			}
		}
		for _, err := range metav1validation.ValidateLabelSelector(&p.Spec.PodSelector, metav1validation.LabelSelectorValidationOptions{}, nil) {
			t.Errorf("policy %s podSelector: %v", p.Name, err)
		}
		// A rule with no peers allows every source or destination: tierwall
		// never means that.
		for i, rule := range p.Spec.Ingress {
			if len(rule.From) == 0 {
				t.Errorf("policy %s ingress[%d] has no peers: it would allow traffic from everywhere", p.Name, i)
			}
			if len(rule.Ports) == 0 {
				t.Errorf("policy %s ingress[%d] has no ports: it would allow every port", p.Name, i)
			}
		}
		for i, rule := range p.Spec.Egress {
			if len(rule.To) == 0 {
				t.Errorf("policy %s egress[%d] has no peers: it would allow traffic to everywhere", p.Name, i)
			}
		}
	}
}

// generated is an AppIsolation decoded from fuzz input, with what the
// generator knows about it.
type generated struct {
	app *tierwallv1alpha1.AppIsolation
	// platform are the Node addresses given to Render.
	platform render.Platform
	// refused, when set, says why the API server refuses the AppIsolation:
	// the generator models the CRD's validation for what it generates.
	refused string
	// renderError, when set, says why Render must fail: an invalid label
	// selector, which admission does not check, or a spec that admission
	// refuses and Render checks too.
	renderError string
}

func (g *generated) refuse(why string) {
	if g.refused == "" {
		g.refused = why
	}
}

func (g *generated) failRender(why string) {
	if g.renderError == "" {
		g.renderError = why
	}
}

// source hands out the fuzz input a byte at a time, then zeros: every
// input, however short, decodes to an AppIsolation.
type source struct{ data []byte }

func (s *source) byte() byte {
	if len(s.data) == 0 {
		return 0
	}
	b := s.data[0]
	s.data = s.data[1:]
	return b
}

// intn returns a number in [0, n).
func (s *source) intn(n int) int { return int(s.byte()) % n }

// rarely is true for about one input byte in 32: the generator uses it to
// make an otherwise valid AppIsolation invalid in one place.
func (s *source) rarely() bool { return s.byte()%32 == 31 }

func pick[T any](s *source, from []T) T { return from[s.intn(len(from))] }

// pickDistinct picks n distinct elements of from, n <= len(from).
func pickDistinct[T any](s *source, from []T, n int) []T {
	left := append([]T(nil), from...)
	out := make([]T, 0, n)
	for range n {
		i := s.intn(len(left))
		out = append(out, left[i])
		left = append(left[:i], left[i+1:]...)
	}
	return out
}

var (
	appNames        = []string{"wordpress", "shop", "a", "blog.example", strings.Repeat("n", 63)}
	tierNames       = []string{"frontend", "database", "cache", "api", "worker", "t", strings.Repeat("t", 40)}
	controllerNames = []string{"traefik", "ingress-nginx", "haproxy", strings.Repeat("c", 40)}
	// references name other AppIsolations; the platform holds some of
	// them, and may hold a lookalike in another namespace.
	references = []tierwallv1alpha1.AppIsolationReference{
		{Namespace: "payments", Name: "api"}, {Namespace: "fuzz", Name: "shop"}, {Namespace: strings.Repeat("p", 63), Name: "blog.example"},
	}
	namespaces   = []string{"kube-system", "ingress-nginx", "monitoring", "n", strings.Repeat("n", 63)}
	labelKeys    = []string{"app", "tier", "app.kubernetes.io/name", "k8s-app", "example.com/role"}
	labelValues  = []string{"wordpress", "frontend", "mysql", "a", "v1.2_3-x", ""}
	numericPorts = []int32{1, 53, 80, 443, 3306, 8080, 65535}
	namedPorts   = []string{"http", "mysql", "dns-tcp", "metrics", "a1", "h2c", "abcdefghijklmno"}
	protocols    = []tierwallv1alpha1.Protocol{"", "TCP", "UDP", "SCTP"}
	modes        = []tierwallv1alpha1.Mode{"", tierwallv1alpha1.ModeEnforce, tierwallv1alpha1.ModeDryRun}
	policyTypes  = [][]tierwallv1alpha1.PolicyType{
		nil,
		{tierwallv1alpha1.PolicyTypeIngress, tierwallv1alpha1.PolicyTypeEgress},
		{tierwallv1alpha1.PolicyTypeEgress, tierwallv1alpha1.PolicyTypeIngress},
		{tierwallv1alpha1.PolicyTypeIngress},
		{tierwallv1alpha1.PolicyTypeEgress},
	}
)

// ipBlocks are CIDRs with candidate except entries inside them.
var ipBlocks = []struct {
	cidr   string
	except []string
}{
	{"10.0.0.0/8", []string{"10.1.0.0/16", "10.2.3.0/24", "10.255.255.255/32"}},
	{"0.0.0.0/0", []string{"10.0.0.0/8", "169.254.169.254/32", "192.168.0.0/16"}},
	{"192.168.1.0/24", []string{"192.168.1.1/32", "192.168.1.128/25"}},
	{"203.0.113.7/32", nil},
	{"2001:db8::/32", []string{"2001:db8:1::/48", "2001:db8:ff00::/40"}},
	{"fd00::/8", []string{"fd00:1::/32"}},
	{"::/0", []string{"fd00::/8", "2001:db8::/32"}},
}

// generate decodes data into an AppIsolation, mostly a valid one.
func generate(data []byte) *generated {
	s := &source{data: data}
	g := &generated{app: &tierwallv1alpha1.AppIsolation{
		ObjectMeta: metav1.ObjectMeta{Name: pick(s, appNames), Namespace: "fuzz", UID: appUID},
	}}
	spec := &g.app.Spec
	spec.Mode = pick(s, modes)
	spec.PolicyTypes = pick(s, policyTypes)
	if s.intn(4) != 0 {
		spec.PodSelector = g.selector(s)
	}

	controllers := pickDistinct(s, controllerNames, s.intn(len(controllerNames)))
	if !spec.Isolates(tierwallv1alpha1.PolicyTypeIngress) && len(controllers) > 0 {
		if s.rarely() {
			g.refuse("ingressControllers without Ingress in policyTypes")
		} else {
			controllers = nil
		}
	}
	for _, name := range controllers {
		spec.IngressControllers = append(spec.IngressControllers, g.ingressController(s, name))
	}

	tierCount := 1 + s.intn(5)
	if s.rarely() {
		tierCount = 0
		g.refuse("no tiers")
		g.failRender("no tiers")
	}
	tiers := pickDistinct(s, tierNames, tierCount)
	for _, name := range tiers {
		spec.Tiers = append(spec.Tiers, g.tier(s, spec, name, tiers, controllers))
	}

	for range s.intn(4) {
		g.platform.NodeAddresses = append(g.platform.NodeAddresses, netip.MustParseAddr(pick(s, nodeAddresses)))
	}
	for range s.intn(3) {
		g.platform.KubeAPIServer.Addresses = append(g.platform.KubeAPIServer.Addresses, netip.MustParseAddr(pick(s, nodeAddresses)))
	}
	for range s.intn(4) {
		ref := pick(s, references)
		if s.intn(4) == 0 {
			ref.Namespace = "elsewhere"
		}
		other := tierwallv1alpha1.AppIsolation{ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, Name: ref.Name}}
		if s.intn(2) == 0 {
			other.Spec.PodSelector = g.otherSelector(s)
		}
		for _, name := range pickDistinct(s, tierNames, 1+s.intn(3)) {
			t := tierwallv1alpha1.Tier{Name: name, PodSelector: *g.otherSelector(s)}
			for range s.intn(3) {
				t.Ports = append(t.Ports, otherPort(s))
			}
			if s.intn(2) == 0 {
				t.AllowFrom = append(t.AllowFrom, tierwallv1alpha1.Peer{
					AppIsolation: &tierwallv1alpha1.AppIsolationReference{Namespace: g.app.Namespace, Name: g.app.Name},
					Tier:         pick(s, tierNames), Ports: []tierwallv1alpha1.Port{otherPort(s)}})
			}
			other.Spec.Tiers = append(other.Spec.Tiers, t)
		}
		g.platform.AppIsolations = append(g.platform.AppIsolations, other)
	}
	for range s.intn(3) {
		g.platform.KubeAPIServer.Ports = append(g.platform.KubeAPIServer.Ports, render.EndpointPort{
			Port: pick(s, []int32{443, 6443}), Protocol: corev1.Protocol(pick(s, []string{"TCP", "UDP"}))})
	}

	dns := s.intn(4)
	if dns >= 2 && !spec.Isolates(tierwallv1alpha1.PolicyTypeEgress) {
		if s.rarely() {
			g.refuse("dns without Egress in policyTypes")
		} else {
			dns = 0
		}
	}
	switch dns {
	case 2:
		spec.DNS = &tierwallv1alpha1.DNS{Disabled: true}
		if s.rarely() {
			spec.DNS.Namespace = "kube-system"
			g.refuse("dns.namespace with dns.disabled")
		}
		if s.rarely() {
			spec.DNS.NodeLocal = &tierwallv1alpha1.NodeLocalDNS{}
			g.refuse("dns.nodeLocal with dns.disabled")
		}
	case 3:
		spec.DNS = &tierwallv1alpha1.DNS{}
		if s.intn(2) == 0 {
			spec.DNS.Namespace = pick(s, namespaces)
		}
		if s.intn(2) == 0 {
			spec.DNS.PodSelector = g.selector(s)
		}
		if s.intn(2) == 0 {
			spec.DNS.NodeLocal = &tierwallv1alpha1.NodeLocalDNS{Address: pick(s, nodeLocalAddresses)}
			if s.rarely() {
				spec.DNS.NodeLocal.Address = pick(s, []string{"169.254.20.10/32", "169.254.020.10", "FD00::A", "node-local"})
				g.refuse("a dns.nodeLocal address that is not a canonical IP")
				// It would render as an ipBlock the API server refuses.
				g.failRender("a dns.nodeLocal address that is not a canonical IP")
			}
		}
	}
	return g
}

// nodeAddresses are Node InternalIPs, with an IPv4-mapped one that Render
// must read as the IPv4 address.
var nodeAddresses = []string{"10.0.0.1", "10.0.0.2", "192.168.1.10", "fd00::1", "::ffff:10.0.0.1"}

// nodeLocalAddresses are dns.nodeLocal addresses: none (the default), an
// IPv4 and an IPv6 one.
var nodeLocalAddresses = []string{"", "169.254.20.10", "169.254.25.10", "fd00::a"}

func (g *generated) ingressController(s *source, name string) tierwallv1alpha1.IngressController {
	c := tierwallv1alpha1.IngressController{Name: name}
	kind := s.intn(4)
	if kind != 2 {
		c.Namespace = pick(s, namespaces)
		if kind != 1 {
			c.PodSelector = g.selector(s)
		}
	}
	if kind >= 2 {
		for range s.intn(3) {
			c.IPBlocks = append(c.IPBlocks, *g.ipBlock(s))
		}
	}
	// A controller on the nodes' network: with ipBlocks, a namespace, or
	// alone.
	c.HostNetwork = kind == 2 && len(c.IPBlocks) == 0 || s.intn(4) == 0
	if s.rarely() {
		c.Namespace, c.IPBlocks, c.HostNetwork = "", nil, false
		g.refuse("an ingress controller with neither namespace nor ipBlocks")
		// Its peers would vanish into a rule that allows everything: the
		// renderer refuses it too, for the CLI, which skips admission.
		g.failRender("an ingress controller with neither namespace nor ipBlocks")
	}
	return c
}

func (g *generated) tier(s *source, spec *tierwallv1alpha1.AppIsolationSpec, name string, tiers, controllers []string) tierwallv1alpha1.Tier {
	t := tierwallv1alpha1.Tier{Name: name, PodSelector: *g.selector(s)}
	for range s.intn(4) {
		t.Ports = append(t.Ports, g.port(s))
	}
	for range s.intn(4) {
		peer := g.peer(s, spec, tiers, controllers)
		if s.intn(3) == 0 {
			for range 1 + s.intn(2) {
				peer.Ports = append(peer.Ports, g.port(s))
			}
		}
		t.AllowFrom = append(t.AllowFrom, peer)
	}
	if slices.ContainsFunc(t.AllowFrom, func(p tierwallv1alpha1.Peer) bool { return len(p.Ports) == 0 }) && len(t.Ports) == 0 {
		if s.rarely() {
			g.refuse("an allowFrom entry without ports on a tier without ports")
			// It would render as a rule on every port.
			g.failRender("an allowFrom entry without ports on a tier without ports")
		} else {
			t.Ports = append(t.Ports, g.port(s))
		}
	}
	egress := s.intn(3)
	if egress > 0 && !spec.Isolates(tierwallv1alpha1.PolicyTypeEgress) {
		if s.rarely() {
			g.refuse("egressTo without Egress in policyTypes")
		} else {
			egress = 0
		}
	}
	for range egress {
		e := tierwallv1alpha1.EgressRule{}
		switch s.intn(4) {
		case 0:
			e.IPBlock = g.ipBlock(s)
		case 1:
			e.NamespaceSelector, e.PodSelector = g.namespaceAndPods(s)
		case 2:
			e.AppIsolation, e.Tier = g.reference(s), pick(s, tierNames)
			if s.rarely() {
				e.AppIsolation = nil
				g.refuse("egressTo names a tier but no AppIsolation")
				g.failRender("egressTo names a tier but no AppIsolation")
			}
		default:
			e.KubeAPIServer = &tierwallv1alpha1.KubeAPIServer{}
			if s.rarely() {
				e.Ports = []tierwallv1alpha1.Port{{Port: intstr.FromInt32(443)}}
				g.refuse("ports with kubeAPIServer")
				g.failRender("ports with kubeAPIServer")
			}
			t.EgressTo = append(t.EgressTo, e)
			continue
		}
		for range s.intn(3) {
			e.Ports = append(e.Ports, g.port(s))
		}
		t.EgressTo = append(t.EgressTo, e)
	}
	return t
}

// otherSelector is a selector of another AppIsolation: that AppIsolation
// fails to render when it is invalid, but this one must not.
func (g *generated) otherSelector(s *source) *metav1.LabelSelector {
	if s.rarely() {
		return &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "not valid"}}
	}
	return &metav1.LabelSelector{MatchLabels: map[string]string{"tier": pick(s, tierNames)}}
}

// otherPort is a port of another AppIsolation: always valid, since
// admission has checked it.
func otherPort(s *source) tierwallv1alpha1.Port {
	if s.intn(4) == 0 {
		return tierwallv1alpha1.Port{Port: intstr.FromString("mysql")}
	}
	return tierwallv1alpha1.Port{Port: intstr.FromInt32(pick(s, []int32{80, 443, 3306, 9090}))}
}

// reference is a reference to another AppIsolation.
func (g *generated) reference(s *source) *tierwallv1alpha1.AppIsolationReference {
	ref := pick(s, references)
	return &ref
}

func (g *generated) peer(s *source, spec *tierwallv1alpha1.AppIsolationSpec, tiers, controllers []string) tierwallv1alpha1.Peer {
	kind := s.intn(7)
	if (kind == 2 && len(controllers) > 0 || kind == 3 || kind == 4 || kind == 6) && !spec.Isolates(tierwallv1alpha1.PolicyTypeIngress) {
		if s.rarely() {
			g.refuse("an allowFrom entry other than a tier without Ingress in policyTypes")
		} else {
			kind = 0
		}
	}
	switch {
	case kind == 2 && len(controllers) > 0:
		if s.rarely() {
			g.refuse("allowFrom names an unknown ingress controller")
			g.failRender("allowFrom names an unknown ingress controller")
			return tierwallv1alpha1.Peer{IngressController: "ghost"}
		}
		return tierwallv1alpha1.Peer{IngressController: pick(s, controllers)}
	case kind == 3:
		ns, pods := g.namespaceAndPods(s)
		return tierwallv1alpha1.Peer{NamespaceSelector: ns, PodSelector: pods}
	case kind == 4:
		return tierwallv1alpha1.Peer{IPBlock: g.ipBlock(s)}
	case kind == 6:
		if s.rarely() {
			g.refuse("allowFrom names another AppIsolation but no tier")
			g.failRender("allowFrom names another AppIsolation but no tier")
			return tierwallv1alpha1.Peer{AppIsolation: g.reference(s)}
		}
		return tierwallv1alpha1.Peer{AppIsolation: g.reference(s), Tier: pick(s, tierNames)}
	default:
		if s.rarely() {
			g.refuse("allowFrom names an unknown tier")
			g.failRender("allowFrom names an unknown tier")
			return tierwallv1alpha1.Peer{Tier: "ghost"}
		}
		return tierwallv1alpha1.Peer{Tier: pick(s, tiers)}
	}
}

// namespaceAndPods returns the selectors of a raw peer: at least one is set.
func (g *generated) namespaceAndPods(s *source) (namespaces, pods *metav1.LabelSelector) {
	switch s.intn(3) {
	case 0:
		return g.selector(s), nil
	case 1:
		return nil, g.selector(s)
	default:
		return g.selector(s), g.selector(s)
	}
}

func (g *generated) port(s *source) tierwallv1alpha1.Port {
	p := tierwallv1alpha1.Port{Protocol: pick(s, protocols)}
	if s.intn(3) == 0 {
		p.Port = intstr.FromString(pick(s, namedPorts))
	} else {
		n := pick(s, numericPorts)
		p.Port = intstr.FromInt32(n)
		if s.intn(3) == 0 {
			p.EndPort = ptr.To(min(n+pick(s, []int32{0, 1, 100}), 65535))
		}
	}
	if s.rarely() {
		switch s.intn(4) {
		case 0:
			p.Port, p.EndPort = intstr.FromInt32(0), nil
		case 1:
			p.Port, p.EndPort = intstr.FromString("my--port"), nil
		case 2:
			p.Port, p.EndPort = intstr.FromInt32(3306), ptr.To(int32(3305))
		default:
			p.Port, p.EndPort = intstr.FromString("mysql"), ptr.To(int32(3307))
		}
		g.refuse(fmt.Sprintf("invalid port %v..%v", p.Port.String(), ptr.Deref(p.EndPort, 0)))
	}
	return p
}

func (g *generated) ipBlock(s *source) *tierwallv1alpha1.IPBlock {
	b := pick(s, ipBlocks)
	block := &tierwallv1alpha1.IPBlock{CIDR: b.cidr}
	if len(b.except) > 0 {
		block.Except = pickDistinct(s, b.except, s.intn(len(b.except)+1))
	}
	if s.rarely() {
		switch s.intn(4) {
		case 0:
			block.CIDR = "10.0.0.1/8"
		case 1:
			block.Except = append(block.Except, block.CIDR)
		case 2:
			block.Except = append(block.Except, "172.16.0.0/12")
			if block.CIDR == "0.0.0.0/0" {
				block.Except[len(block.Except)-1] = "fd00::/8"
			}
		default:
			block.Except = append(block.Except, "10.1.0.1/16")
		}
		g.refuse(fmt.Sprintf("invalid ipBlock %s except %v", block.CIDR, block.Except))
	}
	return block
}

// selector returns a label selector, valid unless rarely.
func (g *generated) selector(s *source) *metav1.LabelSelector {
	sel := &metav1.LabelSelector{}
	for range s.intn(3) {
		if sel.MatchLabels == nil {
			sel.MatchLabels = map[string]string{}
		}
		sel.MatchLabels[pick(s, labelKeys)] = pick(s, labelValues)
	}
	if s.intn(3) == 0 {
		r := metav1.LabelSelectorRequirement{Key: pick(s, labelKeys)}
		r.Operator = pick(s, []metav1.LabelSelectorOperator{
			metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn, metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist,
		})
		if r.Operator == metav1.LabelSelectorOpIn || r.Operator == metav1.LabelSelectorOpNotIn {
			r.Values = pickDistinct(s, labelValues, 1+s.intn(2))
		}
		sel.MatchExpressions = append(sel.MatchExpressions, r)
	}
	if s.rarely() {
		switch s.intn(4) {
		case 0:
			sel.MatchLabels = map[string]string{"tier": "front end"}
		case 1:
			sel.MatchLabels = map[string]string{"-tier": "web"}
		case 2:
			sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{Key: "app", Operator: "Foo"})
		default:
			sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{Key: "app", Operator: metav1.LabelSelectorOpIn})
		}
		g.failRender("invalid label selector")
	}
	return sel
}

// handwrittenSeeds start the fuzzer from inputs that reach every branch of
// the generator.
func handwrittenSeeds() [][]byte {
	return [][]byte{
		{},
		bytes.Repeat([]byte{0}, 64),
		bytes.Repeat([]byte{0xff}, 64),
		bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7}, 20),
		bytes.Repeat([]byte{31, 63, 95, 127}, 30),
		[]byte("tierwall: Traefik -> WordPress:80 -> MySQL:3306, and DNS"),
	}
}

// corpus is the deterministic set of inputs TestFuzzCorpusAcceptedByAPIServer
// and TestRenderCorpus check: the handwritten seeds, the inputs committed
// under testdata/fuzz/FuzzRender, and n pseudo-random ones.
func corpus(t *testing.T, n int) map[string][]byte {
	t.Helper()
	inputs := map[string][]byte{}
	for i, seed := range handwrittenSeeds() {
		inputs[fmt.Sprintf("seed-%d", i)] = seed
	}
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzRender", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		data, err := readCorpusFile(file)
		if err != nil {
			t.Fatalf("failed to read %s: %v", file, err)
		}
		inputs[filepath.Base(file)] = data
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		data := make([]byte, 48+rng.IntN(160))
		for j := range data {
			data[j] = byte(rng.UintN(256))
		}
		inputs[fmt.Sprintf("random-%03d", i)] = data
	}
	return inputs
}

// readCorpusFile reads a file of Go's fuzz corpus format holding one []byte.
func readCorpusFile(file string) ([]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 || lines[0] != "go test fuzz v1" ||
		!strings.HasPrefix(lines[1], "[]byte(") || !strings.HasSuffix(lines[1], ")") {
		return nil, fmt.Errorf("not a go test fuzz v1 file with one []byte")
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	return []byte(s), err
}

// TestRenderCorpus runs the fuzz checks over the deterministic corpus, and
// checks that the generator produces mostly valid AppIsolations and every
// kind of invalid one.
func TestRenderCorpus(t *testing.T) {
	var valid, refused, unrenderable int
	for name, data := range corpus(t, 500) {
		g := generate(data)
		policies, err := render.Render(g.app, g.platform)
		switch {
		case g.renderError != "":
			unrenderable++
			if !render.IsInvalidSpec(err) {
				t.Errorf("%s: Render() error = %v, want an InvalidSpecError (%s)", name, err, g.renderError)
			}
		case g.refused != "":
			refused++
		case err != nil:
			t.Errorf("%s: Render() error = %v", name, err)
		default:
			valid++
			t.Run(name, func(t *testing.T) { checkRendered(t, g.app, policies) })
		}
	}
	t.Logf("valid: %d, refused by the API server: %d, unrenderable: %d", valid, refused, unrenderable)
	if valid < (valid+refused+unrenderable)/2 || refused == 0 || unrenderable == 0 {
		t.Errorf("the generator should make mostly valid AppIsolations, and some of each kind of invalid one")
	}
}

// cidrContains tells whether the canonical CIDR outer strictly contains
// inner; a helper for the generator's tests.
func cidrContains(outer, inner string) bool {
	o, err1 := netip.ParsePrefix(outer)
	i, err2 := netip.ParsePrefix(inner)
	return err1 == nil && err2 == nil && o.Addr().Is4() == i.Addr().Is4() &&
		o.Bits() < i.Bits() && o.Contains(i.Addr())
}

func TestIPBlockCandidatesAreValid(t *testing.T) {
	for _, b := range ipBlocks {
		p, err := netip.ParsePrefix(b.cidr)
		if err != nil || p.Masked() != p {
			t.Errorf("%s is not a canonical CIDR", b.cidr)
		}
		for _, e := range b.except {
			q, err := netip.ParsePrefix(e)
			if err != nil || q.Masked() != q || !cidrContains(b.cidr, e) {
				t.Errorf("%s is not a canonical CIDR strictly inside %s", e, b.cidr)
			}
		}
	}
}
