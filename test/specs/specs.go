// Package specs holds variants of the WordPress sample that tests share:
// Rejections, the invalid AppIsolations of the admission suite with the
// messages the API server answers, which the CLI must answer too; and the
// tweaks that build them.
package specs

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/test/fixtures"
)

// Tweak changes the WordPress sample into the variant under test. The
// sample's tiers are frontend (tiers[0], port 80, from the traefik ingress
// controller) and database (tiers[1], port 3306, from frontend).
type Tweak func(app *tierwallv1alpha1.AppIsolation)

// JSONTweak changes the WordPress sample as JSON, for what the Go types
// cannot express, such as an empty list where the field has omitempty.
type JSONTweak func(obj map[string]any)

// Case is an invalid variant of the WordPress sample.
type Case struct {
	// Name says what is wrong.
	Name string
	// Tweak is a Tweak or a JSONTweak.
	Tweak any
	// Want are substrings of the API server's answer, the field first.
	Want []string
}

// WordPress is the WordPress sample in namespace, with tweaks applied.
func WordPress(namespace string, tweaks ...Tweak) (*tierwallv1alpha1.AppIsolation, error) {
	app, err := fixtures.WordPress(namespace)
	if err != nil {
		return nil, err
	}
	for _, t := range tweaks {
		t(app)
	}
	return app, nil
}

// Object is the WordPress sample in namespace, with t (a Tweak or a
// JSONTweak) applied, as a user would write it: no status, no
// creationTimestamp.
func Object(namespace string, t any) (*unstructured.Unstructured, error) {
	app, err := WordPress(namespace)
	if err != nil {
		return nil, err
	}
	var onJSON JSONTweak
	switch t := t.(type) {
	case Tweak:
		t(app)
	case func(*tierwallv1alpha1.AppIsolation):
		t(app)
	case JSONTweak:
		onJSON = t
	case func(map[string]any):
		onJSON = t
	default:
		return nil, fmt.Errorf("not a tweak: %T", t)
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(app)
	if err != nil {
		return nil, err
	}
	obj := &unstructured.Unstructured{Object: content}
	obj.SetAPIVersion(tierwallv1alpha1.GroupVersion.String())
	obj.SetKind(tierwallv1alpha1.AppIsolationKind)
	unstructured.RemoveNestedField(obj.Object, "status")
	unstructured.RemoveNestedField(obj.Object, "metadata", "creationTimestamp")
	if onJSON != nil {
		onJSON(obj.Object)
	}
	return obj, nil
}

// must panics on an error that only a mistake in this file can cause.
func must(err error) {
	if err != nil {
		panic(err)
	}
}

// Selector is a label selector on one label.
func Selector(key, value string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{key: value}}
}

// TierPeer is a peer that names a tier.
func TierPeer(name string) tierwallv1alpha1.Peer { return tierwallv1alpha1.Peer{Tier: name} }

// IPPeer is a peer that is an ipBlock.
func IPPeer(cidr string, except ...string) tierwallv1alpha1.Peer {
	return tierwallv1alpha1.Peer{IPBlock: &tierwallv1alpha1.IPBlock{CIDR: cidr, Except: except}}
}

// PaymentsAPI is a reference to the AppIsolation api of namespace payments.
func PaymentsAPI() *tierwallv1alpha1.AppIsolationReference {
	return &tierwallv1alpha1.AppIsolationReference{Namespace: "payments", Name: "api"}
}

// NumericPort is a TCP port by number.
func NumericPort(port int32) tierwallv1alpha1.Port {
	return tierwallv1alpha1.Port{Port: intstr.FromInt32(port)}
}

// NamedPort is a TCP port by name.
func NamedPort(name string) tierwallv1alpha1.Port {
	return tierwallv1alpha1.Port{Port: intstr.FromString(name)}
}

// Frontend is the sample's tiers[0], frontend.
func Frontend(app *tierwallv1alpha1.AppIsolation) *tierwallv1alpha1.Tier { return &app.Spec.Tiers[0] }

// Database is the sample's tiers[1], database.
func Database(app *tierwallv1alpha1.AppIsolation) *tierwallv1alpha1.Tier { return &app.Spec.Tiers[1] }

