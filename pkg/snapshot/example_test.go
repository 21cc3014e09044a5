package snapshot_test

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/tierwall/tierwall/pkg/reach"
	"github.com/tierwall/tierwall/pkg/snapshot"
)

// This example is a GitOps repository's check of a pull request: it reads
// the repository's manifests (the WordPress sample AppIsolation, beside a
// Kustomization that is skipped) and sample pods, and asks what the
// policies allow once the operator has reconciled the AppIsolation.
func Example() {
	snap, err := snapshot.FromFiles("../../config/samples/tierwall_v1alpha1_appisolation.yaml", "testdata/gitops")
	if err != nil {
		panic(err)
	}
	e, err := snap.Reconciled()
	if err != nil {
		panic(err)
	}
	for f := range e.Flows() {
		if f.Port == 3306 {
			fmt.Printf("%s -> %s:%d allowed: %v\n", f.From, f.To, f.Port, f.Allowed)
		}
	}
	// From outside the cluster, asked about directly.
	mysql := snap.Pods[slices.IndexFunc(snap.Pods, func(p corev1.Pod) bool { return p.Name == "mysql-0" })]
	fmt.Println("203.0.113.7 -> mysql-0:3306 allowed:", e.Check(reach.IPEndpoint("203.0.113.7"), reach.PodEndpoint(&mysql), 3306, corev1.ProtocolTCP).Allowed)
	// Output:
	// default/debug -> dev-wordpress/mysql-0:3306 allowed: false
	// dev-wordpress/wordpress -> dev-wordpress/mysql-0:3306 allowed: true
	// kube-system/coredns -> dev-wordpress/mysql-0:3306 allowed: false
	// kube-system/traefik -> dev-wordpress/mysql-0:3306 allowed: false
	// 203.0.113.7 -> mysql-0:3306 allowed: false
}
