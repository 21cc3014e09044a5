package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/tierwall/tierwall/test/specs"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata from the current output")

const (
	sample      = "../../config/samples/tierwall_v1alpha1_appisolation.yaml"
	pods        = "testdata/wordpress-pods.yaml"
	handwritten = "testdata/wordpress-handwritten-policies.yaml"
	mailSample  = "../../config/samples/tierwall_v1alpha1_appisolation_mail.yaml"
	mailPods    = "testdata/mail-pods.yaml"
	addresses   = "testdata/wordpress-addresses.yaml"
	shopSample  = "../../config/samples/tierwall_v1alpha1_appisolation_shop.yaml"
	shopPods    = "testdata/shop-pods.yaml"
	// shopOneSided is the shop sample without the storefront's egressTo.
	shopOneSided = "testdata/shop-one-sided.yaml"
)

// addressesArgs are reach's arguments for the hand-written policies of the
// WordPress story with the addresses of wordpress-addresses.yaml and an
// external client.
var addressesArgs = []string{"reach", "-f", pods, "-f", handwritten, "-f", addresses, "--address", "203.0.113.7=client"}

// run runs the command line as main does, with stdin.
func run(stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = Run(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(readFile(t, path), got); diff != "" {
		t.Errorf("output differs from %s (-want +got; rerun with -update to accept):\n%s", path, diff)
	}
}

// appNoNamespace is an AppIsolation without a namespace, in DryRun mode.
const appNoNamespace = `apiVersion: tierwall.dev/v1alpha1
kind: AppIsolation
metadata:
  name: web
spec:
  mode: DryRun
  tiers:
  - name: web
    podSelector:
      matchLabels:
        app: web
`

func TestRunGolden(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		stdin  string
		golden string
	}{
		{"render the sample", []string{"render", "-f", sample}, "", "wordpress-policies.yaml"},
		{"render the sample from stdin", []string{"render", "-f", "-"}, readFile(t, sample), "wordpress-policies.yaml"},
		{"reach table", []string{"reach", "-f", sample, "-f", pods}, "", "wordpress-reach.txt"},
		{"reach list", []string{"reach", "-f", sample, "-f", pods, "-o", "list"}, "", "wordpress-reach-list.txt"},
		{"reach of the hand-written policies", []string{"reach", "-f", pods, "-f", handwritten}, "", "handwritten-reach.txt"},
		{"explain a denied flow", []string{"reach", "-f", sample, "-f", pods, "--explain", "--from", "default/debug", "--to", "dev-wordpress/mysql-0:3306"}, "", "explain-denied.txt"},
		{"explain an allowed flow", []string{"reach", "-f", sample, "-f", pods, "--explain", "--from", "kube-system/traefik", "--to", "dev-wordpress/wordpress:80/TCP"}, "", "explain-allowed.txt"},
		{"explain a flow as JSON", []string{"reach", "-f", sample, "-f", pods, "--explain", "--from", "dev-wordpress/mysql-0", "--to", "dev-wordpress/wordpress:80", "-o", "json"}, "", "explain-denied.json"},
		{"graph mermaid", []string{"graph", "-f", sample}, "", "wordpress-graph.mmd"},
		{"graph dot", []string{"graph", "-f", sample, "-o", "dot"}, "", "wordpress-graph.dot"},
		{"render the mail sample", []string{"render", "-f", mailSample}, "", "mail-policies.yaml"},
		{"reach of the mail sample", []string{"reach", "-f", mailSample, "-f", mailPods}, "", "mail-reach.txt"},
		{"graph the mail sample", []string{"graph", "-f", mailSample}, "", "mail-graph.mmd"},
		{"reach with addresses", addressesArgs, "", "addresses-reach.txt"},
		{"reach with addresses, as a list", append(addressesArgs, "-o", "list"), "", "addresses-reach-list.txt"},
		{"explain a flow from an address", append(addressesArgs, "--explain", "--from", "client", "--to", "dev-wordpress/mysql-0:3306"), "", "explain-address.txt"},
		{"reach of the shop sample, across namespaces", []string{"reach", "-f", shopSample, "-f", shopPods}, "", "shop-reach.txt"},
		{"reach of the shop sample, one-sided", []string{"reach", "-f", shopOneSided, "-f", shopPods}, "", "shop-reach-one-sided.txt"},
		{"reach of the shop sample, one-sided, as a list", []string{"reach", "-f", shopOneSided, "-f", shopPods, "-o", "list"}, "", "shop-reach-one-sided-list.txt"},
		{"graph the shop sample", []string{"graph", "-f", shopSample}, "", "shop-graph.mmd"},
		{"graph the shop sample, one-sided", []string{"graph", "-f", shopOneSided}, "", "shop-graph-one-sided.mmd"},
		{"graph the shop sample, one-sided, as DOT", []string{"graph", "-f", shopOneSided, "-o", "dot"}, "", "shop-graph-one-sided.dot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(tt.stdin, tt.args...)
			if code != ExitOK || stderr != "" {
				t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
			}
			golden(t, tt.golden, stdout)
		})
	}
}

