package controllers

import (
	"fmt"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/pkg/reach"
	"github.com/tierwall/tierwall/test/fixtures"
)

// story is the WordPress sample running in a namespace of its own, with its
// pods, Traefik and DNS in kube-system, and a Traefik look-alike in a second
// namespace.
type story struct {
	app   *tierwallv1alpha1.AppIsolation
	other string
	pods  []*corev1.Pod
}

// newStory creates the namespaces and pods of the WordPress story, and the
// AppIsolation after tweak has changed it; it does not wait for anything.
func newStory(tweak func(*tierwallv1alpha1.AppIsolation)) *story {
	ns, other := newNamespace(), newNamespace()
	app, err := fixtures.WordPress(ns)
	Expect(err).NotTo(HaveOccurred())
	if tweak != nil {
		tweak(app)
	}
	s := &story{app: app, other: other, pods: fixtures.WordPressPods(ns, other, ns)}
	for _, p := range s.pods {
		Expect(k8sClient.Create(ctx, p)).To(Succeed())
		if p.Namespace == "kube-system" {
			DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, p))).To(Succeed()) })
		}
	}
	Expect(k8sClient.Create(ctx, app)).To(Succeed())
	return s
}

// pod returns the story's pod whose name starts with prefix.
func (s *story) pod(prefix string) *corev1.Pod {
	for _, p := range s.pods {
		if len(p.Name) >= len(prefix) && p.Name[:len(prefix)] == prefix {
			return p
		}
	}
	panic("no pod " + prefix)
}

// get reads the AppIsolation afresh.
func get(app *tierwallv1alpha1.AppIsolation) *tierwallv1alpha1.AppIsolation {
	fresh := &tierwallv1alpha1.AppIsolation{}
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(app), fresh)).To(Succeed())
	return fresh
}

// update changes the AppIsolation, retrying on conflicts.
func update(app *tierwallv1alpha1.AppIsolation, change func(*tierwallv1alpha1.AppIsolation)) {
	Eventually(func() error {
		fresh := get(app)
		change(fresh)
		return k8sClient.Update(ctx, fresh)
	}).Should(Succeed())
}

// condition returns the condition of a fresh copy of app, or nil.
func condition(g Gomega, app *tierwallv1alpha1.AppIsolation, conditionType string) *metav1.Condition {
	fresh := &tierwallv1alpha1.AppIsolation{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(app), fresh)).To(Succeed())
	return meta.FindStatusCondition(fresh.Status.Conditions, conditionType)
}

// expectReady waits until app is Ready at its current generation and
// returns it.
func expectReady(app *tierwallv1alpha1.AppIsolation) *tierwallv1alpha1.AppIsolation {
	var fresh *tierwallv1alpha1.AppIsolation
	Eventually(func(g Gomega) {
		fresh = &tierwallv1alpha1.AppIsolation{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(app), fresh)).To(Succeed())
		g.Expect(fresh.Status.ObservedGeneration).To(Equal(fresh.Generation))
		ready := meta.FindStatusCondition(fresh.Status.Conditions, tierwallv1alpha1.ReadyCondition)
		g.Expect(ready).NotTo(BeNil())
		g.Expect(ready.Status).To(Equal(metav1.ConditionTrue), ready.Message)
	}).Should(Succeed())
	return fresh
}

// kstatus computes the status kstatus (Flux, kubectl wait) reads for app.
func kstatus(g Gomega, app *tierwallv1alpha1.AppIsolation) status.Status {
	fresh := &tierwallv1alpha1.AppIsolation{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(app), fresh)).To(Succeed())
	fresh.SetGroupVersionKind(tierwallv1alpha1.GroupVersion.WithKind(tierwallv1alpha1.AppIsolationKind))
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(fresh)
	g.Expect(err).NotTo(HaveOccurred())
	result, err := status.Compute(&unstructured.Unstructured{Object: u})
	g.Expect(err).NotTo(HaveOccurred())
	return result.Status
}

// policies lists the NetworkPolicies of a namespace, by name.
func policies(g Gomega, namespace string) map[string]networkingv1.NetworkPolicy {
	var list networkingv1.NetworkPolicyList
	g.Expect(k8sClient.List(ctx, &list, client.InNamespace(namespace))).To(Succeed())
	out := map[string]networkingv1.NetworkPolicy{}
	for _, p := range list.Items {
		out[p.Name] = p
	}
	return out
}

