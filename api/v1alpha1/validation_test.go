package v1alpha1_test

import (
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/internal/render"
	"github.com/tierwall/tierwall/test/fixtures"
)

// tweak changes the WordPress sample into the variant under test. The
// sample's tiers are frontend (tiers[0], port 80, from the traefik ingress
// controller) and database (tiers[1], port 3306, from frontend).
type tweak func(app *tierwallv1alpha1.AppIsolation)

// wordpress is the WordPress sample in namespace, with tweaks applied.
func wordpress(namespace string, tweaks ...tweak) *tierwallv1alpha1.AppIsolation {
	app, err := fixtures.WordPress(namespace)
	Expect(err).NotTo(HaveOccurred())
	for _, t := range tweaks {
		t(app)
	}
	return app
}

// jsonTweak changes the WordPress sample as JSON, for what the Go types
// cannot express, such as an empty list where the field has omitempty.
type jsonTweak func(obj map[string]any)

// wordpressObject is the WordPress sample in namespace, with t applied: a
// tweak or a jsonTweak.
func wordpressObject(namespace string, t any) *unstructured.Unstructured {
	app := wordpress(namespace)
	var onJSON jsonTweak
	switch t := t.(type) {
	case tweak:
		t(app)
	case func(*tierwallv1alpha1.AppIsolation):
		t(app)
	case jsonTweak:
		onJSON = t
	default:
		Fail(fmt.Sprintf("not a tweak: %T", t))
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(app)
	Expect(err).NotTo(HaveOccurred())
	obj := &unstructured.Unstructured{Object: content}
	obj.SetAPIVersion(tierwallv1alpha1.GroupVersion.String())
	obj.SetKind(tierwallv1alpha1.AppIsolationKind)
	unstructured.RemoveNestedField(obj.Object, "status")
	unstructured.RemoveNestedField(obj.Object, "metadata", "creationTimestamp")
	if onJSON != nil {
		onJSON(obj.Object)
	}
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

// selector is a label selector on one label.
func selector(key, value string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{key: value}}
}

func tierPeer(name string) tierwallv1alpha1.Peer { return tierwallv1alpha1.Peer{Tier: name} }

func ipPeer(cidr string, except ...string) tierwallv1alpha1.Peer {
	return tierwallv1alpha1.Peer{IPBlock: &tierwallv1alpha1.IPBlock{CIDR: cidr, Except: except}}
}

func numericPort(port int32) tierwallv1alpha1.Port {
	return tierwallv1alpha1.Port{Port: intstr.FromInt32(port)}
}

func namedPort(name string) tierwallv1alpha1.Port {
	return tierwallv1alpha1.Port{Port: intstr.FromString(name)}
}

// frontend and database are the sample's tiers.
func frontend(app *tierwallv1alpha1.AppIsolation) *tierwallv1alpha1.Tier { return &app.Spec.Tiers[0] }
func database(app *tierwallv1alpha1.AppIsolation) *tierwallv1alpha1.Tier { return &app.Spec.Tiers[1] }

// traefik is the sample's ingress controller.
func traefik(app *tierwallv1alpha1.AppIsolation) *tierwallv1alpha1.IngressController {
	return &app.Spec.IngressControllers[0]
}

// allowFromDatabase lets the database accept peer too.
func allowFromDatabase(peer tierwallv1alpha1.Peer) tweak {
	return func(app *tierwallv1alpha1.AppIsolation) {
		database(app).AllowFrom = append(database(app).AllowFrom, peer)
	}
}

// setDatabasePort replaces the database's port.
func setDatabasePort(port tierwallv1alpha1.Port) tweak {
	return func(app *tierwallv1alpha1.AppIsolation) { database(app).Ports = []tierwallv1alpha1.Port{port} }
}

// renameTier renames tiers[i] and the references to it.
func renameTier(i int, name string) tweak {
	return func(app *tierwallv1alpha1.AppIsolation) {
		old := app.Spec.Tiers[i].Name
		app.Spec.Tiers[i].Name = name
		for t := range app.Spec.Tiers {
			for p := range app.Spec.Tiers[t].AllowFrom {
				if app.Spec.Tiers[t].AllowFrom[p].Tier == old {
					app.Spec.Tiers[t].AllowFrom[p].Tier = name
				}
			}
		}
	}
}

// renameTraefik renames the ingress controller and the reference to it.
func renameTraefik(name string) tweak {
	return func(app *tierwallv1alpha1.AppIsolation) {
		traefik(app).Name = name
		frontend(app).AllowFrom[0].IngressController = name
	}
}

// chain is a valid app of n tiers, t0 to t(n-1), each allowing the previous
// one, at the maximum size of every list: the CEL rules must stay within
// the API server's cost budget for the largest object the schema allows.
func chain(n int) tweak {
	return func(app *tierwallv1alpha1.AppIsolation) {
		except := make([]string, 16)
		for i := range except {
			except[i] = fmt.Sprintf("10.%d.0.0/16", i)
		}
		app.Spec.IngressControllers = nil
		for i := range 8 {
			app.Spec.IngressControllers = append(app.Spec.IngressControllers, tierwallv1alpha1.IngressController{
				Name:        fmt.Sprintf("controller-%d-%s", i, strings.Repeat("c", 27)),
				Namespace:   "kube-system",
				PodSelector: selector("app", fmt.Sprintf("controller-%d", i)),
			})
		}
		ports := make([]tierwallv1alpha1.Port, 16)
		for i := range ports {
			ports[i] = tierwallv1alpha1.Port{Port: intstr.FromInt32(int32(8000 + i)), EndPort: ptr.To(int32(8100 + i))}
		}
		egress := make([]tierwallv1alpha1.EgressRule, 16)
		for i := range egress {
			egress[i] = tierwallv1alpha1.EgressRule{
				IPBlock: &tierwallv1alpha1.IPBlock{CIDR: "10.0.0.0/8", Except: except},
				Ports:   ports,
			}
		}
		app.Spec.Tiers = nil
		for i := range n {
			name := fmt.Sprintf("tier-%02d-%s", i, strings.Repeat("t", 32))
			tier := tierwallv1alpha1.Tier{
				Name:        name,
				PodSelector: *selector("tier", fmt.Sprintf("t%d", i)),
				Ports:       ports,
				EgressTo:    egress,
			}
			for j := range 8 {
				tier.AllowFrom = append(tier.AllowFrom, tierwallv1alpha1.Peer{IngressController: app.Spec.IngressControllers[j].Name})
			}
			for len(tier.AllowFrom) < 15 {
				tier.AllowFrom = append(tier.AllowFrom, ipPeer("10.0.0.0/8", except...))
			}
			previous := app.Spec.Tiers
			if i > 0 {
				tier.AllowFrom = append(tier.AllowFrom, tierPeer(previous[i-1].Name))
			} else {
				tier.AllowFrom = append(tier.AllowFrom, ipPeer("192.168.0.0/16"))
			}
			app.Spec.Tiers = append(app.Spec.Tiers, tier)
		}
	}
}

var _ = Describe("AppIsolation admission", func() {
	// Ordered, so that the check of docs/validation.md runs after every
	// rejection; ContinueOnFailure, so that one failure hides no other.
	Describe("of invalid AppIsolations", Ordered, ContinueOnFailure, func() {
		DescribeTable("rejects an invalid AppIsolation, naming the field and the problem",
			func(t any, want ...string) {
				obj := wordpressObject(newNamespace(), t)

				err := k8sClient.Create(ctx, obj.DeepCopy())
				Expect(err).To(HaveOccurred(), "the API server accepted the AppIsolation")
				Expect(apierrors.IsInvalid(err)).To(BeTrue(), "not an Invalid error: %v", err)
				for _, w := range want {
					Expect(err.Error()).To(ContainSubstring(w))
				}

				stderr, err := kubectlCreate(obj)
				kubectlSaid[CurrentSpecReport().LeafNodeText] = stderr
				Expect(err).To(HaveOccurred(), "kubectl accepted the AppIsolation")
				GinkgoWriter.Printf("kubectl: %s\n", stderr)
				for _, w := range want {
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
		func(t tweak) {
			namespace := newNamespace()
			app := wordpress(namespace, t)
			Expect(k8sClient.Create(ctx, app)).To(Succeed())

			// What admission accepts, tierwall renders, and the API server
			// accepts what tierwall renders.
			policies, err := render.Render(app)
			Expect(err).NotTo(HaveOccurred())
			for i := range policies {
				Expect(k8sClient.Create(ctx, &policies[i], client.DryRunAll)).To(Succeed(), "NetworkPolicy %s", policies[i].Name)
			}
		},
		Entry("the WordPress sample", func(*tierwallv1alpha1.AppIsolation) {}),
		Entry("a minimal app: one tier with no allowFrom",
			func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec = tierwallv1alpha1.AppIsolationSpec{Tiers: []tierwallv1alpha1.Tier{{
					Name: "web", PodSelector: *selector("app", "web"),
				}}}
			}),
		Entry("spec.podSelector omitted (every pod of the namespace)",
			func(app *tierwallv1alpha1.AppIsolation) { app.Spec.PodSelector = nil }),
		Entry("an IPv6 CIDR with except",
			allowFromDatabase(ipPeer("2001:db8::/32", "2001:db8:1::/48", "2001:db8:ff00::/40"))),
		Entry("an IPv4 CIDR with except, and 0.0.0.0/0",
			func(app *tierwallv1alpha1.AppIsolation) {
				allowFromDatabase(ipPeer("10.0.0.0/8", "10.1.0.0/16", "10.2.3.4/32"))(app)
				frontend(app).EgressTo = []tierwallv1alpha1.EgressRule{{
					IPBlock: &tierwallv1alpha1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"10.0.0.0/8", "169.254.169.254/32"}},
					Ports:   []tierwallv1alpha1.Port{numericPort(443)},
				}}
			}),
		Entry("a named port",
			setDatabasePort(namedPort("mysql"))),
		Entry("a named port at the maximum length of 15",
			setDatabasePort(namedPort("mysql-x-classic"))),
		Entry("a port range with endPort equal to port",
			setDatabasePort(tierwallv1alpha1.Port{Port: intstr.FromInt32(3306), EndPort: ptr.To(int32(3306))})),
		Entry("ports 1 and 65535, UDP and SCTP",
			func(app *tierwallv1alpha1.AppIsolation) {
				database(app).Ports = []tierwallv1alpha1.Port{
					{Port: intstr.FromInt32(1), Protocol: "UDP"},
					{Port: intstr.FromInt32(65535), Protocol: "SCTP"},
				}
			}),
		Entry("a hostNetwork ingress controller selected by ipBlocks only",
			func(app *tierwallv1alpha1.AppIsolation) {
				*traefik(app) = tierwallv1alpha1.IngressController{
					Name:     "traefik",
					IPBlocks: []tierwallv1alpha1.IPBlock{{CIDR: "192.168.1.0/24"}, {CIDR: "fd00:1::/64"}},
				}
			}),
		Entry("an ingress controller selected by namespace only",
			func(app *tierwallv1alpha1.AppIsolation) { traefik(app).PodSelector = nil }),
		Entry("DNS disabled",
			func(app *tierwallv1alpha1.AppIsolation) { app.Spec.DNS = &tierwallv1alpha1.DNS{Disabled: true} }),
		Entry("custom DNS servers",
			func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.DNS = &tierwallv1alpha1.DNS{Namespace: "dns", PodSelector: selector("app", "unbound")}
			}),
		Entry("DryRun mode",
			func(app *tierwallv1alpha1.AppIsolation) { app.Spec.Mode = tierwallv1alpha1.ModeDryRun }),
		Entry("a raw peer with only a namespaceSelector",
			allowFromDatabase(tierwallv1alpha1.Peer{NamespaceSelector: selector("kubernetes.io/metadata.name", "backup")})),
		Entry("a raw peer with a namespaceSelector and a podSelector",
			allowFromDatabase(tierwallv1alpha1.Peer{
				NamespaceSelector: selector("kubernetes.io/metadata.name", "backup"),
				PodSelector:       selector("app", "backup"),
			})),
		Entry("metadata.name of 63 characters and tier names of 40",
			func(app *tierwallv1alpha1.AppIsolation) {
				app.Name = strings.Repeat("w", 63)
				renameTier(0, strings.Repeat("f", 40))(app)
				renameTier(1, strings.Repeat("d", 40))(app)
			}),
		Entry("16 tiers each allowing the previous, every list at its maximum size",
			chain(16)),
	)
})

// kubectlSaid is what kubectl printed for each rejection, by entry.
var kubectlSaid = map[string]string{}

// rejections are the invalid variants of the WordPress sample: a tweak (or
// a jsonTweak), then substrings the error must contain, the field first.
var rejections = []TableEntry{
	Entry("allowFrom names a tier that does not exist",
		func(app *tierwallv1alpha1.AppIsolation) { database(app).AllowFrom[0].Tier = "cache" },
		"spec.tiers", "every allowFrom[].tier must be the name of a tier declared in spec.tiers"),
	Entry("allowFrom names an unknown ingress controller",
		func(app *tierwallv1alpha1.AppIsolation) { frontend(app).AllowFrom[0].IngressController = "nginx" },
		"spec.tiers", "every allowFrom[].ingressController must be the name of an entry of spec.ingressControllers"),
	Entry("an allowFrom entry with no peer",
		allowFromDatabase(tierwallv1alpha1.Peer{}),
		"spec.tiers[1].allowFrom[1]", "set exactly one of"),
	Entry("an allowFrom entry with a tier and an ipBlock",
		allowFromDatabase(tierwallv1alpha1.Peer{Tier: "frontend", IPBlock: &tierwallv1alpha1.IPBlock{CIDR: "10.0.0.0/8"}}),
		"spec.tiers[1].allowFrom[1]", "set exactly one of"),
	Entry("an allowFrom entry with a tier and a podSelector",
		allowFromDatabase(tierwallv1alpha1.Peer{Tier: "frontend", PodSelector: selector("app", "backup")}),
		"spec.tiers[1].allowFrom[1]", "set exactly one of"),
	Entry("two tiers with the same name",
		func(app *tierwallv1alpha1.AppIsolation) { database(app).Name = "frontend" },
		"spec.tiers[1]", "Duplicate value"),
	Entry("two ingress controllers with the same name",
		func(app *tierwallv1alpha1.AppIsolation) {
			app.Spec.IngressControllers = append(app.Spec.IngressControllers, *traefik(app).DeepCopy())
		},
		"spec.ingressControllers[1]", "Duplicate value"),
	Entry("a tier name with uppercase letters",
		renameTier(1, "Database"),
		"spec.tiers[1].name", `Invalid value: "Database": must be a DNS label`),
	Entry("a tier name with an underscore",
		renameTier(1, "my_database"),
		"spec.tiers[1].name", `Invalid value: "my_database": must be a DNS label`),
	Entry("a tier name with a leading dash",
		renameTier(1, "-database"),
		"spec.tiers[1].name", `Invalid value: "-database": must be a DNS label`),
	Entry("a tier name longer than 40 characters",
		renameTier(1, strings.Repeat("d", 41)),
		"spec.tiers[1].name", "Too long: may not be more than 40 bytes"),
	Entry("an ingress controller name with uppercase letters",
		renameTraefik("Traefik"),
		"spec.ingressControllers[0].name", `Invalid value: "Traefik": must be a DNS label`),
	Entry("an ingress controller name with an underscore",
		renameTraefik("traefik_v3"),
		"spec.ingressControllers[0].name", `Invalid value: "traefik_v3": must be a DNS label`),
	Entry("an ingress controller name with a leading dash",
		renameTraefik("-traefik"),
		"spec.ingressControllers[0].name", `Invalid value: "-traefik": must be a DNS label`),
	Entry("an ingress controller name longer than 40 characters",
		renameTraefik(strings.Repeat("t", 41)),
		"spec.ingressControllers[0].name", "Too long: may not be more than 40 bytes"),
	Entry("port 0",
		setDatabasePort(numericPort(0)),
		"spec.tiers[1].ports[0].port", "port must be a number from 1 to 65535"),
	Entry("port 65536",
		setDatabasePort(numericPort(65536)),
		"spec.tiers[1].ports[0].port", "port must be a number from 1 to 65535"),
	Entry("endPort below port",
		setDatabasePort(tierwallv1alpha1.Port{Port: intstr.FromInt32(3306), EndPort: ptr.To(int32(3305))}),
		"spec.tiers[1].ports[0].endPort", "endPort must be greater than or equal to port"),
	Entry("endPort with a named port",
		setDatabasePort(tierwallv1alpha1.Port{Port: intstr.FromString("mysql"), EndPort: ptr.To(int32(3307))}),
		"spec.tiers[1].ports[0].endPort", "endPort needs a numeric port"),
	Entry("a named port longer than 15 characters",
		setDatabasePort(namedPort("mysql-classic-protocol")),
		"spec.tiers[1].ports[0].port", "Too long: may not be more than 15 bytes"),
	Entry("a named port with uppercase letters",
		setDatabasePort(namedPort("MySQL")),
		"spec.tiers[1].ports[0].port", "port must be a number from 1 to 65535 or the name of a container port"),
	Entry("a named port with two dashes in a row",
		setDatabasePort(namedPort("my--sql")),
		"spec.tiers[1].ports[0].port", "port must be a number from 1 to 65535 or the name of a container port"),
	Entry("a named port with no letter",
		setDatabasePort(namedPort("3306")),
		"spec.tiers[1].ports[0].port", "port must be a number from 1 to 65535 or the name of a container port"),
	Entry("protocol ICMP",
		setDatabasePort(tierwallv1alpha1.Port{Port: intstr.FromInt32(3306), Protocol: "ICMP"}),
		"spec.tiers[1].ports[0].protocol", "Unsupported value: \"ICMP\"", "\"TCP\", \"UDP\", \"SCTP\""),
	Entry("an egressTo port 0",
		func(app *tierwallv1alpha1.AppIsolation) {
			frontend(app).EgressTo = []tierwallv1alpha1.EgressRule{{
				IPBlock: &tierwallv1alpha1.IPBlock{CIDR: "203.0.113.0/24"}, Ports: []tierwallv1alpha1.Port{numericPort(0)},
			}}
		},
		"spec.tiers[0].egressTo[0].ports[0].port", "port must be a number from 1 to 65535"),
	Entry("a CIDR that does not parse",
		allowFromDatabase(ipPeer("10.0.0.0/33")),
		"spec.tiers[1].allowFrom[1].ipBlock.cidr", "must be a CIDR"),
	Entry("a CIDR with host bits set",
		allowFromDatabase(ipPeer("10.0.0.1/8")),
		"spec.tiers[1].allowFrom[1].ipBlock.cidr", "canonical form"),
	Entry("an IPv4-mapped IPv6 CIDR",
		allowFromDatabase(ipPeer("::ffff:10.0.0.0/104")),
		"spec.tiers[1].allowFrom[1].ipBlock.cidr", "must be a CIDR"),
	Entry("an except outside its CIDR",
		allowFromDatabase(ipPeer("10.0.0.0/8", "192.168.0.0/16")),
		"spec.tiers[1].allowFrom[1].ipBlock.except", "must be a CIDR in canonical form strictly inside cidr"),
	Entry("an except equal to its CIDR",
		allowFromDatabase(ipPeer("10.0.0.0/8", "10.0.0.0/8")),
		"spec.tiers[1].allowFrom[1].ipBlock.except", "must be a CIDR in canonical form strictly inside cidr"),
	Entry("an except with host bits set",
		allowFromDatabase(ipPeer("10.0.0.0/8", "10.1.0.1/16")),
		"spec.tiers[1].allowFrom[1].ipBlock.except", "must be a CIDR in canonical form strictly inside cidr"),
	Entry("an except of the other IP family",
		allowFromDatabase(ipPeer("10.0.0.0/8", "fd00::/8")),
		"spec.tiers[1].allowFrom[1].ipBlock.except", "must be a CIDR in canonical form strictly inside cidr"),
	Entry("an ingress controller CIDR with host bits set",
		func(app *tierwallv1alpha1.AppIsolation) {
			traefik(app).IPBlocks = []tierwallv1alpha1.IPBlock{{CIDR: "192.168.1.10/24"}}
		},
		"spec.ingressControllers[0].ipBlocks[0].cidr", "canonical form"),
	Entry("an ingress controller namespace that is not a DNS label",
		func(app *tierwallv1alpha1.AppIsolation) { traefik(app).Namespace = "kube_system" },
		"spec.ingressControllers[0].namespace", `Invalid value: "kube_system": must be a DNS label`),
	Entry("a DNS namespace that is not a DNS label",
		func(app *tierwallv1alpha1.AppIsolation) {
			app.Spec.DNS = &tierwallv1alpha1.DNS{Namespace: "Kube-System"}
		},
		"spec.dns.namespace", `Invalid value: "Kube-System": must be a DNS label`),
	Entry("allowFrom set but no ports",
		tweak(func(app *tierwallv1alpha1.AppIsolation) { database(app).Ports = nil }),
		"spec.tiers[1].ports", "ports is required when allowFrom is set"),
	Entry("allowFrom set but ports: []",
		jsonTweak(func(obj map[string]any) {
			tiers, _, _ := unstructured.NestedSlice(obj, "spec", "tiers")
			tiers[1].(map[string]any)["ports"] = []any{}
			Expect(unstructured.SetNestedSlice(obj, tiers, "spec", "tiers")).To(Succeed())
		}),
		"spec.tiers[1].ports", "ports is required when allowFrom is set"),
	Entry("an ingress controller with neither namespace nor ipBlocks",
		func(app *tierwallv1alpha1.AppIsolation) { traefik(app).Namespace, traefik(app).PodSelector = "", nil },
		"spec.ingressControllers[0]", "set namespace (and optionally podSelector) to select the controller's pods, or ipBlocks"),
	Entry("an ingress controller with ipBlocks: [] and no namespace",
		jsonTweak(func(obj map[string]any) {
			Expect(unstructured.SetNestedSlice(obj, []any{map[string]any{"name": "traefik", "ipBlocks": []any{}}},
				"spec", "ingressControllers")).To(Succeed())
		}),
		"spec.ingressControllers[0]", "a controller that selects nothing would allow traffic from everywhere"),
	Entry("an ingress controller podSelector without namespace",
		func(app *tierwallv1alpha1.AppIsolation) {
			traefik(app).Namespace = ""
			traefik(app).IPBlocks = []tierwallv1alpha1.IPBlock{{CIDR: "192.168.1.0/24"}}
		},
		"spec.ingressControllers[0]", "podSelector requires namespace"),
	Entry("an egressTo entry with no destination",
		func(app *tierwallv1alpha1.AppIsolation) {
			frontend(app).EgressTo = []tierwallv1alpha1.EgressRule{{Ports: []tierwallv1alpha1.Port{numericPort(443)}}}
		},
		"spec.tiers[0].egressTo[0]", "set exactly one of"),
	Entry("an egressTo entry with a podSelector and an ipBlock",
		func(app *tierwallv1alpha1.AppIsolation) {
			frontend(app).EgressTo = []tierwallv1alpha1.EgressRule{{
				PodSelector: selector("app", "updates"), IPBlock: &tierwallv1alpha1.IPBlock{CIDR: "203.0.113.0/24"},
			}}
		},
		"spec.tiers[0].egressTo[0]", "set exactly one of"),
	Entry("no tiers",
		tweak(func(app *tierwallv1alpha1.AppIsolation) { app.Spec.Tiers = nil }),
		"spec.tiers: Required value"),
	Entry("tiers: []",
		jsonTweak(func(obj map[string]any) {
			Expect(unstructured.SetNestedSlice(obj, []any{}, "spec", "tiers")).To(Succeed())
		}),
		"spec.tiers", "should have at least 1 items"),
	Entry("17 tiers",
		chain(17),
		"spec.tiers", "must have at most 16 items"),
	Entry("metadata.name longer than 63 characters",
		func(app *tierwallv1alpha1.AppIsolation) { app.Name = strings.Repeat("w", 64) },
		"metadata: Invalid value: metadata.name must be at most 63 characters"),
	Entry("dns.disabled with a namespace",
		func(app *tierwallv1alpha1.AppIsolation) {
			app.Spec.DNS = &tierwallv1alpha1.DNS{Disabled: true, Namespace: "kube-system"}
		},
		"spec.dns", "no effect when disabled is true"),
	Entry("dns.disabled with a podSelector",
		func(app *tierwallv1alpha1.AppIsolation) {
			app.Spec.DNS = &tierwallv1alpha1.DNS{Disabled: true, PodSelector: selector("k8s-app", "kube-dns")}
		},
		"spec.dns", "no effect when disabled is true"),
	Entry("9 matchLabels in a tier's podSelector",
		func(app *tierwallv1alpha1.AppIsolation) {
			for i := range 8 {
				database(app).PodSelector.MatchLabels[fmt.Sprintf("label-%d", i)] = "x"
			}
		},
		"spec.tiers[1].podSelector.matchLabels", "must have at most 8 entries"),
	Entry("9 matchLabels in the DNS podSelector",
		func(app *tierwallv1alpha1.AppIsolation) {
			app.Spec.DNS = &tierwallv1alpha1.DNS{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{}}}
			for i := range 9 {
				app.Spec.DNS.PodSelector.MatchLabels[fmt.Sprintf("label-%d", i)] = "x"
			}
		},
		"spec.dns.podSelector.matchLabels", "must have at most 8 entries"),
	Entry("5 matchExpressions in spec.podSelector",
		func(app *tierwallv1alpha1.AppIsolation) {
			for i := range 5 {
				app.Spec.PodSelector.MatchExpressions = append(app.Spec.PodSelector.MatchExpressions,
					metav1.LabelSelectorRequirement{Key: fmt.Sprintf("label-%d", i), Operator: metav1.LabelSelectorOpExists})
			}
		},
		"spec.podSelector.matchExpressions", "must have at most 4 entries"),
	Entry("17 values in a match expression of a peer's namespaceSelector",
		allowFromDatabase(tierwallv1alpha1.Peer{NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
			Key: "team", Operator: metav1.LabelSelectorOpIn, Values: strings.Split("a b c d e f g h i j k l m n o p q", " "),
		}}}}),
		"spec.tiers[1].allowFrom[1].namespaceSelector.matchExpressions",
		"every entry must have a key of at most 317 characters, an operator of at most 12 and at most 16 values of at most 63 characters"),
	Entry("a match expression value of 64 characters in an egressTo podSelector",
		func(app *tierwallv1alpha1.AppIsolation) {
			frontend(app).EgressTo = []tierwallv1alpha1.EgressRule{{PodSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{strings.Repeat("v", 64)},
			}}}}}
		},
		"spec.tiers[0].egressTo[0].podSelector.matchExpressions",
		"every entry must have a key of at most 317 characters, an operator of at most 12 and at most 16 values of at most 63 characters"),
	Entry("a match expression key of 318 characters in an ingress controller's podSelector",
		func(app *tierwallv1alpha1.AppIsolation) {
			traefik(app).PodSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: strings.Repeat("k", 318), Operator: metav1.LabelSelectorOpExists,
			}}}
		},
		"spec.ingressControllers[0].podSelector.matchExpressions",
		"every entry must have a key of at most 317 characters, an operator of at most 12 and at most 16 values of at most 63 characters"),
	Entry("mode Audit",
		func(app *tierwallv1alpha1.AppIsolation) { app.Spec.Mode = "Audit" },
		"spec.mode", "Unsupported value: \"Audit\"", "\"Enforce\", \"DryRun\""),
}

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
