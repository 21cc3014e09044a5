package controllers

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
)

// Nodes are cluster-wide: these specs run alone, and leave no Node behind.
var _ = Describe("Platform endpoints that follow the cluster", Serial, func() {
	It("allows a hostNetwork ingress controller from every Node's InternalIP, as Nodes join, change address and leave", func() {
		s := newStory(func(app *tierwallv1alpha1.AppIsolation) {
			app.Spec.IngressControllers = []tierwallv1alpha1.IngressController{{Name: "traefik", HostNetwork: true}}
		})
		frontend := func(g Gomega) networkingv1.NetworkPolicy {
			return policies(g, s.app.Namespace)["wordpress-tier-frontend"]
		}
		fromNodes := func(g Gomega) []string {
			var cidrs []string
			for _, rule := range frontend(g).Spec.Ingress {
				for _, peer := range rule.From {
					g.Expect(peer.IPBlock).NotTo(BeNil(), "the only peers are the Nodes'")
					cidrs = append(cidrs, peer.IPBlock.CIDR)
				}
			}
			return cidrs
		}

		By("allowing nothing from the controller while no Node is known, and saying so")
		expectReady(s.app)
		Eventually(func(g Gomega) {
			g.Expect(frontend(g).Spec.Ingress).To(BeEmpty(), "no peer, rather than a rule open to all")
			haveCondition(g, s.app, tierwallv1alpha1.SelectorsMatchedCondition, metav1.ConditionFalse, tierwallv1alpha1.NoNodeAddressesReason)
			g.Expect(get(s.app).Status.NodeAddresses).To(Equal(&tierwallv1alpha1.AddressesStatus{Count: 0}))
		}).Should(Succeed())

		By("following a Node that joins, its InternalIP only")
		a := createNode("tierwall-test-node-a",
			corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.0.0.1"},
			corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "203.0.113.1"},
			corev1.NodeAddress{Type: corev1.NodeHostName, Address: "node-a"})
		Eventually(func(g Gomega) {
			g.Expect(fromNodes(g)).To(Equal([]string{"10.0.0.1/32"}))
			g.Expect(frontend(g).Annotations).To(HaveKeyWithValue(tierwallv1alpha1.IPBlocksFromAnnotation,
				"InternalIPs of the Nodes (1), for hostNetwork ingress controllers: traefik"))
			g.Expect(get(s.app).Status.NodeAddresses).To(Equal(&tierwallv1alpha1.AddressesStatus{Count: 1, Addresses: []string{"10.0.0.1"}}))
			// The story's backup pod is in no tier: that warning stays.
			g.Expect(condition(g, s.app, tierwallv1alpha1.SelectorsMatchedCondition).Reason).To(Equal(tierwallv1alpha1.PodInNoTierReason))
		}).Should(Succeed())

		By("following a second, dual-stack Node, sorted")
		b := createNode("tierwall-test-node-b",
			corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "fd00::2"},
			corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.0.0.2"})
		Eventually(func(g Gomega) {
			g.Expect(fromNodes(g)).To(Equal([]string{"10.0.0.1/32", "10.0.0.2/32", "fd00::2/128"}))
			g.Expect(get(s.app).Status.NodeAddresses).To(Equal(&tierwallv1alpha1.AddressesStatus{
				Count: 3, Addresses: []string{"10.0.0.1", "10.0.0.2", "fd00::2"}}))
		}).Should(Succeed())

		By("following a Node whose address changes: the old address is no longer allowed")
		a.Status.Addresses[0].Address = "10.0.0.9"
		Expect(k8sClient.Status().Update(ctx, a)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(fromNodes(g)).To(Equal([]string{"10.0.0.2/32", "10.0.0.9/32", "fd00::2/128"}))
		}).Should(Succeed())

		By("following Nodes that leave, down to none: no peer again")
		Expect(k8sClient.Delete(ctx, a)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(fromNodes(g)).To(Equal([]string{"10.0.0.2/32", "fd00::2/128"}))
		}).Should(Succeed())
		Expect(k8sClient.Delete(ctx, b)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(frontend(g).Spec.Ingress).To(BeEmpty())
			g.Expect(frontend(g).Annotations).NotTo(HaveKey(tierwallv1alpha1.IPBlocksFromAnnotation))
			haveCondition(g, s.app, tierwallv1alpha1.SelectorsMatchedCondition, metav1.ConditionFalse, tierwallv1alpha1.NoNodeAddressesReason)
		}).Should(Succeed())
	})

	It("does not wake AppIsolations without a hostNetwork controller, nor on a Node's heartbeat", func() {
		s := newStory(nil)
		expectReady(s.app)
		before := settledReconciles(s.app.Namespace)
		n := createNode("tierwall-test-node-c", corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.0.0.3"})
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"}}
		Expect(k8sClient.Status().Update(ctx, n)).To(Succeed())
		Consistently(func() int { return len(reconciles(s.app.Namespace)) }).Should(Equal(before))
		Expect(get(s.app).Status.NodeAddresses).To(BeNil())
	})
})

// createNode creates a Node with addresses, as the kubelet would report
// them, and deletes it when the spec ends.
func createNode(name string, addresses ...corev1.NodeAddress) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	Expect(k8sClient.Create(ctx, n)).To(Succeed())
	DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, n))).To(Succeed()) })
	n.Status.Addresses = addresses
	Expect(k8sClient.Status().Update(ctx, n)).To(Succeed())
	return n
}
