package dataplane

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/pkg/render"
	"github.com/tierwall/tierwall/test/fixtures"
)

// The two namespaces of the shop sample, as it names them: each
// AppIsolation refers to the other by namespace and name.
const (
	shopNamespace     = "shop"
	paymentsNamespace = "payments"
)

// shopSample reads the two AppIsolations of the shop sample: the
// storefront (namespace shop) and the payments API (namespace payments).
func shopSample(t *testing.T) (storefront, api *tierwallv1alpha1.AppIsolation) {
	t.Helper()
	storefront, api, err := fixtures.Shop(shopNamespace, paymentsNamespace)
	if err != nil {
		t.Fatal(err)
	}
	return storefront, api
}

// shopPods are the pods of the two-namespace story: the storefront's web
// tier and a governed pod of the storefront in no tier (other) in shop; the
// payments API's backend tier, with a second port its tier does not list,
// and a pod of another of its tiers (worker) on the backend's port, in
// payments.
func shopPods() []*corev1.Pod {
	return []*corev1.Pod{
		fixtures.Pod(shopNamespace, "web", map[string]string{"app": "storefront", "tier": "web"},
			fixtures.Port("http", 8080, corev1.ProtocolTCP)),
		fixtures.Pod(shopNamespace, "other", map[string]string{"app": "storefront", "tier": "admin"},
			fixtures.Port("http", 8080, corev1.ProtocolTCP)),
		fixtures.Pod(paymentsNamespace, "backend", map[string]string{"app": "payments-api", "tier": "backend"},
			fixtures.Port("api", 9090, corev1.ProtocolTCP), fixtures.Port("metrics", 9091, corev1.ProtocolTCP)),
		fixtures.Pod(paymentsNamespace, "worker", map[string]string{"app": "payments-api", "tier": "worker"},
			fixtures.Port("api", 9090, corev1.ProtocolTCP)),
	}
}

// TestCrossNamespaceTier applies the two AppIsolations of the shop sample
// and lets the operator reconcile them, each following the other, then
// proves with packets under kube-router, cell by cell and equal to tierwall
// reach, that the edge both sides declare opens, web (shop) -> backend
// (payments) on the port the backend accepts from it, and nothing else
// does: not the backend's other port, not another tier of payments
// (worker, on the same port), not another governed pod of shop. Then each
// side alone declares it, payments without its allowFrom entry (the
// storefront still sends, on the tier's ports), and the storefront without
// its egressTo entry (payments still accepts): the edge is closed both
// times, and both AppIsolations say PeersAgree False. One side never opens
// another namespace's pods.
//
// The test adds a worker tier to payments' AppIsolation (port 9090, from
// the backend tier), so that worker is a pod of another tier of the same
// AppIsolation, listening on the edge's port.
func TestCrossNamespaceTier(t *testing.T) {
	pods := theLab.addPods(t, map[string]map[string]string{shopNamespace: nil, paymentsNamespace: nil}, shopPods())
	cs, err := cells(pods)
	if err != nil {
		t.Fatal(err)
	}
	theLab.requireBaseline(t, pods, cs)

	storefront, api := shopSample(t)
	api.Spec.Tiers = append(api.Spec.Tiers, tierwallv1alpha1.Tier{
		Name:        "worker",
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": "worker"}},
		Ports:       []tierwallv1alpha1.Port{{Port: intstr.FromInt32(9090)}},
		AllowFrom:   []tierwallv1alpha1.Peer{{Tier: "backend"}},
	})
	edge := map[string]bool{
		"shop/web -> payments/backend:9090/TCP":        true,
		"payments/backend -> payments/worker:9090/TCP": true,
	}
	withoutEdge := map[string]bool{
		"payments/backend -> payments/worker:9090/TCP": true,
	}

	ctx := context.Background()
	for _, app := range []*tierwallv1alpha1.AppIsolation{api, storefront} {
		if err := theLab.c.Create(ctx, app); err != nil {
			t.Fatalf("failed to apply AppIsolation %s/%s: %v", app.Namespace, app.Name, err)
		}
		t.Cleanup(func() {
			_ = client.IgnoreNotFound(theLab.c.Delete(ctx, app))
			_ = theLab.c.DeleteAllOf(ctx, &networkingv1NetworkPolicy, client.InNamespace(app.Namespace))
		})
	}
	waitPeers(t, metav1.ConditionTrue, storefront, api)
	measured := requireMatrix(t, "both sides declare the edge", pods, cs, declare(cs, edge))
	requireQuoted(t, "the two-namespace story", pods, measured)

	// payments stops accepting from the web tier; the storefront, which
	// the operator reconciles again as payments changes, still sends.
	update(t, api, func(app *tierwallv1alpha1.AppIsolation) { app.Spec.Tiers[0].AllowFrom = nil })
	waitPeers(t, metav1.ConditionFalse, storefront, api)
	requireRule(t, policiesOf(t, storefront), render.TierName(storefront.Name, "web"), true, paymentsNamespace)
	requireMatrix(t, "the storefront declares the egress, payments does not accept from it", pods, cs, declare(cs, withoutEdge))

	// Both sides again, then the storefront alone stops declaring the
	// edge; payments still accepts from the web tier.
	update(t, api, func(app *tierwallv1alpha1.AppIsolation) {
		app.Spec.Tiers[0].AllowFrom = []tierwallv1alpha1.Peer{{AppIsolation: &tierwallv1alpha1.AppIsolationReference{
			Namespace: shopNamespace, Name: storefront.Name}, Tier: "web"}}
	})
	waitPeers(t, metav1.ConditionTrue, storefront, api)
	requireMatrix(t, "both sides declare the edge again", pods, cs, declare(cs, edge))
	update(t, storefront, func(app *tierwallv1alpha1.AppIsolation) { app.Spec.Tiers[0].EgressTo = nil })
	waitPeers(t, metav1.ConditionFalse, storefront, api)
	requireRule(t, policiesOf(t, api), render.TierName(api.Name, "backend"), false, shopNamespace)
	requireMatrix(t, "payments accepts from the web tier, the storefront does not declare the egress", pods, cs, declare(cs, withoutEdge))
}

