package graph

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/pkg/render"
)

func appFrom(t *testing.T, doc string) *tierwallv1alpha1.AppIsolation {
	t.Helper()
	app := &tierwallv1alpha1.AppIsolation{}
	if err := yaml.UnmarshalStrict([]byte(doc), app); err != nil {
		t.Fatal(err)
	}
	return app
}

func sample(t *testing.T) *tierwallv1alpha1.AppIsolation {
	t.Helper()
	return sampleFile(t, "tierwall_v1alpha1_appisolation.yaml")
}

// mailSample is the mail server sample: ports per allowFrom entry.
func mailSample(t *testing.T) *tierwallv1alpha1.AppIsolation {
	t.Helper()
	return sampleFile(t, "tierwall_v1alpha1_appisolation_mail.yaml")
}

func sampleFile(t *testing.T, name string) *tierwallv1alpha1.AppIsolation {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", name))
	if err != nil {
		t.Fatal(err)
	}
	return appFrom(t, string(data))
}

// shop uses every kind of peer: hostNetwork and namespaced ingress
// controllers, tiers, selectors, ipBlocks, named ports and ranges, egress,
// a custom DNS; and the same pods as a source and as a destination.
const shop = `
metadata: {name: shop, namespace: prod}
spec:
  mode: DryRun
  ingressControllers:
  - name: nginx
    ipBlocks: [{cidr: 192.168.1.0/24}, {cidr: 10.0.0.0/8, except: [10.1.0.0/16, 10.2.0.0/16]}]
  - name: traefik
    namespace: kube-system
    ipBlocks: [{cidr: 192.168.1.0/24}]
  - name: unused
    namespace: x
  tiers:
  - name: web-ui
    podSelector: {matchLabels: {tier: web}}
    ports: [{port: http}, {port: 8443, endPort: 8450}]
    allowFrom:
    - ingressController: nginx
    - ingressController: traefik
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}
      podSelector: {matchLabels: {app: prometheus}}
  - name: api
    podSelector: {matchExpressions: [{key: tier, operator: In, values: [api, api-v2]}]}
    ports: [{port: 9000}, {port: 9001, protocol: UDP}]
    allowFrom:
    - tier: web-ui
    - tier: web-ui
    - podSelector: {matchLabels: {app: cron}}
    - namespaceSelector: {}
    - namespaceSelector: {matchLabels: {team: ops}}
      podSelector: {}
    - ipBlock: {cidr: "203.0.113.0/24", except: ["203.0.113.7/32"]}
    egressTo:
    - ipBlock: {cidr: "198.51.100.10/32"}
      ports: [{port: 443}]
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}
      podSelector: {matchLabels: {app: prometheus}}
      ports: [{port: 9091}]
    - podSelector: {matchLabels: {app: cron}}
  dns:
    namespace: dns
    podSelector: {matchLabels: {app: unbound}}
`

