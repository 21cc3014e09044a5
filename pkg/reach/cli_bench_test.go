package reach_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/tierwall/tierwall/internal/cli"
	"github.com/tierwall/tierwall/pkg/reach"
)

// BenchmarkReachCommand is `tierwall reach -f dump.yaml -o list` on a
// cluster dump of 2,000 pods and 500 policies, as `kubectl get
// namespaces,pods,networkpolicies -A -o yaml` writes it: read and decode
// the YAML, compile, evaluate every pair of pods on every port, and write
// the allowed flows (the target: under 2 s end to end).
func BenchmarkReachCommand(b *testing.B) {
	s := reach.SizedState(2000, 250)
	list := &metav1.List{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "List"}}
	add := func(obj runtime.Object) {
		list.Items = append(list.Items, runtime.RawExtension{Object: obj})
	}
	for i := range s.Namespaces {
		ns := s.Namespaces[i]
		ns.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}
		add(&ns)
	}
	for i := range s.Pods {
		p := s.Pods[i]
		p.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
		p.Status.Phase = corev1.PodRunning
		add(&p)
	}
	for i := range s.Policies {
		p := s.Policies[i]
		p.TypeMeta = metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"}
		add(&p)
	}
	data, err := yaml.Marshal(list)
	if err != nil {
		b.Fatal(err)
	}
	dump := filepath.Join(b.TempDir(), "dump.yaml")
	if err := os.WriteFile(dump, data, 0o600); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(data))/(1<<20), "MiB-input")
	b.ReportAllocs()
	var out bytes.Buffer
	for b.Loop() {
		out.Reset()
		if code := cli.Run([]string{"reach", "-f", dump, "-o", "list"}, nil, &out, io.Discard); code != 0 {
			b.Fatalf("tierwall reach exited with %d", code)
		}
	}
	b.ReportMetric(float64(bytes.Count(out.Bytes(), []byte("\n"))), "lines-out")
}