// Traefik is the sample's ingress controller.
func Traefik(app *tierwallv1alpha1.AppIsolation) *tierwallv1alpha1.IngressController {
	return &app.Spec.IngressControllers[0]
}

// AllowFromDatabase lets the database accept peer too.
func AllowFromDatabase(peer tierwallv1alpha1.Peer) Tweak {
	return func(app *tierwallv1alpha1.AppIsolation) {
		Database(app).AllowFrom = append(Database(app).AllowFrom, peer)
	}
}

// SetDatabasePort replaces the database's port.
func SetDatabasePort(port tierwallv1alpha1.Port) Tweak {
	return func(app *tierwallv1alpha1.AppIsolation) { Database(app).Ports = []tierwallv1alpha1.Port{port} }
}

// SetPolicyTypes sets spec.policyTypes.
func SetPolicyTypes(types ...tierwallv1alpha1.PolicyType) Tweak {
	return func(app *tierwallv1alpha1.AppIsolation) { app.Spec.PolicyTypes = types }
}

// RenameTier renames tiers[i] and the references to it.
func RenameTier(i int, name string) Tweak {
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

// RenameTraefik renames the ingress controller and the reference to it.
func RenameTraefik(name string) Tweak {
	return func(app *tierwallv1alpha1.AppIsolation) {
		Traefik(app).Name = name
		Frontend(app).AllowFrom[0].IngressController = name
	}
}

// Chain makes a valid app of n tiers, t0 to t(n-1), each allowing the previous
// one, at the maximum size of every list: the CEL rules must stay within
// the API server's cost budget for the largest object the schema allows.
func Chain(n int) Tweak {
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
				PodSelector: Selector("app", fmt.Sprintf("controller-%d", i)),
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
				PodSelector: *Selector("tier", fmt.Sprintf("t%d", i)),
				Ports:       ports,
				EgressTo:    egress,
			}
			for j := range 8 {
				controller := app.Spec.IngressControllers[j].Name
				tier.AllowFrom = append(tier.AllowFrom, tierwallv1alpha1.Peer{IngressController: controller})
			}
			for len(tier.AllowFrom) < 15 {
				tier.AllowFrom = append(tier.AllowFrom, IPPeer("10.0.0.0/8", except...))
			}
			previous := app.Spec.Tiers
			if i > 0 {
				tier.AllowFrom = append(tier.AllowFrom, TierPeer(previous[i-1].Name))
			} else {
				tier.AllowFrom = append(tier.AllowFrom, IPPeer("192.168.0.0/16"))
			}
			for j := range tier.AllowFrom {
				tier.AllowFrom[j].Ports = ports
			}
			app.Spec.Tiers = append(app.Spec.Tiers, tier)
		}
	}
}

