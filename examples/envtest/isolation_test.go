package isolation

import (
	"os"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/pkg/matchers"
	"github.com/tierwall/tierwall/pkg/snapshot"
)

// pod creates a running pod with an IP, as a kubelet would report it
// (envtest has no kubelet: the test writes the status itself).
func pod(namespace, name, ip string, labels map[string]string, port int32) {
	GinkgoHelper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: name, Image: "example", Ports: []corev1.ContainerPort{{ContainerPort: port}},
		}}},
	}
	Expect(k8s.Create(ctx(), p)).To(Succeed())
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}
	Expect(k8s.Status().Update(ctx(), p)).To(Succeed())
}

var _ = Describe("the WordPress app", func() {
	var app *tierwallv1alpha1.AppIsolation

	BeforeEach(func() {
		Expect(k8s.Create(ctx(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "dev-wordpress"}})).To(Succeed())
		pod("kube-system", "traefik", "10.42.0.2", map[string]string{"app.kubernetes.io/name": "traefik"}, 8000)
		pod("dev-wordpress", "wordpress", "10.42.0.10", map[string]string{"app": "wordpress", "tier": "frontend"}, 80)
		pod("dev-wordpress", "mysql", "10.42.0.11", map[string]string{"app": "wordpress", "tier": "mysql"}, 3306)
		pod("default", "debug", "10.42.0.20", map[string]string{"run": "debug"}, 8080)

		// The AppIsolation as the platform repository holds it.
		data, err := os.ReadFile("testdata/wordpress.yaml")
		Expect(err).NotTo(HaveOccurred())
		app = &tierwallv1alpha1.AppIsolation{}
		Expect(yaml.UnmarshalStrict(data, app)).To(Succeed())
		Expect(k8s.Create(ctx(), app)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx(), types.NamespacedName{Namespace: app.Namespace, Name: app.Name}, app)).To(Succeed())
			g.Expect(apimeta.IsStatusConditionTrue(app.Status.Conditions, "Ready")).To(BeTrue(), "Ready")
		}).Should(Succeed())
	})

	It("lets Traefik reach WordPress, WordPress reach MySQL, and nothing else", func() {
		snap, err := snapshot.FromCluster(ctx(), k8s)
		Expect(err).NotTo(HaveOccurred())
		e, err := snap.InForce()
		Expect(err).NotTo(HaveOccurred())

		Expect(e).To(matchers.AllowFlow("kube-system/traefik", "dev-wordpress/wordpress", 80))
		Expect(e).To(matchers.AllowFlow("dev-wordpress/wordpress", "dev-wordpress/mysql", 3306))
		Expect(e).NotTo(matchers.AllowFlow("default/debug", "dev-wordpress/mysql", 3306))
		Expect(e).NotTo(matchers.AllowFlow("203.0.113.7", "dev-wordpress/wordpress", 80))
		Expect(e).To(matchers.IsolateExactly(app))
	})
})
