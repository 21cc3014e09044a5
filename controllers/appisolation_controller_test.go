package controllers

import (
	"fmt"
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/pkg/matchers"
	"github.com/tierwall/tierwall/test/fixtures"
)

// wordpressPolicies are the policies the sample renders, sorted.
var wordpressPolicies = []string{"wordpress-default-deny", "wordpress-dns", "wordpress-tier-database", "wordpress-tier-frontend"}

// dnsFlows are the DNS queries every governed pod may make.
func dnsFlows(pods ...string) []string {
	flows := make([]string, 0, 2*len(pods))
	for _, p := range pods {
		flows = append(flows, p+" -> coredns:53/TCP", p+" -> coredns:53/UDP")
	}
	return flows
}

// unisolatedFlows are the flows between pods tierwall does not govern
// (Traefik, the DNS, and the look-alike): no policy selects them, so
// everything between them is allowed.
var unisolatedFlows = []string{
	"coredns -> other/fake-traefik:8000/TCP",
	"coredns -> traefik:8000/TCP",
	"coredns -> traefik:8443/TCP",
	"other/fake-traefik -> coredns:53/TCP",
	"other/fake-traefik -> coredns:53/UDP",
	"other/fake-traefik -> traefik:8000/TCP",
	"other/fake-traefik -> traefik:8443/TCP",
	"traefik -> coredns:53/TCP",
	"traefik -> coredns:53/UDP",
	"traefik -> other/fake-traefik:8000/TCP",
}

func sorted(groups ...[]string) []string {
	var out []string
	for _, g := range groups {
		out = append(out, g...)
	}
	slices.Sort(out)
	return out
}