// Rejections are the invalid variants of the WordPress sample that the
// admission suite (api/v1alpha1) applies to a real API server, and the CLI's
// parity test (internal/cli) to the CLI.
var Rejections = []Case{
	{
		Name:  "allowFrom names a tier that does not exist",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) { Database(app).AllowFrom[0].Tier = "cache" },
		Want: []string{"spec.tiers",
			"every allowFrom[].tier without appIsolation must be the name of a tier declared in spec.tiers"},
	},
	{
		Name:  "allowFrom names an unknown ingress controller",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) { Frontend(app).AllowFrom[0].IngressController = "nginx" },
		Want: []string{"spec.tiers",
			"every allowFrom[].ingressController must be the name of an entry of spec.ingressControllers"},
	},
	{
		Name:  "an allowFrom entry with no peer",
		Tweak: AllowFromDatabase(tierwallv1alpha1.Peer{}),
		Want:  []string{"spec.tiers[1].allowFrom[1]", "set exactly one of"},
	},
	{
		Name: "an allowFrom entry with a tier and an ipBlock",
		Tweak: AllowFromDatabase(tierwallv1alpha1.Peer{
			Tier: "frontend", IPBlock: &tierwallv1alpha1.IPBlock{CIDR: "10.0.0.0/8"},
		}),
		Want: []string{"spec.tiers[1].allowFrom[1]", "set exactly one of"},
	},
	{
		Name:  "an allowFrom entry with a tier and a podSelector",
		Tweak: AllowFromDatabase(tierwallv1alpha1.Peer{Tier: "frontend", PodSelector: Selector("app", "backup")}),
		Want:  []string{"spec.tiers[1].allowFrom[1]", "set exactly one of"},
	},
	{
		Name:  "two tiers with the same name",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) { Database(app).Name = "frontend" },
		Want:  []string{"spec.tiers[1]", "Duplicate value"},
	},
	{
		Name: "two ingress controllers with the same name",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) {
			app.Spec.IngressControllers = append(app.Spec.IngressControllers, *Traefik(app).DeepCopy())
		},
		Want: []string{"spec.ingressControllers[1]", "Duplicate value"},
	},
	{
		Name:  "a tier name with uppercase letters",
		Tweak: RenameTier(1, "Database"),
		Want:  []string{"spec.tiers[1].name", `Invalid value: "Database": must be a DNS label`},
	},
	{
		Name:  "a tier name with an underscore",
		Tweak: RenameTier(1, "my_database"),
		Want:  []string{"spec.tiers[1].name", `Invalid value: "my_database": must be a DNS label`},
	},
	{
		Name:  "a tier name with a leading dash",
		Tweak: RenameTier(1, "-database"),
		Want:  []string{"spec.tiers[1].name", `Invalid value: "-database": must be a DNS label`},
	},
	{
		Name:  "a tier name longer than 40 characters",
		Tweak: RenameTier(1, strings.Repeat("d", 41)),
		Want:  []string{"spec.tiers[1].name", "Too long: may not be more than 40 bytes"},
	},
	{
		Name:  "an ingress controller name with uppercase letters",
		Tweak: RenameTraefik("Traefik"),
		Want:  []string{"spec.ingressControllers[0].name", `Invalid value: "Traefik": must be a DNS label`},
	},
	{
		Name:  "an ingress controller name with an underscore",
		Tweak: RenameTraefik("traefik_v3"),
		Want:  []string{"spec.ingressControllers[0].name", `Invalid value: "traefik_v3": must be a DNS label`},
	},
	{
		Name:  "an ingress controller name with a leading dash",
		Tweak: RenameTraefik("-traefik"),
		Want:  []string{"spec.ingressControllers[0].name", `Invalid value: "-traefik": must be a DNS label`},
	},
	{
		Name:  "an ingress controller name longer than 40 characters",
		Tweak: RenameTraefik(strings.Repeat("t", 41)),
		Want:  []string{"spec.ingressControllers[0].name", "Too long: may not be more than 40 bytes"},
	},
	{
		Name:  "port 0",
		Tweak: SetDatabasePort(NumericPort(0)),
		Want:  []string{"spec.tiers[1].ports[0].port", "port must be a number from 1 to 65535"},
	},
	{
		Name:  "port 65536",
		Tweak: SetDatabasePort(NumericPort(65536)),
		Want:  []string{"spec.tiers[1].ports[0].port", "port must be a number from 1 to 65535"},
	},
	{
		Name:  "endPort below port",
		Tweak: SetDatabasePort(tierwallv1alpha1.Port{Port: intstr.FromInt32(3306), EndPort: ptr.To(int32(3305))}),
		Want:  []string{"spec.tiers[1].ports[0].endPort", "endPort must be greater than or equal to port"},
	},
	{
		Name:  "endPort with a named port",
		Tweak: SetDatabasePort(tierwallv1alpha1.Port{Port: intstr.FromString("mysql"), EndPort: ptr.To(int32(3307))}),
		Want:  []string{"spec.tiers[1].ports[0].endPort", "endPort needs a numeric port"},
	},
	{
		Name:  "a named port longer than 15 characters",
		Tweak: SetDatabasePort(NamedPort("mysql-classic-protocol")),
		Want:  []string{"spec.tiers[1].ports[0].port", "Too long: may not be more than 15 bytes"},
	},
	{
		Name:  "a named port with uppercase letters",
		Tweak: SetDatabasePort(NamedPort("MySQL")),
		Want: []string{"spec.tiers[1].ports[0].port",
			"port must be a number from 1 to 65535 or the name of a container port"},
	},
	{
		Name:  "a named port with two dashes in a row",
		Tweak: SetDatabasePort(NamedPort("my--sql")),
		Want: []string{"spec.tiers[1].ports[0].port",
			"port must be a number from 1 to 65535 or the name of a container port"},
	},
	{
		Name:  "a named port with no letter",
		Tweak: SetDatabasePort(NamedPort("3306")),
		Want: []string{"spec.tiers[1].ports[0].port",
			"port must be a number from 1 to 65535 or the name of a container port"},
	},
	{
		Name:  "protocol ICMP",
		Tweak: SetDatabasePort(tierwallv1alpha1.Port{Port: intstr.FromInt32(3306), Protocol: "ICMP"}),
		Want:  []string{"spec.tiers[1].ports[0].protocol", "Unsupported value: \"ICMP\"", "\"TCP\", \"UDP\", \"SCTP\""},
	},
	{
		Name: "an egressTo port 0",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) {
			Frontend(app).EgressTo = []tierwallv1alpha1.EgressRule{{
				IPBlock: &tierwallv1alpha1.IPBlock{CIDR: "203.0.113.0/24"}, Ports: []tierwallv1alpha1.Port{NumericPort(0)},
			}}
		},
		Want: []string{"spec.tiers[0].egressTo[0].ports[0].port", "port must be a number from 1 to 65535"},
	},
	{
		Name:  "a CIDR that does not parse",
		Tweak: AllowFromDatabase(IPPeer("10.0.0.0/33")),
		Want:  []string{"spec.tiers[1].allowFrom[1].ipBlock.cidr", "must be a CIDR"},
	},
	{
		Name:  "a CIDR with host bits set",
		Tweak: AllowFromDatabase(IPPeer("10.0.0.1/8")),
		Want:  []string{"spec.tiers[1].allowFrom[1].ipBlock.cidr", "canonical form"},
	},
	{
		Name:  "an IPv4-mapped IPv6 CIDR",
		Tweak: AllowFromDatabase(IPPeer("::ffff:10.0.0.0/104")),
		Want:  []string{"spec.tiers[1].allowFrom[1].ipBlock.cidr", "must be a CIDR"},
	},
	{
		Name:  "an except outside its CIDR",
		Tweak: AllowFromDatabase(IPPeer("10.0.0.0/8", "192.168.0.0/16")),
		Want:  []string{"spec.tiers[1].allowFrom[1].ipBlock.except", "must be a CIDR in canonical form strictly inside cidr"},
	},
	{
		Name:  "an except equal to its CIDR",
		Tweak: AllowFromDatabase(IPPeer("10.0.0.0/8", "10.0.0.0/8")),
		Want:  []string{"spec.tiers[1].allowFrom[1].ipBlock.except", "must be a CIDR in canonical form strictly inside cidr"},
	},
	{
		Name:  "an except with host bits set",
		Tweak: AllowFromDatabase(IPPeer("10.0.0.0/8", "10.1.0.1/16")),
		Want:  []string{"spec.tiers[1].allowFrom[1].ipBlock.except", "must be a CIDR in canonical form strictly inside cidr"},
	},
	{
		Name:  "an except of the other IP family",
		Tweak: AllowFromDatabase(IPPeer("10.0.0.0/8", "fd00::/8")),
		Want:  []string{"spec.tiers[1].allowFrom[1].ipBlock.except", "must be a CIDR in canonical form strictly inside cidr"},
	},
	{
		Name: "an ingress controller CIDR with host bits set",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) {
			Traefik(app).IPBlocks = []tierwallv1alpha1.IPBlock{{CIDR: "192.168.1.10/24"}}
		},
		Want: []string{"spec.ingressControllers[0].ipBlocks[0].cidr", "canonical form"},
	},
	{
		Name:  "an ingress controller namespace that is not a DNS label",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) { Traefik(app).Namespace = "kube_system" },
		Want:  []string{"spec.ingressControllers[0].namespace", `Invalid value: "kube_system": must be a DNS label`},
	},
	{
		Name: "a DNS namespace that is not a DNS label",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) {
			app.Spec.DNS = &tierwallv1alpha1.DNS{Namespace: "Kube-System"}
		},
		Want: []string{"spec.dns.namespace", `Invalid value: "Kube-System": must be a DNS label`},
	},
	{
		Name:  "allowFrom set but no ports",
		Tweak: Tweak(func(app *tierwallv1alpha1.AppIsolation) { Database(app).Ports = nil }),
		Want:  []string{"spec.tiers[1].ports", "ports is required when an allowFrom entry has no ports of its own"},
	},
	{
		Name: "allowFrom set but ports: []",
		Tweak: JSONTweak(func(obj map[string]any) {
			tiers, _, _ := unstructured.NestedSlice(obj, "spec", "tiers")
			tiers[1].(map[string]any)["ports"] = []any{}
			must(unstructured.SetNestedSlice(obj, tiers, "spec", "tiers"))
		}),
		Want: []string{"spec.tiers[1].ports", "ports is required when an allowFrom entry has no ports of its own"},
	},
	{
		Name: "an allowFrom entry without ports on a tier without ports, next to one with ports",
		Tweak: Tweak(func(app *tierwallv1alpha1.AppIsolation) {
			Database(app).AllowFrom = append(Database(app).AllowFrom,
				tierwallv1alpha1.Peer{IPBlock: &tierwallv1alpha1.IPBlock{CIDR: "10.0.0.0/8"}, Ports: Database(app).Ports})
			Database(app).Ports = nil
		}),
		Want: []string{"spec.tiers[1].ports", "ports is required when an allowFrom entry has no ports of its own"},
	},
	{
		Name: "an allowFrom entry with ports: []",
		Tweak: JSONTweak(func(obj map[string]any) {
			tiers, _, _ := unstructured.NestedSlice(obj, "spec", "tiers")
			tiers[1].(map[string]any)["allowFrom"].([]any)[0].(map[string]any)["ports"] = []any{}
			must(unstructured.SetNestedSlice(obj, tiers, "spec", "tiers"))
		}),
		Want: []string{"spec.tiers[1].allowFrom[0].ports", "should have at least 1 items"},
	},
	{
		Name: "an allowFrom entry with port 0",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) {
			Database(app).AllowFrom[0].Ports = []tierwallv1alpha1.Port{NumericPort(0)}
		},
		Want: []string{"spec.tiers[1].allowFrom[0].ports[0].port", "port must be a number from 1 to 65535"},
	},
	{
		Name: "policyTypes: []",
		Tweak: JSONTweak(func(obj map[string]any) {
			must(unstructured.SetNestedSlice(obj, []any{}, "spec", "policyTypes"))
		}),
		Want: []string{"spec.policyTypes", "should have at least 1 items"},
	},
	{
		Name:  "policyTypes with an unknown direction",
		Tweak: SetPolicyTypes("Both"),
		Want:  []string{"spec.policyTypes[0]", `Unsupported value: "Both"`, `"Ingress", "Egress"`},
	},
	{
		Name:  "policyTypes with Ingress twice",
		Tweak: SetPolicyTypes(tierwallv1alpha1.PolicyTypeIngress, tierwallv1alpha1.PolicyTypeIngress),
		Want:  []string{"spec.policyTypes[1]", `Duplicate value: "Ingress"`},
	},
	{
		Name: "egressTo with policyTypes [Ingress]",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) {
			SetPolicyTypes(tierwallv1alpha1.PolicyTypeIngress)(app)
			Frontend(app).EgressTo = []tierwallv1alpha1.EgressRule{{IPBlock: &tierwallv1alpha1.IPBlock{CIDR: "203.0.113.0/24"}}}
		},
		Want: []string{"spec.tiers", "egressTo has no effect when spec.policyTypes does not include Egress"},
	},
	{
		Name: "dns with policyTypes [Ingress]",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) {
			SetPolicyTypes(tierwallv1alpha1.PolicyTypeIngress)(app)
			app.Spec.DNS = &tierwallv1alpha1.DNS{Disabled: true}
		},
		Want: []string{"spec.dns", "dns has no effect when spec.policyTypes does not include Egress"},
	},
	{
		Name:  "ingressControllers with policyTypes [Egress]",
		Tweak: SetPolicyTypes(tierwallv1alpha1.PolicyTypeEgress),
		Want: []string{"spec.ingressControllers",
			"ingressControllers has no effect when spec.policyTypes does not include Ingress"},
	},
	{
		Name: "an allowFrom ipBlock with policyTypes [Egress]",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) {
			SetPolicyTypes(tierwallv1alpha1.PolicyTypeEgress)(app)
			app.Spec.IngressControllers = nil
			Frontend(app).AllowFrom = []tierwallv1alpha1.Peer{IPPeer("0.0.0.0/0")}
		},
		Want: []string{"spec.tiers",
			"allowFrom may only name tiers of this AppIsolation when spec.policyTypes does not include Ingress"},
	},
	{
		Name: "an allowFrom tier of another AppIsolation with policyTypes [Egress]",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) {
			SetPolicyTypes(tierwallv1alpha1.PolicyTypeEgress)(app)
			app.Spec.IngressControllers = nil
			Frontend(app).AllowFrom = []tierwallv1alpha1.Peer{{AppIsolation: PaymentsAPI(), Tier: "backend"}}
		},
		Want: []string{"spec.tiers",
			"allowFrom may only name tiers of this AppIsolation when spec.policyTypes does not include Ingress"},
	},
	{
		Name:  "an allowFrom appIsolation without tier",
		Tweak: AllowFromDatabase(tierwallv1alpha1.Peer{AppIsolation: PaymentsAPI()}),
		Want: []string{"spec.tiers[1].allowFrom[1].tier",
			"appIsolation needs tier: name the tier of that AppIsolation to accept traffic from"},
	},
	{
		Name: "an allowFrom appIsolation with an ipBlock",
		Tweak: AllowFromDatabase(tierwallv1alpha1.Peer{
			AppIsolation: PaymentsAPI(), Tier: "backend", IPBlock: &tierwallv1alpha1.IPBlock{CIDR: "10.0.0.0/8"}}),
		Want: []string{"spec.tiers[1].allowFrom[1]",
			"set exactly one of tier (with appIsolation for another AppIsolation's tier), ingressController, ipBlock, " +
				"or namespaceSelector and/or podSelector"},
	},
	{
		Name: "an appIsolation reference to a namespace that is not a DNS label",
		Tweak: AllowFromDatabase(tierwallv1alpha1.Peer{
			AppIsolation: &tierwallv1alpha1.AppIsolationReference{Namespace: "Payments", Name: "api"}, Tier: "backend"}),
		Want: []string{"spec.tiers[1].allowFrom[1].appIsolation.namespace",
			"must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit"},
	},
	{
		Name: "an appIsolation reference without a name",
		Tweak: AllowFromDatabase(tierwallv1alpha1.Peer{
			AppIsolation: &tierwallv1alpha1.AppIsolationReference{Namespace: "payments"}, Tier: "backend"}),
		Want: []string{"spec.tiers[1].allowFrom[1].appIsolation.name"},
	},
	{
		Name: "an egressTo appIsolation without tier",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) {
			Frontend(app).EgressTo = []tierwallv1alpha1.EgressRule{{AppIsolation: PaymentsAPI()}}
		},
		Want: []string{"spec.tiers[0].egressTo[0].tier",
			"appIsolation and tier go together: tier names a tier of the AppIsolation that appIsolation names"},
	},
	{
		Name: "an egressTo tier without appIsolation",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) {
			Frontend(app).EgressTo = []tierwallv1alpha1.EgressRule{{Tier: "database"}}
		},
		Want: []string{"spec.tiers[0].egressTo[0]",
			"set exactly one of ipBlock, kubeAPIServer, appIsolation (with tier), or namespaceSelector and/or podSelector",
			"appIsolation and tier go together: tier names a tier of the AppIsolation that appIsolation names"},
	},
	{
		Name: "an egressTo appIsolation with a podSelector",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) {
			Frontend(app).EgressTo = []tierwallv1alpha1.EgressRule{{
				AppIsolation: PaymentsAPI(), Tier: "backend", PodSelector: Selector("app", "api")}}
		},
		Want: []string{"spec.tiers[0].egressTo[0]",
			"set exactly one of ipBlock, kubeAPIServer, appIsolation (with tier), or namespaceSelector and/or podSelector"},
	},
	{
		Name:  "an ingress controller with neither namespace nor ipBlocks",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) { Traefik(app).Namespace, Traefik(app).PodSelector = "", nil },
		Want: []string{"spec.ingressControllers[0]",
			"set namespace (and optionally podSelector) to select the controller's pods, or hostNetwork or ipBlocks"},
	},
	{
		Name: "an ingress controller with ipBlocks: [] and no namespace",
		Tweak: JSONTweak(func(obj map[string]any) {
			must(unstructured.SetNestedSlice(obj, []any{map[string]any{"name": "traefik", "ipBlocks": []any{}}},
				"spec", "ingressControllers"))
		}),
		Want: []string{"spec.ingressControllers[0]", "a controller that selects nothing would allow traffic from everywhere"},
	},
	{
		Name: "an ingress controller podSelector without namespace",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) {
			Traefik(app).Namespace = ""
			Traefik(app).IPBlocks = []tierwallv1alpha1.IPBlock{{CIDR: "192.168.1.0/24"}}
		},
		Want: []string{"spec.ingressControllers[0]", "podSelector requires namespace"},
	},
	{
		Name: "an egressTo entry with no destination",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) {
			Frontend(app).EgressTo = []tierwallv1alpha1.EgressRule{{Ports: []tierwallv1alpha1.Port{NumericPort(443)}}}
		},
		Want: []string{"spec.tiers[0].egressTo[0]", "set exactly one of"},
	},
	{
		Name: "an egressTo entry with a podSelector and an ipBlock",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) {
			Frontend(app).EgressTo = []tierwallv1alpha1.EgressRule{{
				PodSelector: Selector("app", "updates"), IPBlock: &tierwallv1alpha1.IPBlock{CIDR: "203.0.113.0/24"},
			}}
		},
		Want: []string{"spec.tiers[0].egressTo[0]", "set exactly one of"},
	},
	{
		Name: "an egressTo entry with kubeAPIServer and an ipBlock",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) {
			Frontend(app).EgressTo = []tierwallv1alpha1.EgressRule{{
				KubeAPIServer: &tierwallv1alpha1.KubeAPIServer{}, IPBlock: &tierwallv1alpha1.IPBlock{CIDR: "203.0.113.0/24"},
			}}
		},
		Want: []string{"spec.tiers[0].egressTo[0]",
			"set exactly one of ipBlock, kubeAPIServer, appIsolation (with tier), or namespaceSelector and/or podSelector"},
	},
	{
		Name: "an egressTo entry with kubeAPIServer and ports",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) {
			Frontend(app).EgressTo = []tierwallv1alpha1.EgressRule{{
				KubeAPIServer: &tierwallv1alpha1.KubeAPIServer{}, Ports: []tierwallv1alpha1.Port{NumericPort(443)},
			}}
		},
		Want: []string{"spec.tiers[0].egressTo[0].ports",
			"Forbidden: ports has no effect with kubeAPIServer: the API server's endpoints give the ports"},
	},
	{
		Name:  "no tiers",
		Tweak: Tweak(func(app *tierwallv1alpha1.AppIsolation) { app.Spec.Tiers = nil }),
		Want:  []string{"spec.tiers: Required value"},
	},
	{
		Name: "tiers: []",
		Tweak: JSONTweak(func(obj map[string]any) {
			must(unstructured.SetNestedSlice(obj, []any{}, "spec", "tiers"))
		}),
		Want: []string{"spec.tiers", "should have at least 1 items"},
	},
	{
		Name:  "17 tiers",
		Tweak: Chain(17),
		Want:  []string{"spec.tiers", "must have at most 16 items"},
	},
	{
		Name:  "metadata.name longer than 63 characters",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) { app.Name = strings.Repeat("w", 64) },
		Want:  []string{"metadata: Invalid value: metadata.name must be at most 63 characters"},
	},
	{
		Name: "dns.disabled with a namespace",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) {
			app.Spec.DNS = &tierwallv1alpha1.DNS{Disabled: true, Namespace: "kube-system"}
		},
		Want: []string{"spec.dns", "no effect when disabled is true"},
	},
	{
		Name: "dns.disabled with a podSelector",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) {
			app.Spec.DNS = &tierwallv1alpha1.DNS{Disabled: true, PodSelector: Selector("k8s-app", "kube-dns")}
		},
		Want: []string{"spec.dns", "no effect when disabled is true"},
	},
	{
		Name: "dns.disabled with nodeLocal",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) {
			app.Spec.DNS = &tierwallv1alpha1.DNS{Disabled: true, NodeLocal: &tierwallv1alpha1.NodeLocalDNS{}}
		},
		Want: []string{"spec.dns.nodeLocal", "Forbidden: nodeLocal has no effect when disabled is true"},
	},
	{
		Name: "a dns.nodeLocal address that is a CIDR",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) {
			app.Spec.DNS = &tierwallv1alpha1.DNS{NodeLocal: &tierwallv1alpha1.NodeLocalDNS{Address: "169.254.20.10/32"}}
		},
		Want: []string{"spec.dns.nodeLocal.address",
			`Invalid value: "169.254.20.10/32": must be an IP address in canonical form, such as 169.254.20.10 or fd00::a`},
	},
	{
		Name: "a dns.nodeLocal address not in canonical form",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) {
			app.Spec.DNS = &tierwallv1alpha1.DNS{NodeLocal: &tierwallv1alpha1.NodeLocalDNS{Address: "FD00::A"}}
		},
		Want: []string{"spec.dns.nodeLocal.address",
			`Invalid value: "FD00::A": must be an IP address in canonical form, such as 169.254.20.10 or fd00::a`},
	},
	{
		Name:  "mode Audit",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) { app.Spec.Mode = "Audit" },
		Want:  []string{"spec.mode", "Unsupported value: \"Audit\"", "\"Enforce\", \"DryRun\""},
	},
	{
		Name: "9 matchLabels in a tier's podSelector",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) {
			for i := range 8 {
				Database(app).PodSelector.MatchLabels[fmt.Sprintf("label-%d", i)] = "x"
			}
		},
		Want: []string{"spec.tiers[1].podSelector.matchLabels", "must have at most 8 entries"},
	},
	{
		Name: "9 matchLabels in the DNS podSelector",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) {
			app.Spec.DNS = &tierwallv1alpha1.DNS{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{}}}
			for i := range 9 {
				app.Spec.DNS.PodSelector.MatchLabels[fmt.Sprintf("label-%d", i)] = "x"
			}
		},
		Want: []string{"spec.dns.podSelector.matchLabels", "must have at most 8 entries"},
	},
	{
		Name: "5 matchExpressions in spec.podSelector",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) {
			for i := range 5 {
				app.Spec.PodSelector.MatchExpressions = append(app.Spec.PodSelector.MatchExpressions,
					metav1.LabelSelectorRequirement{Key: fmt.Sprintf("label-%d", i), Operator: metav1.LabelSelectorOpExists})
			}
		},
		Want: []string{"spec.podSelector.matchExpressions", "must have at most 4 entries"},
	},
	{
		Name: "17 values in a match expression of a peer's namespaceSelector",
		Tweak: AllowFromDatabase(tierwallv1alpha1.Peer{NamespaceSelector: &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: "team", Operator: metav1.LabelSelectorOpIn, Values: strings.Split("a b c d e f g h i j k l m n o p q", " "),
			}}}}),
		Want: []string{"spec.tiers[1].allowFrom[1].namespaceSelector.matchExpressions", selectorBoundsMessage},
	},
	{
		Name: "a match expression value of 64 characters in an egressTo podSelector",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) {
			Frontend(app).EgressTo = []tierwallv1alpha1.EgressRule{{PodSelector: &metav1.LabelSelector{
				MatchExpressions: []metav1.LabelSelectorRequirement{{
					Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{strings.Repeat("v", 64)},
				}}}}}
		},
		Want: []string{"spec.tiers[0].egressTo[0].podSelector.matchExpressions", selectorBoundsMessage},
	},
	{
		Name: "a match expression key of 318 characters in an ingress controller's podSelector",
		Tweak: func(app *tierwallv1alpha1.AppIsolation) {
			Traefik(app).PodSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: strings.Repeat("k", 318), Operator: metav1.LabelSelectorOpExists,
			}}}
		},
		Want: []string{"spec.ingressControllers[0].podSelector.matchExpressions", selectorBoundsMessage},
	},
}

// selectorBoundsMessage is what admission says of a match expression over
// the schema's bounds.
const selectorBoundsMessage = "every entry must have a key of at most 317 characters, an operator of at most 12 and " +
	"at most 16 values of at most 63 characters"
