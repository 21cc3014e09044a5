package controllers

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/test/fixtures"
)

var _ = Describe("Status that tells the truth at a glance", func() {
	It("shows a selector typo in WARNINGS and as one Warning event, and says when it recovers", func() {
		s := newStory(func(app *tierwallv1alpha1.AppIsolation) {
			app.Spec.Tiers[1].PodSelector.MatchLabels["tier"] = "mysq" // the typo
		})
		expectReady(s.app)
		Eventually(func(g Gomega) {
			g.Expect(get(s.app).Status.Warnings).To(Equal("TierSelectsNoPods"))
			g.Expect(eventNotes(g, s.app, tierwallv1alpha1.TierSelectsNoPodsReason)).To(ConsistOf(
				"Tiers that select no pods: database; governed pods in no tier, allowed DNS only: backup, mysql"))
		}).Should(Succeed())

		By("fixing the typo: the warning goes, with a Normal event")
		update(s.app, func(app *tierwallv1alpha1.AppIsolation) { app.Spec.Tiers[1].PodSelector.MatchLabels["tier"] = "mysql" })
		Eventually(func(g Gomega) {
			g.Expect(get(s.app).Status.Warnings).To(Equal("PodInNoTier"))
			g.Expect(eventReasons(g, s.app)).To(ContainElement(tierwallv1alpha1.PodInNoTierReason))
		}).Should(Succeed())
		Expect(eventNotes(Default, s.app, tierwallv1alpha1.TierSelectsNoPodsReason)).To(HaveLen(1), "one event, not one per reconcile")
	})

	It("marks a new generation Reconciling before it writes any policy", func() {
		s := newStory(nil)
		expectReady(s.app)
		before := len(calls.writes(s.app.Namespace))
		update(s.app, func(app *tierwallv1alpha1.AppIsolation) { app.Spec.Tiers[0].Ports[0].Port = intstr.FromInt32(8080) })
		expectReady(s.app)
		writes := calls.writes(s.app.Namespace)[before:]
		Expect(writes).NotTo(BeEmpty())
		Expect(writes[0]).To(Equal(call{Verb: "patch/status", Kind: tierwallv1alpha1.AppIsolationKind, Namespace: s.app.Namespace, Name: s.app.Name}))
		Expect(writes[1].Kind).To(Equal("NetworkPolicy"))
	})

	It("writes policyCount 0 in DryRun, not nothing", func() {
		s := newStory(func(app *tierwallv1alpha1.AppIsolation) { app.Spec.Mode = tierwallv1alpha1.ModeDryRun })
		expectReady(s.app)
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(tierwallv1alpha1.GroupVersion.WithKind(tierwallv1alpha1.AppIsolationKind))
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(s.app), u)).To(Succeed())
		count, found, err := unstructured.NestedInt64(u.Object, "status", "policyCount")
		Expect(err).NotTo(HaveOccurred())
		Expect(found).To(BeTrue(), "kubectl get's POLICIES column would be empty")
		Expect(count).To(BeZero())
	})

	It("re-evaluates Isolated when a neighbour AppIsolation opens the same pods", func() {
		s := newStory(nil)
		// A pod the AppIsolation does not govern: the one a neighbour can open
		// mysql to (the governed pods' own egress stays closed).
		Expect(k8sClient.Create(ctx, fixtures.Pod(s.app.Namespace, "adminer", map[string]string{"app": "adminer"}))).To(Succeed())
		expectReady(s.app)
		haveIsolated := func(status metav1.ConditionStatus) {
			Eventually(func(g Gomega) {
				haveCondition(g, s.app, tierwallv1alpha1.IsolatedCondition, status, "")
			}).Should(Succeed())
		}
		haveIsolated(metav1.ConditionTrue)

		By("a second AppIsolation opening mysql to every pod of the namespace")
		open := &tierwallv1alpha1.AppIsolation{
			ObjectMeta: metav1.ObjectMeta{Namespace: s.app.Namespace, Name: "open-db"},
			Spec: tierwallv1alpha1.AppIsolationSpec{
				PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "mysql"}},
				Tiers: []tierwallv1alpha1.Tier{{
					Name: "db", PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": "mysql"}},
					Ports:     []tierwallv1alpha1.Port{{Port: intstr.FromInt32(3306)}},
					AllowFrom: []tierwallv1alpha1.Peer{{PodSelector: &metav1.LabelSelector{}}},
				}},
			},
		}
		Expect(k8sClient.Create(ctx, open)).To(Succeed())
		haveIsolated(metav1.ConditionFalse)
		Expect(condition(Default, s.app, tierwallv1alpha1.IsolatedCondition).Message).To(ContainSubstring("open-db-tier-db"))

		By("removing it: Isolated again")
		Expect(k8sClient.Delete(ctx, open)).To(Succeed())
		for _, name := range []string{"open-db-tier-db", "open-db-dns", "open-db-default-deny"} {
			// envtest runs no garbage collector: delete the children by hand.
			Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, &networkingv1.NetworkPolicy{
				ObjectMeta: metav1.ObjectMeta{Namespace: s.app.Namespace, Name: name}}))).To(Succeed())
		}
		haveIsolated(metav1.ConditionTrue)
	})

	It("converges a change in one reconcile: the events of its own writes do not wake it", func() {
		s := newStory(func(app *tierwallv1alpha1.AppIsolation) { app.Spec.IngressControllers[0].Namespace = app.Namespace })
		expectReady(s.app)
		before := settledReconciles(s.app.Namespace)

		By("a new port for the frontend: Reconciling, a policy updated, the final status")
		app := get(s.app)
		app.Spec.Tiers[0].Ports = append(app.Spec.Tiers[0].Ports, tierwallv1alpha1.Port{Port: intstr.FromInt32(443)})
		Expect(k8sClient.Update(ctx, app)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(get(s.app).Status.ObservedGeneration).To(Equal(app.Generation))
		}).Should(Succeed())
		expectReady(s.app)
		Expect(settledReconciles(s.app.Namespace) - before).To(Equal(1))
	})

	It("wakes only the AppIsolations whose selectors match a relabelled pod", func() {
		// The ingress controller in the story's own namespace, so that other
		// specs' Traefik pods coming and going in kube-system wake nothing.
		s := newStory(func(app *tierwallv1alpha1.AppIsolation) { app.Spec.IngressControllers[0].Namespace = app.Namespace })
		expectReady(s.app)
		unrelated := fixtures.Pod(s.app.Namespace, "unrelated", map[string]string{"app": "other"})
		Expect(k8sClient.Create(ctx, unrelated)).To(Succeed())
		Eventually(func(g Gomega) { g.Expect(get(s.app).Status.Warnings).To(Equal("IngressControllerSelectsNoPods")) }).Should(Succeed())
		before := settledReconciles(s.app.Namespace)

		for i := range 5 {
			unrelated.Labels["flap"] = string(rune('a' + i))
			Expect(k8sClient.Update(ctx, unrelated)).To(Succeed())
		}
		Consistently(func() int { return len(reconciles(s.app.Namespace)) }).Should(Equal(before))

		By("relabelling it into the governed pods wakes the AppIsolation")
		unrelated.Labels["app"] = "wordpress"
		Expect(k8sClient.Update(ctx, unrelated)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(get(s.app).Status.Tiers).To(ContainElement(tierwallv1alpha1.SelectorStatus{Name: "frontend", Pods: 1}))
			g.Expect(condition(g, s.app, tierwallv1alpha1.SelectorsMatchedCondition).Message).To(ContainSubstring("unrelated"))
		}).Should(Succeed())
	})

	It("keeps owner references others add, and adopts a policy whose reference was removed", func() {
		s := newStory(nil)
		expectReady(s.app)
		writes := len(policyWrites(s.app.Namespace))

		By("someone adding an owner reference: no write")
		p := policies(Default, s.app.Namespace)["wordpress-dns"]
		extra := metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "audit", UID: "4b5c6d7e-0000-0000-0000-000000000001"}
		p.OwnerReferences = append(p.OwnerReferences, extra)
		Expect(k8sClient.Update(ctx, &p)).To(Succeed())
		Consistently(func() []string { return policyWrites(s.app.Namespace)[writes:] }).Should(BeEmpty())

		By("someone removing tierwall's reference: adopted back, the other reference kept")
		p = policies(Default, s.app.Namespace)["wordpress-dns"]
		p.OwnerReferences = []metav1.OwnerReference{extra}
		Expect(k8sClient.Update(ctx, &p)).To(Succeed())
		Eventually(func(g Gomega) {
			refs := policies(g, s.app.Namespace)["wordpress-dns"].OwnerReferences
			g.Expect(refs).To(ContainElement(extra))
			g.Expect(refs).To(ContainElement(HaveField("UID", s.app.UID)))
		}).Should(Succeed())
		expectReady(s.app)
	})

	It("names no pods of namespaces the tenant may not observe", func() {
		secret := newNamespace()
		Expect(k8sClient.Create(ctx, fixtures.Pod(secret, "vault-0", map[string]string{"app": "vault"}))).To(Succeed())
		s := newStory(func(app *tierwallv1alpha1.AppIsolation) {
			app.Spec.IngressControllers = append(app.Spec.IngressControllers, tierwallv1alpha1.IngressController{
				Name: "probe", Namespace: secret, PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "vault"}},
			})
		})
		expectReady(s.app)
		foreignPolicy := &networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: s.app.Namespace, Name: "from-secret"},
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": "mysql"}},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{
					NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": secret}},
				}}, Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(3306))}}}},
			},
		}
		Expect(k8sClient.Create(ctx, foreignPolicy)).To(Succeed())
		Eventually(func(g Gomega) {
			c := haveCondition(g, s.app, tierwallv1alpha1.IsolatedCondition, metav1.ConditionFalse, "")
			g.Expect(c.Message).To(ContainSubstring("a pod in another namespace"))
			g.Expect(c.Message).NotTo(ContainSubstring("vault"))
		}).Should(Succeed())
		app := get(s.app)
		Expect(app.Status.IngressControllers).NotTo(ContainElement(HaveField("Name", "probe")), "no pod count for another tenant's namespace")
		Expect(app.Status.IngressControllers).To(ContainElement(tierwallv1alpha1.SelectorStatus{Name: "traefik", Pods: 1}), "kube-system is observable")
	})
})

