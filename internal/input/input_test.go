package input

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const sample = `# The WordPress story.
apiVersion: tierwall.dev/v1alpha1
kind: AppIsolation
metadata:
  name: wordpress
  namespace: dev-wordpress
spec:
  tiers:
  - name: frontend
    podSelector:
      matchLabels:
        tier: frontend
`

// summary is what a test compares: the objects read, as "Kind ns/name@line".
func summary(o *Objects) []string {
	var out []string
	add := func(kind, ns, name string) {
		out = append(out, describe(kind, ns, name)+"@"+o.Position(kind, ns, name).String())
	}
	for _, x := range o.AppIsolations {
		add(KindAppIsolation, x.Namespace, x.Name)
	}
	for _, x := range o.Namespaces {
		add(KindNamespace, "", x.Name)
	}
	for _, x := range o.Pods {
		add(KindPod, x.Namespace, x.Name)
	}
	for _, x := range o.NetworkPolicies {
		add(KindNetworkPolicy, x.Namespace, x.Name)
	}
	for _, x := range o.Nodes {
		add(KindNode, "", x.Name)
	}
	for _, x := range o.EndpointSlices {
		add(KindEndpointSlice, x.Namespace, x.Name)
	}
	for _, x := range o.Addresses {
		out = append(out, fmt.Sprintf("Address %s=%s%v@%s", x.Name(), x.Address, x.Ports, o.Position(KindAddress, "", x.Name())))
	}
	return out
}

var reachKinds = []string{KindNamespace, KindPod, KindNetworkPolicy, KindAppIsolation, KindNode, KindEndpointSlice, KindAddress}

var allKinds = []string{KindNamespace, KindPod, KindNetworkPolicy, KindAppIsolation}