func TestRun(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	tests := []struct {
		name  string
		args  []string
		stdin string
		code  int
		// stdout, when set, must be contained in the output.
		stdout string
		// stderr is the exact error output.
		stderr string
	}{
		{
			name:   "render: no namespace means default",
			args:   []string{"render", "-f", "-"},
			stdin:  appNoNamespace,
			stdout: "  name: web-tier-web\n  namespace: default\n",
			stderr: "note: AppIsolation default/web is in DryRun mode: the operator would apply none of its policies; shown as in Enforce mode\n",
		},
		{
			name:   "render: -n gives the namespace",
			args:   []string{"render", "-n", "dev", "-f", "-"},
			stdin:  appNoNamespace,
			stdout: "  name: web-tier-web\n  namespace: dev\n",
			stderr: "note: AppIsolation dev/web is in DryRun mode: the operator would apply none of its policies; shown as in Enforce mode\n",
		},
		{
			name:   "render: -n that does not match",
			args:   []string{"render", "-n", "dev", "-f", sample},
			code:   ExitFailure,
			stderr: "error: " + sample + ":9: AppIsolation dev-wordpress/wordpress: namespace dev-wordpress does not match --namespace=dev: pass --namespace=dev-wordpress, or leave the namespace out of the input\n",
		},
		{
			name:   "render: missing file",
			args:   []string{"render", "-f", missing},
			code:   ExitFailure,
			stderr: "error: cannot read " + missing + ": no such file or directory\n",
		},
		{
			name:   "render: bad YAML, at its line",
			args:   []string{"render", "-f", "-"},
			stdin:  "---\n" + strings.Replace(appNoNamespace, "  name: web\n", "  name: web\n   labels: {}\n", 1),
			code:   ExitFailure,
			stderr: "error: <stdin>:6: invalid YAML: mapping values are not allowed in this context\n",
		},
		{
			name:   "render: unknown field, by path and line",
			args:   []string{"render", "-f", "-"},
			stdin:  strings.Replace(appNoNamespace, "    podSelector:", "    podselector: {}\n    podSelector:", 1),
			code:   ExitFailure,
			stderr: "error: <stdin>:9: AppIsolation web: unknown field \"spec.tiers[0].podselector\"\n",
		},
		{
			name:   "render: other kinds are errors",
			args:   []string{"render", "-f", "-"},
			stdin:  appNoNamespace + "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n",
			code:   ExitFailure,
			stderr: "error: <stdin>:14: kind Deployment (apps/v1) is not read here: expected AppIsolation, Node, EndpointSlice, or a List of them\n",
		},
		{
			name:  "render: a spec admission rejects, with the API server's message and the renderer's pointer to the entry",
			args:  []string{"render", "-f", "-"},
			stdin: appNoNamespace + "    ports: [{port: 80}]\n    allowFrom:\n    - tier: api\n",
			code:  ExitFailure,
			stderr: "error: <stdin>:7: AppIsolation default/web is invalid: spec.tiers: Invalid value: every allowFrom[].tier without appIsolation must be the name of a tier declared in spec.tiers\n" +
				"error: <stdin>:14: AppIsolation default/web: invalid spec: spec.tiers[0].allowFrom[0].tier: Not found: \"api\"\n",
		},
		{
			name: "render: specs that would render peers that vanish into allow-all, at the lines of the fields",
			args: []string{"render", "-f", "-"},
			stdin: `apiVersion: tierwall.dev/v1alpha1
kind: AppIsolation
metadata: {name: web, namespace: dev}
spec:
  ingressControllers:
  - name: lb
    ipBlocks: []
  tiers:
  - name: web
    podSelector: {matchLabels: {app: web}}
    ports: [{port: 80}]
    allowFrom:
    - ingressController: lb
    egressTo:
    - ports: [{port: 443}]
  - name: db
    podSelector: {matchLabels: {app: db}}
    ports: [{port: 5432}]
    allowFrom:
    - {}
`,
			code: ExitFailure,
			stderr: "error: <stdin>:6: AppIsolation dev/web is invalid: spec.ingressControllers[0]: Invalid value: set namespace (and optionally podSelector) to select the controller's pods, or hostNetwork or ipBlocks for a hostNetwork controller: a controller that selects nothing would allow traffic from everywhere\n" +
				"error: <stdin>:15: AppIsolation dev/web is invalid: spec.tiers[0].egressTo[0]: Invalid value: set exactly one of ipBlock, kubeAPIServer, appIsolation (with tier), or namespaceSelector and/or podSelector\n" +
				"error: <stdin>:20: AppIsolation dev/web is invalid: spec.tiers[1].allowFrom[0]: Invalid value: set exactly one of tier (with appIsolation for another AppIsolation's tier), ingressController, ipBlock, or namespaceSelector and/or podSelector\n",
		},
		{
			name:   "render: no AppIsolation",
			args:   []string{"render", "-f", "-"},
			stdin:  "# nothing yet\n",
			code:   ExitFailure,
			stderr: "error: the input holds no AppIsolation\n",
		},
		{
			name:   "render: errors in several files are all reported",
			args:   []string{"render", "-f", missing, "-f", "-"},
			stdin:  "kind: AppIsolation\n",
			code:   ExitFailure,
			stderr: "error: cannot read " + missing + ": no such file or directory\nerror: <stdin>:1: apiVersion \"\" is not supported for kind AppIsolation: use tierwall.dev/v1alpha1\n",
		},
		{
			name:   "reach: foreign policies stay, and widen what the AppIsolation allows",
			args:   []string{"reach", "-f", sample, "-f", pods, "-f", handwritten, "-o", "list"},
			stdout: "default/debug             dev-wordpress/mysql-0     3306/TCP\n",
		},
		{
			name: "reach: a policy with a rendered name that the AppIsolation does not control",
			args: []string{"reach", "-f", sample, "-f", "-"},
			stdin: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: wordpress-dns
  namespace: dev-wordpress
spec:
  podSelector: {}
`,
			code:   ExitFailure,
			stderr: "error: <stdin>:1: NetworkPolicy dev-wordpress/wordpress-dns is not controlled by AppIsolation wordpress (" + sample + ":5), which renders a policy of that name: the operator would not replace it and would report PolicyConflict; rename one of them, or leave the policy out of the input\n",
		},
		{
			name: "render: the Nodes and the API server's EndpointSlices of the input give the addresses the spec follows",
			args: []string{"render", "-f", "-"},
			stdin: `apiVersion: tierwall.dev/v1alpha1
kind: AppIsolation
metadata: {name: web, namespace: dev}
spec:
  ingressControllers: [{name: nginx, hostNetwork: true}]
  tiers:
  - name: web
    podSelector: {matchLabels: {tier: web}}
    ports: [{port: 80}]
    allowFrom: [{ingressController: nginx}]
    egressTo: [{kubeAPIServer: {}}]
---
apiVersion: v1
kind: Node
metadata: {name: node-1}
status: {addresses: [{type: InternalIP, address: 10.0.0.7}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: kubernetes, namespace: default, labels: {kubernetes.io/service-name: kubernetes}}
addressType: IPv4
endpoints: [{addresses: [172.18.0.2]}]
ports: [{name: https, port: 6443, protocol: TCP}]
`,
			stdout: "  - from:\n    - ipBlock:\n        cidr: 10.0.0.7/32\n",
		},
		{
			name: "render: a tier of an AppIsolation the input does not hold allows nothing, and says so",
			args: []string{"render", "-f", "-"},
			stdin: `apiVersion: tierwall.dev/v1alpha1
kind: AppIsolation
metadata: {name: web, namespace: shop}
spec:
  tiers:
  - name: web
    podSelector: {matchLabels: {tier: web}}
    egressTo: [{appIsolation: {namespace: payments, name: api}, tier: backend}]
`,
			stdout: "  name: web-tier-web\n",
			stderr: "note: AppIsolation shop/web names AppIsolation payments/api, which the input does not hold: rendered without it, so its tiers are allowed nothing here, as in a cluster without it (add it to the input)\n",
		},
		{
			name: "reach: terminated and hostNetwork pods are left out",
			args: []string{"reach", "-f", "-", "-o", "json"},
			stdin: `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: job-1}
  spec: {containers: [{name: c, ports: [{containerPort: 80}]}]}
  status: {phase: Succeeded}
- apiVersion: v1
  kind: Pod
  metadata: {name: node-exporter, namespace: monitoring}
  spec: {hostNetwork: true, containers: [{name: c, ports: [{containerPort: 9100}]}]}
`,
			stdout: "[]\n",
			stderr: "note: left out pods that have terminated: default/job-1\n" +
				"note: left out pods with hostNetwork, which NetworkPolicies do not govern: monitoring/node-exporter\n" +
				"note: the input holds no pods: there is nothing to evaluate\n",
		},
		{
			name:   "reach: an invalid NetworkPolicy",
			args:   []string{"reach", "-f", "-"},
			stdin:  "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: bad}\nspec:\n  podSelector: {matchLabels: {'a b': c}}\n",
			code:   ExitFailure,
			stderr: "error: <stdin>:1: invalid NetworkPolicy default/bad: spec.podSelector: key: Invalid value: \"a b\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')\n",
		},
		{
			name:  "reach: an AppIsolation that admission rejects (it would render an invalid policy)",
			args:  []string{"reach", "-f", "-"},
			stdin: appNoNamespace + "    ports: [{port: 80}]\n    allowFrom:\n    - ipBlock: {cidr: 10.0.0.0/33}\n",
			code:  ExitFailure,
			stderr: "error: <stdin>:14: AppIsolation default/web is invalid: spec.tiers[0].allowFrom[0].ipBlock.cidr: " +
				"Invalid value: \"10.0.0.0/33\": must be a CIDR in canonical form, such as 10.0.0.0/8 (no host bits set)\n",
		},
		{
			name:  "graph: a spec admission rejects",
			args:  []string{"graph", "-f", "-"},
			stdin: appNoNamespace + "    ports: [{port: 80}]\n    allowFrom:\n    - ingressController: traefik\n",
			code:  ExitFailure,
			stderr: "error: <stdin>:7: AppIsolation default/web is invalid: spec.tiers: Invalid value: every allowFrom[].ingressController must be the name of an entry of spec.ingressControllers\n" +
				"error: <stdin>:14: AppIsolation default/web: invalid spec: spec.tiers[0].allowFrom[0].ingressController: Not found: \"traefik\"\n",
		},

		{
			name:   "reach: addresses' flows in JSON, with their IPs",
			args:   append(addressesArgs, "-o", "json"),
			stdout: `  {"from":"dev-wordpress/wordpress","to":"kube-apiserver","toIP":"192.168.1.10","port":6443,"protocol":"TCP","allowed":true},` + "\n",
		},
		{
			name:   "reach: an IPv6 --address without a name, and ports from the egress rule that names it",
			args:   []string{"reach", "-f", "-", "--address", "fd00::7", "-o", "list"},
			stdin:  "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec: {containers: [{name: c}]}\nstatus: {podIP: 10.0.0.1}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: out}\nspec:\n  podSelector: {}\n  egress: [{to: [{ipBlock: {cidr: 'fd00::/64'}}], ports: [{port: 8443}]}]\n",
			stdout: "FROM          TO        PORT\ndefault/web   fd00::7   8443/TCP\n\n1 of 1 flows allowed; the others are denied.\n",
		},
		{
			name:   "reach: an invalid Address document, at its line",
			args:   []string{"reach", "-f", "-"},
			stdin:  "apiVersion: cli.tierwall.dev/v1alpha1\nkind: Address\nmetadata: {name: partner}\naddress: 203.0.113.0/24\n",
			code:   ExitFailure,
			stderr: "error: <stdin>:4: Address partner: address \"203.0.113.0/24\" is not an IPv4 or IPv6 address (give one address, not a CIDR)\n",
		},
		{
			name:   "reach: an --address with the name of another",
			args:   []string{"reach", "-f", addresses, "--address", "203.0.113.7=payments"},
			code:   ExitFailure,
			stderr: "error: duplicate address payments\n",
		},
		{
			name:   "reach: an --address that is not an address",
			args:   []string{"reach", "-f", pods, "--address", "203.0.113.0/24=net"},
			code:   ExitUsage,
			stderr: "error: invalid --address \"203.0.113.0/24=net\": \"203.0.113.0/24\" is not an IPv4 or IPv6 address (give ADDRESS[=NAME])\nRun 'tierwall reach --help' for usage.\n",
		},
		{
			name:   "reach: an --address with an empty name",
			args:   []string{"reach", "-f", pods, "--address", "203.0.113.7="},
			code:   ExitUsage,
			stderr: "error: invalid --address \"203.0.113.7=\": the name after = must be non-empty, without spaces\nRun 'tierwall reach --help' for usage.\n",
		},

		// Usage errors.
		{
			name:   "no -f",
			args:   []string{"render"},
			code:   ExitUsage,
			stderr: "error: no input: give at least one -f FILE (or -f - for standard input)\nRun 'tierwall render --help' for usage.\n",
		},
		{
			name:   "stdin twice",
			args:   []string{"reach", "-f", "-", "-f", "-"},
			code:   ExitUsage,
			stderr: "error: -f - is given more than once: standard input can be read only once\nRun 'tierwall reach --help' for usage.\n",
		},
		{
			name:   "bad output format",
			args:   []string{"reach", "-f", pods, "-o", "yaml"},
			code:   ExitUsage,
			stderr: "error: invalid --output \"yaml\": use one of table, list, json\nRun 'tierwall reach --help' for usage.\n",
		},
		{
			name:   "bad graph format",
			args:   []string{"graph", "-f", sample, "-o", "png"},
			code:   ExitUsage,
			stderr: "error: invalid --output \"png\": use one of mermaid, dot\nRun 'tierwall graph --help' for usage.\n",
		},
		{
			name:   "unknown flag",
			args:   []string{"render", "--file", sample},
			code:   ExitUsage,
			stderr: "error: unknown flag: --file\nRun 'tierwall render --help' for usage.\n",
		},
		{
			name:   "unexpected argument",
			args:   []string{"graph", sample},
			code:   ExitUsage,
			stderr: "error: unknown command \"" + sample + "\" for \"tierwall graph\"\nRun 'tierwall graph --help' for usage.\n",
		},
		{
			name:   "unknown command",
			args:   []string{"apply", "-f", sample},
			code:   ExitUsage,
			stderr: "error: unknown command \"apply\" for \"tierwall\"\nRun 'tierwall --help' for usage.\n",
		},

		// Help.
		{name: "help", args: []string{"--help"}, stdout: "  render      Print the NetworkPolicies the operator would apply"},
		{name: "no command is help", args: nil, stdout: "Available Commands:"},
		{name: "render help", args: []string{"render", "--help"}, stdout: "Examples:\n  # The policies for the WordPress sample\n"},
		{name: "reach help", args: []string{"reach", "-h"}, stdout: "Examples:\n  # What the live cluster allows to and from dev-wordpress (also: kubectl tierwall reach ...)\n"},
		{
			name: "graph: the Nodes and the API server's endpoints of the input show in their nodes",
			args: []string{"graph", "-f", "-"},
			stdin: `apiVersion: tierwall.dev/v1alpha1
kind: AppIsolation
metadata: {name: ops, namespace: ops}
spec:
  ingressControllers: [{name: nginx, hostNetwork: true}]
  tiers:
  - name: dashboard
    podSelector: {matchLabels: {tier: dashboard}}
    ports: [{port: 8443}]
    allowFrom: [{ingressController: nginx}]
    egressTo: [{kubeAPIServer: {}}]
---
` + strings.Split(readFile(t, addresses), "\n---\n")[0] + "\n---\n" + strings.Split(readFile(t, addresses), "\n---\n")[1],
			stdout: `  ingress_nginx(["nginx<br/>hostNetwork: every Node's InternalIP<br/>192.168.1.10"])
  subgraph app_ops["AppIsolation ops/ops"]
    ops_dashboard["dashboard"]
  end
  apiserver1{{"Kubernetes API server<br/>endpoints of default/kubernetes<br/>192.168.1.10:6443"}}
`,
		},
		{name: "graph help", args: []string{"help", "graph"}, stdout: "Examples:\n  # The WordPress sample, for a README\n"},
		{name: "version", args: []string{"--version"}, stdout: "tierwall version "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(tt.stdin, tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d", code, tt.code)
			}
			if !strings.Contains(stdout, tt.stdout) {
				t.Errorf("stdout does not contain %q:\n%s", tt.stdout, stdout)
			}
			if tt.code != ExitOK && stdout != "" {
				t.Errorf("a failed command wrote to stdout:\n%s", stdout)
			}
			if diff := cmp.Diff(tt.stderr, stderr); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReachJSON checks the exact set of connections the WordPress sample
// allows among the story's pods, and that every other flow is reported as
// denied.
func TestReachJSON(t *testing.T) {
	code, stdout, stderr := run("", "reach", "-f", sample, "-f", pods, "-o", "json")
	if code != ExitOK || stderr != "" {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
	}
	var flows []flowJSON
	if err := json.Unmarshal([]byte(stdout), &flows); err != nil {
		t.Fatalf("output is not a JSON array of flows: %v\n%s", err, stdout)
	}
	var allowed []string
	denied := map[string]bool{}
	for _, f := range flows {
		s := fmt.Sprintf("%s -> %s:%d/%s", f.From, f.To, f.Port, f.Protocol)
		if f.Allowed {
			allowed = append(allowed, s)
		} else {
			denied[s] = true
		}
	}
	want := []string{
		// The debug pod is not governed, nor are Traefik and CoreDNS.
		"default/debug -> kube-system/coredns:53/TCP",
		"default/debug -> kube-system/coredns:53/UDP",
		"default/debug -> kube-system/traefik:8000/TCP",
		// MySQL may only query DNS.
		"dev-wordpress/mysql-0 -> kube-system/coredns:53/TCP",
		"dev-wordpress/mysql-0 -> kube-system/coredns:53/UDP",
		// WordPress may reach MySQL and DNS.
		"dev-wordpress/wordpress -> dev-wordpress/mysql-0:3306/TCP",
		"dev-wordpress/wordpress -> kube-system/coredns:53/TCP",
		"dev-wordpress/wordpress -> kube-system/coredns:53/UDP",
		"kube-system/coredns -> default/debug:8080/TCP",
		"kube-system/coredns -> kube-system/traefik:8000/TCP",
		"kube-system/traefik -> default/debug:8080/TCP",
		// Traefik may reach WordPress.
		"kube-system/traefik -> dev-wordpress/wordpress:80/TCP",
		"kube-system/traefik -> kube-system/coredns:53/TCP",
		"kube-system/traefik -> kube-system/coredns:53/UDP",
	}
	if diff := cmp.Diff(want, allowed); diff != "" {
		t.Errorf("allowed flows (-want +got):\n%s", diff)
	}
	for _, s := range []string{
		"kube-system/traefik -> dev-wordpress/mysql-0:3306/TCP",
		"default/debug -> dev-wordpress/mysql-0:3306/TCP",
		"default/debug -> dev-wordpress/wordpress:80/TCP",
		"dev-wordpress/wordpress -> default/debug:8080/TCP",
		"dev-wordpress/mysql-0 -> dev-wordpress/wordpress:80/TCP",
	} {
		if !denied[s] {
			t.Errorf("flow %s is not reported as denied", s)
		}
	}
	// Every ordered pair of the 5 pods, once per destination port: 4
	// sources for each of the 6 destination ports.
	if len(flows) != 24 {
		t.Errorf("got %d flows, want 24", len(flows))
	}
}

// TestReachJSONAcrossNamespaces checks, on the shop sample and its pods,
// that the storefront reaches the payments API on 9090 when both sides
// declare the edge, and not when the storefront's egressTo lacks it; and
// that the edge follows the flows, marked one-sided with the side at fault.
func TestReachJSONAcrossNamespaces(t *testing.T) {
	type element struct {
		flowJSON
		Edge *edgeJSON `json:"edge"`
	}
	tests := []struct {
		name     string
		app      string
		allowed  bool
		wantEdge edgeJSON
	}{
		{
			name:    "both sides declare it",
			app:     shopSample,
			allowed: true,
			wantEdge: edgeJSON{From: tierJSON{"shop/storefront", "web"}, To: tierJSON{"payments/api", "backend"},
				Ports: "9090/TCP"},
		},
		{
			name: "the storefront's egressTo lacks it",
			app:  shopOneSided,
			wantEdge: edgeJSON{From: tierJSON{"shop/storefront", "web"}, To: tierJSON{"payments/api", "backend"},
				Ports: "9090/TCP", OneSided: true,
				Problem: "shop/storefront tier web's egressTo does not name payments/api tier backend"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run("", "reach", "-f", tt.app, "-f", shopPods, "-o", "json")
			if code != ExitOK || stderr != "" {
				t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
			}
			var out []element
			if err := json.Unmarshal([]byte(stdout), &out); err != nil {
				t.Fatalf("output is not a JSON array: %v\n%s", err, stdout)
			}
			var flow *flowJSON
			var edges []edgeJSON
			for i, e := range out {
				if e.Edge != nil {
					edges = append(edges, *e.Edge)
					continue
				}
				if len(edges) > 0 {
					t.Errorf("element %d is a flow after an edge: edges follow the flows", i)
				}
				if e.From == "shop/storefront" && e.To == "payments/api" && e.Port == 9090 && e.Protocol == "TCP" {
					flow = &out[i].flowJSON
				}
			}
			if flow == nil {
				t.Fatal("no flow shop/storefront -> payments/api:9090/TCP")
			}
			if flow.Allowed != tt.allowed {
				t.Errorf("shop/storefront -> payments/api:9090/TCP allowed = %v, want %v", flow.Allowed, tt.allowed)
			}
			if diff := cmp.Diff([]edgeJSON{tt.wantEdge}, edges); diff != "" {
				t.Errorf("edges (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDocsShowRealOutput keeps docs/cli.md in step with the command line: it
// must show the golden outputs as they are.
func TestDocsShowRealOutput(t *testing.T) {
	doc := readFile(t, filepath.Join("..", "..", "docs", "cli.md"))
	for _, name := range []string{
		"wordpress-policies.yaml", "wordpress-reach.txt", "wordpress-reach-list.txt",
		"handwritten-reach.txt", "wordpress-graph.mmd", "wordpress-graph.dot",
		"explain-denied.txt", "explain-allowed.txt",
		"diff/tier-added.txt", "diff/port-changed.txt", "diff/migration.txt", "diff/no-change.txt",
		"addresses-reach.txt", "explain-address.txt",
		"shop-reach.txt", "shop-reach-one-sided.txt", "shop-graph.mmd", "shop-graph-one-sided.mmd",
	} {
		if !strings.Contains(doc, readFile(t, filepath.Join("testdata", name))) {
			t.Errorf("docs/cli.md does not show testdata/%s as it is: update the docs", name)
		}
	}
	readme := readFile(t, filepath.Join("..", "..", "README.md"))
	for _, name := range []string{"wordpress-graph.mmd", "mail-graph.mmd", "mail-reach.txt", "shop-graph.mmd"} {
		if !strings.Contains(readme, readFile(t, filepath.Join("testdata", name))) {
			t.Errorf("README.md does not show testdata/%s as it is: update it", name)
		}
	}
	// The JSON lines quoted in the docs are lines of the real output, of
	// the sample, of the example with addresses or of the one-sided shop.
	_, stdout, _ := run("", "reach", "-f", sample, "-f", pods, "-o", "json")
	_, withAddresses, _ := run("", append(addressesArgs, "-o", "json")...)
	_, oneSided, _ := run("", "reach", "-f", shopOneSided, "-f", shopPods, "-o", "json")
	stdout += withAddresses + oneSided
	n := 0
	for line := range strings.SplitSeq(doc, "\n") {
		if strings.HasPrefix(line, `  {"from":`) || strings.HasPrefix(line, `  {"edge":`) {
			n++
			if !strings.Contains(stdout, line+"\n") {
				t.Errorf("docs/cli.md quotes a line that reach -o json does not write: %s", line)
			}
		}
	}
	if n == 0 {
		t.Error("docs/cli.md quotes no line of reach -o json")
	}
}

// TestRejectsWhatAdmissionRejects runs render, reach and graph on every
// invalid AppIsolation of the admission suite (api/v1alpha1), which applies
// them to a real API server: each command must fail with the messages the
// API server gives. The admission suite also checks, with the API server at
// hand, that render prints exactly the API server's field errors.
func TestRejectsWhatAdmissionRejects(t *testing.T) {
	for _, c := range specs.Rejections {
		t.Run(c.Name, func(t *testing.T) {
			obj, err := specs.Object("dev", c.Tweak)
			if err != nil {
				t.Fatal(err)
			}
			data, err := yaml.Marshal(obj.Object)
			if err != nil {
				t.Fatal(err)
			}
			for _, command := range []string{"render", "reach", "graph"} {
				code, stdout, stderr := run(string(data), command, "-f", "-")
				if code != ExitFailure {
					t.Fatalf("%s: exit code %d, want %d; stdout:\n%s", command, code, ExitFailure, stdout)
				}
				for _, w := range c.Want {
					if !strings.Contains(stderr, w) {
						t.Errorf("%s: stderr does not contain %q:\n%s", command, w, stderr)
					}
				}
			}
		})
	}
}

// TestDocsShowAdmissionErrors checks the error output docs/cli.md and
// docs/validation.md quote: the WordPress sample as app.yaml, with an
// allowFrom that names tier "fronted".
func TestDocsShowAdmissionErrors(t *testing.T) {
	sampleData := readFile(t, sample)
	app := strings.Replace(sampleData, "- tier: frontend", "- tier: fronted", 1)
	if app == sampleData {
		t.Fatal("the sample has no allowFrom naming tier frontend")
	}
	docs := map[string]string{}
	for _, doc := range []string{"cli.md", "validation.md"} {
		docs[doc] = readFile(t, filepath.Join("..", "..", "docs", doc))
	}
	t.Chdir(t.TempDir())
	if err := os.WriteFile("app.yaml", []byte(app), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run("", "graph", "-f", "app.yaml")
	if code != ExitFailure {
		t.Fatalf("exit code %d, want %d", code, ExitFailure)
	}
	for doc, text := range docs {
		if !strings.Contains(text, stderr) {
			t.Errorf("docs/%s does not show what tierwall graph prints:\n%s", doc, stderr)
		}
	}
}