var _ = Describe("DryRun's would-block list", func() {
	It("lists what Enforce would block on a live app, follows the policies in force, and goes away in Enforce", func() {
		By("an app with no policy today: everything is open, and Enforce would block what is not declared")
		s := newStory(func(app *tierwallv1alpha1.AppIsolation) { app.Spec.Mode = tierwallv1alpha1.ModeDryRun })
		Eventually(func(g Gomega) {
			c := haveCondition(g, s.app, tierwallv1alpha1.WouldBlockCondition, metav1.ConditionTrue,
				tierwallv1alpha1.FlowsWouldBeBlockedReason)
			g.Expect(c.Message).To(MatchRegexp(
				`^Enforce would block \d+ flows that the policies in force allow today, the first 10 in status.wouldBlock$`))
			blocked := get(s.app).Status.WouldBlock
			g.Expect(blocked).To(HaveLen(10))
			g.Expect(blocked).NotTo(ContainElement(s.app.Namespace+"/wordpress -> "+s.app.Namespace+"/mysql 3306/TCP"),
				"a declared flow is not blocked")
		}).Should(Succeed())

		By("a hand-written allow-all, as in the seed: policies add up, so Enforce would block nothing")
		Expect(k8sClient.Create(ctx, &networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: s.app.Namespace, Name: "allow-all"},
			Spec: networkingv1.NetworkPolicySpec{
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
				Ingress:     []networkingv1.NetworkPolicyIngressRule{{}},
				Egress:      []networkingv1.NetworkPolicyEgressRule{{}},
			},
		})).To(Succeed())
		Eventually(func(g Gomega) {
			haveCondition(g, s.app, tierwallv1alpha1.WouldBlockCondition, metav1.ConditionFalse,
				tierwallv1alpha1.NothingWouldBeBlockedReason)
			g.Expect(get(s.app).Status.WouldBlock).To(BeEmpty())
		}).Should(Succeed())

		By("switching to Enforce: the condition and the list go")
		update(s.app, func(app *tierwallv1alpha1.AppIsolation) { app.Spec.Mode = tierwallv1alpha1.ModeEnforce })
		Eventually(func(g Gomega) {
			g.Expect(condition(g, s.app, tierwallv1alpha1.WouldBlockCondition)).To(BeNil())
			g.Expect(get(s.app).Status.WouldBlock).To(BeEmpty())
		}).Should(Succeed())
	})
})
