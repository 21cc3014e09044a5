package matchers_test

import (
	"os"
	"strings"
	"testing"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/internal/input"
	"github.com/tierwall/tierwall/pkg/matchers"
	"github.com/tierwall/tierwall/pkg/reach"
	"github.com/tierwall/tierwall/pkg/render"
)

// The WordPress sample and its pods, as the CLI's tests read them: the
// explanations in the messages must be the CLI's, byte for byte.
const (
	sample  = "../../config/samples/tierwall_v1alpha1_appisolation.yaml"
	pods    = "../../internal/cli/testdata/wordpress-pods.yaml"
	testdir = "../../internal/cli/testdata/"
)

// wordpress returns the sample AppIsolation and the State once tierwall has
// applied it, with extra policies added and the rendered policies that drop
// returns true for left out.
func wordpress(t *testing.T, extra []networkingv1.NetworkPolicy, drop func(networkingv1.NetworkPolicy) bool) (*tierwallv1alpha1.AppIsolation, reach.State) {
	t.Helper()
	r := input.NewReader(input.Options{Kinds: []string{input.KindNamespace, input.KindPod, input.KindAppIsolation}})
	for _, name := range []string{sample, pods} {
		if err := r.Read(name, []byte(read(t, name))); err != nil {
			t.Fatal(err)
		}
	}
	objs := r.Objects()
	app := &objs.AppIsolations[0]
	policies, err := render.Render(app, render.Platform{})
	if err != nil {
		t.Fatal(err)
	}
	if drop != nil {
		policies = slicesDeleteFunc(policies, drop)
	}
	return app, reach.State{Namespaces: objs.Namespaces, Pods: objs.Pods, Policies: append(policies, extra...)}
}

func slicesDeleteFunc(p []networkingv1.NetworkPolicy, drop func(networkingv1.NetworkPolicy) bool) []networkingv1.NetworkPolicy {
	var out []networkingv1.NetworkPolicy
	for _, x := range p {
		if !drop(x) {
			out = append(out, x)
		}
	}
	return out
}

