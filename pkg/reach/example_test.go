package reach_test

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/tierwall/tierwall/pkg/reach"
)

// This example finds connections that a foreign policy (one not managed by tierwall)
// opens to a pod that tierwall governs: flows allowed where the ingress side is allowed
// by foreign policies only.
func Example_foreignPolicies() {
	mysql := intstr.FromInt32(3306)
	managed := map[string]string{"app.kubernetes.io/managed-by": "tierwall"}
	newPod := func(name, ip string, port int32) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "dev-wordpress", Name: name, Labels: map[string]string{"app": name}}}
		p.Spec.Containers = []corev1.Container{{Name: name, Ports: []corev1.ContainerPort{{ContainerPort: port}}}}
		p.Status.PodIP = ip
		return p
	}
	s := reach.State{
		Pods: []corev1.Pod{newPod("wordpress", "10.42.0.10", 80), newPod("mysql", "10.42.0.11", 3306), newPod("backup", "10.42.0.12", 8080)},
		Policies: []networkingv1.NetworkPolicy{
			{
				// tierwall: only WordPress may reach MySQL.
				ObjectMeta: metav1.ObjectMeta{Namespace: "dev-wordpress", Name: "tierwall-mysql", Labels: managed},
				Spec: networkingv1.NetworkPolicySpec{
					PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "mysql"}},
					PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
					Ingress: []networkingv1.NetworkPolicyIngressRule{{
						Ports: []networkingv1.NetworkPolicyPort{{Port: &mysql}},
						From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "wordpress"}}}},
					}},
				},
			},
			{
				// Written by hand "to make it work": MySQL open to everything.
				ObjectMeta: metav1.ObjectMeta{Namespace: "dev-wordpress", Name: "allow-mysql"},
				Spec: networkingv1.NetworkPolicySpec{
					PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "mysql"}},
					Ingress: []networkingv1.NetworkPolicyIngressRule{{
						Ports: []networkingv1.NetworkPolicyPort{{Port: &mysql}},
						From:  []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}}},
					}},
				},
			},
		},
	}
	e, err := reach.New(s)
	if err != nil {
		panic(err)
	}
	ours := []string{"dev-wordpress/tierwall-mysql"}
	for _, from := range []reach.Endpoint{reach.PodEndpoint(&s.Pods[0]), reach.PodEndpoint(&s.Pods[2]), reach.IPEndpoint("192.0.2.1")} {
		v := e.Check(from, reach.PodEndpoint(&s.Pods[1]), 3306, corev1.ProtocolTCP)
		foreignOnly := v.Allowed && !slices.ContainsFunc(v.IngressAllowedBy, func(p string) bool { return slices.Contains(ours, p) })
		fmt.Println(v.Allowed, v.IngressAllowedBy, foreignOnly)
	}

	// The same question for all pod-to-pod flows at once, with a second Evaluator.
	own := e.Subset(func(p *networkingv1.NetworkPolicy) bool {
		return p.Labels["app.kubernetes.io/managed-by"] == "tierwall"
	})
	// Both Evaluators have the same pods, so their flows come in the same order.
	ownFlows := slices.Collect(own.Flows())
	i := 0
	for f := range e.Flows() {
		if f.Allowed && !ownFlows[i].Allowed {
			fmt.Printf("%s -> %s:%d/%s is opened by foreign policies\n", f.From, f.To, f.Port, f.Protocol)
		}
		i++
	}
	// Output:
	// true [dev-wordpress/allow-mysql dev-wordpress/tierwall-mysql] false
	// true [dev-wordpress/allow-mysql] true
	// true [dev-wordpress/allow-mysql] true
	// dev-wordpress/backup -> dev-wordpress/mysql:3306/TCP is opened by foreign policies
}
