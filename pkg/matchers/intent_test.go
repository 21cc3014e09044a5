package matchers

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/pkg/reach"
	"github.com/tierwall/tierwall/pkg/render"
)

// shop is an AppIsolation that uses every kind of peer and port: web
// behind an ingress controller (by pods and by node addresses) and
// Prometheus, api behind web and batch jobs on a range, db behind api and
// an address block, with egress to object storage and a backup namespace.
func shop() *tierwallv1alpha1.AppIsolation {
	sel := func(kv ...string) *metav1.LabelSelector {
		s := &metav1.LabelSelector{MatchLabels: map[string]string{}}
		for i := 0; i < len(kv); i += 2 {
			s.MatchLabels[kv[i]] = kv[i+1]
		}
		return s
	}
	port := func(p int32) tierwallv1alpha1.Port { return tierwallv1alpha1.Port{Port: intstr.FromInt32(p)} }
	return &tierwallv1alpha1.AppIsolation{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "shop"},
		Spec: tierwallv1alpha1.AppIsolationSpec{
			PodSelector: sel("app", "shop"),
			IngressControllers: []tierwallv1alpha1.IngressController{
				{Name: "traefik", Namespace: "kube-system", PodSelector: sel("name", "traefik")},
				{Name: "lb", IPBlocks: []tierwallv1alpha1.IPBlock{{CIDR: "192.0.2.0/24", Except: []string{"192.0.2.128/25"}}}},
			},
			Tiers: []tierwallv1alpha1.Tier{
				{
					Name: "web", PodSelector: *sel("tier", "web"),
					Ports: []tierwallv1alpha1.Port{port(80), {Port: intstr.FromString("metrics")}},
					AllowFrom: []tierwallv1alpha1.Peer{
						{IngressController: "traefik"}, {IngressController: "lb"},
						{NamespaceSelector: sel("team", "sre"), PodSelector: sel("app", "prom")},
					},
				},
				{
					Name: "api", PodSelector: *sel("tier", "api"),
					Ports:     []tierwallv1alpha1.Port{{Port: intstr.FromInt32(8000), EndPort: ptr.To[int32](8010)}},
					AllowFrom: []tierwallv1alpha1.Peer{{Tier: "web"}, {PodSelector: sel("role", "batch")}},
				},
				{
					Name: "db", PodSelector: *sel("tier", "db"),
					Ports:     []tierwallv1alpha1.Port{port(3306)},
					AllowFrom: []tierwallv1alpha1.Peer{{Tier: "api"}, {IPBlock: &tierwallv1alpha1.IPBlock{CIDR: "10.9.0.0/16"}}},
					EgressTo: []tierwallv1alpha1.EgressRule{
						{IPBlock: &tierwallv1alpha1.IPBlock{CIDR: "10.50.0.0/16"}, Ports: []tierwallv1alpha1.Port{port(443)}},
						{NamespaceSelector: sel("team", "backup")},
					},
				},
			},
		},
	}
}

func testPod(key, ip string, l map[string]string, ports ...corev1.ContainerPort) *corev1.Pod {
	p := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Ports: ports}}}}
	p.Namespace, p.Name = splitKey(key)
	p.Labels = l
	p.Status.PodIP = ip
	return p
}

