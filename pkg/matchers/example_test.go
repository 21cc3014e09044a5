package matchers_test

import (
	"fmt"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/pkg/matchers"
	"github.com/tierwall/tierwall/pkg/reach"
	"github.com/tierwall/tierwall/pkg/render"
)

// The WordPress story: Traefik in kube-system in front of WordPress, in
// front of MySQL. The evaluator is built here from the policies tierwall
// renders; in a suite, build it from what the cluster holds. In a Ginkgo
// suite, write Expect(e).To(...) instead of g.Expect(e).To(...).
func Example() {
	app := &tierwallv1alpha1.AppIsolation{
		ObjectMeta: metav1.ObjectMeta{Namespace: "dev-wordpress", Name: "wordpress"},
		Spec: tierwallv1alpha1.AppIsolationSpec{
			PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "wordpress"}},
			IngressControllers: []tierwallv1alpha1.IngressController{{
				Name: "traefik", Namespace: "kube-system",
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
	pod := func(namespace, name string, labels map[string]string, port int32) corev1.Pod {
		return corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: name, Ports: []corev1.ContainerPort{{ContainerPort: port}}}}},
		}
	}
	policies, err := render.Render(app, render.Platform{})
	if err != nil {
		panic(err)
	}
	e, err := reach.New(reach.State{
		Pods: []corev1.Pod{
			pod("kube-system", "traefik", map[string]string{"app.kubernetes.io/name": "traefik"}, 8000),
			pod("dev-wordpress", "wordpress", map[string]string{"app": "wordpress", "tier": "frontend"}, 80),
			pod("dev-wordpress", "mysql", map[string]string{"app": "wordpress", "tier": "mysql"}, 3306),
			pod("dev-wordpress", "backup", map[string]string{"app": "wordpress"}, 8080),
		},
		Policies: policies,
	})
	if err != nil {
		panic(err)
	}

	g := gomega.NewGomega(func(message string, _ ...int) { fmt.Println(message) })
	ok := g.Expect(e).To(matchers.AllowFlow("kube-system/traefik", "dev-wordpress/wordpress", 80)) &&
		g.Expect(e).NotTo(matchers.AllowFlow("dev-wordpress/backup", "dev-wordpress/mysql", 3306)) &&
		g.Expect(e).NotTo(matchers.AllowFlow("203.0.113.7", "dev-wordpress/mysql", 3306)) &&
		g.Expect(e).To(matchers.IsolateExactly(app))
	fmt.Println("isolated as declared:", ok)

	// A failing assertion explains the connection and shows the source's
	// row of the matrix.
	g.Expect(e).To(matchers.AllowFlow("dev-wordpress/backup", "dev-wordpress/mysql", 3306))
	// Output:
	// isolated as declared: true
	// Expected the connection dev-wordpress/backup -> dev-wordpress/mysql:3306/TCP to be allowed, but it is denied.
	//
	// Why (tierwall reach --explain):
	// dev-wordpress/backup -> dev-wordpress/mysql:3306/TCP: denied
	//
	// Egress of dev-wordpress/backup: denied: no rule of the isolating policies matches
	//   isolated by
	//     dev-wordpress/wordpress-default-deny (AppIsolation dev-wordpress/wordpress, default-deny)
	//     dev-wordpress/wordpress-dns (AppIsolation dev-wordpress/wordpress, dns)
	//   nearest miss
	//     dev-wordpress/wordpress-dns egress[0] (AppIsolation dev-wordpress/wordpress, dns): neither the ports nor the peers match
	//
	// Ingress of dev-wordpress/mysql: denied: no rule of the isolating policies matches
	//   isolated by
	//     dev-wordpress/wordpress-default-deny (AppIsolation dev-wordpress/wordpress, default-deny)
	//     dev-wordpress/wordpress-tier-database (AppIsolation dev-wordpress/wordpress, tier database)
	//   nearest miss
	//     dev-wordpress/wordpress-tier-database ingress[0] (AppIsolation dev-wordpress/wordpress, tier database): the ports match, and a peer's namespace, but not its podSelector
	//
	// Flows from dev-wordpress/backup (tierwall reach):
	// Destinations (pod:port/protocol):
	//   1  dev-wordpress/mysql:3306/TCP
	//   2  dev-wordpress/wordpress:80/TCP
	//   3  kube-system/traefik:8000/TCP
	//
	// FROM                  1  2  3
	// dev-wordpress/backup  ✗  ✗  ✗
	//
	// ✓ allowed  ✗ denied  - same pod. No flow is allowed: all 3 are denied.
}
