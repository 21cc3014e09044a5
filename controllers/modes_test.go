package controllers

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/pkg/matchers"
)

var _ = Describe("DryRun mode", func() {
	It("removes the enforced policies default-deny first, and enforces them again allows first", func() {
		s := newStory(nil)
		expectReady(s.app)
		before := len(policyWrites(s.app.Namespace))

		update(s.app, func(app *tierwallv1alpha1.AppIsolation) { app.Spec.Mode = tierwallv1alpha1.ModeDryRun })
		app := expectReady(s.app)
		Expect(condition(Default, app, tierwallv1alpha1.ReadyCondition).Reason).To(Equal(tierwallv1alpha1.DryRunReason))
		Expect(app.Status.PolicyCount).To(HaveValue(BeZero()))
		Expect(app.Status.Policies).To(HaveLen(4), "the plan is still reported")
		Expect(app.Status.Connectivity).To(Equal([]string{
			"kube-system/traefik -> tier frontend on 80/TCP",
			"tier frontend -> tier database on 3306/TCP",
			"every governed pod -> DNS (kube-system: k8s-app=kube-dns) on 53/UDP, 53/TCP",
		}), "and the connectivity it would produce")
		Expect(policyNames(Default, s.app.Namespace)).To(BeEmpty())
		Expect(policyWrites(s.app.Namespace)[before:]).To(Equal([]string{
			"delete wordpress-default-deny", "delete wordpress-dns", "delete wordpress-tier-database", "delete wordpress-tier-frontend",
		}))
		Expect(s.allowedFlows(Default)).To(ContainElements("backup -> mysql:3306/TCP", "other/fake-traefik -> mysql:3306/TCP"),
			"nothing is enforced in DryRun")
		Expect(s.evaluator(Default)).NotTo(matchers.IsolateExactly(app), "nothing is enforced in DryRun")

		before = len(policyWrites(s.app.Namespace))
		update(s.app, func(app *tierwallv1alpha1.AppIsolation) { app.Spec.Mode = tierwallv1alpha1.ModeEnforce })
		expectReady(s.app)
		Expect(policyWrites(s.app.Namespace)[before:]).To(Equal([]string{
			"create wordpress-tier-frontend", "create wordpress-tier-database", "create wordpress-dns", "create wordpress-default-deny",
		}))
	})
})

var _ = Describe("Foreign policies", func() {
	It("reports a policy it did not write that opens a governed pod, names one flow, and leaves it alone", func() {
		s := newStory(nil)
		expectReady(s.app)
		open := &networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: s.app.Namespace, Name: "allow-mysql"},
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": "mysql"}},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					From:  []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}}},
					Ports: []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromInt32(3306))}},
				}},
			},
		}
		Expect(k8sClient.Create(ctx, open)).To(Succeed())
		Eventually(func(g Gomega) {
			c := haveCondition(g, s.app, tierwallv1alpha1.IsolatedCondition, metav1.ConditionFalse, tierwallv1alpha1.ForeignPolicyWidensAccessReason)
			g.Expect(c.Message).To(ContainSubstring("NetworkPolicy allow-mysql allows 0.0.0.1 -> " + s.app.Namespace + "/mysql on 3306/TCP"))
		}).Should(Succeed())
		Expect(condition(Default, s.app, tierwallv1alpha1.ReadyCondition).Status).To(Equal(metav1.ConditionTrue),
			"tierwall's own policies are enforced")
		Consistently(func(g Gomega) {
			g.Expect(policies(g, s.app.Namespace)["allow-mysql"].ResourceVersion).To(Equal(open.ResourceVersion))
		}).Should(Succeed())

		Expect(k8sClient.Delete(ctx, open)).To(Succeed())
		Eventually(func(g Gomega) {
			haveCondition(g, s.app, tierwallv1alpha1.IsolatedCondition, metav1.ConditionTrue, "")
		}).Should(Succeed())
	})
})