var _ = Describe("AppIsolation controller", func() {
	It("enforces the WordPress sample exactly as declared", func() {
		s := newStory(func(app *tierwallv1alpha1.AppIsolation) {
			// Argo CD's tracking marks must never reach the children.
			app.Labels = map[string]string{"app.kubernetes.io/instance": "wordpress"}
			app.Annotations = map[string]string{"argocd.argoproj.io/tracking-id": "wordpress:tierwall.dev/AppIsolation:dev-wordpress/wordpress"}
		})
		app := expectReady(s.app)
		Expect(app.Status.Policies).To(Equal([]string{"wordpress-tier-frontend", "wordpress-tier-database", "wordpress-dns", "wordpress-default-deny"}))
		Expect(app.Status.PolicyCount).To(HaveValue(BeEquivalentTo(4)))
		Expect(app.Status.TierCount).To(BeEquivalentTo(2))

		By("owning and labelling every generated policy, with no Argo CD tracking marks")
		generated := policies(Default, app.Namespace)
		Expect(generated).To(HaveLen(4))
		for name, p := range generated {
			owner := metav1.GetControllerOf(&p)
			Expect(owner).NotTo(BeNil(), name)
			Expect(owner.UID).To(Equal(app.UID), name)
			Expect(owner.Kind).To(Equal("AppIsolation"))
			Expect(p.Labels).To(HaveKeyWithValue(tierwallv1alpha1.ManagedByLabel, "tierwall"))
			Expect(p.Labels).To(HaveKeyWithValue(tierwallv1alpha1.AppIsolationLabel, "wordpress"))
			Expect(p.Labels).NotTo(HaveKey("app.kubernetes.io/instance"))
			Expect(p.Annotations).NotTo(HaveKey("argocd.argoproj.io/tracking-id"))
		}

		By("allowing exactly Traefik -> WordPress:80 -> MySQL:3306 and DNS")
		Expect(s.allowedFlows(Default)).To(Equal(sorted(
			[]string{"traefik -> wordpress:80/TCP", "wordpress -> mysql:3306/TCP"},
			dnsFlows("wordpress", "mysql", "backup"),
			unisolatedFlows,
		)))

		By("passing the matchers users assert with: every flow of the governed pods as declared")
		e := s.evaluator(Default)
		Expect(e).To(matchers.IsolateExactly(app))
		Expect(e).To(matchers.AllowFlow(s.key("traefik"), s.key("wordpress"), 80))
		Expect(e).To(matchers.AllowFlow(s.key("wordpress"), s.key("coredns"), 53, corev1.ProtocolUDP))
		Expect(e).NotTo(matchers.AllowFlow(s.key("fake-traefik"), s.key("wordpress"), 80))
		Expect(e).NotTo(matchers.AllowFlow(s.key("backup"), s.key("mysql"), 3306))

		By("reporting what the selectors match, and the governed pod in no tier")
		Expect(app.Status.Tiers).To(Equal([]tierwallv1alpha1.SelectorStatus{{Name: "frontend", Pods: 1}, {Name: "database", Pods: 1}}))
		Expect(app.Status.IngressControllers).To(ContainElement(HaveField("Name", "traefik")))
		Eventually(func(g Gomega) {
			c := haveCondition(g, app, tierwallv1alpha1.SelectorsMatchedCondition, metav1.ConditionFalse, tierwallv1alpha1.PodInNoTierReason)
			g.Expect(c.Message).To(ContainSubstring("backup"))
		}).Should(Succeed())

		By("showing the warning in kubectl get's WARNINGS column, and in one Warning event")
		Eventually(func(g Gomega) {
			g.Expect(get(app).Status.Warnings).To(Equal(tierwallv1alpha1.PodInNoTierReason))
		}).Should(Succeed())

		By("reading as Current under kstatus, and recording one event for the four policies it created")
		Eventually(func(g Gomega) { g.Expect(kstatus(g, app)).To(Equal(status.CurrentStatus)) }).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(eventReasons(g, app)).To(ConsistOf(tierwallv1alpha1.PoliciesChangedReason, tierwallv1alpha1.PodInNoTierReason))
		}).Should(Succeed())
		Expect(eventNotes(Default, app, tierwallv1alpha1.PoliciesChangedReason)).To(ConsistOf(
			"NetworkPolicies created wordpress-tier-frontend, wordpress-tier-database, wordpress-dns, wordpress-default-deny"))
	})

	It("applies allows before the default-deny, and new allows before removing old ones", func() {
		s := newStory(nil)
		expectReady(s.app)
		Expect(policyWrites(s.app.Namespace)).To(Equal([]string{
			"create wordpress-tier-frontend", "create wordpress-tier-database", "create wordpress-dns", "create wordpress-default-deny",
		}))

		By("renaming a tier: the new policy exists before the old one goes (the frontend's egress selects the same pods, so it is not rewritten)")
		before := len(policyWrites(s.app.Namespace))
		update(s.app, func(app *tierwallv1alpha1.AppIsolation) {
			app.Spec.Tiers[1].Name = "db"
			app.Spec.Tiers[1].AllowFrom[0].Tier = "frontend"
		})
		expectReady(s.app)
		Expect(policyWrites(s.app.Namespace)[before:]).To(Equal([]string{
			"create wordpress-tier-db", "delete wordpress-tier-database",
		}))
		Expect(policyNames(Default, s.app.Namespace)).To(ConsistOf("wordpress-default-deny", "wordpress-dns", "wordpress-tier-db", "wordpress-tier-frontend"))
	})

	DescribeTable("follows edits of the AppIsolation",
		func(change func(*tierwallv1alpha1.AppIsolation), wantPolicies []string, wantFlows []string) {
			s := newStory(nil)
			expectReady(s.app)
			update(s.app, change)
			expectReady(s.app)
			Eventually(func(g Gomega) {
				g.Expect(policyNames(g, s.app.Namespace)).To(Equal(wantPolicies))
				g.Expect(s.allowedFlows(g)).To(Equal(sorted(wantFlows, unisolatedFlows)))
				g.Expect(s.evaluator(g)).To(matchers.IsolateExactly(get(s.app)))
			}).Should(Succeed())
		},
		Entry("a tier's port changes",
			func(app *tierwallv1alpha1.AppIsolation) { app.Spec.Tiers[0].Ports[0].Port = intstr.FromString("debug") },
			wordpressPolicies,
			sorted([]string{"traefik -> wordpress:8080/TCP", "wordpress -> mysql:3306/TCP"}, dnsFlows("wordpress", "mysql", "backup"))),
		Entry("a tier is removed: no policy and no stale allow is left",
			func(app *tierwallv1alpha1.AppIsolation) { app.Spec.Tiers = app.Spec.Tiers[:1] },
			[]string{"wordpress-default-deny", "wordpress-dns", "wordpress-tier-frontend"},
			sorted([]string{"traefik -> wordpress:80/TCP"}, dnsFlows("wordpress", "mysql", "backup"))),
		Entry("a tier is added",
			func(app *tierwallv1alpha1.AppIsolation) {
				app.Spec.Tiers = append(app.Spec.Tiers, tierwallv1alpha1.Tier{
					Name:        "backup",
					PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "wordpress"}, MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpDoesNotExist}}},
					Ports:       []tierwallv1alpha1.Port{{Port: intstr.FromInt32(8080)}},
					AllowFrom:   []tierwallv1alpha1.Peer{{Tier: "database"}},
				})
			},
			append(append([]string{}, wordpressPolicies[:2]...), "wordpress-tier-backup", "wordpress-tier-database", "wordpress-tier-frontend"),
			sorted([]string{"traefik -> wordpress:80/TCP", "wordpress -> mysql:3306/TCP", "mysql -> backup:8080/TCP"}, dnsFlows("wordpress", "mysql", "backup"))),
		Entry("a tier's selector changes",
			func(app *tierwallv1alpha1.AppIsolation) { app.Spec.Tiers[1].PodSelector.MatchLabels["tier"] = "backup" },
			wordpressPolicies,
			sorted([]string{"traefik -> wordpress:80/TCP"}, dnsFlows("wordpress", "mysql", "backup"))),
		Entry("the ingress controller changes namespace",
			func(app *tierwallv1alpha1.AppIsolation) { app.Spec.IngressControllers[0].Namespace = "nowhere" },
			wordpressPolicies,
			sorted([]string{"wordpress -> mysql:3306/TCP"}, dnsFlows("wordpress", "mysql", "backup"))),
		Entry("DNS is turned off",
			func(app *tierwallv1alpha1.AppIsolation) { app.Spec.DNS = &tierwallv1alpha1.DNS{Disabled: true} },
			[]string{"wordpress-default-deny", "wordpress-tier-database", "wordpress-tier-frontend"},
			[]string{"traefik -> wordpress:80/TCP", "wordpress -> mysql:3306/TCP"}),
	)

	Describe("drift", func() {
		It("recreates a generated policy deleted by hand", func() {
			s := newStory(nil)
			expectReady(s.app)
			deleted := policies(Default, s.app.Namespace)["wordpress-tier-database"]
			Expect(k8sClient.Delete(ctx, &deleted)).To(Succeed())
			Eventually(func(g Gomega) {
				p, ok := policies(g, s.app.Namespace)["wordpress-tier-database"]
				g.Expect(ok).To(BeTrue())
				g.Expect(p.UID).NotTo(Equal(deleted.UID))
			}).Should(Succeed())
		})

		It("reverts a generated policy edited by hand, keeping others' labels", func() {
			s := newStory(nil)
			expectReady(s.app)
			want := policies(Default, s.app.Namespace)["wordpress-tier-database"]
			edited := want.DeepCopy()
			edited.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{}} // allow everything
			edited.Labels["team"] = "dba"
			Expect(k8sClient.Update(ctx, edited)).To(Succeed())
			Eventually(func(g Gomega) {
				p := policies(g, s.app.Namespace)["wordpress-tier-database"]
				g.Expect(p.Spec).To(Equal(want.Spec))
				g.Expect(p.Labels).To(HaveKeyWithValue("team", "dba"))
			}).Should(Succeed())
			Eventually(func(g Gomega) {
				g.Expect(eventNotes(g, s.app, tierwallv1alpha1.PoliciesChangedReason)).To(ContainElement(
					"NetworkPolicies updated wordpress-tier-database"))
			}).Should(Succeed())
		})
	})

	It("never touches a policy it did not create, and reports the conflict until it is gone", func() {
		ns := newNamespace()
		foreign := &networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "wordpress-dns"},
			Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}, Egress: []networkingv1.NetworkPolicyEgressRule{{}}},
		}
		Expect(k8sClient.Create(ctx, foreign)).To(Succeed())
		app, err := fixtures.WordPress(ns)
		Expect(err).NotTo(HaveOccurred())
		Expect(k8sClient.Create(ctx, app)).To(Succeed())

		Eventually(func(g Gomega) {
			ready := haveCondition(g, app, tierwallv1alpha1.ReadyCondition, metav1.ConditionFalse, tierwallv1alpha1.PolicyConflictReason)
			g.Expect(ready.Message).To(ContainSubstring("wordpress-dns"))
			haveCondition(g, app, tierwallv1alpha1.StalledCondition, metav1.ConditionTrue, "")
			g.Expect(kstatus(g, app)).To(Equal(status.FailedStatus))
			g.Expect(eventReasons(g, app)).To(ContainElement(tierwallv1alpha1.PolicyConflictReason))
		}).Should(Succeed())
		By("writing nothing: the foreign policy is unchanged and nothing else is created")
		Consistently(func(g Gomega) {
			all := policies(g, ns)
			g.Expect(all).To(HaveLen(1))
			g.Expect(all["wordpress-dns"].ResourceVersion).To(Equal(foreign.ResourceVersion))
		}).Should(Succeed())

		By("converging once the foreign policy is deleted")
		Expect(k8sClient.Delete(ctx, foreign)).To(Succeed())
		expectReady(app)
		Expect(policyNames(Default, ns)).To(Equal(wordpressPolicies))
	})

	It("sends no write when a reconcile changes nothing", func() {
		s := newStory(nil)
		expectReady(s.app)
		Eventually(func(g Gomega) { // the selector status settles
			g.Expect(condition(g, s.app, tierwallv1alpha1.SelectorsMatchedCondition)).NotTo(BeNil())
		}).Should(Succeed())
		writes := len(calls.writes(s.app.Namespace))
		reads := len(reconciles(s.app.Namespace))

		By("triggering reconciles with policies that select pods it does not govern")
		for i := range 3 {
			Expect(k8sClient.Create(ctx, &networkingv1.NetworkPolicy{
				ObjectMeta: metav1.ObjectMeta{Namespace: s.app.Namespace, Name: fmt.Sprintf("unrelated-%d", i)},
				Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}},
					PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}},
			})).To(Succeed())
		}
		Eventually(func() int { return len(reconciles(s.app.Namespace)) }).Should(BeNumerically(">=", reads+3))
		Consistently(func() []call { return calls.writes(s.app.Namespace)[writes:] }).Should(BeEmpty())
	})

	It("converges after a failure midway through applying, without duplicates", func() {
		failing := ""
		calls.failWrites(func(verb string, obj client.Object) error {
			if verb == "create" && obj.GetNamespace() == failing && obj.GetName() == "wordpress-dns" {
				return apierrors.NewServiceUnavailable("injected failure")
			}
			return nil
		})
		DeferCleanup(func() { calls.failWrites(nil) })
		ns := newNamespace()
		failing = ns
		app, err := fixtures.WordPress(ns)
		Expect(err).NotTo(HaveOccurred())
		Expect(k8sClient.Create(ctx, app)).To(Succeed())

		Eventually(func(g Gomega) {
			ready := haveCondition(g, app, tierwallv1alpha1.ReadyCondition, metav1.ConditionFalse, tierwallv1alpha1.ApplyFailedReason)
			g.Expect(ready.Message).To(ContainSubstring("injected failure"))
			haveCondition(g, app, tierwallv1alpha1.ReconcilingCondition, metav1.ConditionTrue, "")
			g.Expect(kstatus(g, app)).To(Equal(status.InProgressStatus))
		}).Should(Succeed())
		By("having applied the allows but not the default-deny")
		Expect(policyNames(Default, ns)).To(Equal([]string{"wordpress-tier-database", "wordpress-tier-frontend"}))

		calls.failWrites(nil)
		expectReady(app)
		Expect(policyNames(Default, ns)).To(Equal(wordpressPolicies))
		Eventually(func(g Gomega) { g.Expect(kstatus(g, app)).To(Equal(status.CurrentStatus)) }).Should(Succeed())
		Expect(condition(Default, app, tierwallv1alpha1.ReconcilingCondition)).To(BeNil())
	})

	It("keeps the enforced policies when the spec breaks in a way admission cannot catch, and converges when fixed", func() {
		s := newStory(nil)
		expectReady(s.app)
		enforced := policies(Default, s.app.Namespace)

		update(s.app, func(app *tierwallv1alpha1.AppIsolation) {
			app.Spec.Tiers[1].PodSelector.MatchLabels["tier"] = "not a valid label value"
		})
		Eventually(func(g Gomega) {
			ready := haveCondition(g, s.app, tierwallv1alpha1.ReadyCondition, metav1.ConditionFalse, tierwallv1alpha1.InvalidSpecReason)
			g.Expect(ready.Message).To(ContainSubstring("spec.tiers[1].podSelector"))
			haveCondition(g, s.app, tierwallv1alpha1.StalledCondition, metav1.ConditionTrue, "")
			g.Expect(eventReasons(g, s.app)).To(ContainElement(tierwallv1alpha1.InvalidSpecReason))
		}).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(policies(g, s.app.Namespace)).To(Equal(enforced))
		}).Should(Succeed())

		update(s.app, func(app *tierwallv1alpha1.AppIsolation) { app.Spec.Tiers[1].PodSelector.MatchLabels["tier"] = "db" })
		expectReady(s.app)
		Expect(condition(Default, s.app, tierwallv1alpha1.StalledCondition)).To(BeNil())
		Eventually(func(g Gomega) {
			p := policies(g, s.app.Namespace)["wordpress-tier-database"]
			g.Expect(p.Spec.PodSelector.MatchLabels).To(HaveKeyWithValue("tier", "db"))
		}).Should(Succeed())
	})

	DescribeTable("reports per tier how many pods it selects, and warns about selectors that miss",
		func(tweak func(*tierwallv1alpha1.AppIsolation), relabel func(*story), wantReason string, wantNames ...string) {
			s := newStory(tweak)
			expectReady(s.app)
			if relabel != nil {
				relabel(s)
			}
			Eventually(func(g Gomega) {
				status := metav1.ConditionFalse
				if wantReason == tierwallv1alpha1.SelectorsMatchReason {
					status = metav1.ConditionTrue
				}
				c := haveCondition(g, s.app, tierwallv1alpha1.SelectorsMatchedCondition, status, wantReason)
				for _, name := range wantNames {
					g.Expect(c.Message).To(ContainSubstring(name))
				}
			}).Should(Succeed())
		},
		Entry("a tier that selects no pods", func(app *tierwallv1alpha1.AppIsolation) {
			app.Spec.Tiers[1].PodSelector.MatchLabels["tier"] = "postgres"
		}, nil, tierwallv1alpha1.TierSelectsNoPodsReason, "database"),
		Entry("an ingress controller selector that matches nothing", func(app *tierwallv1alpha1.AppIsolation) {
			app.Spec.IngressControllers[0].PodSelector.MatchLabels["app.kubernetes.io/name"] = "nginx"
		}, nil, tierwallv1alpha1.IngressControllerSelectsNoPodsReason, "traefik"),
		Entry("a governed pod in no tier", nil, nil, tierwallv1alpha1.PodInNoTierReason, "backup"),
		Entry("a pod in two tiers", func(app *tierwallv1alpha1.AppIsolation) {
			app.Spec.Tiers[1].PodSelector = metav1.LabelSelector{MatchLabels: map[string]string{"app": "wordpress"}}
		}, nil, tierwallv1alpha1.PodInMultipleTiersReason, "wordpress (frontend, database)"),
		Entry("every selector matching as intended, after a pod is relabelled", nil, func(s *story) {
			backup := s.pod("backup")
			Eventually(func() error {
				fresh := backup.DeepCopy()
				if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(backup), fresh); err != nil {
					return err
				}
				fresh.Labels["app"] = "backup"
				return k8sClient.Update(ctx, fresh)
			}).Should(Succeed())
		}, tierwallv1alpha1.SelectorsMatchReason),
	)

	It("follows pod labels in the per-tier pod counts", func() {
		s := newStory(nil)
		expectReady(s.app)
		extra := fixtures.Pod(s.app.Namespace, "wordpress-2", map[string]string{"app": "wordpress", "tier": "frontend"})
		Expect(k8sClient.Create(ctx, extra)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(get(s.app).Status.Tiers).To(ContainElement(tierwallv1alpha1.SelectorStatus{Name: "frontend", Pods: 2}))
		}).Should(Succeed())
		Expect(k8sClient.Delete(ctx, extra)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(get(s.app).Status.Tiers).To(ContainElement(tierwallv1alpha1.SelectorStatus{Name: "frontend", Pods: 1}))
		}).Should(Succeed())
	})
})

// policyWrites lists the reconciler's writes to NetworkPolicies in
// namespace as "verb name", in order.
func policyWrites(namespace string) []string {
	var out []string
	for _, c := range calls.writes(namespace) {
		if c.Kind == "NetworkPolicy" {
			out = append(out, c.Verb+" "+c.Name)
		}
	}
	return out
}
