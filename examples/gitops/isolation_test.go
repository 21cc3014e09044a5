// Package gitops is the check a GitOps repository's CI runs on every pull
// request: no control plane, just the manifests of deploy/ and sample pods,
// evaluated with tierwall's own renderer and evaluator as the operator would
// enforce them. Copy this directory into your repository, change the module
// path and drop the replace directive.
package gitops

import (
	"testing"

	. "github.com/onsi/gomega"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/tierwall/tierwall/pkg/matchers"
	"github.com/tierwall/tierwall/pkg/reach"
	"github.com/tierwall/tierwall/pkg/snapshot"
)

// evaluator reads deploy/ and the sample pods, and evaluates the policies
// once the operator has reconciled the AppIsolations.
func evaluator(t *testing.T) (*snapshot.Snapshot, *reach.Evaluator) {
	t.Helper()
	snap, err := snapshot.FromFiles("deploy", "testdata/pods.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e, err := snap.Reconciled()
	if err != nil {
		t.Fatal(err)
	}
	return snap, e
}

// TestDatabaseOnlyFromTheFrontend guards the database: whatever a pull
// request changes, MySQL is reachable from WordPress and from nothing else.
func TestDatabaseOnlyFromTheFrontend(t *testing.T) {
	_, e := evaluator(t)
	for f := range e.Flows() {
		if f.To != "dev-wordpress/mysql" || f.From == f.To {
			continue
		}
		if want := f.From == "dev-wordpress/wordpress"; f.Allowed != want {
			t.Errorf("%s -> %s:%d/%s allowed: %v, want %v", f.From, f.To, f.Port, f.Protocol, f.Allowed, want)
		}
	}
	g := NewWithT(t)
	g.Expect(e).NotTo(matchers.AllowFlow("203.0.113.7", "dev-wordpress/mysql", 3306))
}

// TestWordPress checks the app's other edges, and that the hand-written
// scrape policy opens what it says and no more.
func TestWordPress(t *testing.T) {
	snap, e := evaluator(t)
	g := NewWithT(t)
	g.Expect(e).To(matchers.AllowFlow("kube-system/traefik", "dev-wordpress/wordpress", 80))
	g.Expect(e).To(matchers.AllowFlow("monitoring/prometheus", "dev-wordpress/wordpress", 9117))
	g.Expect(e).NotTo(matchers.AllowFlow("monitoring/prometheus", "dev-wordpress/wordpress", 80))
	g.Expect(e).NotTo(matchers.AllowFlow("default/debug", "dev-wordpress/wordpress", 80))

	app, err := snap.AppIsolation("dev-wordpress", "wordpress")
	g.Expect(err).NotTo(HaveOccurred())
	// The scrape policy opens a port the AppIsolation does not declare:
	// the app is not isolated exactly as declared, and the matcher says so.
	g.Expect(e).NotTo(matchers.IsolateExactly(app))
	// Without it, it is.
	g.Expect(e.Subset(func(p *networkingv1.NetworkPolicy) bool { return p.Name != "allow-prometheus-scrape" })).To(matchers.IsolateExactly(app))
}
