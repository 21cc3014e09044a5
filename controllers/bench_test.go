package controllers

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/test/fixtures"
)

// BenchmarkReconcile measures one steady-state reconcile of the WordPress
// AppIsolation (gather, plan, foreign-policy evaluation, status; no write)
// in a namespace of pods with foreign NetworkPolicies, over
// controller-runtime's fake client. The fake client copies every object it
// lists through a conversion, so these figures are an upper bound on what
// the manager's informer cache costs.
func BenchmarkReconcile(b *testing.B) {
	for _, size := range []struct{ pods, foreign int }{{200, 0}, {2000, 0}, {2000, 200}} {
		b.Run(fmt.Sprintf("pods=%d/foreign=%d", size.pods, size.foreign), func(b *testing.B) {
			r, req := reconcileWorld(b, size.pods, size.foreign)
			ctx := context.Background()
			// The first reconcile creates the policies and writes the
			// status; the measured ones find nothing to do.
			for range 2 {
				if _, err := r.Reconcile(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Reconcile(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// reconcileWorld builds a fake cluster: namespace shop with the WordPress
// AppIsolation, its three pods and pods-3 others spread over 100 apps, and
// foreign policies of the shape a Helm chart writes (ingress from the
// previous app on a named port, from monitoring by namespace selector;
// egress to the next app and to a port range).
func reconcileWorld(b *testing.B, pods, foreign int) (*AppIsolationReconciler, ctrl.Request) {
	b.Helper()
	const ns = "shop"
	app, err := fixtures.WordPress(ns)
	if err != nil {
		b.Fatal(err)
	}
	app.Generation = 1
	objs := []client.Object{
		app,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{corev1.LabelMetadataName: ns}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system", Labels: map[string]string{corev1.LabelMetadataName: "kube-system"}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "monitoring", Labels: map[string]string{corev1.LabelMetadataName: "monitoring", "team": "ops"}}},
		fixtures.Pod("monitoring", "prometheus-0", map[string]string{"app": "prometheus"}),
	}
	for _, p := range fixtures.WordPressPods(ns, "monitoring", "")[:5] {
		objs = append(objs, p)
	}
	for i := range pods - 3 {
		objs = append(objs, fixtures.Pod(ns, fmt.Sprintf("app-%d-%d", i%100, i/100),
			map[string]string{"app": fmt.Sprintf("app-%d", i%100), "tier": []string{"web", "api", "db", "cache"}[i%4]},
			fixtures.Port("http", 8080, corev1.ProtocolTCP)))
	}
	tcp := corev1.ProtocolTCP
	for i := range foreign {
		selector := func(app int) *metav1.LabelSelector {
			return &metav1.LabelSelector{MatchLabels: map[string]string{"app": fmt.Sprintf("app-%d", app%100)}}
		}
		spec := networkingv1.NetworkPolicySpec{PodSelector: *selector(i)}
		if i%2 == 0 {
			spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
			spec.Ingress = []networkingv1.NetworkPolicyIngressRule{
				{Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: ptr.To(intstr.FromString("http"))}},
					From: []networkingv1.NetworkPolicyPeer{{PodSelector: selector(i + 99)}}},
				{Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: ptr.To(intstr.FromInt32(9090))}},
					From: []networkingv1.NetworkPolicyPeer{{
						NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "ops"}},
						PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": "prometheus"}},
					}}},
			}
		} else {
			end := int32(6000)
			spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
			spec.Egress = []networkingv1.NetworkPolicyEgressRule{
				{Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: ptr.To(intstr.FromString("http"))}},
					To: []networkingv1.NetworkPolicyPeer{{PodSelector: selector(i + 1)}}},
				{Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: ptr.To(intstr.FromInt32(5000)), EndPort: &end}},
					To: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "db"}}}}},
			}
		}
		objs = append(objs, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("chart-%d", i)}, Spec: spec})
	}
	builder := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).
		WithStatusSubresource(&tierwallv1alpha1.AppIsolation{})
	for _, index := range appIsolationIndexes {
		builder = builder.WithIndex(&tierwallv1alpha1.AppIsolation{}, index.field, index.extract)
	}
	c := builder.Build()
	r := &AppIsolationReconciler{Client: c, Options: Options{ObservableNamespaces: []string{"kube-system"}}}
	return r, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(app)}
}
