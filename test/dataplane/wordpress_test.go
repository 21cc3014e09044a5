package dataplane

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/pkg/reach"
	"github.com/tierwall/tierwall/test/fixtures"
)

const (
	appNamespace   = "dev-wordpress"
	otherNamespace = "other-team"
	// convergence bounds how long kube-router may take to enforce a change.
	convergence = 15 * time.Second
)

// wordpress is the WordPress story running in the lab: the sample
// AppIsolation's pods, Traefik and CoreDNS in kube-system, a governed pod in
// no tier (backup), and a Traefik look-alike in another namespace.
type wordpress struct {
	pods  []*labPod
	cells []cell
	app   *tierwallv1alpha1.AppIsolation
}

// startWordPress creates the pods, proves every listener, applies the sample
// and waits until the AppIsolation is Ready.
func startWordPress(t *testing.T) *wordpress {
	t.Helper()
	pods := theLab.addPods(t, map[string]map[string]string{appNamespace: nil, otherNamespace: nil},
		fixtures.WordPressPods(appNamespace, otherNamespace, ""))
	cs, err := cells(pods)
	if err != nil {
		t.Fatal(err)
	}
	theLab.requireBaseline(t, pods, cs)

	app, err := fixtures.WordPress(appNamespace)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := theLab.c.Create(ctx, app); err != nil {
		t.Fatalf("failed to apply the sample: %v", err)
	}
	t.Cleanup(func() {
		_ = client.IgnoreNotFound(theLab.c.Delete(ctx, app))
		_ = theLab.c.DeleteAllOf(ctx, &networkingv1NetworkPolicy, client.InNamespace(appNamespace))
	})
	waitReady(t, app)
	return &wordpress{pods: pods, cells: cs, app: app}
}

// waitReady waits until the AppIsolation is Ready at its generation.
func waitReady(t *testing.T, app *tierwallv1alpha1.AppIsolation) {
	t.Helper()
	err := poll(convergence, func() (bool, error) {
		if err := theLab.c.Get(context.Background(), client.ObjectKeyFromObject(app), app); err != nil {
			return false, err
		}
		return app.Status.ObservedGeneration == app.Generation &&
			meta.IsStatusConditionTrue(app.Status.Conditions, tierwallv1alpha1.ReadyCondition), nil
	})
	if err != nil {
		t.Fatalf("AppIsolation %s/%s did not become Ready: %v (conditions: %+v)", app.Namespace, app.Name, err, app.Status.Conditions)
	}
}

// declaredWordPress is the WordPress story's intent, written from the story
// rather than computed: Traefik -> WordPress:80 -> MySQL:3306, DNS (TCP and
// UDP 53 to CoreDNS) for every governed pod, nothing else to or from a
// governed pod; pods that tierwall does not govern stay open to each other.
func declaredWordPress(cs []cell) []reach.Flow {
	allowed := map[string]bool{
		"kube-system/traefik -> dev-wordpress/wordpress:80/TCP":   true,
		"dev-wordpress/wordpress -> dev-wordpress/mysql:3306/TCP": true,
	}
	for _, governed := range []string{"wordpress", "mysql", "backup"} {
		allowed["dev-wordpress/"+governed+" -> kube-system/coredns:53/TCP"] = true
		allowed["dev-wordpress/"+governed+" -> kube-system/coredns:53/UDP"] = true
	}
	var out []reach.Flow
	for _, c := range cs {
		f := c.flow
		governed := func(key string) bool { return strings.HasPrefix(key, appNamespace+"/") }
		f.Allowed = allowed[flowKey(f)] || (!governed(f.From) && !governed(f.To))
		out = append(out, f)
	}
	return out
}

func flowKey(f reach.Flow) string {
	return fmt.Sprintf("%s -> %s:%d/%s", f.From, f.To, f.Port, f.Protocol)
}

// sideBySide lists the cells where the matrices disagree, with each
// matrix's verdict.
func sideBySide(names []string, matrices ...[]reach.Flow) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-60s", "FLOW")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-8s", n)
	}
	b.WriteString("\n")
	for i, f := range matrices[0] {
		same := true
		for _, m := range matrices[1:] {
			same = same && m[i].Allowed == f.Allowed
		}
		if same {
			continue
		}
		fmt.Fprintf(&b, "%-60s", flowKey(f))
		for _, m := range matrices {
			fmt.Fprintf(&b, "  %-8s", mark(m[i].Allowed))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func mark(allowed bool) string {
	if allowed {
		return "✓"
	}
	return "✗"
}

func sameVerdicts(a, b []reach.Flow) bool {
	return slices.EqualFunc(a, b, func(x, y reach.Flow) bool { return x == y })
}

// TestWordPress applies the WordPress sample and proves the three-way
// agreement: the matrix measured with packets under kube-router equals the
// declared graph and what pkg/reach (the evaluator behind `tierwall
// reach`) computes from the same objects, cell by cell.
func TestWordPress(t *testing.T) {
	w := startWordPress(t)
	measured := requireMatrix(t, "the WordPress story", w.pods, w.cells, declaredWordPress(w.cells))
	// docs/testing.md quotes this matrix as the lab's output.
	requireQuoted(t, "the WordPress story", w.pods, measured)
}