func TestIntent(t *testing.T) {
	nsLabels := map[string]map[string]string{"mon": {"team": "sre"}, "vault": {"team": "backup"}}
	lookup := func(ns string) labels.Set { return reach.NamespaceLabels(ns, nsLabels[ns]) }
	var (
		web     = testPod("shop/web", "10.1.0.2", map[string]string{"app": "shop", "tier": "web"}, corev1.ContainerPort{ContainerPort: 80}, corev1.ContainerPort{Name: "metrics", ContainerPort: 9090})
		api     = testPod("shop/api", "10.1.0.3", map[string]string{"app": "shop", "tier": "api"}, corev1.ContainerPort{ContainerPort: 8005})
		db      = testPod("shop/db", "10.1.0.4", map[string]string{"app": "shop", "tier": "db"}, corev1.ContainerPort{ContainerPort: 3306})
		batch   = testPod("shop/batch", "10.1.0.5", map[string]string{"app": "shop", "role": "batch"})
		stray   = testPod("shop/stray", "10.1.0.6", map[string]string{"role": "batch"})
		traefik = testPod("kube-system/traefik", "10.2.0.2", map[string]string{"name": "traefik"}, corev1.ContainerPort{ContainerPort: 8000})
		fake    = testPod("other/traefik", "10.2.0.3", map[string]string{"name": "traefik"})
		coredns = testPod("kube-system/coredns", "10.2.0.4", map[string]string{"k8s-app": "kube-dns"},
			corev1.ContainerPort{ContainerPort: 53, Protocol: corev1.ProtocolUDP}, corev1.ContainerPort{ContainerPort: 53})
		resolver  = testPod("dns/resolver", "10.2.0.5", map[string]string{"app": "resolver"}, corev1.ContainerPort{ContainerPort: 53, Protocol: corev1.ProtocolUDP})
		prom      = testPod("mon/prom", "10.3.0.2", map[string]string{"app": "prom"})
		otherProm = testPod("other/prom", "10.3.0.3", map[string]string{"app": "prom"})
		lbNode    = testPod("lb/node", "192.0.2.10", nil)
		excepted  = testPod("lb/excepted", "192.0.2.200", nil)
		client    = testPod("ext/client", "10.9.1.1", nil)
		s3        = testPod("ext/s3", "10.50.0.7", nil, corev1.ContainerPort{ContainerPort: 443})
		store     = testPod("vault/store", "10.4.0.2", nil, corev1.ContainerPort{ContainerPort: 9000})
	)
	tests := []struct {
		name     string
		tweak    func(*tierwallv1alpha1.AppIsolation)
		ingress  bool // which side: ingress of dst, or egress of src
		src, dst *corev1.Pod
		port     int32
		protocol corev1.Protocol
		want     bool
	}{
		{name: "ingress controller by pods, declared port", ingress: true, src: traefik, dst: web, port: 80, want: true},
		{name: "ingress controller, undeclared port", ingress: true, src: traefik, dst: web, port: 81},
		{name: "ingress controller, other protocol", ingress: true, src: traefik, dst: web, port: 80, protocol: corev1.ProtocolUDP},
		{name: "named port resolves on the destination", ingress: true, src: traefik, dst: web, port: 9090, want: true},
		{name: "named port: another number is not it", ingress: true, src: traefik, dst: web, port: 9091},
		{name: "ingress controller's labels in another namespace", ingress: true, src: fake, dst: web, port: 80},
		{name: "ingress controller not listed by the tier", ingress: true, src: traefik, dst: api, port: 8005},
		{name: "ingress controller by node addresses", ingress: true, src: lbNode, dst: web, port: 80, want: true},
		{name: "an address in the ipBlock's except", ingress: true, src: excepted, dst: web, port: 80},
		{name: "namespaceSelector AND podSelector", ingress: true, src: prom, dst: web, port: 80, want: true},
		{name: "podSelector in a namespace the selector does not pick", ingress: true, src: otherProm, dst: web, port: 80},
		{name: "tier peer, port in the range", ingress: true, src: web, dst: api, port: 8005, want: true},
		{name: "tier peer, port past endPort", ingress: true, src: web, dst: api, port: 8011},
		{name: "podSelector alone: the app's namespace, governed pod in no tier", ingress: true, src: batch, dst: api, port: 8000, want: true},
		{name: "podSelector alone: the app's namespace, pod not governed", ingress: true, src: stray, dst: api, port: 8010, want: true},
		{name: "ipBlock peer matches a pod's IP", ingress: true, src: client, dst: db, port: 3306, want: true},
		{name: "tier not listed by the destination tier", ingress: true, src: web, dst: db, port: 3306},
		{name: "a governed pod in no tier accepts nothing", ingress: true, src: web, dst: batch, port: 80},

		{name: "egress along a tier edge", src: web, dst: api, port: 8005, want: true},
		{name: "egress along a tier edge, outside the destination tier's ports", src: web, dst: api, port: 7999},
		{name: "no egress against a tier edge", src: api, dst: web, port: 80},
		{name: "a podSelector peer gives no egress: only tier peers do", src: batch, dst: api, port: 8005},
		{name: "DNS over UDP", src: web, dst: coredns, port: 53, protocol: corev1.ProtocolUDP, want: true},
		{name: "DNS over TCP", src: web, dst: coredns, port: 53, want: true},
		{name: "DNS servers on another port", src: web, dst: coredns, port: 5353},
		{name: "DNS from a governed pod in no tier", src: batch, dst: coredns, port: 53, want: true},
		{name: "DNS disabled", tweak: func(a *tierwallv1alpha1.AppIsolation) { a.Spec.DNS = &tierwallv1alpha1.DNS{Disabled: true} },
			src: web, dst: coredns, port: 53, protocol: corev1.ProtocolUDP},
		{name: "DNS elsewhere: the default servers are not declared", tweak: func(a *tierwallv1alpha1.AppIsolation) {
			a.Spec.DNS = &tierwallv1alpha1.DNS{Namespace: "dns", PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "resolver"}}}
		}, src: web, dst: coredns, port: 53, protocol: corev1.ProtocolUDP},
		{name: "DNS elsewhere: its servers", tweak: func(a *tierwallv1alpha1.AppIsolation) {
			a.Spec.DNS = &tierwallv1alpha1.DNS{Namespace: "dns", PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "resolver"}}}
		}, src: web, dst: resolver, port: 53, protocol: corev1.ProtocolUDP, want: true},
		{name: "egressTo an ipBlock on its port", src: db, dst: s3, port: 443, want: true},
		{name: "egressTo an ipBlock on another port", src: db, dst: s3, port: 80},
		{name: "egressTo a namespaceSelector without ports: every port", src: db, dst: store, port: 9000, want: true},
		{name: "another tier's egressTo", src: web, dst: s3, port: 443},
		{name: "no egress to an ingress controller", src: web, dst: traefik, port: 8000},

		// Ports per allowFrom entry: the entry's own ports replace the tier's.
		{name: "an entry's own ports: on them", tweak: webPortsFromTraefik(8443), ingress: true, src: traefik, dst: web, port: 8443, want: true},
		{name: "an entry's own ports: not the tier's", tweak: webPortsFromTraefik(8443), ingress: true, src: traefik, dst: web, port: 80},
		{name: "an entry's own ports: the other entries keep the tier's", tweak: webPortsFromTraefik(8443), ingress: true, src: prom, dst: web, port: 80, want: true},
		{name: "a tier entry's own ports: the source's egress on them", tweak: apiPortsFromWeb(9000), src: web, dst: api, port: 9000, want: true},
		{name: "a tier entry's own ports: not the tier's range", tweak: apiPortsFromWeb(9000), src: web, dst: api, port: 8005},

		// policyTypes: a direction not isolated declares nothing (the
		// matcher does not compare it).
		{name: "Ingress only: still declares ingress", tweak: onlyDirection(tierwallv1alpha1.PolicyTypeIngress), ingress: true, src: traefik, dst: web, port: 80, want: true},
		{name: "Ingress only: no DNS peer", tweak: onlyDirection(tierwallv1alpha1.PolicyTypeIngress), src: web, dst: coredns, port: 53},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := shop()
			if tt.tweak != nil {
				tt.tweak(app)
			}
			in, err := newIntent(app, lookup, render.Platform{})
			if err != nil {
				t.Fatal(err)
			}
			protocol := tt.protocol
			if protocol == "" {
				protocol = corev1.ProtocolTCP
			}
			got := in.egress(tt.src, tt.dst, tt.port, protocol)
			if tt.ingress {
				got = in.ingress(tt.src, tt.dst, tt.port, protocol)
			}
			if got != tt.want {
				t.Errorf("declared = %v, want %v", got, tt.want)
			}
		})
	}
}

