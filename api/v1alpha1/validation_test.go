package v1alpha1_test

import (
	"io"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/internal/cli"
	"github.com/tierwall/tierwall/pkg/render"
	"github.com/tierwall/tierwall/test/fixtures"
	"github.com/tierwall/tierwall/test/specs"
)

// wordpress is the WordPress sample in namespace, with tweaks applied.
func wordpress(namespace string, tweaks ...specs.Tweak) *tierwallv1alpha1.AppIsolation {
	app, err := specs.WordPress(namespace, tweaks...)
	Expect(err).NotTo(HaveOccurred())
	return app
}

// wordpressObject is the WordPress sample in namespace, with t applied: a
// specs.Tweak or a specs.JSONTweak.
func wordpressObject(namespace string, t any) *unstructured.Unstructured {
	obj, err := specs.Object(namespace, t)
	Expect(err).NotTo(HaveOccurred())
	return obj
}

// kubectlCreate runs `kubectl create --dry-run=server` on obj, as a user
// applying a manifest would, and returns what kubectl printed on stderr.
func kubectlCreate(obj *unstructured.Unstructured) (string, error) {
	data, err := yaml.Marshal(obj.Object)
	Expect(err).NotTo(HaveOccurred())
	file := filepath.Join(GinkgoT().TempDir(), "app.yaml")
	Expect(os.WriteFile(file, data, 0o600)).To(Succeed())
	_, stderr, err := kubectl("create", "--dry-run=server", "-f", file)
	out, readErr := io.ReadAll(stderr)
	Expect(readErr).NotTo(HaveOccurred())
	return strings.TrimSpace(string(out)), err
}

// apiServerSaid is what the API server answered to an invalid object: its
// field errors, each as field.Error prints it (field path, then message).
func apiServerSaid(err error) []string {
	status, ok := err.(apierrors.APIStatus)
	Expect(ok).To(BeTrue(), "not an API status: %v", err)
	Expect(status.Status().Details).NotTo(BeNil(), "no details: %v", err)
	causes := status.Status().Details.Causes
	said := make([]string, 0, len(causes))
	for _, c := range causes {
		said = append(said, c.Field+": "+c.Message)
	}
	return said
}

// cliSaid runs `tierwall render` on obj, expects it to fail, and returns the
// admission errors it printed, without the file, line and object name.
func cliSaid(obj *unstructured.Unstructured) []string {
	data, err := yaml.Marshal(obj.Object)
	Expect(err).NotTo(HaveOccurred())
	file := filepath.Join(GinkgoT().TempDir(), "app.yaml")
	Expect(os.WriteFile(file, data, 0o600)).To(Succeed())
	var stdout, stderr strings.Builder
	code := cli.Run([]string{"render", "-f", file}, strings.NewReader(""), &stdout, &stderr)
	Expect(code).To(Equal(cli.ExitFailure), "tierwall render accepted the AppIsolation: %s", stdout.String())
	var said []string
	for line := range strings.SplitSeq(strings.TrimSpace(stderr.String()), "\n") {
		if _, msg, ok := strings.Cut(line, " is invalid: "); ok {
			said = append(said, msg)
		}
	}
	return said
}

