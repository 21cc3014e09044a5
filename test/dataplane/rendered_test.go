package dataplane

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/pkg/reach"
	"github.com/tierwall/tierwall/pkg/render"
	"github.com/tierwall/tierwall/test/fixtures"
)

// applyRendered renders app on platform with pkg/render, as the operator
// and `tierwall render` do, and makes the policies of app's namespace that
// carry its AppIsolation label exactly those: it creates or updates each
// rendered policy, in the order Render gives, then deletes the others. The
// AppIsolation itself is not created, so the operator leaves the policies
// alone; they carry no owner reference (the AppIsolation has no UID). The
// test's cleanup deletes every policy of the namespace.
func applyRendered(t *testing.T, app *tierwallv1alpha1.AppIsolation, platform render.Platform) []networkingv1.NetworkPolicy {
	t.Helper()
	ctx := context.Background()
	policies, err := render.Render(app, platform)
	if err != nil {
		t.Fatalf("failed to render AppIsolation %s/%s: %v", app.Namespace, app.Name, err)
	}
	t.Cleanup(func() {
		_ = theLab.c.DeleteAllOf(ctx, &networkingv1NetworkPolicy, client.InNamespace(app.Namespace))
	})
	keep := map[string]bool{}
	for _, p := range policies {
		p.OwnerReferences = nil
		keep[p.Name] = true
		var stored networkingv1.NetworkPolicy
		err := theLab.c.Get(ctx, client.ObjectKeyFromObject(&p), &stored)
		switch {
		case apierrors.IsNotFound(err):
			err = theLab.c.Create(ctx, &p)
		case err == nil:
			p.ResourceVersion = stored.ResourceVersion
			err = theLab.c.Update(ctx, &p)
		}
		if err != nil {
			t.Fatalf("failed to apply the NetworkPolicy %s/%s rendered from AppIsolation %s: %v", p.Namespace, p.Name, app.Name, err)
		}
	}
	var stored networkingv1.NetworkPolicyList
	if err := theLab.c.List(ctx, &stored, client.InNamespace(app.Namespace),
		client.MatchingLabels{tierwallv1alpha1.AppIsolationLabel: app.Name}); err != nil {
		t.Fatal(err)
	}
	for i := range stored.Items {
		if p := &stored.Items[i]; !keep[p.Name] {
			if err := theLab.c.Delete(ctx, p); client.IgnoreNotFound(err) != nil {
				t.Fatalf("failed to delete the NetworkPolicy %s/%s no longer rendered: %v", p.Namespace, p.Name, err)
			}
		}
	}
	return policies
}

// requireMatrix probes the cells until the packets show declared, and
// requires tierwall reach, on the policies then in force, to agree; it
// returns the measured matrix.
func requireMatrix(t *testing.T, when string, pods []*labPod, cs []cell, declared []reach.Flow) []reach.Flow {
	t.Helper()
	var measured []reach.Flow
	err := poll(convergence, func() (bool, error) {
		var err error
		measured, err = theLab.measure(cs)
		return err == nil && sameVerdicts(measured, declared), err
	})
	s, stateErr := theLab.state(context.Background(), pods)
	if stateErr != nil {
		t.Fatal(stateErr)
	}
	evaluated, evalErr := evaluate(s, cs)
	if evalErr != nil {
		t.Fatal(evalErr)
	}
	if err != nil || !sameVerdicts(evaluated, declared) {
		t.Fatalf("%s: the matrices disagree (%v):\n%s\ndeclared:\n%s\ntierwall reach:\n%s\npackets (kube-router):\n%s",
			when, err, sideBySide([]string{"declared", "reach", "packets"}, declared, evaluated, measured),
			table(pods, declared), table(pods, evaluated), table(pods, measured))
	}
	t.Logf("%s: measured with packets under kube-router, equal to the declared graph and to tierwall reach:\n%s",
		when, table(pods, measured))
	return measured
}

// declare sets each cell's verdict: allowed when its flow is in allowed.
func declare(cs []cell, allowed map[string]bool) []reach.Flow {
	out := make([]reach.Flow, 0, len(cs))
	for _, c := range cs {
		f := c.flow
		f.Allowed = allowed[flowKey(f)]
		out = append(out, f)
	}
	return out
}

// requireQuoted fails the test unless docs/testing.md quotes the matrix as
// the lab prints it.
func requireQuoted(t *testing.T, what string, pods []*labPod, measured []reach.Flow) {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(fixtures.RepoRoot(), "docs", "testing.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), table(pods, measured)) {
		t.Errorf("docs/testing.md does not quote the measured matrix of %s as the lab prints it: update it", what)
	}
}
