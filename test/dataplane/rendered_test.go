package dataplane

import (
	"context"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/pkg/render"
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
