package foreign

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/tierwall/tierwall/test/fixtures"
)

// BenchmarkFind is the foreign-policy check of `make perf`'s reconcile-cost
// phase (fixtures.BusyNamespace): 2,000 governed pods, 20 replicas of each
// of 100 instances, and 200 policies each selecting one instance, the pods
// known by their metadata as the operator's cache knows them. "every-pod"
// tries every replica, as the check did before pod classes; "by-class" is
// what Find does.
func BenchmarkFind(b *testing.B) {
	const namespace = "busy"
	own, governed := wordpress(b, namespace)
	pods, policies := fixtures.BusyNamespace(namespace, 2000, 200)
	in := Input{Governed: governed, Namespace: namespace, Own: own}
	for _, p := range pods {
		in.Pods = append(in.Pods, corev1.Pod{ObjectMeta: p.ObjectMeta})
	}
	for _, p := range policies {
		in.Others = append(in.Others, *p)
	}
	in.Pods = sortedPods(in.Pods)
	for _, everyPod := range []bool{false, true} {
		name := "by-class"
		if everyPod {
			name = "every-pod"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := find(in, everyPod); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
