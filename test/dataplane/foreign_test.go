package dataplane

import (
	"context"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/pkg/reach"
)

// TestForeignPolicyWidens adds, next to tierwall's policies, the hand-written
// policy of the story that opens MySQL's 3306 to every pod of the cluster:
// the AppIsolation's Isolated condition turns False, and the packets show
// the widening (Traefik and its look-alike now reach MySQL).
func TestForeignPolicyWidens(t *testing.T) {
	w := startWordPress(t)
	ctx := context.Background()
	foreign := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: appNamespace, Name: "open-mysql"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": "mysql"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}},
				Ports: []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromInt32(3306))}},
			}},
		},
	}
	if err := theLab.c.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = theLab.c.Delete(ctx, foreign) })

	err := poll(convergence, func() (bool, error) {
		if err := theLab.c.Get(ctx, client.ObjectKeyFromObject(w.app), w.app); err != nil {
			return false, err
		}
		c := meta.FindStatusCondition(w.app.Status.Conditions, tierwallv1alpha1.IsolatedCondition)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == tierwallv1alpha1.ForeignPolicyWidensAccessReason, nil
	})
	if err != nil {
		t.Fatalf("the Isolated condition did not turn False with reason %s: %v (%+v)", tierwallv1alpha1.ForeignPolicyWidensAccessReason, err, w.app.Status.Conditions)
	}
	t.Logf("Isolated: %s", meta.FindStatusCondition(w.app.Status.Conditions, tierwallv1alpha1.IsolatedCondition).Message)

	s, err := theLab.state(ctx, w.pods)
	if err != nil {
		t.Fatal(err)
	}
	evaluated, err := evaluate(s, w.cells)
	if err != nil {
		t.Fatal(err)
	}
	var measured []reach.Flow
	err = poll(convergence, func() (bool, error) {
		var err error
		measured, err = theLab.measure(w.cells)
		return err == nil && sameVerdicts(measured, evaluated), err
	})
	if err != nil {
		t.Fatalf("the packets do not match pkg/reach with the foreign policy (%v):\n%s", err,
			sideBySide([]string{"reach", "packets"}, evaluated, measured))
	}
	declared := declaredWordPress(w.cells)
	widened := 0
	for i, f := range measured {
		if f.Allowed && !declared[i].Allowed {
			widened++
			t.Logf("Widened, measured with packets: %s", flowKey(f))
		}
	}
	for _, want := range []string{
		"kube-system/traefik -> dev-wordpress/mysql:3306/TCP",
		"other-team/fake-traefik -> dev-wordpress/mysql:3306/TCP",
	} {
		i := cellIndex(measured, want)
		if i < 0 || !measured[i].Allowed {
			t.Errorf("the packets do not show the widening %s", want)
		}
	}
	if widened == 0 {
		t.Errorf("the foreign policy widened nothing in packets")
	}
}

func cellIndex(flows []reach.Flow, key string) int {
	for i, f := range flows {
		if flowKey(f) == key {
			return i
		}
	}
	return -1
}
