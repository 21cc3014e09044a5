package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/internal/evalstate"
	"github.com/tierwall/tierwall/internal/input"
	"github.com/tierwall/tierwall/internal/peering"
	"github.com/tierwall/tierwall/pkg/reach"
	"github.com/tierwall/tierwall/pkg/render"
	"github.com/tierwall/tierwall/test/testenv"
)

// storyObjects are the WordPress story's namespaces and pods, the sample
// AppIsolation in DryRun, and the hand-written policies: the seed's
// situation on a live cluster.
func storyObjects(t *testing.T) *input.Objects {
	t.Helper()
	r := input.NewReader(input.Options{Kinds: []string{input.KindNamespace, input.KindPod, input.KindNetworkPolicy, input.KindAppIsolation}})
	for _, name := range []string{sample, pods, handwritten} {
		if err := r.Read(name, []byte(readFile(t, name))); err != nil {
			t.Fatal(err)
		}
	}
	objs := r.Objects()
	objs.AppIsolations[0].Spec.Mode = tierwallv1alpha1.ModeDryRun
	return objs
}

// TestReachLiveCluster runs `kubectl tierwall reach -n dev-wordpress`
// against a real API server (envtest) that holds the seed's situation, with
// a kubeconfig as kubectl would use it, and checks that it evaluates the
// policies in force there: the same as reach over the same objects in files.
func TestReachLiveCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an API server")
	}
	env := testenv.WithCRDs()
	cfg, err := testenv.Start(env)
	if err != nil {
		t.Fatalf("%v (or run go test -short)", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("failed to stop envtest: %v", err)
		}
	})
	c, err := client.New(cfg, client.Options{Scheme: testenv.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	objs := storyObjects(t)
	seedCluster(t, c, objs)

	user, err := env.AddUser(envtest.User{Name: "reviewer", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", path)

	var out, errOut bytes.Buffer
	code := RunAs("kubectl-tierwall", []string{"reach", "-n", "dev-wordpress", "-o", "list"}, strings.NewReader(""), &out, &errOut)
	if code != ExitOK {
		t.Fatalf("exit code %d, stderr:\n%s", code, errOut.String())
	}
	// The hand-written policies are in force; the DryRun AppIsolation is not.
	_, want, _ := run("", "reach", "-f", pods, "-f", handwritten, "-o", "list")
	var wantLines []string
	for line := range strings.SplitSeq(want, "\n") {
		if strings.Contains(line, "dev-wordpress/") || strings.HasPrefix(line, "FROM") {
			wantLines = append(wantLines, line)
		}
	}
	// The API server's EndpointSlice is read too: its address (envtest's
	// API server, on a port of its own) is a source and a destination.
	var gotLines, apiServer []string
	for line := range strings.SplitSeq(out.String(), "\n") {
		switch {
		case strings.Contains(line, "kube-apiserver"):
			apiServer = append(apiServer, strings.Join(strings.Fields(line), " "))
		case line != "" && !strings.Contains(line, "flows allowed"):
			gotLines = append(gotLines, line)
		}
	}
	if diff := cmp.Diff(wantLines, gotLines); diff != "" {
		t.Errorf("live reach -n dev-wordpress (-files +live):\n%s", diff)
	}
	if len(apiServer) != 3 || !strings.HasPrefix(apiServer[0], "dev-wordpress/mysql-0 kube-apiserver ") ||
		!strings.HasPrefix(apiServer[1], "dev-wordpress/wordpress kube-apiserver ") || apiServer[2] != "kube-apiserver dev-wordpress/mysql-0 3306/TCP" {
		t.Errorf("the flows from and to the API server are not the 3 allowed ones:\n%s", strings.Join(apiServer, "\n"))
	}
	for _, line := range []string{
		"Reading Namespaces, Pods, NetworkPolicies, AppIsolations, Nodes and the API server's EndpointSlices from context ",
		"Read 1 EndpointSlices of default/kubernetes\n",
		"Read 5 Pods\n",
		"Read 4 NetworkPolicies\n",
		"Read 1 AppIsolations\n",
		"note: AppIsolations in DryRun, whose policies are not in force and not shown: dev-wordpress/wordpress",
	} {
		if !strings.Contains(errOut.String(), line) {
			t.Errorf("stderr does not say %q:\n%s", line, errOut.String())
		}
	}

	// --explain on the live cluster names the hand-written policy's rule.
	out.Reset()
	errOut.Reset()
	code = RunAs("kubectl-tierwall", []string{"reach", "--explain", "--from", "default/debug", "--to", "dev-wordpress/mysql-0:3306"}, strings.NewReader(""), &out, &errOut)
	if code != ExitOK || !strings.Contains(out.String(), "dev-wordpress/allow-mysql ingress[0]") {
		t.Errorf("exit code %d, explanation:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}

	// Once enforced (the operator's policies applied), the live cluster
	// shows them, named by their AppIsolation.
	policies, err := render.Render(&objs.AppIsolations[0], render.Platform{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range policies {
		policies[i].OwnerReferences = nil
		if err := c.Create(t.Context(), &policies[i]); err != nil {
			t.Fatal(err)
		}
	}
	out.Reset()
	code = RunAs("kubectl-tierwall", []string{"reach", "--explain", "--from", "kube-system/traefik", "--to", "dev-wordpress/wordpress:80"}, strings.NewReader(""), &out, &errOut)
	if code != ExitOK || !strings.Contains(out.String(), "dev-wordpress/wordpress-tier-frontend ingress[0] (AppIsolation dev-wordpress/wordpress, tier frontend)") {
		t.Errorf("exit code %d, explanation:\n%s", code, out.String())
	}
}

// TestReadCluster reads the seed's situation through a client, as the
// kubectl plugin does, and evaluates the policies in force.
func TestReadCluster(t *testing.T) {
	objs := storyObjects(t)
	initial := make([]client.Object, 0, len(objs.Namespaces)+len(objs.Pods)+len(objs.NetworkPolicies)+1)
	for i := range objs.Namespaces {
		initial = append(initial, &objs.Namespaces[i])
	}
	for i := range objs.Pods {
		initial = append(initial, &objs.Pods[i])
	}
	for i := range objs.NetworkPolicies {
		initial = append(initial, &objs.NetworkPolicies[i])
	}
	initial = append(initial, &objs.AppIsolations[0])
	c := fake.NewClientBuilder().WithScheme(clusterScheme).WithObjects(initial...).Build()

	var errOut bytes.Buffer
	s := &streams{out: &bytes.Buffer{}, err: &errOut}
	s.progress("Reading Namespaces, Pods, NetworkPolicies, AppIsolations, Nodes and the API server's EndpointSlices from context %s", "test")
	got, err := evalstate.ReadCluster(t.Context(), c, s.notes())
	if err != nil {
		t.Fatal(err)
	}
	counts := []int{len(got.Namespaces), len(got.Pods), len(got.NetworkPolicies), len(got.AppIsolations)}
	if diff := cmp.Diff([]int{2, 5, 4, 1}, counts); diff != "" {
		t.Errorf("namespaces, pods, policies, AppIsolations read (-want +got):\n%s", diff)
	}
	wantProgress := "Reading Namespaces, Pods, NetworkPolicies, AppIsolations, Nodes and the API server's EndpointSlices from context test\n" +
		"Read 2 Namespaces\nRead 5 Pods\nRead 4 NetworkPolicies\nRead 1 AppIsolations\nRead 0 Nodes\nRead 0 EndpointSlices of default/kubernetes\n"
	if diff := cmp.Diff(wantProgress, errOut.String()); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
	if st := evalstate.InForce(s.notes(), got); len(st.Policies) != 4 {
		t.Errorf("%d policies in force, want the 4 hand-written ones (the AppIsolation is in DryRun)", len(st.Policies))
	}
}

// TestReadClusterAddresses reads Nodes and the API server's EndpointSlices
// through a client, and goes on without them when RBAC forbids listing
// them.
func TestReadClusterAddresses(t *testing.T) {
	node := func(name string, ips ...string) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
		n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeHostName, Address: name})
		for _, ip := range ips {
			n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip})
		}
		return n
	}
	slice := func(namespace, name, service string, ips ...string) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: service}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints:   []discoveryv1.Endpoint{{Addresses: ips}},
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To(int32(6443)), Protocol: ptr.To(corev1.ProtocolTCP)}},
		}
	}
	objects := []client.Object{
		node("worker-b", "10.1.0.3", "fd00:10::3"), node("worker-a", "10.1.0.2"),
		slice("default", "kubernetes", "kubernetes", "172.18.0.2"),
		// Not the API server's: another service, another namespace.
		slice("default", "web-abcde", "web", "10.0.0.9"),
		slice("dev", "kubernetes-x", "kubernetes", "10.0.0.8"),
	}
	forbidden := func(what string) interceptor.Funcs {
		return interceptor.Funcs{List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			switch list.(type) {
			case *corev1.NodeList:
				if what == "nodes" {
					return apierrors.NewForbidden(schema.GroupResource{Resource: "nodes"}, "", errors.New("RBAC"))
				}
			case *discoveryv1.EndpointSliceList:
				if what == "endpointslices" {
					return apierrors.NewForbidden(schema.GroupResource{Group: "discovery.k8s.io", Resource: "endpointslices"}, "", errors.New("RBAC"))
				}
			}
			return c.List(ctx, list, opts...)
		}}
	}
	tests := []struct {
		name  string
		funcs interceptor.Funcs
		want  []reach.Address
		notes string
	}{
		{
			name: "everything readable",
			want: []reach.Address{
				{Name: "node/worker-a", IP: "10.1.0.2"},
				{Name: "node/worker-b/10.1.0.3", IP: "10.1.0.3"},
				{Name: "node/worker-b/fd00:10::3", IP: "fd00:10::3"},
				{Name: "kube-apiserver", IP: "172.18.0.2", Ports: []reach.AddressPort{{Port: 6443, Protocol: corev1.ProtocolTCP}}},
			},
		},
		{
			name:  "Nodes forbidden",
			funcs: forbidden("nodes"),
			want:  []reach.Address{{Name: "kube-apiserver", IP: "172.18.0.2", Ports: []reach.AddressPort{{Port: 6443, Protocol: corev1.ProtocolTCP}}}},
			notes: "note: cannot list Nodes, so node addresses are not shown: Forbidden\n",
		},
		{
			name:  "EndpointSlices forbidden",
			funcs: forbidden("endpointslices"),
			want: []reach.Address{
				{Name: "node/worker-a", IP: "10.1.0.2"},
				{Name: "node/worker-b/10.1.0.3", IP: "10.1.0.3"},
				{Name: "node/worker-b/fd00:10::3", IP: "fd00:10::3"},
			},
			notes: "note: cannot list the EndpointSlices of default/kubernetes, so the API server's addresses are not shown: Forbidden\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fake.NewClientBuilder().WithScheme(clusterScheme).WithObjects(objects...).WithInterceptorFuncs(tt.funcs).Build()
			var notes bytes.Buffer
			s := &streams{out: &bytes.Buffer{}, err: &notes}
			objs, err := evalstate.ReadCluster(t.Context(), c, evalstate.Notes{Note: s.note})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, evalstate.Addresses(objs)); diff != "" {
				t.Errorf("addresses (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.notes, notes.String()); diff != "" {
				t.Errorf("notes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInNamespace(t *testing.T) {
	e, state := wordpressEvaluator(t)
	keptPods, keptSeq := inNamespace("default", state.Pods, e.Flows())
	kept := slices.Collect(keptSeq)
	for _, f := range kept {
		if !strings.HasPrefix(f.From, "default/") && !strings.HasPrefix(f.To, "default/") {
			t.Errorf("kept %s -> %s, which does not touch default", f.From, f.To)
		}
	}
	// debug reaches the 5 ports of the 4 other pods, and they reach its
	// one port.
	if len(kept) != 5+4 {
		t.Errorf("kept %d flows, want 9", len(kept))
	}
	if len(keptPods) != 5 {
		t.Errorf("kept %d pods, want the 5 that the flows join", len(keptPods))
	}
}

func TestEdgesInNamespace(t *testing.T) {
	tier := func(namespace string) peering.Tier {
		return peering.Tier{AppIsolation: tierwallv1alpha1.AppIsolationReference{Namespace: namespace, Name: "app"}, Name: "t"}
	}
	edges := []peering.Edge{{From: tier("shop"), To: tier("payments")}, {From: tier("payments"), To: tier("audit")}, {From: tier("a"), To: tier("b")}}
	tests := []struct {
		namespace string
		want      []peering.Edge
	}{
		{"shop", edges[:1]},
		{"payments", edges[:2]},
		{"b", edges[2:]},
		{"elsewhere", []peering.Edge{}},
	}
	for _, tt := range tests {
		t.Run(tt.namespace, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, edgesInNamespace(tt.namespace, slices.Clone(edges))); diff != "" {
				t.Errorf("edgesInNamespace (-want +got):\n%s", diff)
			}
		})
	}
}

// seedCluster creates the story's objects in the cluster, pods with their
// status.
func seedCluster(t *testing.T, c client.Client, objs *input.Objects) {
	t.Helper()
	ctx := t.Context()
	for i := range objs.Namespaces {
		if objs.Namespaces[i].Name == "kube-system" {
			continue // envtest has it
		}
		if err := c.Create(ctx, &objs.Namespaces[i]); err != nil {
			t.Fatal(err)
		}
	}
	for i := range objs.Pods {
		p := objs.Pods[i].DeepCopy()
		status := p.Status
		if err := c.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		p.Status = status
		p.Status.PodIPs = []corev1.PodIP{{IP: status.PodIP}}
		if err := c.Status().Update(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for i := range objs.NetworkPolicies {
		if err := c.Create(ctx, &objs.NetworkPolicies[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Create(ctx, objs.AppIsolations[0].DeepCopy()); err != nil {
		t.Fatal(err)
	}
}
