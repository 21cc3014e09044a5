package controllers

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/test/fixtures"
)

var _ = Describe("Tiers of AppIsolations in other namespaces", func() {
	var (
		// s is the storefront's story: its app is the storefront, other
		// is the payments namespace.
		s   *story
		api *tierwallv1alpha1.AppIsolation
	)
	// The edge as both sides list it in status.peers while they agree.
	const edge = "tier web -> %s/api tier backend on 9090/TCP"

	BeforeEach(func() {
		shop, payments := newNamespace(), newNamespace()
		storefront, paymentsAPI, err := fixtures.Shop(shop, payments)
		Expect(err).NotTo(HaveOccurred())
		s = &story{app: storefront, other: payments, pods: []*corev1.Pod{
			fixtures.Pod(shop, "web", map[string]string{"app": "storefront", "tier": "web"},
				fixtures.Port("http", 8080, corev1.ProtocolTCP)),
			fixtures.Pod(payments, "backend", map[string]string{"app": "payments-api", "tier": "backend"},
				fixtures.Port("grpc", 9090, corev1.ProtocolTCP), fixtures.Port("grpcs", 9443, corev1.ProtocolTCP)),
		}}
		api = paymentsAPI
		for _, p := range s.pods {
			Expect(k8sClient.Create(ctx, p)).To(Succeed())
		}
		// The callee first, so that the caller converges in one reconcile
		// and the counts of the last spec start from a quiet namespace.
		Expect(k8sClient.Create(ctx, api)).To(Succeed())
		expectReady(api)
		Expect(k8sClient.Create(ctx, s.app)).To(Succeed())
	})

	// peers returns status.peers of a fresh copy of app.
	peers := func(g Gomega, app *tierwallv1alpha1.AppIsolation) []string {
		fresh := &tierwallv1alpha1.AppIsolation{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(app), fresh)).To(Succeed())
		return fresh.Status.Peers
	}
	// toBackend is the storefront's egress rule to a peer in the payments
	// namespace, or nil.
	toBackend := func(g Gomega) *networkingv1.NetworkPolicyEgressRule {
		egress := policies(g, s.app.Namespace)["storefront-tier-web"].Spec.Egress
		for i := range egress {
			for _, peer := range egress[i].To {
				if peer.NamespaceSelector != nil && peer.NamespaceSelector.MatchLabels[corev1.LabelMetadataName] == s.other {
					return &egress[i]
				}
			}
		}
		return nil
	}
	expectAgreed := func() {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			for _, app := range []*tierwallv1alpha1.AppIsolation{s.app, api} {
				haveCondition(g, app, tierwallv1alpha1.PeersAgreeCondition, metav1.ConditionTrue, tierwallv1alpha1.EdgesAllowedOnBothSidesReason)
				g.Expect(peers(g, app)).To(Equal([]string{s.app.Namespace + "/storefront " + strings.ReplaceAll(edge, "%s", s.other)}))
				g.Expect(get(app).Status.Warnings).NotTo(ContainSubstring(tierwallv1alpha1.OneSidedEdgeReason))
			}
			g.Expect(s.allowedFlows(g)).To(ContainElement("web -> other/backend:9090/TCP"))
		}).Should(Succeed())
	}

	It("allows the edge both sides declare, in each side's own namespace, and says both agree", func() {
		expectReady(s.app)
		expectReady(api)
		expectAgreed()

		By("opening the storefront's egress to the payments backend pods, on the ports the backend accepts")
		rule := toBackend(Default)
		Expect(rule).NotTo(BeNil())
		Expect(rule.To).To(Equal([]networkingv1.NetworkPolicyPeer{{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: s.other}},
			PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": "payments-api", "tier": "backend"}},
		}}))
		Expect(rule.Ports).To(HaveLen(1))
		Expect(rule.Ports[0].Port.IntValue()).To(Equal(9090))

		By("opening the payments backend's ingress from the storefront's web pods")
		backend := policies(Default, s.other)["api-tier-backend"]
		Expect(backend.Spec.Ingress).To(ContainElement(HaveField("From", ConsistOf(networkingv1.NetworkPolicyPeer{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: s.app.Namespace}},
			PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": "storefront", "tier": "web"}},
		}))))
		Expect(s.allowedFlows(Default)).NotTo(ContainElement("web -> other/backend:9443/TCP"))
	})

	It("follows the other side's tier selector and ports", func() {
		expectAgreed()

		update(api, func(app *tierwallv1alpha1.AppIsolation) {
			app.Spec.Tiers[0].PodSelector = metav1.LabelSelector{MatchLabels: map[string]string{"role": "api"}}
			app.Spec.Tiers[0].Ports = []tierwallv1alpha1.Port{{Port: intstr.FromInt32(9443)}}
		})
		Eventually(func(g Gomega) {
			rule := toBackend(g)
			g.Expect(rule).NotTo(BeNil())
			g.Expect(rule.To[0].PodSelector).To(Equal(&metav1.LabelSelector{MatchLabels: map[string]string{"app": "payments-api", "role": "api"}}))
			g.Expect(rule.Ports).To(HaveLen(1))
			g.Expect(rule.Ports[0].Port.IntValue()).To(Equal(9443))
			// The backend pod is not in the tier any more: nothing reaches it.
			g.Expect(s.allowedFlows(g)).NotTo(ContainElement(HavePrefix("web -> other/backend")))
		}).Should(Succeed())

		By("reaching the pod again once it carries the new label")
		backend := s.pods[1]
		Eventually(func() error {
			fresh := &corev1.Pod{}
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(backend), fresh); err != nil {
				return err
			}
			fresh.Labels["role"] = "api"
			return k8sClient.Update(ctx, fresh)
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(s.allowedFlows(g)).To(ContainElement("web -> other/backend:9443/TCP"))
			g.Expect(s.allowedFlows(g)).NotTo(ContainElement("web -> other/backend:9090/TCP"))
		}).Should(Succeed())
	})

	It("reports an edge only one side allows on both sides, naming the other side, until it is fixed", func() {
		expectAgreed()

		update(api, func(app *tierwallv1alpha1.AppIsolation) { app.Spec.Tiers[0].AllowFrom = nil })
		why := "one-sided, " + s.other + "/api tier backend's allowFrom does not name " + s.app.Namespace + "/storefront tier web"
		Eventually(func(g Gomega) {
			for _, app := range []*tierwallv1alpha1.AppIsolation{s.app, api} {
				c := haveCondition(g, app, tierwallv1alpha1.PeersAgreeCondition, metav1.ConditionFalse, tierwallv1alpha1.OneSidedEdgeReason)
				g.Expect(c.Message).To(ContainSubstring(why))
				g.Expect(get(app).Status.Warnings).To(ContainSubstring(tierwallv1alpha1.OneSidedEdgeReason))
				g.Expect(peers(g, app)).To(ConsistOf(HaveSuffix(why)))
			}
			g.Expect(s.allowedFlows(g)).NotTo(ContainElement(HavePrefix("web -> other/backend")))
			g.Expect(eventNotes(g, s.app, tierwallv1alpha1.OneSidedEdgeReason)).To(ContainElement(ContainSubstring(why)))
		}).Should(Succeed())

		By("clearing both reports once the callee accepts the caller again")
		update(api, func(app *tierwallv1alpha1.AppIsolation) {
			app.Spec.Tiers[0].AllowFrom = []tierwallv1alpha1.Peer{{Tier: "web",
				AppIsolation: &tierwallv1alpha1.AppIsolationReference{Namespace: s.app.Namespace, Name: s.app.Name}}}
		})
		expectAgreed()

		By("clearing the callee's report when the caller drops the edge, which the callee no longer names")
		update(api, func(app *tierwallv1alpha1.AppIsolation) { app.Spec.Tiers[0].AllowFrom = nil })
		Eventually(func(g Gomega) {
			haveCondition(g, api, tierwallv1alpha1.PeersAgreeCondition, metav1.ConditionFalse, tierwallv1alpha1.OneSidedEdgeReason)
		}).Should(Succeed())
		update(s.app, func(app *tierwallv1alpha1.AppIsolation) { app.Spec.Tiers[0].EgressTo = nil })
		Eventually(func(g Gomega) {
			for _, app := range []*tierwallv1alpha1.AppIsolation{s.app, api} {
				g.Expect(condition(g, app, tierwallv1alpha1.PeersAgreeCondition)).To(BeNil())
				g.Expect(peers(g, app)).To(BeEmpty())
				g.Expect(get(app).Status.Warnings).NotTo(ContainSubstring(tierwallv1alpha1.OneSidedEdgeReason))
			}
		}).Should(Succeed())
	})

	It("allows nothing to the other side while it does not exist, and follows it when it comes back", func() {
		expectAgreed()

		Expect(k8sClient.Delete(ctx, api)).To(Succeed())
		// envtest runs no garbage collector: delete the policies it would.
		Expect(k8sClient.DeleteAllOf(ctx, &networkingv1.NetworkPolicy{}, client.InNamespace(s.other),
			client.MatchingLabels{tierwallv1alpha1.AppIsolationLabel: api.Name})).To(Succeed())
		Eventually(func(g Gomega) {
			c := haveCondition(g, s.app, tierwallv1alpha1.PeersAgreeCondition, metav1.ConditionFalse, tierwallv1alpha1.OneSidedEdgeReason)
			g.Expect(c.Message).To(ContainSubstring("AppIsolation " + s.other + "/api does not exist"))
			g.Expect(toBackend(g)).To(BeNil(), "no rule, rather than one open to all")
		}).Should(Succeed())

		recreated := api.DeepCopy()
		recreated.ResourceVersion, recreated.UID = "", ""
		Expect(k8sClient.Create(ctx, recreated)).To(Succeed())
		Eventually(func(g Gomega) { g.Expect(toBackend(g)).NotTo(BeNil()) }).Should(Succeed())
		expectAgreed()
	})

	It("writes each side's policies only in its own namespace, and wakes the other side once per spec change only", func() {
		expectReady(s.app)
		expectReady(api)
		expectAgreed()
		for _, app := range []*tierwallv1alpha1.AppIsolation{s.app, api} {
			Eventually(func(g Gomega) {
				all := policies(g, app.Namespace)
				g.Expect(all).NotTo(BeEmpty())
				for name, p := range all {
					g.Expect(p.Labels).To(HaveKeyWithValue(tierwallv1alpha1.AppIsolationLabel, app.Name), name)
					g.Expect(p.OwnerReferences).To(ConsistOf(HaveField("UID", get(app).UID)), name)
				}
			}).Should(Succeed())
			for _, c := range calls.writes(app.Namespace) {
				Expect(c.Name).To(HavePrefix(app.Name), "%s %s %s/%s", c.Verb, c.Kind, c.Namespace, c.Name)
			}
		}

		By("not waking the storefront when only the payments status changes")
		before := settledReconciles(s.app.Namespace)
		extra := fixtures.Pod(s.other, "backend-2", map[string]string{"app": "payments-api", "tier": "backend"})
		Expect(k8sClient.Create(ctx, extra)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(get(api).Status.Tiers).To(Equal([]tierwallv1alpha1.SelectorStatus{{Name: "backend", Pods: 2}}))
		}).Should(Succeed())
		Consistently(func() int { return len(reconciles(s.app.Namespace)) }).Should(Equal(before),
			func() string {
				return fmt.Sprintf("calls in the storefront's namespace: %v", calls.in(s.app.Namespace))
			})

		By("waking the storefront once when the payments spec changes")
		update(api, func(app *tierwallv1alpha1.AppIsolation) {
			app.Spec.Tiers[0].Ports = []tierwallv1alpha1.Port{{Port: intstr.FromInt32(9443)}}
		})
		Eventually(func(g Gomega) { g.Expect(toBackend(g).Ports[0].Port.IntValue()).To(Equal(9443)) }).Should(Succeed())
		Expect(settledReconciles(s.app.Namespace)).To(Equal(before + 1))
	})
})