var _ = Describe("AppIsolation admission", func() {
	// Ordered, so that the check of docs/validation.md runs after every
	// rejection; ContinueOnFailure, so that one failure hides no other.
	Describe("of invalid AppIsolations", Ordered, ContinueOnFailure, func() {
		DescribeTable("rejects an invalid AppIsolation, naming the field and the problem, as the CLI does",
			func(c specs.Case) {
				obj := wordpressObject(newNamespace(), c.Tweak)

				err := k8sClient.Create(ctx, obj.DeepCopy())
				Expect(err).To(HaveOccurred(), "the API server accepted the AppIsolation")
				Expect(apierrors.IsInvalid(err)).To(BeTrue(), "not an Invalid error: %v", err)
				for _, w := range c.Want {
					Expect(err.Error()).To(ContainSubstring(w))
				}
				// tierwall render, reach and graph validate as admission does:
				// the same field errors. Not always in the same order: the
				// schema validator visits an object's fields in map order, so
				// the API server's own order varies from one request to the next.
				Expect(cliSaid(obj)).To(ConsistOf(apiServerSaid(err)), "what tierwall render said, and what the API server said")

				stderr, err := kubectlCreate(obj)
				kubectlSaid[CurrentSpecReport().LeafNodeText] = stderr
				Expect(err).To(HaveOccurred(), "kubectl accepted the AppIsolation")
				GinkgoWriter.Printf("kubectl: %s\n", stderr)
				for _, w := range c.Want {
					Expect(stderr).To(ContainSubstring(w))
				}
			},
			rejections,
		)

		It("is documented in docs/validation.md with messages kubectl really prints", func() {
			if len(kubectlSaid) < len(rejections) {
				Skip("not every rejection ran")
			}
			checkValidationDoc(slices.Collect(maps.Values(kubectlSaid)))
		})
	})

	DescribeTable("accepts a valid AppIsolation, and the policies it renders",
		func(t specs.Tweak, platform ...render.Platform) {
			namespace := newNamespace()
			app := wordpress(namespace, t)
			Expect(k8sClient.Create(ctx, app)).To(Succeed())

			// What admission accepts, tierwall renders, and the API server
			// accepts what tierwall renders.
			policies, err := render.Render(app, append(platform, render.Platform{})[0])
			Expect(err).NotTo(HaveOccurred())
			for i := range policies {
				Expect(k8sClient.Create(ctx, &policies[i], client.DryRunAll)).To(Succeed(), "NetworkPolicy %s", policies[i].Name)
			}
		},
		Entry("the WordPress sample", func(*tierwallv1alpha1.AppIsolation) {}),
		Entry("a minimal app: one tier with no allowFrom",
			func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec = tierwallv1alpha1.AppIsolationSpec{Tiers: []tierwallv1alpha1.Tier{{
					Name: "web", PodSelector: *specs.Selector("app", "web"),
				}}}
			}),
		Entry("spec.podSelector omitted (every pod of the namespace)",
			func(app *tierwallv1alpha1.AppIsolation) { app.Spec.PodSelector = nil }),
		Entry("an IPv6 CIDR with except",
			specs.AllowFromDatabase(specs.IPPeer("2001:db8::/32", "2001:db8:1::/48", "2001:db8:ff00::/40"))),
		Entry("an IPv4 CIDR with except, and 0.0.0.0/0",
			func(app *tierwallv1alpha1.AppIsolation) {
				specs.AllowFromDatabase(specs.IPPeer("10.0.0.0/8", "10.1.0.0/16", "10.2.3.4/32"))(app)
				specs.Frontend(app).EgressTo = []tierwallv1alpha1.EgressRule{{
					IPBlock: &tierwallv1alpha1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"10.0.0.0/8", "169.254.169.254/32"}},
					Ports:   []tierwallv1alpha1.Port{specs.NumericPort(443)},
				}}
			}),
		Entry("a named port",
			specs.SetDatabasePort(specs.NamedPort("mysql"))),
		Entry("a named port at the maximum length of 15",
			specs.SetDatabasePort(specs.NamedPort("mysql-x-classic"))),
		Entry("a port range with endPort equal to port",
			specs.SetDatabasePort(tierwallv1alpha1.Port{Port: intstr.FromInt32(3306), EndPort: ptr.To(int32(3306))})),
		Entry("ports 1 and 65535, UDP and SCTP",
			func(app *tierwallv1alpha1.AppIsolation) {
				specs.Database(app).Ports = []tierwallv1alpha1.Port{
					{Port: intstr.FromInt32(1), Protocol: "UDP"},
					{Port: intstr.FromInt32(65535), Protocol: "SCTP"},
				}
			}),
		Entry("a hostNetwork ingress controller selected by ipBlocks only",
			func(app *tierwallv1alpha1.AppIsolation) {
				*specs.Traefik(app) = tierwallv1alpha1.IngressController{
					Name:     "traefik",
					IPBlocks: []tierwallv1alpha1.IPBlock{{CIDR: "192.168.1.0/24"}, {CIDR: "fd00:1::/64"}},
				}
			}),
		Entry("a hostNetwork ingress controller followed on the Nodes, with two Nodes",
			func(app *tierwallv1alpha1.AppIsolation) {
				*specs.Traefik(app) = tierwallv1alpha1.IngressController{Name: "traefik", HostNetwork: true}
			}, render.Platform{NodeAddresses: []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("fd00::1")}}),
		Entry("a hostNetwork ingress controller with no Node known",
			func(app *tierwallv1alpha1.AppIsolation) {
				*specs.Traefik(app) = tierwallv1alpha1.IngressController{Name: "traefik", HostNetwork: true}
			}),
		Entry("egress to the API server, with its endpoints known",
			func(app *tierwallv1alpha1.AppIsolation) {
				specs.Frontend(app).EgressTo = []tierwallv1alpha1.EgressRule{{KubeAPIServer: &tierwallv1alpha1.KubeAPIServer{}}}
			}, render.Platform{KubeAPIServer: render.Endpoints{
				Addresses: []netip.Addr{netip.MustParseAddr("172.18.0.2"), netip.MustParseAddr("fd00::2")},
				Ports:     []render.EndpointPort{{Port: 6443, Protocol: corev1.ProtocolTCP}},
			}}),
		Entry("NodeLocal DNSCache at its default address",
			func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.DNS = &tierwallv1alpha1.DNS{NodeLocal: &tierwallv1alpha1.NodeLocalDNS{}}
			}),
		Entry("NodeLocal DNSCache at an IPv6 address",
			func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.DNS = &tierwallv1alpha1.DNS{NodeLocal: &tierwallv1alpha1.NodeLocalDNS{Address: "fd00::a"}}
			}),
		Entry("an ingress controller selected by namespace only",
			func(app *tierwallv1alpha1.AppIsolation) { specs.Traefik(app).PodSelector = nil }),
		Entry("DNS disabled",
			func(app *tierwallv1alpha1.AppIsolation) { app.Spec.DNS = &tierwallv1alpha1.DNS{Disabled: true} }),
		Entry("custom DNS servers",
			func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.DNS = &tierwallv1alpha1.DNS{Namespace: "dns", PodSelector: specs.Selector("app", "unbound")}
			}),
		Entry("the mail sample: a tier without ports whose every allowFrom entry lists its own",
			func(app *tierwallv1alpha1.AppIsolation) {
				mail, err := fixtures.Mail(app.Namespace)
				Expect(err).NotTo(HaveOccurred())
				app.Spec = mail.Spec
			}),
		Entry("policyTypes [Ingress]",
			specs.SetPolicyTypes(tierwallv1alpha1.PolicyTypeIngress)),
		Entry("policyTypes [Egress], with tier peers on ports of their own",
			func(app *tierwallv1alpha1.AppIsolation) {
				specs.SetPolicyTypes(tierwallv1alpha1.PolicyTypeEgress)(app)
				app.Spec.IngressControllers = nil
				specs.Frontend(app).AllowFrom = nil
				specs.Database(app).AllowFrom[0].Ports = []tierwallv1alpha1.Port{specs.NumericPort(3306)}
			}),
		Entry("DryRun mode",
			func(app *tierwallv1alpha1.AppIsolation) { app.Spec.Mode = tierwallv1alpha1.ModeDryRun }),
		Entry("an allowFrom tier of another AppIsolation, on ports of its own",
			specs.AllowFromDatabase(tierwallv1alpha1.Peer{AppIsolation: specs.PaymentsAPI(), Tier: "backend",
				Ports: []tierwallv1alpha1.Port{specs.NumericPort(33060)}})),
		Entry("an egressTo tier of another AppIsolation, with and without ports",
			func(app *tierwallv1alpha1.AppIsolation) {
				specs.Frontend(app).EgressTo = []tierwallv1alpha1.EgressRule{
					{AppIsolation: specs.PaymentsAPI(), Tier: "backend"},
					{AppIsolation: &tierwallv1alpha1.AppIsolationReference{Namespace: "billing", Name: "ledger.v2"}, Tier: "api",
						Ports: []tierwallv1alpha1.Port{specs.NumericPort(8443)}},
				}
			}),
		Entry("a raw peer with only a namespaceSelector",
			specs.AllowFromDatabase(tierwallv1alpha1.Peer{NamespaceSelector: specs.Selector("kubernetes.io/metadata.name", "backup")})),
		Entry("a raw peer with a namespaceSelector and a podSelector",
			specs.AllowFromDatabase(tierwallv1alpha1.Peer{
				NamespaceSelector: specs.Selector("kubernetes.io/metadata.name", "backup"),
				PodSelector:       specs.Selector("app", "backup"),
			})),
		Entry("metadata.name of 63 characters and tier names of 40",
			func(app *tierwallv1alpha1.AppIsolation) {
				app.Name = strings.Repeat("w", 63)
				specs.RenameTier(0, strings.Repeat("f", 40))(app)
				specs.RenameTier(1, strings.Repeat("d", 40))(app)
			}),
		Entry("16 tiers each allowing the previous, every list at its maximum size",
			specs.Chain(16)),
	)
})