func read(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func evaluate(t *testing.T, s reach.State) *reach.Evaluator {
	t.Helper()
	e, err := reach.New(s)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// assertion runs one Gomega assertion and returns its failure message, ""
// when it passes.
func assertion(run func(g gomega.Gomega)) string {
	var message string
	run(gomega.NewGomega(func(m string, _ ...int) { message = m }))
	return message
}

// wantIn fails unless message contains every part, in order.
func wantIn(t *testing.T, message string, parts ...string) {
	t.Helper()
	if message == "" {
		t.Fatal("the assertion passed; want it to fail")
	}
	rest := message
	for _, p := range parts {
		i := strings.Index(rest, p)
		if i < 0 {
			t.Errorf("the message lacks (or misplaces)\n%s\nmessage:\n%s", p, message)
			return
		}
		rest = rest[i+len(p):]
	}
}

func TestAllowFlow(t *testing.T) {
	_, state := wordpress(t, nil, nil)
	e := evaluate(t, state)

	t.Run("passes", func(t *testing.T) {
		for _, m := range []string{
			assertion(func(g gomega.Gomega) {
				g.Expect(e).To(matchers.AllowFlow("kube-system/traefik", "dev-wordpress/wordpress", 80))
			}),
			assertion(func(g gomega.Gomega) {
				g.Expect(e).To(matchers.AllowFlow("dev-wordpress/wordpress", "kube-system/coredns", 53, corev1.ProtocolUDP))
			}),
			assertion(func(g gomega.Gomega) {
				g.Expect(e).NotTo(matchers.AllowFlow("default/debug", "dev-wordpress/mysql-0", 3306))
			}),
			// An address outside the cluster: only the destination's ingress decides.
			assertion(func(g gomega.Gomega) { g.Expect(e).To(matchers.AllowFlow("203.0.113.7", "default/debug", 8080)) }),
			assertion(func(g gomega.Gomega) {
				g.Expect(e).NotTo(matchers.AllowFlow("dev-wordpress/mysql-0", "203.0.113.7", 443))
			}),
		} {
			if m != "" {
				t.Errorf("the assertion failed:\n%s", m)
			}
		}
	})

	t.Run("To fails on a denied flow, with the CLI's explanation and the source's row", func(t *testing.T) {
		m := assertion(func(g gomega.Gomega) {
			g.Expect(e).To(matchers.AllowFlow("default/debug", "dev-wordpress/mysql-0", 3306))
		})
		wantIn(t, m,
			"Expected the connection default/debug -> dev-wordpress/mysql-0:3306/TCP to be allowed, but it is denied.\n",
			"Why (tierwall reach --explain):\n"+read(t, testdir+"explain-denied.txt"),
			"Flows from default/debug (tierwall reach):\n",
			"  1  dev-wordpress/mysql-0:3306/TCP\n",
			"FROM           1  2  3  4  5\ndefault/debug  ✗  ✗  ✓  ✓  ✓\n",
		)
	})

	t.Run("NotTo fails on an allowed flow, with the CLI's explanation", func(t *testing.T) {
		m := assertion(func(g gomega.Gomega) {
			g.Expect(e).NotTo(matchers.AllowFlow("kube-system/traefik", "dev-wordpress/wordpress", 80))
		})
		wantIn(t, m,
			"Expected the connection kube-system/traefik -> dev-wordpress/wordpress:80/TCP to be denied, but it is allowed.\n",
			"Why (tierwall reach --explain):\n"+read(t, testdir+"explain-allowed.txt"),
			"Flows from kube-system/traefik (tierwall reach):\n",
			"kube-system/traefik  ",
		)
	})

	t.Run("from an address: the destination's column", func(t *testing.T) {
		m := assertion(func(g gomega.Gomega) {
			g.Expect(e).To(matchers.AllowFlow("203.0.113.7", "dev-wordpress/mysql-0", 3306))
		})
		wantIn(t, m,
			"Expected the connection 203.0.113.7 -> dev-wordpress/mysql-0:3306/TCP to be allowed, but it is denied.\n",
			"Egress of 203.0.113.7: allowed: an address outside the cluster has no policies\n",
			"Flows into dev-wordpress/mysql-0 (tierwall reach):\n",
			"dev-wordpress/wordpress  ✓\n",
		)
	})

	for _, tt := range []struct {
		name    string
		matcher func() gomega.OmegaMatcher
		actual  any
		want    string
	}{
		{"unknown source pod", func() gomega.OmegaMatcher { return matchers.AllowFlow("default/nope", "dev-wordpress/mysql-0", 3306) }, e,
			"AllowFlow: source: no pod default/nope in the evaluator's State"},
		{"unknown destination pod", func() gomega.OmegaMatcher { return matchers.AllowFlow("default/debug", "dev-wordpress/mysql", 3306) }, e,
			"AllowFlow: destination: no pod dev-wordpress/mysql in the evaluator's State"},
		{"neither a pod nor an address", func() gomega.OmegaMatcher { return matchers.AllowFlow("debug", "dev-wordpress/mysql-0", 3306) }, e,
			`AllowFlow: source: "debug" is neither a pod as namespace/name nor an IP address`},
		{"port out of range", func() gomega.OmegaMatcher { return matchers.AllowFlow("default/debug", "dev-wordpress/mysql-0", 0) }, e,
			"AllowFlow: port 0 is not from 1 to 65535"},
		{"two protocols", func() gomega.OmegaMatcher {
			return matchers.AllowFlow("default/debug", "dev-wordpress/mysql-0", 53, corev1.ProtocolUDP, corev1.ProtocolTCP)
		}, e, "AllowFlow: give at most one protocol, not [UDP TCP]"},
		{"unknown protocol", func() gomega.OmegaMatcher {
			return matchers.AllowFlow("default/debug", "dev-wordpress/mysql-0", 53, "udp")
		}, e,
			`AllowFlow: protocol "udp" is not TCP, UDP or SCTP`},
		{"not an evaluator", func() gomega.OmegaMatcher { return matchers.AllowFlow("default/debug", "dev-wordpress/mysql-0", 3306) }, state,
			"AllowFlow expects a non-nil *reach.Evaluator, not reach.State"},
	} {
		t.Run(tt.name+" is an error for To and NotTo alike", func(t *testing.T) {
			to := assertion(func(g gomega.Gomega) { g.Expect(tt.actual).To(tt.matcher()) })
			notTo := assertion(func(g gomega.Gomega) { g.Expect(tt.actual).NotTo(tt.matcher()) })
			for _, m := range []string{to, notTo} {
				if !strings.Contains(m, tt.want) {
					t.Errorf("message %q, want it to contain %q", m, tt.want)
				}
			}
			if _, err := tt.matcher().Match(tt.actual); err == nil {
				t.Error("Match returned no error")
			}
		})
	}
}

func TestIsolateExactly(t *testing.T) {
	open := networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "dev-wordpress", Name: "open-mysql"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": "mysql"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}},
				Ports: []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromInt32(3306))}},
			}},
		},
	}
	// Another team isolates CoreDNS: the governed pods' DNS queries are
	// denied on CoreDNS's side, which is no fault of the AppIsolation's.
	isolateDNS := networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "deny-all"},
		Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}},
	}

	t.Run("passes on the policies tierwall renders", func(t *testing.T) {
		app, state := wordpress(t, nil, nil)
		if m := assertion(func(g gomega.Gomega) { g.Expect(evaluate(t, state)).To(matchers.IsolateExactly(app)) }); m != "" {
			t.Errorf("the assertion failed:\n%s", m)
		}
	})

	t.Run("the far side's own isolation does not count against the app", func(t *testing.T) {
		app, state := wordpress(t, []networkingv1.NetworkPolicy{isolateDNS}, nil)
		e := evaluate(t, state)
		m := assertion(func(g gomega.Gomega) {
			g.Expect(e).NotTo(matchers.AllowFlow("dev-wordpress/wordpress", "kube-system/coredns", 53, corev1.ProtocolUDP))
			g.Expect(e).To(matchers.IsolateExactly(app))
		})
		if m != "" {
			t.Errorf("the assertion failed:\n%s", m)
		}
	})

	t.Run("addresses in the State: their flows are not the app's pods' peers, and show as rows and columns", func(t *testing.T) {
		app, state := wordpress(t, nil, nil)
		state.Addresses = []reach.Address{{Name: "client", IP: "203.0.113.7"}, {Name: "api", IP: "198.51.100.1", Ports: []reach.AddressPort{{Port: 443}}}}
		e := evaluate(t, state)
		if m := assertion(func(g gomega.Gomega) { g.Expect(e).To(matchers.IsolateExactly(app)) }); m != "" {
			t.Errorf("the assertion failed:\n%s", m)
		}
		m := assertion(func(g gomega.Gomega) {
			g.Expect(e).To(matchers.AllowFlow("203.0.113.7", "dev-wordpress/mysql-0", 3306))
		})
		wantIn(t, m, "Expected the connection 203.0.113.7 -> dev-wordpress/mysql-0:3306/TCP to be allowed, but it is denied.\n",
			"Flows into dev-wordpress/mysql-0 (tierwall reach):\n", "\nclient                   ✗\n")
		m = assertion(func(g gomega.Gomega) {
			g.Expect(e).To(matchers.AllowFlow("dev-wordpress/wordpress", "api", 443))
		})
		wantIn(t, m, "Expected the connection dev-wordpress/wordpress -> api:443/TCP to be allowed, but it is denied.\n", "Flows from dev-wordpress/wordpress (tierwall reach):\n", "api:443/TCP (198.51.100.1)\n")
	})

	t.Run("NotTo fails when the isolation is exact, with the governed pods' rows", func(t *testing.T) {
		app, state := wordpress(t, nil, nil)
		m := assertion(func(g gomega.Gomega) { g.Expect(evaluate(t, state)).NotTo(matchers.IsolateExactly(app)) })
		wantIn(t, m,
			"Expected the policies not to isolate AppIsolation dev-wordpress/wordpress exactly as declared, but all 16 flows to or from its 2 governed pods are as declared.\n",
			"The rows of the governed pods (tierwall reach):\n",
			"dev-wordpress/mysql-0    ",
			"dev-wordpress/wordpress  ",
		)
	})

	t.Run("a foreign policy that opens a governed pod: allowed, not declared", func(t *testing.T) {
		app, state := wordpress(t, []networkingv1.NetworkPolicy{open}, nil)
		m := assertion(func(g gomega.Gomega) { g.Expect(evaluate(t, state)).To(matchers.IsolateExactly(app)) })
		wantIn(t, m,
			"Expected the policies to isolate AppIsolation dev-wordpress/wordpress exactly as declared, but 3 of the 16 flows to or from its 2 governed pods differ:\n",
			"  default/debug -> dev-wordpress/mysql-0:3306/TCP  ingress of dev-wordpress/mysql-0: allowed, not declared\n",
			"  kube-system/coredns -> dev-wordpress/mysql-0:3306/TCP  ingress of dev-wordpress/mysql-0: allowed, not declared\n",
			"  kube-system/traefik -> dev-wordpress/mysql-0:3306/TCP  ingress of dev-wordpress/mysql-0: allowed, not declared\n",
			"Why (tierwall reach --explain):\ndefault/debug -> dev-wordpress/mysql-0:3306/TCP: allowed\n",
			"Ingress of dev-wordpress/mysql-0: allowed by\n  dev-wordpress/open-mysql ingress[0]\n",
			"The rows of the matrix involved (tierwall reach):\n",
			"default/debug        ✓\n",
		)
	})

	t.Run("a policy missing: declared, denied", func(t *testing.T) {
		app, state := wordpress(t, nil, func(p networkingv1.NetworkPolicy) bool { return p.Name == render.TierName("wordpress", "database") })
		m := assertion(func(g gomega.Gomega) { g.Expect(evaluate(t, state)).To(matchers.IsolateExactly(app)) })
		wantIn(t, m,
			"but 1 of the 16 flows to or from its 2 governed pods differ:\n",
			"  dev-wordpress/wordpress -> dev-wordpress/mysql-0:3306/TCP  ingress of dev-wordpress/mysql-0: declared, denied\n",
			"Why (tierwall reach --explain):\ndev-wordpress/wordpress -> dev-wordpress/mysql-0:3306/TCP: denied\n",
			"Ingress of dev-wordpress/mysql-0: denied: no rule of the isolating policies matches\n",
		)
		if strings.Count(m, "Why (tierwall reach --explain)") != 1 {
			t.Errorf("the flow is explained more than once:\n%s", m)
		}
	})

	t.Run("nothing applied (DryRun): the list and the explanations are capped", func(t *testing.T) {
		app, state := wordpress(t, nil, func(networkingv1.NetworkPolicy) bool { return true })
		for _, name := range []string{"a", "b", "c", "d", "e"} {
			state.Pods = append(state.Pods, corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: name, Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}},
			})
		}
		m := assertion(func(g gomega.Gomega) { g.Expect(evaluate(t, state)).To(matchers.IsolateExactly(app)) })
		wantIn(t, m,
			"but 30 of the 36 flows to or from its 2 governed pods differ:\n",
			"  ... and 11 more\n",
			"(27 more flows not explained: tierwall reach --explain tells about each.)\n",
			"The rows of the matrix involved (tierwall reach):\n",
		)
		if n := strings.Count(m, "Why (tierwall reach --explain)"); n != 3 {
			t.Errorf("%d explanations, want 3", n)
		}
	})

	for _, tt := range []struct {
		name   string
		app    func(*tierwallv1alpha1.AppIsolation)
		actual func(reach.State) any
		want   string
	}{
		{"an app that governs no pod", func(a *tierwallv1alpha1.AppIsolation) { a.Namespace = "elsewhere" }, nil,
			"IsolateExactly: AppIsolation elsewhere/wordpress governs no pod of the evaluator's 5: nothing to check"},
		{"a spec it cannot read", func(a *tierwallv1alpha1.AppIsolation) {
			a.Spec.PodSelector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "k", Operator: "Near"}}
		}, nil, "IsolateExactly: cannot read AppIsolation dev-wordpress/wordpress: spec.podSelector"},
		{"not an evaluator", nil, func(s reach.State) any { return &s }, "IsolateExactly expects a non-nil *reach.Evaluator, not *reach.State"},
	} {
		t.Run(tt.name+" is an error for To and NotTo alike", func(t *testing.T) {
			app, state := wordpress(t, nil, nil)
			var actual any = evaluate(t, state)
			if tt.app != nil {
				tt.app(app)
			}
			if tt.actual != nil {
				actual = tt.actual(state)
			}
			for _, m := range []string{
				assertion(func(g gomega.Gomega) { g.Expect(actual).To(matchers.IsolateExactly(app)) }),
				assertion(func(g gomega.Gomega) { g.Expect(actual).NotTo(matchers.IsolateExactly(app)) }),
			} {
				if !strings.Contains(m, tt.want) {
					t.Errorf("message %q, want it to contain %q", m, tt.want)
				}
			}
		})
	}
}
