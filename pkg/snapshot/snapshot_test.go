package snapshot_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/tierwall/tierwall/internal/scheme"
	"github.com/tierwall/tierwall/pkg/reach"
	"github.com/tierwall/tierwall/pkg/render"
	"github.com/tierwall/tierwall/pkg/snapshot"
)

const sample = "../../config/samples/tierwall_v1alpha1_appisolation.yaml"

// allowed reports whether e allows from -> to:port over TCP; from and to
// are pod names, in any namespace.
func allowed(t *testing.T, snap *snapshot.Snapshot, e *reach.Evaluator, from, to string, port int32) bool {
	t.Helper()
	pod := func(name string) *corev1.Pod {
		i := slices.IndexFunc(snap.Pods, func(p corev1.Pod) bool { return p.Name == name })
		if i < 0 {
			t.Fatalf("no pod %s in the snapshot", name)
		}
		return &snap.Pods[i]
	}
	return e.Check(reach.PodEndpoint(pod(from)), reach.PodEndpoint(pod(to)), port, corev1.ProtocolTCP).Allowed
}

func TestInForceAndReconciled(t *testing.T) {
	snap, err := snapshot.FromFiles(sample, "testdata/gitops")
	if err != nil {
		t.Fatal(err)
	}
	if got := []int{len(snap.Namespaces), len(snap.Pods), len(snap.NetworkPolicies), len(snap.AppIsolations)}; !slices.Equal(got, []int{2, 5, 0, 1}) {
		t.Errorf("namespaces, pods, policies, AppIsolations read: %v, want [2 5 0 1] (the Deployment and the Kustomization skipped)", got)
	}
	inForce, err := snap.InForce()
	if err != nil {
		t.Fatal(err)
	}
	if !allowed(t, snap, inForce, "debug", "mysql-0", 3306) {
		t.Error("in force, with no policy at all, debug cannot reach mysql-0")
	}
	reconciled, err := snap.Reconciled()
	if err != nil {
		t.Fatal(err)
	}
	if allowed(t, snap, reconciled, "debug", "mysql-0", 3306) {
		t.Error("reconciled, debug still reaches mysql-0")
	}
	if !allowed(t, snap, reconciled, "wordpress", "mysql-0", 3306) {
		t.Error("reconciled, wordpress cannot reach mysql-0")
	}
	if !allowed(t, snap, reconciled, "traefik", "wordpress", 80) {
		t.Error("reconciled, traefik cannot reach wordpress")
	}

	// A pod added by the test is evaluated too: a second WordPress replica.
	replica := *snap.Pods[slices.IndexFunc(snap.Pods, func(p corev1.Pod) bool { return p.Name == "wordpress" })].DeepCopy()
	replica.Name, replica.Status.PodIP, replica.Status.PodIPs = "wordpress-2", "10.42.0.99", nil
	snap.Pods = append(snap.Pods, replica)
	if reconciled, err = snap.Reconciled(); err != nil {
		t.Fatal(err)
	}
	if !allowed(t, snap, reconciled, "wordpress-2", "mysql-0", 3306) {
		t.Error("the added replica cannot reach mysql-0")
	}
}

func TestAddresses(t *testing.T) {
	snap, err := snapshot.FromFiles(sample, "testdata/gitops", "../../internal/cli/testdata/wordpress-addresses.yaml")
	if err != nil {
		t.Fatal(err)
	}
	snap.Addresses = append(snap.Addresses, reach.Address{Name: "client", IP: "203.0.113.7"})
	names := make([]string, 0, len(snap.Addresses))
	for _, a := range snap.Addresses {
		names = append(names, a.Name+"="+a.IP)
	}
	if want := []string{"payments=198.51.100.20", "node/k3s-server=192.168.1.10", "kube-apiserver=192.168.1.10", "client=203.0.113.7"}; !slices.Equal(names, want) {
		t.Errorf("addresses %v, want %v", names, want)
	}
	for _, evaluate := range []func() (*reach.Evaluator, error){snap.InForce, snap.Reconciled} {
		e, err := evaluate()
		if err != nil {
			t.Fatal(err)
		}
		// The flows the CLI shows: WordPress to the API server, on the
		// EndpointSlice's port, and the added client to MySQL.
		seen := map[string]bool{}
		for f := range e.Flows() {
			if f.FromIP != "" || f.ToIP != "" {
				seen[fmt.Sprintf("%s -> %s:%d", f.From, f.To, f.Port)] = true
			}
		}
		for _, w := range []string{"dev-wordpress/wordpress -> kube-apiserver:6443", "client -> dev-wordpress/mysql-0:3306", "dev-wordpress/wordpress -> payments:443"} {
			if !seen[w] {
				t.Errorf("no flow %s", w)
			}
		}
	}
}