// kubectlSaid is what kubectl printed for each rejection, by entry.
var kubectlSaid = map[string]string{}

// rejections are the entries of specs.Rejections, the invalid variants of
// the WordPress sample that the CLI's tests share.
var rejections = func() []TableEntry {
	entries := make([]TableEntry, 0, len(specs.Rejections))
	for _, c := range specs.Rejections {
		entries = append(entries, Entry(c.Name, c))
	}
	return entries
}()

// checkValidationDoc checks that every message docs/validation.md quotes is
// one kubectl printed: a field followed by ": " in backquotes, or a line of
// kubectl output in a console block.
func checkValidationDoc(printed []string) {
	data, err := os.ReadFile(filepath.Join(fixtures.RepoRoot(), "docs", "validation.md"))
	Expect(err).NotTo(HaveOccurred())
	all := strings.Join(printed, "\n")
	var quoted []string
	for _, m := range regexp.MustCompile("`((?:spec|metadata)[^`]*?: [^`]*)`").FindAllStringSubmatch(string(data), -1) {
		quoted = append(quoted, m[1])
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if strings.HasPrefix(line, "The AppIsolation ") || strings.HasPrefix(line, "* ") {
			quoted = append(quoted, strings.TrimPrefix(line, "* "))
		}
	}
	Expect(len(quoted)).To(BeNumerically(">", 20), "docs/validation.md quotes few messages: is the pattern out of date?")
	for _, q := range quoted {
		Expect(all).To(ContainSubstring(q), "docs/validation.md quotes a message that kubectl did not print")
	}
}
