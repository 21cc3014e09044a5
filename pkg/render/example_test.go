package render_test

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/pkg/render"
)

// This example renders the WordPress story: Traefik in front of WordPress,
// in front of MySQL. The policies come in the order the operator applies
// them: the allows before the default-deny.
func ExampleRender() {
	app := &tierwallv1alpha1.AppIsolation{
		ObjectMeta: metav1.ObjectMeta{Namespace: "dev-wordpress", Name: "wordpress"},
		Spec: tierwallv1alpha1.AppIsolationSpec{
			PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "wordpress"}},
			IngressControllers: []tierwallv1alpha1.IngressController{{
				Name:        "traefik",
				Namespace:   "kube-system",
				PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "traefik"}},
			}},
			Tiers: []tierwallv1alpha1.Tier{
				{
					Name:        "frontend",
					PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": "frontend"}},
					Ports:       []tierwallv1alpha1.Port{{Port: intstr.FromInt32(80)}},
					AllowFrom:   []tierwallv1alpha1.Peer{{IngressController: "traefik"}},
				},
				{
					Name:        "database",
					PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": "mysql"}},
					Ports:       []tierwallv1alpha1.Port{{Port: intstr.FromInt32(3306)}},
					AllowFrom:   []tierwallv1alpha1.Peer{{Tier: "frontend"}},
				},
			},
		},
	}
	policies, err := render.Render(app, render.Platform{})
	if err != nil {
		panic(err)
	}
	for _, p := range policies {
		fmt.Println(p.Name, p.Spec.PolicyTypes)
	}
	// Output:
	// wordpress-tier-frontend [Ingress Egress]
	// wordpress-tier-database [Ingress Egress]
	// wordpress-dns [Egress]
	// wordpress-default-deny [Ingress Egress]
}

// This example shows what the renderer says of a spec it cannot enforce:
// every problem, at its field.
func ExampleRender_invalidSpec() {
	app := &tierwallv1alpha1.AppIsolation{
		ObjectMeta: metav1.ObjectMeta{Namespace: "dev", Name: "web"},
		Spec: tierwallv1alpha1.AppIsolationSpec{
			Tiers: []tierwallv1alpha1.Tier{{
				Name:        "web",
				PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": "web"}},
				Ports:       []tierwallv1alpha1.Port{{Port: intstr.FromInt32(80)}},
				AllowFrom:   []tierwallv1alpha1.Peer{{Tier: "api"}},
			}},
		},
	}
	_, err := render.Render(app, render.Platform{})
	fmt.Println(render.IsInvalidSpec(err))
	fmt.Println(err)
	// Output:
	// true
	// invalid AppIsolation spec: spec.tiers[0].allowFrom[0].tier: Not found: "api"
}