func TestGraph(t *testing.T) {
	prod := sample(t)
	prod.Namespace = "prod-wordpress"
	batch := appFrom(t, `
metadata: {name: batch, namespace: jobs}
spec:
  tiers:
  - name: worker
    podSelector: {}
  dns: {disabled: true}
`)
	odd := appFrom(t, `
metadata: {name: odd, namespace: ns}
spec:
  tiers:
  - name: t
    podSelector: {}
    ports: [{port: 1}]
    allowFrom: [{ipBlock: {cidr: 'a"<b>&\c'}}]
  dns: {disabled: true}
`)
	tests := []struct {
		name     string
		apps     []*tierwallv1alpha1.AppIsolation
		mermaid  string
		dot      string
		skipsDOT bool
	}{
		{
			name: "the WordPress sample",
			apps: []*tierwallv1alpha1.AppIsolation{sample(t)},
			mermaid: `flowchart LR
  ingress_traefik(["kube-system/traefik"])
  subgraph app_wordpress["AppIsolation dev-wordpress/wordpress"]
    wordpress_frontend["frontend"]
    wordpress_database["database"]
  end
  dns{{"DNS<br/>kube-system: k8s-app=kube-dns"}}
  ingress_traefik -->|"80/TCP"| wordpress_frontend
  wordpress_frontend -->|"3306/TCP"| wordpress_database
  app_wordpress -->|"53/UDP, 53/TCP"| dns
`,
			dot: `digraph tierwall {
  rankdir=LR;
  compound=true;
  fontname="Helvetica";
  node [fontname="Helvetica", fontsize=11];
  edge [fontname="Helvetica", fontsize=10];
  "ingress_traefik" [label="kube-system/traefik", shape=box, style=rounded];
  subgraph "cluster_app_wordpress" {
    label="AppIsolation dev-wordpress/wordpress";
    "wordpress_frontend" [label="frontend", shape=box];
    "wordpress_database" [label="database", shape=box];
  }
  "dns" [label="DNS\nkube-system: k8s-app=kube-dns", shape=hexagon];
  "ingress_traefik" -> "wordpress_frontend" [label="80/TCP"];
  "wordpress_frontend" -> "wordpress_database" [label="3306/TCP"];
  "wordpress_database" -> "dns" [label="53/UDP, 53/TCP", ltail="cluster_app_wordpress"];
}
`,
		},
		{
			name: "every kind of peer, each node once, unused controllers left out",
			apps: []*tierwallv1alpha1.AppIsolation{appFrom(t, shop)},
			mermaid: `flowchart LR
  ingress_nginx(["nginx<br/>192.168.1.0/24<br/>10.0.0.0/8 except 10.1.0.0/16, 10.2.0.0/16"])
  ingress_traefik(["kube-system/traefik<br/>192.168.1.0/24"])
  subgraph app_shop["AppIsolation prod/shop (DryRun)"]
    shop_web_ui["web-ui"]
    shop_api["api"]
  end
  peer1{{"monitoring: app=prometheus"}}
  peer2{{"prod: app=cron"}}
  peer3{{"all namespaces: all pods"}}
  peer4{{"namespaces team=ops: all pods"}}
  peer5{{"203.0.113.0/24 except 203.0.113.7/32"}}
  peer6{{"198.51.100.10/32"}}
  dns{{"DNS<br/>dns: app=unbound"}}
  ingress_nginx -->|"http/TCP, 8443-8450/TCP"| shop_web_ui
  ingress_traefik -->|"http/TCP, 8443-8450/TCP"| shop_web_ui
  peer1 -->|"http/TCP, 8443-8450/TCP"| shop_web_ui
  shop_web_ui -->|"9000/TCP, 9001/UDP"| shop_api
  peer2 -->|"9000/TCP, 9001/UDP"| shop_api
  peer3 -->|"9000/TCP, 9001/UDP"| shop_api
  peer4 -->|"9000/TCP, 9001/UDP"| shop_api
  peer5 -->|"9000/TCP, 9001/UDP"| shop_api
  shop_api -->|"443/TCP"| peer6
  shop_api -->|"9091/TCP"| peer1
  shop_api -->|"all ports"| peer2
  app_shop -->|"53/UDP, 53/TCP"| dns
`,
			dot: `digraph tierwall {
  rankdir=LR;
  compound=true;
  fontname="Helvetica";
  node [fontname="Helvetica", fontsize=11];
  edge [fontname="Helvetica", fontsize=10];
  "ingress_nginx" [label="nginx\n192.168.1.0/24\n10.0.0.0/8 except 10.1.0.0/16, 10.2.0.0/16", shape=box, style=rounded];
  "ingress_traefik" [label="kube-system/traefik\n192.168.1.0/24", shape=box, style=rounded];
  subgraph "cluster_app_shop" {
    label="AppIsolation prod/shop (DryRun)";
    "shop_web_ui" [label="web-ui", shape=box];
    "shop_api" [label="api", shape=box];
  }
  "peer1" [label="monitoring: app=prometheus", shape=hexagon];
  "peer2" [label="prod: app=cron", shape=hexagon];
  "peer3" [label="all namespaces: all pods", shape=hexagon];
  "peer4" [label="namespaces team=ops: all pods", shape=hexagon];
  "peer5" [label="203.0.113.0/24 except 203.0.113.7/32", shape=hexagon];
  "peer6" [label="198.51.100.10/32", shape=hexagon];
  "dns" [label="DNS\ndns: app=unbound", shape=hexagon];
  "ingress_nginx" -> "shop_web_ui" [label="http/TCP, 8443-8450/TCP"];
  "ingress_traefik" -> "shop_web_ui" [label="http/TCP, 8443-8450/TCP"];
  "peer1" -> "shop_web_ui" [label="http/TCP, 8443-8450/TCP"];
  "shop_web_ui" -> "shop_api" [label="9000/TCP, 9001/UDP"];
  "peer2" -> "shop_api" [label="9000/TCP, 9001/UDP"];
  "peer3" -> "shop_api" [label="9000/TCP, 9001/UDP"];
  "peer4" -> "shop_api" [label="9000/TCP, 9001/UDP"];
  "peer5" -> "shop_api" [label="9000/TCP, 9001/UDP"];
  "shop_api" -> "peer6" [label="443/TCP"];
  "shop_api" -> "peer1" [label="9091/TCP"];
  "shop_api" -> "peer2" [label="all ports"];
  "shop_api" -> "dns" [label="53/UDP, 53/TCP", ltail="cluster_app_shop"];
}
`,
		},
		{
			name: "two apps of the same name share DNS and the ingress controller; DNS disabled draws none",
			apps: []*tierwallv1alpha1.AppIsolation{sample(t), prod, batch},
			mermaid: `flowchart LR
  ingress_traefik(["kube-system/traefik"])
  subgraph app_wordpress["AppIsolation dev-wordpress/wordpress"]
    wordpress_frontend["frontend"]
    wordpress_database["database"]
  end
  subgraph app_wordpress_2["AppIsolation prod-wordpress/wordpress"]
    wordpress_frontend_2["frontend"]
    wordpress_database_2["database"]
  end
  subgraph app_batch["AppIsolation jobs/batch"]
    batch_worker["worker"]
  end
  dns{{"DNS<br/>kube-system: k8s-app=kube-dns"}}
  ingress_traefik -->|"80/TCP"| wordpress_frontend
  wordpress_frontend -->|"3306/TCP"| wordpress_database
  app_wordpress -->|"53/UDP, 53/TCP"| dns
  ingress_traefik -->|"80/TCP"| wordpress_frontend_2
  wordpress_frontend_2 -->|"3306/TCP"| wordpress_database_2
  app_wordpress_2 -->|"53/UDP, 53/TCP"| dns
`,
			skipsDOT: true,
		},
		{
			name: "ports per allowFrom entry label their own edges; one-direction apps say so and draw that direction only",
			apps: []*tierwallv1alpha1.AppIsolation{mailSample(t), appFrom(t, `
metadata: {name: blog, namespace: web}
spec:
  policyTypes: [Ingress]
  tiers:
  - name: web
    podSelector: {matchLabels: {tier: web}}
    ports: [{port: 80}]
    allowFrom: [{ipBlock: {cidr: 0.0.0.0/0}}, {tier: web, ports: [{port: 7946}, {port: 7946, protocol: UDP}]}]
`), appFrom(t, `
metadata: {name: jobs, namespace: web}
spec:
  policyTypes: [Egress]
  mode: DryRun
  tiers:
  - name: worker
    podSelector: {matchLabels: {tier: worker}}
    egressTo: [{ipBlock: {cidr: 203.0.113.0/24}, ports: [{port: 443}]}]
`)},
			mermaid: `flowchart LR
  subgraph app_mail["AppIsolation mail/mail"]
    mail_mailserver["mailserver"]
    mail_mta["mta"]
  end
  subgraph app_blog["AppIsolation web/blog (Ingress only)"]
    blog_web["web"]
  end
  subgraph app_jobs["AppIsolation web/jobs (DryRun, Egress only)"]
    jobs_worker["worker"]
  end
  peer1{{"0.0.0.0/0"}}
  peer2{{"::/0"}}
  dns{{"DNS<br/>kube-system: k8s-app=kube-dns"}}
  peer3{{"203.0.113.0/24"}}
  peer1 -->|"25/TCP, 587/TCP, 993/TCP"| mail_mailserver
  peer2 -->|"25/TCP, 587/TCP, 993/TCP"| mail_mailserver
  mail_mta -->|"24/TCP"| mail_mailserver
  mail_mta -->|"25/TCP"| peer1
  mail_mta -->|"25/TCP"| peer2
  app_mail -->|"53/UDP, 53/TCP"| dns
  peer1 -->|"80/TCP"| blog_web
  blog_web -->|"7946/TCP, 7946/UDP"| blog_web
  jobs_worker -->|"443/TCP"| peer3
  app_jobs -->|"53/UDP, 53/TCP"| dns
`,
			skipsDOT: true,
		},
		{
			name: "platform endpoints that follow the cluster: hostNetwork, the API server, NodeLocal DNSCache",
			apps: []*tierwallv1alpha1.AppIsolation{appFrom(t, `
metadata: {name: ops, namespace: ops}
spec:
  ingressControllers: [{name: nginx, namespace: ingress-nginx, hostNetwork: true}]
  dns: {nodeLocal: {}}
  tiers:
  - name: dashboard
    podSelector: {matchLabels: {tier: dashboard}}
    ports: [{port: 8443}]
    allowFrom: [{ingressController: nginx}]
    egressTo: [{kubeAPIServer: {}}]
`)},
			mermaid: `flowchart LR
  ingress_nginx(["ingress-nginx/nginx<br/>hostNetwork: every Node's InternalIP"])
  subgraph app_ops["AppIsolation ops/ops"]
    ops_dashboard["dashboard"]
  end
  apiserver1{{"Kubernetes API server<br/>endpoints of default/kubernetes"}}
  dns{{"DNS<br/>kube-system: k8s-app=kube-dns<br/>NodeLocal DNSCache 169.254.20.10"}}
  ingress_nginx -->|"8443/TCP"| ops_dashboard
  ops_dashboard -->|"the endpoints' ports"| apiserver1
  app_ops -->|"53/UDP, 53/TCP"| dns
`,
			skipsDOT: true,
		},
		{
			name: "labels are escaped",
			apps: []*tierwallv1alpha1.AppIsolation{odd},
			mermaid: `flowchart LR
  subgraph app_odd["AppIsolation ns/odd"]
    odd_t["t"]
  end
  peer1{{"a#quot;#lt;b#gt;#amp;\c"}}
  peer1 -->|"1/TCP"| odd_t
`,
			dot: `digraph tierwall {
  rankdir=LR;
  compound=true;
  fontname="Helvetica";
  node [fontname="Helvetica", fontsize=11];
  edge [fontname="Helvetica", fontsize=10];
  subgraph "cluster_app_odd" {
    label="AppIsolation ns/odd";
    "odd_t" [label="t", shape=box];
  }
  "peer1" [label="a\"<b>&\\c", shape=hexagon];
  "peer1" -> "odd_t" [label="1/TCP"];
}
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := Build(tt.apps...)
			if diff := cmp.Diff(tt.mermaid, g.Mermaid()); diff != "" {
				t.Errorf("Mermaid (-want +got):\n%s", diff)
			}
			if tt.skipsDOT {
				return
			}
			if diff := cmp.Diff(tt.dot, g.DOT()); diff != "" {
				t.Errorf("DOT (-want +got):\n%s", diff)
			}
			// Writing is repeatable: it does not change the graph.
			if g.Mermaid() != tt.mermaid {
				t.Error("a second Mermaid() differs from the first")
			}
		})
	}
}

func TestSentences(t *testing.T) {
	tests := []struct {
		name string
		app  *tierwallv1alpha1.AppIsolation
		want []string
	}{
		{
			name: "the WordPress sample",
			app:  sample(t),
			want: []string{
				"kube-system/traefik -> tier frontend on 80/TCP",
				"tier frontend -> tier database on 3306/TCP",
				"every governed pod -> DNS (kube-system: k8s-app=kube-dns) on 53/UDP, 53/TCP",
			},
		},
		{
			name: "the mail sample: each allowFrom entry on its own ports",
			app:  mailSample(t),
			want: []string{
				"0.0.0.0/0 -> tier mailserver on 25/TCP, 587/TCP, 993/TCP",
				"::/0 -> tier mailserver on 25/TCP, 587/TCP, 993/TCP",
				"tier mta -> tier mailserver on 24/TCP",
				"tier mta -> 0.0.0.0/0 on 25/TCP",
				"tier mta -> ::/0 on 25/TCP",
				"every governed pod -> DNS (kube-system: k8s-app=kube-dns) on 53/UDP, 53/TCP",
			},
		},
		{
			name: "DNS disabled, a peer by address",
			app: appFrom(t, `
metadata: {name: a, namespace: n}
spec:
  dns: {disabled: true}
  tiers:
  - name: web
    podSelector: {matchLabels: {tier: web}}
    ports: [{port: 443}]
    allowFrom: [{ipBlock: {cidr: 192.0.2.0/24}}]
`),
			want: []string{"192.0.2.0/24 -> tier web on 443/TCP"},
		},
		{
			name: "NodeLocal DNSCache next to the cluster DNS",
			app: appFrom(t, `
metadata: {name: a, namespace: n}
spec:
  dns: {nodeLocal: {}}
  tiers:
  - name: web
    podSelector: {matchLabels: {tier: web}}
    ports: [{port: 443}]
    allowFrom: [{ipBlock: {cidr: 192.0.2.0/24}}]
`),
			want: []string{
				"192.0.2.0/24 -> tier web on 443/TCP",
				"every governed pod -> DNS (kube-system: k8s-app=kube-dns, NodeLocal DNSCache 169.254.20.10) on 53/UDP, 53/TCP",
			},
		},
		{
			name: "an ingress controller with hostNetwork",
			app: appFrom(t, `
metadata: {name: a, namespace: n}
spec:
  ingressControllers: [{name: nginx, hostNetwork: true}]
  dns: {disabled: true}
  tiers:
  - name: web
    podSelector: {matchLabels: {tier: web}}
    ports: [{port: 443}]
    allowFrom: [{ingressController: nginx}]
`),
			want: []string{"nginx (hostNetwork: every Node's InternalIP) -> tier web on 443/TCP"},
		},
		{
			name: "egress to the API server",
			app: appFrom(t, `
metadata: {name: a, namespace: n}
spec:
  dns: {disabled: true}
  tiers:
  - name: operator
    podSelector: {matchLabels: {tier: operator}}
    egressTo: [{kubeAPIServer: {}}]
`),
			want: []string{"tier operator -> Kubernetes API server (endpoints of default/kubernetes) on the endpoints' ports"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Build(tt.app).Sentences()); diff != "" {
				t.Errorf("Sentences() (-want +got):\n%s", diff)
			}
		})
	}
}

// shopSample is the two-namespace sample: shop/storefront's tier web calls
// payments/api's tier backend, and both sides declare the edge.
func shopSample(t *testing.T) (storefront, api *tierwallv1alpha1.AppIsolation) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", "tierwall_v1alpha1_appisolation_shop.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(data), "\n---\n")
	if len(docs) != 2 {
		t.Fatalf("the shop sample has %d documents, want 2", len(docs))
	}
	return appFrom(t, docs[0]), appFrom(t, docs[1])
}

// TestGraphBetweenAppIsolations draws the edges between tiers of different
// AppIsolations: once, between the tiers' boxes when the input holds both
// sides, to a node outside the boxes when it holds one, and dashed when a
// side blocks the edge.
func TestGraphBetweenAppIsolations(t *testing.T) {
	storefront, api := shopSample(t)
	// No egressTo: payments accepts the storefront, which may not call it.
	silentCaller := storefront.DeepCopy()
	silentCaller.Spec.Tiers[0].EgressTo = nil
	// No allowFrom: the storefront may call payments, which does not accept it.
	deafCallee := api.DeepCopy()
	deafCallee.Spec.Tiers[0].AllowFrom = nil
	// Ports that do not meet, and a caller's tier that does not exist.
	otherPort := storefront.DeepCopy()
	otherPort.Spec.Tiers[0].EgressTo[0].Ports = []tierwallv1alpha1.Port{{Port: intstr.FromInt32(9091)}}
	noTier := api.DeepCopy()
	noTier.Spec.Tiers[0].AllowFrom = append(noTier.Spec.Tiers[0].AllowFrom, tierwallv1alpha1.Peer{
		AppIsolation: &tierwallv1alpha1.AppIsolationReference{Namespace: "shop", Name: "storefront"}, Tier: "admin"})

	const head = `flowchart LR
  ingress_traefik(["kube-system/traefik"])
  subgraph app_storefront["AppIsolation shop/storefront"]
    storefront_web["web"]
  end
  subgraph app_api["AppIsolation payments/api"]
    api_backend["backend"]
  end
  dns{{"DNS<br/>kube-system: k8s-app=kube-dns"}}
  ingress_traefik -->|"8080/TCP"| storefront_web
`
	tests := []struct {
		name      string
		apps      []*tierwallv1alpha1.AppIsolation
		mermaid   string
		sentences []string
	}{
		{
			name: "both sides in the input, both allow: one arrow between the boxes, on the callee's ports",
			apps: []*tierwallv1alpha1.AppIsolation{storefront, api},
			mermaid: head + `  storefront_web -->|"9090/TCP"| api_backend
  app_storefront -->|"53/UDP, 53/TCP"| dns
  app_api -->|"53/UDP, 53/TCP"| dns
`,
			sentences: []string{
				"kube-system/traefik -> tier web on 8080/TCP",
				"shop/storefront tier web -> payments/api tier backend on 9090/TCP",
				"every governed pod -> DNS (kube-system: k8s-app=kube-dns) on 53/UDP, 53/TCP",
				"every governed pod -> DNS (kube-system: k8s-app=kube-dns) on 53/UDP, 53/TCP",
			},
		},
		{
			name: "the callee first: the same single arrow",
			apps: []*tierwallv1alpha1.AppIsolation{api, storefront},
			mermaid: `flowchart LR
  ingress_traefik(["kube-system/traefik"])
  subgraph app_api["AppIsolation payments/api"]
    api_backend["backend"]
  end
  subgraph app_storefront["AppIsolation shop/storefront"]
    storefront_web["web"]
  end
  dns{{"DNS<br/>kube-system: k8s-app=kube-dns"}}
  storefront_web -->|"9090/TCP"| api_backend
  app_api -->|"53/UDP, 53/TCP"| dns
  ingress_traefik -->|"8080/TCP"| storefront_web
  app_storefront -->|"53/UDP, 53/TCP"| dns
`,
		},
		{
			name: "the caller only: the callee's tier outside the boxes, on the ports it will accept, not judged",
			apps: []*tierwallv1alpha1.AppIsolation{storefront},
			mermaid: `flowchart LR
  ingress_traefik(["kube-system/traefik"])
  subgraph app_storefront["AppIsolation shop/storefront"]
    storefront_web["web"]
  end
  payments_api_backend["payments/api tier backend"]
  dns{{"DNS<br/>kube-system: k8s-app=kube-dns"}}
  ingress_traefik -->|"8080/TCP"| storefront_web
  storefront_web -->|"the ports it accepts"| payments_api_backend
  app_storefront -->|"53/UDP, 53/TCP"| dns
`,
			sentences: []string{
				"kube-system/traefik -> tier web on 8080/TCP",
				"shop/storefront tier web -> payments/api tier backend on the ports it accepts",
				"every governed pod -> DNS (kube-system: k8s-app=kube-dns) on 53/UDP, 53/TCP",
			},
		},
		{
			name: "the callee only: the caller's tier outside the boxes",
			apps: []*tierwallv1alpha1.AppIsolation{api},
			mermaid: `flowchart LR
  subgraph app_api["AppIsolation payments/api"]
    api_backend["backend"]
  end
  shop_storefront_web["shop/storefront tier web"]
  dns{{"DNS<br/>kube-system: k8s-app=kube-dns"}}
  shop_storefront_web -->|"9090/TCP"| api_backend
  app_api -->|"53/UDP, 53/TCP"| dns
`,
			sentences: []string{
				"shop/storefront tier web -> payments/api tier backend on 9090/TCP",
				"every governed pod -> DNS (kube-system: k8s-app=kube-dns) on 53/UDP, 53/TCP",
			},
		},
		{
			name: "one-sided: the callee accepts, the caller's egress blocks",
			apps: []*tierwallv1alpha1.AppIsolation{silentCaller, api},
			mermaid: head + `  app_storefront -->|"53/UDP, 53/TCP"| dns
  storefront_web -.->|"9090/TCP<br/>one-sided: not in shop/storefront's egressTo"| api_backend
  app_api -->|"53/UDP, 53/TCP"| dns
`,
			sentences: []string{
				"kube-system/traefik -> tier web on 8080/TCP",
				"every governed pod -> DNS (kube-system: k8s-app=kube-dns) on 53/UDP, 53/TCP",
				"shop/storefront tier web -> payments/api tier backend on 9090/TCP (one-sided: not in shop/storefront's egressTo)",
				"every governed pod -> DNS (kube-system: k8s-app=kube-dns) on 53/UDP, 53/TCP",
			},
		},
		{
			name: "one-sided: the caller may connect, the callee's ingress blocks",
			apps: []*tierwallv1alpha1.AppIsolation{storefront, deafCallee},
			mermaid: head + `  storefront_web -.->|"9090/TCP<br/>one-sided: not in payments/api's allowFrom"| api_backend
  app_storefront -->|"53/UDP, 53/TCP"| dns
  app_api -->|"53/UDP, 53/TCP"| dns
`,
		},
		{
			name: "one-sided: no port in common, and a tier that does not exist",
			apps: []*tierwallv1alpha1.AppIsolation{otherPort, noTier},
			mermaid: strings.Replace(head, "  ingress_traefik -->", "  shop_storefront_admin[\"shop/storefront tier admin\"]\n  ingress_traefik -->", 1) +
				`  storefront_web -.->|"9090/TCP<br/>one-sided: no port in common"| api_backend
  app_storefront -->|"53/UDP, 53/TCP"| dns
  shop_storefront_admin -.->|"9090/TCP<br/>one-sided: shop/storefront has no tier admin"| api_backend
  app_api -->|"53/UDP, 53/TCP"| dns
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := Build(tt.apps...)
			if diff := cmp.Diff(tt.mermaid, g.Mermaid()); diff != "" {
				t.Errorf("Mermaid (-want +got):\n%s", diff)
			}
			if tt.sentences == nil {
				return
			}
			if diff := cmp.Diff(tt.sentences, g.Sentences()); diff != "" {
				t.Errorf("Sentences() (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDOTOneSided draws a one-sided edge dashed, with its reason under the
// ports.
func TestDOTOneSided(t *testing.T) {
	storefront, api := shopSample(t)
	api.Spec.Tiers[0].AllowFrom = nil
	want := `  "storefront_web" -> "api_backend" [label="9090/TCP\none-sided: not in payments/api's allowFrom", style=dashed];` + "\n"
	if got := Build(storefront, api).DOT(); !strings.Contains(got, want) {
		t.Errorf("DOT() lacks\n%s\nin\n%s", want, got)
	}
}

// TestBuildWithPlatform lists the addresses the platform knows in the
// nodes of the hostNetwork controller and the API server, bounded.
func TestBuildWithPlatform(t *testing.T) {
	app := appFrom(t, `
metadata: {name: ops, namespace: ops}
spec:
  ingressControllers: [{name: nginx, hostNetwork: true}]
  dns: {disabled: true}
  tiers:
  - name: dashboard
    podSelector: {matchLabels: {tier: dashboard}}
    ports: [{port: 8443}]
    allowFrom: [{ingressController: nginx}]
    egressTo: [{kubeAPIServer: {}}]
`)
	addrs := func(ips ...string) []netip.Addr {
		out := make([]netip.Addr, 0, len(ips))
		for _, ip := range ips {
			out = append(out, netip.MustParseAddr(ip))
		}
		return out
	}
	tests := []struct {
		name     string
		platform render.Platform
		want     []string
	}{
		{
			name: "none known: the spec's words only",
			want: []string{
				"nginx (hostNetwork: every Node's InternalIP) -> tier dashboard on 8443/TCP",
				"tier dashboard -> Kubernetes API server (endpoints of default/kubernetes) on the endpoints' ports",
			},
		},
		{
			name: "a few: all of them, sorted as addresses",
			platform: render.Platform{
				NodeAddresses: addrs("192.168.1.10", "192.168.1.9", "fd00::1", "192.168.1.9"),
				KubeAPIServer: render.Endpoints{Addresses: addrs("192.168.1.9"), Ports: []render.EndpointPort{{Port: 6443, Protocol: corev1.ProtocolTCP}}},
			},
			want: []string{
				"nginx (hostNetwork: every Node's InternalIP, 192.168.1.9, 192.168.1.10, fd00::1) -> tier dashboard on 8443/TCP",
				"tier dashboard -> Kubernetes API server (endpoints of default/kubernetes, 192.168.1.9:6443) on the endpoints' ports",
			},
		},
		{
			name:     "many: the first few, and how many more",
			platform: render.Platform{NodeAddresses: addrs("10.0.0.6", "10.0.0.5", "10.0.0.4", "10.0.0.3", "10.0.0.2", "10.0.0.1")},
			want: []string{
				"nginx (hostNetwork: every Node's InternalIP, 10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4, and 2 more) -> tier dashboard on 8443/TCP",
				"tier dashboard -> Kubernetes API server (endpoints of default/kubernetes) on the endpoints' ports",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, BuildWith(tt.platform, app).Sentences()); diff != "" {
				t.Errorf("Sentences() (-want +got):\n%s", diff)
			}
		})
	}
}