// policyNames lists the names of the NetworkPolicies of a namespace, sorted.
func policyNames(g Gomega, namespace string) []string {
	all := policies(g, namespace)
	names := make([]string, 0, len(all))
	for name := range all {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// evaluator evaluates the Namespaces and NetworkPolicies now in the
// cluster over the story's pods, read with the envtest client as a user's
// suite would read them.
func (s *story) evaluator(g Gomega) *reach.Evaluator {
	state := reach.State{}
	for _, namespace := range []string{s.app.Namespace, s.other, "kube-system"} {
		ns := corev1.Namespace{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Name: namespace}, &ns)).To(Succeed())
		state.Namespaces = append(state.Namespaces, ns)
		var list networkingv1.NetworkPolicyList
		g.Expect(k8sClient.List(ctx, &list, client.InNamespace(namespace))).To(Succeed())
		state.Policies = append(state.Policies, list.Items...)
	}
	for _, p := range s.pods {
		fresh := &corev1.Pod{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(p), fresh)).To(Succeed())
		state.Pods = append(state.Pods, *fresh)
	}
	evaluator, err := reach.New(state)
	g.Expect(err).NotTo(HaveOccurred())
	return evaluator
}

// allowedFlows evaluates the NetworkPolicies now in the cluster over the
// story's pods, and returns every allowed connection between two of them
// as "from -> to:port/protocol", pods named without their test suffix.
func (s *story) allowedFlows(g Gomega) []string {
	var flows []string
	for f := range s.evaluator(g).Flows() {
		if f.Allowed {
			flows = append(flows, fmt.Sprintf("%s -> %s:%d/%s", s.short(f.From), s.short(f.To), f.Port, f.Protocol))
		}
	}
	slices.Sort(flows)
	return flows
}

// key names a story pod as namespace/name, as the matchers of pkg/matchers
// take it.
func (s *story) key(prefix string) string {
	p := s.pod(prefix)
	return p.Namespace + "/" + p.Name
}

// short names a story pod without its namespace and test suffix.
func (s *story) short(name string) string {
	for _, p := range s.pods {
		if p.Namespace+"/"+p.Name == name {
			switch p.Namespace {
			case "kube-system":
				return p.Name[:len(p.Name)-len(s.app.Namespace)-1]
			case s.other:
				return "other/" + p.Name
			}
			return p.Name
		}
	}
	return name
}

// eventReasons lists the reasons of the events about app.
func eventReasons(g Gomega, app *tierwallv1alpha1.AppIsolation) []string {
	var list eventsv1.EventList
	g.Expect(k8sClient.List(ctx, &list, client.InNamespace(app.Namespace))).To(Succeed())
	var reasons []string
	for _, e := range list.Items {
		if e.Regarding.Name == app.Name && e.Regarding.Kind == tierwallv1alpha1.AppIsolationKind {
			reasons = append(reasons, e.Reason)
		}
	}
	return reasons
}

// eventNotes lists the notes of the events about app with reason.
func eventNotes(g Gomega, app *tierwallv1alpha1.AppIsolation, reason string) []string {
	var list eventsv1.EventList
	g.Expect(k8sClient.List(ctx, &list, client.InNamespace(app.Namespace))).To(Succeed())
	var notes []string
	for _, e := range list.Items {
		if e.Regarding.Name == app.Name && e.Regarding.Kind == tierwallv1alpha1.AppIsolationKind && e.Reason == reason {
			notes = append(notes, e.Note)
		}
	}
	return notes
}

// haveCondition asserts that a fresh copy of app has the condition with
// status want and, unless empty, reason; it returns the condition for more
// checks.
func haveCondition(g Gomega, app *tierwallv1alpha1.AppIsolation, conditionType string, want metav1.ConditionStatus, reason string) *metav1.Condition {
	c := condition(g, app, conditionType)
	g.Expect(c).NotTo(BeNil(), "condition %s", conditionType)
	g.Expect(c.Status).To(Equal(want), "condition %s: %s", conditionType, c.Message)
	if reason != "" {
		g.Expect(c.Reason).To(Equal(reason), "condition %s: %s", conditionType, c.Message)
	}
	return c
}

// reconciles lists the reconciles of AppIsolations in namespace: each
// starts by listing the namespace's NetworkPolicies.
func reconciles(namespace string) []call {
	return slices.DeleteFunc(calls.in(namespace), func(c call) bool {
		return c.Verb != "list" || c.Kind != "NetworkPolicyList"
	})
}

// settledReconciles waits until the AppIsolations of namespace stop
// reconciling (the watch events of their own writes arrive after Ready),
// and returns how many reconciles there were.
func settledReconciles(namespace string) int {
	var n int
	Eventually(func(g Gomega) {
		n = len(reconciles(namespace))
		g.Consistently(func() int { return len(reconciles(namespace)) }).
			WithTimeout(time.Second).Should(Equal(n))
	}).Should(Succeed())
	return n
}