// update changes app's spec with change, retrying on conflicts with the
// operator's status writes.
func update(t *testing.T, app *tierwallv1alpha1.AppIsolation, change func(*tierwallv1alpha1.AppIsolation)) {
	t.Helper()
	ctx := context.Background()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := theLab.c.Get(ctx, client.ObjectKeyFromObject(app), app); err != nil {
			return err
		}
		change(app)
		return theLab.c.Update(ctx, app)
	})
	if err != nil {
		t.Fatalf("failed to update AppIsolation %s/%s: %v", app.Namespace, app.Name, err)
	}
}

// waitPeers waits until every app is Ready at its generation and says
// PeersAgree with status.
func waitPeers(t *testing.T, status metav1.ConditionStatus, apps ...*tierwallv1alpha1.AppIsolation) {
	t.Helper()
	for _, app := range apps {
		err := poll(convergence, func() (bool, error) {
			if err := theLab.c.Get(context.Background(), client.ObjectKeyFromObject(app), app); err != nil {
				return false, err
			}
			peers := meta.FindStatusCondition(app.Status.Conditions, tierwallv1alpha1.PeersAgreeCondition)
			return app.Status.ObservedGeneration == app.Generation &&
				meta.IsStatusConditionTrue(app.Status.Conditions, tierwallv1alpha1.ReadyCondition) &&
				peers != nil && peers.Status == status && peers.ObservedGeneration == app.Generation, nil
		})
		if err != nil {
			t.Fatalf("AppIsolation %s/%s did not become Ready with PeersAgree %s: %v (conditions: %+v)",
				app.Namespace, app.Name, status, err, app.Status.Conditions)
		}
	}
}

// policiesOf lists the policies the operator enforces for app.
func policiesOf(t *testing.T, app *tierwallv1alpha1.AppIsolation) []networkingv1.NetworkPolicy {
	t.Helper()
	var list networkingv1.NetworkPolicyList
	if err := theLab.c.List(context.Background(), &list, client.InNamespace(app.Namespace),
		client.MatchingLabels{tierwallv1alpha1.AppIsolationLabel: app.Name}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// requireRule fails the test unless the policy name of policies has an
// egress (or ingress) rule whose peer selects the namespace ns by name: the
// side that still declares the edge still opens its half, so that the
// closed edge is the other side's doing.
func requireRule(t *testing.T, policies []networkingv1.NetworkPolicy, name string, egress bool, ns string) {
	t.Helper()
	selects := func(peers []networkingv1.NetworkPolicyPeer) bool {
		for _, p := range peers {
			if p.NamespaceSelector != nil && p.NamespaceSelector.MatchLabels[corev1.LabelMetadataName] == ns {
				return true
			}
		}
		return false
	}
	for _, p := range policies {
		if p.Name != name {
			continue
		}
		if egress {
			for _, r := range p.Spec.Egress {
				if selects(r.To) {
					return
				}
			}
		} else {
			for _, r := range p.Spec.Ingress {
				if selects(r.From) {
					return
				}
			}
		}
	}
	t.Fatalf("the policy %s has no rule with a peer in namespace %s: the one-sided case would prove nothing", name, ns)
}
