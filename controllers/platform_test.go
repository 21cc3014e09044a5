package controllers

import (
	"net/netip"
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/pkg/render"
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

var _ = Describe("Egress to the API server", Serial, func() {
	It("follows the endpoints of default/kubernetes as they are added, changed and removed", func() {
		s := newStory(func(app *tierwallv1alpha1.AppIsolation) {
			app.Spec.Tiers[0].EgressTo = []tierwallv1alpha1.EgressRule{{KubeAPIServer: &tierwallv1alpha1.KubeAPIServer{}}}
		})
		// The API server's own endpoints, as envtest's API server reports
		// them: the baseline the extra endpoints add to.
		var own discoveryv1.EndpointSliceList
		Expect(k8sClient.List(ctx, &own, client.InNamespace("default"),
			client.MatchingLabels{discoveryv1.LabelServiceName: "kubernetes"})).To(Succeed())
		baseline := render.KubeAPIServerEndpoints(own.Items)
		toAPIServer := func(g Gomega) *networkingv1.NetworkPolicyEgressRule {
			egress := policies(g, s.app.Namespace)["wordpress-tier-frontend"].Spec.Egress
			for i := range egress {
				if len(egress[i].To) > 0 && egress[i].To[0].IPBlock != nil {
					return &egress[i]
				}
			}
			return nil
		}
		cidrs := func(rule *networkingv1.NetworkPolicyEgressRule) []string {
			out := make([]string, 0, len(rule.To))
			for _, peer := range rule.To {
				out = append(out, peer.IPBlock.CIDR)
			}
			return out
		}
		expectEndpoints := func(extra render.Endpoints) {
			GinkgoHelper()
			want := render.Endpoints{
				Addresses: append(slices.Clone(baseline.Addresses), extra.Addresses...),
				Ports:     append(slices.Clone(baseline.Ports), extra.Ports...),
			}
			Eventually(func(g Gomega) {
				rule := toAPIServer(g)
				if !want.Known() {
					g.Expect(rule).To(BeNil())
					return
				}
				g.Expect(rule).NotTo(BeNil())
				var wantCIDRs []string
				for _, a := range render.NodeAddressStrings(want.Addresses) {
					wantCIDRs = append(wantCIDRs, netip.PrefixFrom(netip.MustParseAddr(a), netip.MustParseAddr(a).BitLen()).String())
				}
				g.Expect(cidrs(rule)).To(Equal(wantCIDRs))
				g.Expect(get(s.app).Status.KubeAPIServer.Count).To(BeEquivalentTo(len(want.Strings())))
			}).Should(Succeed())
		}

		expectReady(s.app)
		expectEndpoints(render.Endpoints{})

		By("following an endpoint added")
		extra := &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "tierwall-test-kubernetes",
				Labels: map[string]string{discoveryv1.LabelServiceName: "kubernetes"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"172.31.0.2"}}},
			Ports:       []discoveryv1.EndpointPort{{Port: ptr.To[int32](6443), Protocol: ptr.To(corev1.ProtocolTCP)}},
		}
		Expect(k8sClient.Create(ctx, extra)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, extra))).To(Succeed()) })
		port6443 := []render.EndpointPort{{Port: 6443, Protocol: corev1.ProtocolTCP}}
		expectEndpoints(render.Endpoints{Addresses: []netip.Addr{netip.MustParseAddr("172.31.0.2")}, Ports: port6443})
		Eventually(func(g Gomega) {
			g.Expect(policies(g, s.app.Namespace)["wordpress-tier-frontend"].Annotations).To(HaveKeyWithValue(
				tierwallv1alpha1.IPBlocksFromAnnotation, ContainSubstring("the endpoints of the default/kubernetes Service")))
			g.Expect(get(s.app).Status.KubeAPIServer.Addresses).To(ContainElement("172.31.0.2:6443"))
		}).Should(Succeed())

		By("following an endpoint whose address changes")
		extra.Endpoints[0].Addresses = []string{"172.31.0.3"}
		Expect(k8sClient.Update(ctx, extra)).To(Succeed())
		expectEndpoints(render.Endpoints{Addresses: []netip.Addr{netip.MustParseAddr("172.31.0.3")}, Ports: port6443})

		By("following an endpoint removed")
		Expect(k8sClient.Delete(ctx, extra)).To(Succeed())
		expectEndpoints(render.Endpoints{})
	})
})