func TestRead(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		input string
		want  []string
		// wantErr are the lines of the error, in order.
		wantErr []string
	}{
		{
			name:  "one AppIsolation",
			opts:  Options{Kinds: []string{KindAppIsolation}},
			input: sample,
			want:  []string{"AppIsolation dev-wordpress/wordpress@app.yaml:2"},
		},
		{
			name: "documents, comments, empty documents and a separator with a comment",
			opts: Options{Kinds: allKinds},
			input: "---\n# nothing here\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: dev\n" +
				"--- # the pods\n\n" +
				"apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: dev\n---\n",
			want: []string{"Namespace dev@app.yaml:4", "Pod dev/web@app.yaml:10"},
		},
		{
			name:  "CRLF line endings and a byte order mark",
			opts:  Options{Kinds: allKinds},
			input: "\xef\xbb\xbfapiVersion: v1\r\nkind: Namespace\r\nmetadata:\r\n  name: dev\r\n---\r\napiVersion: v1\r\nkind: Namespace\r\nmetadata:\r\n  name: prod\r\n",
			want:  []string{"Namespace dev@app.yaml:1", "Namespace prod@app.yaml:6"},
		},
		{
			name:  "JSON",
			opts:  Options{Kinds: allKinds},
			input: `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "dev"}}`,
			want:  []string{"Pod dev/web@app.yaml:1"},
		},
		{
			name: "a List as kubectl get -o yaml writes it, items at their lines",
			opts: Options{Kinds: allKinds},
			input: `apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: v1
  kind: Pod
  metadata:
    name: web
    namespace: dev
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata:
    name: deny
    namespace: dev
  spec:
    podSelector: {}
`,
			want: []string{"Pod dev/web@app.yaml:6", "NetworkPolicy dev/deny@app.yaml:11"},
		},
		{
			name:  "a typed list whose items carry no kind",
			opts:  Options{Kinds: allKinds},
			input: "apiVersion: v1\nkind: PodList\nitems:\n- metadata:\n    name: a\n- metadata:\n    name: b\n",
			want:  []string{"Pod default/a@app.yaml:4", "Pod default/b@app.yaml:6"},
		},
		{
			name: "other kinds skipped, as in a directory of manifests",
			opts: Options{Kinds: allKinds, SkipOtherKinds: true},
			input: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n---\n" +
				"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata:\n    name: web\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: web\n",
			want: []string{"Pod default/web@app.yaml:13"},
		},
		{
			name:    "other kinds skipped, a document without kind still fails",
			opts:    Options{Kinds: allKinds, SkipOtherKinds: true},
			input:   "apiVersion: v1\nmetadata:\n  name: web\n",
			wantErr: []string{"app.yaml:1: missing kind: say what the document is, such as kind: Namespace"},
		},
		{
			name:  "no namespace: the default one",
			opts:  Options{Kinds: allKinds},
			input: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n",
			want:  []string{"Pod default/web@app.yaml:1"},
		},
		{
			name:  "no namespace: the one given",
			opts:  Options{Kinds: allKinds, Namespace: "dev", EnforceNamespace: true},
			input: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n",
			want:  []string{"Pod dev/web@app.yaml:1"},
		},
		{
			name:  "a namespace that is not the one given",
			opts:  Options{Kinds: allKinds, Namespace: "dev", EnforceNamespace: true},
			input: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: prod\n",
			wantErr: []string{
				`app.yaml:5: Pod prod/web: namespace prod does not match --namespace=dev: pass --namespace=prod, or leave the namespace out of the input`,
			},
		},
		{
			name:  "invalid YAML: the line of the problem",
			opts:  Options{Kinds: allKinds},
			input: "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: dev\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n   namespace: dev\n",
			want:  []string{"Namespace dev@app.yaml:1"},
			wantErr: []string{
				`app.yaml:10: invalid YAML: mapping values are not allowed in this context`,
			},
		},
		{
			name:  "duplicate key",
			opts:  Options{Kinds: allKinds},
			input: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  name: db\n",
			wantErr: []string{
				`app.yaml:5: invalid YAML: key "name" already set in map`,
			},
		},
		{
			name: "unknown fields: each at its line, named by its path",
			opts: Options{Kinds: []string{KindAppIsolation}},
			input: "---\n" + strings.Replace(strings.Replace(sample, "  tiers:", "  tierz: 1\n  tiers:", 1),
				"    podSelector:", "    podSelectr: {}\n    podSelector:", 1),
			wantErr: []string{
				`app.yaml:9: AppIsolation dev-wordpress/wordpress: unknown field "spec.tierz"`,
				`app.yaml:12: AppIsolation dev-wordpress/wordpress: unknown field "spec.tiers[0].podSelectr"`,
			},
		},
		{
			name:  "unknown field inside a List item",
			opts:  Options{Kinds: allKinds},
			input: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: web\n  spec:\n    containerz: []\n",
			wantErr: []string{
				`app.yaml:9: items[0]: Pod web: unknown field "spec.containerz"`,
			},
		},
		{
			name:  "wrong type",
			opts:  Options{Kinds: allKinds},
			input: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels: [a]\n",
			wantErr: []string{
				`app.yaml:5: Pod web: cannot unmarshal array into Go struct field ObjectMeta.metadata.labels of type map[string]string`,
			},
		},
		{
			name:  "wrong type in a list: the line of the list",
			opts:  Options{Kinds: []string{KindAppIsolation}},
			input: strings.Replace(sample, "  - name: frontend", "  - name: frontend\n    ports: [{port: 80, protocol: [TCP]}]", 1),
			wantErr: []string{
				`app.yaml:8: AppIsolation dev-wordpress/wordpress: cannot unmarshal array into Go struct field Port.spec.tiers.ports.protocol of type v1alpha1.Protocol`,
			},
		},
		{
			name:  "a kind the command does not read",
			opts:  Options{Kinds: []string{KindAppIsolation}},
			input: sample + "---\n# a workload\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n",
			want:  []string{"AppIsolation dev-wordpress/wordpress@app.yaml:2"},
			wantErr: []string{
				`app.yaml:16: kind Deployment (apps/v1) is not read here: expected AppIsolation, or a List of them`,
			},
		},
		{
			name:    "a kind the command does not read, in a List",
			opts:    Options{Kinds: []string{KindAppIsolation}},
			input:   "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: web\n",
			wantErr: []string{`app.yaml:5: items[0]: kind Pod (v1) is not read here: expected AppIsolation, or a List of them`},
		},
		{
			name:    "wrong apiVersion",
			opts:    Options{Kinds: allKinds},
			input:   "apiVersion: extensions/v1beta1\nkind: NetworkPolicy\nmetadata:\n  name: deny\n",
			wantErr: []string{`app.yaml:1: apiVersion "extensions/v1beta1" is not supported for kind NetworkPolicy: use networking.k8s.io/v1`},
		},
		{
			name:    "missing kind",
			opts:    Options{Kinds: []string{KindAppIsolation}},
			input:   "\n\nmetadata:\n  name: web\n",
			wantErr: []string{`app.yaml:3: missing kind: say what the document is, such as kind: AppIsolation`},
		},
		{
			name:    "not an object",
			opts:    Options{Kinds: allKinds},
			input:   "- a\n- b\n",
			wantErr: []string{`app.yaml:1: expected an object with apiVersion and kind`},
		},
		{
			name:    "missing name",
			opts:    Options{Kinds: allKinds},
			input:   "apiVersion: v1\nkind: Pod\nmetadata:\n  namespace: dev\n",
			wantErr: []string{`app.yaml:3: Pod: metadata.name is required`},
		},
		{
			name:  "the same object twice",
			opts:  Options{Kinds: allKinds},
			input: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: default\n",
			want:  []string{"Pod default/web@app.yaml:1"},
			wantErr: []string{
				`app.yaml:6: Pod default/web is also defined at app.yaml:1`,
			},
		},
		{
			name:    "a List inside a List",
			opts:    Options{Kinds: allKinds},
			input:   "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items: []\n",
			wantErr: []string{`app.yaml:4: items[0]: a List inside a List is not supported`},
		},
		{
			name: "Addresses, Nodes and the API server's endpoints",
			opts: Options{Kinds: reachKinds, Namespace: "dev"},
			input: `apiVersion: cli.tierwall.dev/v1alpha1
kind: Address
metadata: {name: partner}
address: 203.0.113.7
ports: [{port: 443}, {port: 53, protocol: UDP}]
---
apiVersion: v1
kind: List
items:
- apiVersion: cli.tierwall.dev/v1alpha1
  kind: Address
  address: "::ffff:198.51.100.1"
- apiVersion: v1
  kind: Node
  metadata: {name: worker}
  status: {addresses: [{type: InternalIP, address: 10.1.0.2}]}
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {name: kubernetes, namespace: default, labels: {kubernetes.io/service-name: kubernetes}}
  addressType: IPv4
  endpoints: [{addresses: [172.18.0.2]}]
  ports: [{name: https, port: 6443, protocol: TCP}]
- apiVersion: v1
  kind: Endpoints
  metadata: {name: kubernetes}
`,
			want: []string{
				"Node worker@app.yaml:13",
				"EndpointSlice default/kubernetes@app.yaml:17",
				"Address partner=203.0.113.7[{443 } {53 UDP}]@app.yaml:1",
				"Address 198.51.100.1=::ffff:198.51.100.1[]@app.yaml:10",
			},
			// Endpoints are deprecated: EndpointSlices say the same.
			wantErr: []string{"app.yaml:24: items[3]: kind Endpoints (v1) is not read here: expected Namespace, Pod, NetworkPolicy, AppIsolation, Node, EndpointSlice, Address, or a List of them"},
		},
		{
			name: "invalid Addresses, at the lines of their fields",
			opts: Options{Kinds: reachKinds},
			input: `apiVersion: cli.tierwall.dev/v1alpha1
kind: Address
metadata: {name: partner}
address: 203.0.113.0/24
ports:
- port: 0
- port: 443
  protocol: ICMP
---
apiVersion: cli.tierwall.dev/v1alpha1
kind: Address
metadata:
  name: no address
---
apiVersion: cli.tierwall.dev/v1alpha1
kind: Address
metadata: {name: x, namespace: dev}
address: 10.0.0.1
hosts: [a]
---
apiVersion: tierwall.dev/v1alpha1
kind: Address
address: 10.0.0.1
---
apiVersion: cli.tierwall.dev/v1alpha1
kind: Address
address: 10.0.0.1
---
apiVersion: cli.tierwall.dev/v1alpha1
kind: Address
address: 10.0.0.1
`,
			want: []string{"Address 10.0.0.1=10.0.0.1[]@app.yaml:25"},
			wantErr: []string{
				`app.yaml:4: Address partner: address "203.0.113.0/24" is not an IPv4 or IPv6 address (give one address, not a CIDR)`,
				`app.yaml:6: Address partner: ports[0].port: 0 is not from 1 to 65535`,
				`app.yaml:8: Address partner: ports[1].protocol: "ICMP" is not TCP, UDP or SCTP`,
				`app.yaml:10: Address no address: address is required: an IPv4 or IPv6 address, such as 203.0.113.7`,
				`app.yaml:13: Address no address: metadata.name "no address" contains a space`,
				`app.yaml:17: Address x: unknown field "metadata.namespace"`,
				`app.yaml:19: Address x: unknown field "hosts"`,
				`app.yaml:21: apiVersion "tierwall.dev/v1alpha1" is not supported for kind Address: use cli.tierwall.dev/v1alpha1`,
				`app.yaml:29: Address 10.0.0.1 is also defined at app.yaml:25`,
			},
		},
		{
			name:  "nothing at all",
			opts:  Options{Kinds: allKinds},
			input: "# just a comment\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(tt.opts)
			err := r.Read("app.yaml", []byte(tt.input))
			var gotErr []string
			if err != nil {
				gotErr = strings.Split(err.Error(), "\n")
			}
			if diff := cmp.Diff(tt.wantErr, gotErr); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, summary(r.Objects())); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReadSeveralInputs checks that duplicates across inputs name both.
func TestReadSeveralInputs(t *testing.T) {
	r := NewReader(Options{Kinds: []string{KindAppIsolation}})
	if err := r.Read("a.yaml", []byte(sample)); err != nil {
		t.Fatal(err)
	}
	err := r.Read("<stdin>", []byte("---\n"+sample))
	want := `<stdin>:3: AppIsolation dev-wordpress/wordpress is also defined at a.yaml:2`
	if err == nil || err.Error() != want {
		t.Errorf("got error %v, want %s", err, want)
	}
}

func TestLookupLine(t *testing.T) {
	doc := `metadata:
  labels:
    app.kubernetes.io/name: traefik
    app: x
spec:
  list:
  - a: 1
  - b:
      c: 2
`
	tests := []struct {
		path string
		want int
	}{
		{"", 1},
		{"metadata", 1},
		{"metadata.labels.app.kubernetes.io/name", 3},
		{"metadata.labels.app", 4},
		{"spec.list[1].b.c", 9},
		{"spec.list[1].b.missing", 8},
		{"spec.list[7]", 6},
		{"spec.list[x", 6},
	}
	for _, tt := range tests {
		d := &document{start: 1, line: 1, data: []byte(doc)}
		if got := d.lineOf(tt.path); got != tt.want {
			t.Errorf("lineOf(%q) = %d, want %d", tt.path, got, tt.want)
		}
	}
}

func TestFieldPosition(t *testing.T) {
	r := NewReader(Options{Kinds: allKinds})
	in := "# pods\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: web\n  spec:\n    containers:\n    - name: main\n      image: nginx\n"
	if err := r.Read("pods.yaml", []byte(in)); err != nil {
		t.Fatal(err)
	}
	o := r.Objects()
	tests := []struct {
		path string
		want string
	}{
		{"", "pods.yaml:6"},
		{"spec.containers[0].image", "pods.yaml:13"},
		{"spec.containers[0].ports", "pods.yaml:12"},
	}
	for _, tt := range tests {
		if got := o.FieldPosition(KindPod, "default", "web", tt.path).String(); got != tt.want {
			t.Errorf("FieldPosition(%q) = %s, want %s", tt.path, got, tt.want)
		}
	}
	if got := o.FieldPosition(KindPod, "default", "db", "spec"); got != (Position{}) {
		t.Errorf("FieldPosition of a pod not read = %v, want the zero Position", got)
	}
}