func TestFromFilesErrors(t *testing.T) {
	write := func(t *testing.T, files map[string]string) string {
		dir := t.TempDir()
		for name, text := range files {
			path := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	tests := []struct {
		name  string
		files map[string]string
		// want are parts of the error, after the directory.
		want []string
	}{
		{
			name:  "an AppIsolation admission refuses, at its line",
			files: map[string]string{"apps/web.yaml": "# web\napiVersion: tierwall.dev/v1alpha1\nkind: AppIsolation\nmetadata:\n  name: web\n  namespace: dev\nspec:\n  tiers: []\n"},
			want:  []string{"/apps/web.yaml:8: AppIsolation dev/web is invalid: spec.tiers: "},
		},
		{
			name:  "a document without a kind",
			files: map[string]string{"a.yml": "apiVersion: v1\nmetadata:\n  name: x\n"},
			want:  []string{"/a.yml:1: missing kind"},
		},
		{
			name:  "files of other extensions are not read",
			files: map[string]string{"README.md": "not: [yaml", "values.txt": "apiVersion: v1\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := write(t, tt.files)
			_, err := snapshot.FromFiles(dir)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), dir+w) {
					t.Errorf("error does not contain %q:\n%v", dir+w, err)
				}
			}
		})
	}

	if _, err := snapshot.FromFiles("testdata/missing"); err == nil || !strings.Contains(err.Error(), "testdata/missing: no such file or directory") {
		t.Errorf("error %v, want one naming the missing path", err)
	}
}

// TestReconciledRefusesWhatTheOperatorWouldNot checks that a policy with
// the name of a rendered one, which the AppIsolation does not control,
// fails as the operator's PolicyConflict does, at its line.
func TestReconciledRefusesWhatTheOperatorWouldNot(t *testing.T) {
	dir := t.TempDir()
	policy := "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: " + render.DefaultDenyName("wordpress") + "\n  namespace: dev-wordpress\nspec:\n  podSelector: {}\n"
	if err := os.WriteFile(filepath.Join(dir, "deny.yaml"), []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	snap, err := snapshot.FromFiles(sample, dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = snap.Reconciled()
	want := dir + "/deny.yaml:1: NetworkPolicy dev-wordpress/wordpress-default-deny is not controlled by AppIsolation wordpress"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want one starting %q", err, want)
	}
}

func TestFromCluster(t *testing.T) {
	files, err := snapshot.FromFiles(sample, "testdata/gitops")
	if err != nil {
		t.Fatal(err)
	}
	app, err := files.AppIsolation("dev-wordpress", "wordpress")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := files.AppIsolation("dev-wordpress", "nope"); err == nil || err.Error() != "no AppIsolation dev-wordpress/nope in the snapshot" {
		t.Errorf("looking up a missing AppIsolation: %v", err)
	}
	policies, err := render.Render(app, render.Platform{})
	if err != nil {
		t.Fatal(err)
	}
	objs := make([]client.Object, 0, len(files.Namespaces)+len(files.Pods)+len(policies)+2)
	for i := range files.Namespaces {
		objs = append(objs, &files.Namespaces[i])
	}
	for i := range files.Pods {
		objs = append(objs, &files.Pods[i])
	}
	for i := range policies {
		objs = append(objs, &policies[i])
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "k3s-server"}}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.168.1.10"}}
	objs = append(objs, app, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, node)
	c := fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(objs...).Build()

	live, err := snapshot.FromCluster(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	if got := []int{len(live.Namespaces), len(live.Pods), len(live.NetworkPolicies), len(live.AppIsolations)}; !slices.Equal(got, []int{3, 5, len(policies), 1}) {
		t.Errorf("namespaces, pods, policies, AppIsolations read: %v, want [3 5 %d 1]", got, len(policies))
	}
	if len(live.Addresses) != 1 || live.Addresses[0].Name != "node/k3s-server" || live.Addresses[0].IP != "192.168.1.10" {
		t.Errorf("addresses %v, want the node's", live.Addresses)
	}
	e, err := live.InForce()
	if err != nil {
		t.Fatal(err)
	}
	if allowed(t, live, e, "debug", "mysql-0", 3306) || !allowed(t, live, e, "wordpress", "mysql-0", 3306) {
		t.Error("the policies in force do not isolate mysql-0 as the AppIsolation declares")
	}
}
