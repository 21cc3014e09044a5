package controllers

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/test/fixtures"
)

var _ = Describe("Ports per allowFrom entry and policyTypes", func() {
	It("enforces the mail sample as one tier: LMTP from the MTA only, and no warning", func() {
		ns := newNamespace()
		app, err := fixtures.Mail(ns)
		Expect(err).NotTo(HaveOccurred())
		s := &story{app: app, other: newNamespace(), pods: fixtures.MailPods(ns, ns)}
		for _, p := range s.pods {
			Expect(k8sClient.Create(ctx, p)).To(Succeed())
			if p.Namespace == "kube-system" {
				DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, p))).To(Succeed()) })
			}
		}
		Expect(k8sClient.Create(ctx, app)).To(Succeed())

		fresh := expectReady(app)
		Expect(fresh.Spec.PolicyTypes).To(Equal([]tierwallv1alpha1.PolicyType{
			tierwallv1alpha1.PolicyTypeIngress, tierwallv1alpha1.PolicyTypeEgress}), "the default")
		Expect(fresh.Status.Policies).To(Equal([]string{"mail-tier-mailserver", "mail-tier-mta", "mail-dns", "mail-default-deny"}))

		By("reporting every pod in exactly one tier, with nothing to warn about")
		Eventually(func(g Gomega) {
			haveCondition(g, app, tierwallv1alpha1.SelectorsMatchedCondition, metav1.ConditionTrue, tierwallv1alpha1.SelectorsMatchReason)
			g.Expect(get(app).Status.Tiers).To(Equal([]tierwallv1alpha1.SelectorStatus{{Name: "mailserver", Pods: 1}, {Name: "mta", Pods: 1}}))
			g.Expect(get(app).Status.Warnings).To(BeEmpty())
		}).Should(Succeed())

		By("allowing the MTA on LMTP only, and SMTP, submission and IMAPS from the addresses of anywhere")
		Expect(s.allowedFlows(Default)).To(Equal(sorted(
			[]string{"mta -> mailserver:24/TCP"},
			dnsFlows("mailserver", "mta"),
			[]string{"coredns -> webmail:80/TCP", "webmail -> coredns:53/TCP", "webmail -> coredns:53/UDP"},
		)))
		server := policies(Default, ns)["mail-tier-mailserver"]
		Expect(server.Spec.Ingress).To(HaveLen(2))
		Expect(server.Spec.Ingress[0].From).To(HaveLen(2), "0.0.0.0/0 and ::/0 share a rule: same ports")
		Expect(server.Spec.Ingress[0].Ports).To(HaveLen(3))
		Expect(fresh.Status.Connectivity).To(ContainElement("tier mta -> tier mailserver on 24/TCP"))
	})

	It("leaves an ingress-only app's egress alone, and removes the egress rules and the DNS policy on the switch", func() {
		s := newStory(nil)
		expectReady(s.app)
		Eventually(func(g Gomega) { g.Expect(policyNames(g, s.app.Namespace)).To(Equal(wordpressPolicies)) }).Should(Succeed())
		Expect(s.allowedFlows(Default)).NotTo(ContainElement("wordpress -> traefik:8000/TCP"))

		update(s.app, func(app *tierwallv1alpha1.AppIsolation) {
			app.Spec.PolicyTypes = []tierwallv1alpha1.PolicyType{tierwallv1alpha1.PolicyTypeIngress}
		})
		app := expectReady(s.app)
		Expect(app.Status.Policies).To(Equal([]string{"wordpress-tier-frontend", "wordpress-tier-database", "wordpress-default-deny"}))

		By("deleting the DNS policy and every egress rule: nothing isolates egress any more")
		Eventually(func(g Gomega) {
			g.Expect(policyNames(g, app.Namespace)).To(Equal([]string{"wordpress-default-deny", "wordpress-tier-database", "wordpress-tier-frontend"}))
			for name, p := range policies(g, app.Namespace) {
				g.Expect(p.Spec.PolicyTypes).To(Equal([]networkingv1.PolicyType{networkingv1.PolicyTypeIngress}), name)
				g.Expect(p.Spec.Egress).To(BeEmpty(), name)
			}
		}).Should(Succeed())

		By("allowing the governed pods any egress, and the same ingress as before")
		flows := s.allowedFlows(Default)
		Expect(flows).To(ContainElements(
			"traefik -> wordpress:80/TCP", "wordpress -> mysql:3306/TCP",
			"wordpress -> traefik:8000/TCP", "mysql -> other/fake-traefik:8000/TCP", "backup -> coredns:53/UDP",
		))
		Expect(flows).NotTo(ContainElements(
			"wordpress -> mysql:33060/TCP", "backup -> wordpress:80/TCP", "other/fake-traefik -> wordpress:80/TCP",
		))
		Expect(app.Status.Connectivity).NotTo(ContainElement(ContainSubstring("DNS")))

		By("restoring egress isolation and DNS when Egress comes back")
		update(s.app, func(app *tierwallv1alpha1.AppIsolation) {
			app.Spec.PolicyTypes = []tierwallv1alpha1.PolicyType{tierwallv1alpha1.PolicyTypeIngress, tierwallv1alpha1.PolicyTypeEgress}
		})
		expectReady(s.app)
		Eventually(func(g Gomega) {
			g.Expect(policyNames(g, s.app.Namespace)).To(Equal(wordpressPolicies))
			g.Expect(s.allowedFlows(g)).NotTo(ContainElement("wordpress -> traefik:8000/TCP"))
		}).Should(Succeed())
	})
})