// webPortsFromTraefik gives the web tier's traefik entry ports of its own.
func webPortsFromTraefik(port int32) func(*tierwallv1alpha1.AppIsolation) {
	return func(a *tierwallv1alpha1.AppIsolation) {
		a.Spec.Tiers[0].AllowFrom[0].Ports = []tierwallv1alpha1.Port{{Port: intstr.FromInt32(port)}}
	}
}

// apiPortsFromWeb gives the api tier's web entry ports of its own.
func apiPortsFromWeb(port int32) func(*tierwallv1alpha1.AppIsolation) {
	return func(a *tierwallv1alpha1.AppIsolation) {
		a.Spec.Tiers[1].AllowFrom[0].Ports = []tierwallv1alpha1.Port{{Port: intstr.FromInt32(port)}}
	}
}

// onlyDirection isolates one direction only.
func onlyDirection(t tierwallv1alpha1.PolicyType) func(*tierwallv1alpha1.AppIsolation) {
	return func(a *tierwallv1alpha1.AppIsolation) {
		a.Spec.PolicyTypes = []tierwallv1alpha1.PolicyType{t}
	}
}

func TestIntentGoverns(t *testing.T) {
	tests := []struct {
		name     string
		selector *metav1.LabelSelector
		pod      *corev1.Pod
		want     bool
	}{
		{name: "selected", selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "shop"}}, pod: testPod("shop/a", "", map[string]string{"app": "shop"}), want: true},
		{name: "not selected", selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "shop"}}, pod: testPod("shop/a", "", nil)},
		{name: "another namespace", selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "shop"}}, pod: testPod("other/a", "", map[string]string{"app": "shop"})},
		{name: "no podSelector: every pod of the namespace", pod: testPod("shop/a", "", nil), want: true},
		{name: "no podSelector, another namespace", pod: testPod("other/a", "", nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := shop()
			app.Spec.PodSelector = tt.selector
			in, err := newIntent(app, func(ns string) labels.Set { return reach.NamespaceLabels(ns, nil) }, render.Platform{})
			if err != nil {
				t.Fatal(err)
			}
			if got := in.governs(tt.pod); got != tt.want {
				t.Errorf("governs = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIntentRejectsWhatItCannotRead(t *testing.T) {
	tests := []struct {
		name  string
		tweak func(*tierwallv1alpha1.AppIsolation)
		want  string
	}{
		{name: "invalid selector", tweak: func(a *tierwallv1alpha1.AppIsolation) {
			a.Spec.Tiers[0].PodSelector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "k", Operator: "Near"}}
		}, want: "spec.tiers[0].podSelector"},
		{name: "unknown ingress controller", tweak: func(a *tierwallv1alpha1.AppIsolation) {
			a.Spec.Tiers[0].AllowFrom[0].IngressController = "nginx"
		}, want: `spec.tiers[0].allowFrom[0]: no ingress controller "nginx"`},
		{name: "empty peer", tweak: func(a *tierwallv1alpha1.AppIsolation) {
			a.Spec.Tiers[1].AllowFrom[1] = tierwallv1alpha1.Peer{}
		}, want: "spec.tiers[1].allowFrom[1]: the peer sets nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := shop()
			tt.tweak(app)
			_, err := newIntent(app, func(ns string) labels.Set { return reach.NamespaceLabels(ns, nil) }, render.Platform{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestIntentOtherAppIsolations covers tiers of other AppIsolations: their
// governed pods in the tier, in their namespace, as the platform declares
// them; nothing when the platform does not hold them.
func TestIntentOtherAppIsolations(t *testing.T) {
	lookup := func(ns string) labels.Set { return reach.NamespaceLabels(ns, nil) }
	payments := tierwallv1alpha1.AppIsolationReference{Namespace: "payments", Name: "api"}
	api := tierwallv1alpha1.AppIsolation{
		ObjectMeta: metav1.ObjectMeta{Namespace: "payments", Name: "api"},
		Spec: tierwallv1alpha1.AppIsolationSpec{
			PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
			Tiers: []tierwallv1alpha1.Tier{{
				Name: "backend", PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": "backend"}},
				Ports: []tierwallv1alpha1.Port{{Port: intstr.FromInt32(8080)}},
				AllowFrom: []tierwallv1alpha1.Peer{{
					AppIsolation: &tierwallv1alpha1.AppIsolationReference{Namespace: "shop", Name: "shop"}, Tier: "web",
					Ports: []tierwallv1alpha1.Port{{Port: intstr.FromInt32(9090)}},
				}},
			}},
		},
	}
	calls := func(ports ...tierwallv1alpha1.Port) func(*tierwallv1alpha1.AppIsolation) {
		return func(a *tierwallv1alpha1.AppIsolation) {
			a.Spec.Tiers[0].EgressTo = []tierwallv1alpha1.EgressRule{{AppIsolation: &payments, Tier: "backend", Ports: ports}}
		}
	}
	acceptsBackend := func(a *tierwallv1alpha1.AppIsolation) {
		a.Spec.Tiers[2].AllowFrom = append(a.Spec.Tiers[2].AllowFrom, tierwallv1alpha1.Peer{AppIsolation: &payments, Tier: "backend"})
	}
	var (
		web       = testPod("shop/web", "10.1.0.2", map[string]string{"app": "shop", "tier": "web"})
		db        = testPod("shop/db", "10.1.0.4", map[string]string{"app": "shop", "tier": "db"}, corev1.ContainerPort{ContainerPort: 3306})
		backend   = testPod("payments/backend", "10.5.0.2", map[string]string{"app": "api", "tier": "backend"})
		stray     = testPod("payments/stray", "10.5.0.3", map[string]string{"tier": "backend"})
		lookalike = testPod("billing/backend", "10.6.0.2", map[string]string{"app": "api", "tier": "backend"})
	)
	tests := []struct {
		name     string
		tweak    func(*tierwallv1alpha1.AppIsolation)
		unknown  bool // the platform does not hold payments/api
		ingress  bool
		src, dst *corev1.Pod
		port     int32
		want     bool
	}{
		{name: "egress to the tier, on the ports it accepts from this tier", tweak: calls(), src: web, dst: backend, port: 9090, want: true},
		{name: "egress to the tier, not on its tier ports when it names this tier", tweak: calls(), src: web, dst: backend, port: 8080},
		{name: "egress on the entry's own ports", tweak: calls(tierwallv1alpha1.Port{Port: intstr.FromInt32(8443)}), src: web, dst: backend, port: 8443, want: true},
		{name: "egress to a pod it does not govern", tweak: calls(), src: web, dst: stray, port: 9090},
		{name: "egress to the same labels in another namespace", tweak: calls(), src: web, dst: lookalike, port: 9090},
		{name: "egress to an AppIsolation the platform does not hold", tweak: calls(), unknown: true, src: web, dst: backend, port: 9090},
		{name: "ingress from the tier, on the tier's ports", tweak: acceptsBackend, ingress: true, src: backend, dst: db, port: 3306, want: true},
		{name: "ingress from a pod it does not govern", tweak: acceptsBackend, ingress: true, src: stray, dst: db, port: 3306},
		{name: "ingress from an AppIsolation the platform does not hold", tweak: acceptsBackend, unknown: true, ingress: true, src: backend, dst: db, port: 3306},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := shop()
			tt.tweak(app)
			platform := render.Platform{AppIsolations: []tierwallv1alpha1.AppIsolation{api}}
			if tt.unknown {
				platform.AppIsolations = nil
			}
			in, err := newIntent(app, lookup, platform)
			if err != nil {
				t.Fatal(err)
			}
			got := in.egress(tt.src, tt.dst, tt.port, corev1.ProtocolTCP)
			if tt.ingress {
				got = in.ingress(tt.src, tt.dst, tt.port, corev1.ProtocolTCP)
			}
			if got != tt.want {
				t.Errorf("declared = %v, want %v", got, tt.want)
			}
		})
	}
}
