package foreign

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/tierwall/tierwall/pkg/render"
	"github.com/tierwall/tierwall/test/fixtures"
)

// BenchmarkFind is the foreign-policy check of `make perf`'s reconcile-cost
// phase: 2,000 governed pods, 20 replicas of each of 100 instances, and 200
// policies a chart wrote, each selecting one instance (ingress from the
// next one and from a namespace; egress to every namespace on a port
// range). "every-pod" tries every replica, as the check did before pod
// classes; "by-class" is what Find does.
func BenchmarkFind(b *testing.B) {
	const namespace = "busy"
	app, err := fixtures.WordPress(namespace)
	if err != nil {
		b.Fatal(err)
	}
	own, err := render.Render(app, render.Platform{})
	if err != nil {
		b.Fatal(err)
	}
	governed, err := metav1.LabelSelectorAsSelector(app.Spec.PodSelector)
	if err != nil {
		b.Fatal(err)
	}
	tiers := []string{"frontend", "mysql"}
	pods := make([]corev1.Pod, 0, 2000)
	for i := range 2000 {
		pods = append(pods, pod(namespace, fmt.Sprintf("pod-%04d", i), map[string]string{
			"app": "wordpress", "tier": tiers[i%2], "instance": fmt.Sprintf("i-%d", i%100)}))
	}
	instance := func(k int) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{"instance": fmt.Sprintf("i-%d", k%100)}}
	}
	http := intstr.FromString("http")
	others := make([]networkingv1.NetworkPolicy, 0, 200)
	for i := range 200 {
		p := networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: fmt.Sprintf("foreign-%d", i)}}
		p.Spec.PodSelector = *instance(i)
		if i%2 == 0 {
			p.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
			p.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
				Ports: []networkingv1.NetworkPolicyPort{{Port: &http}},
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: instance(i + 1)}, {NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "ops"}}}},
			}}
		} else {
			from, to := intstr.FromInt32(5000), int32(6000)
			p.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
			p.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{
				Ports: []networkingv1.NetworkPolicyPort{{Port: &from, EndPort: &to}},
				To:    []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}},
			}}
		}
		others = append(others, p)
	}
	in := Input{Governed: governed, Namespace: namespace, Own: own, Others: others, Pods: pods}
	for _, everyPod := range []bool{false, true} {
		name := "by-class"
		if everyPod {
			name = "every-pod"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := find(in, everyPod); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
