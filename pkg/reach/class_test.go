package reach

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodClass(t *testing.T) {
	pod := func(namespace, name string, labels map[string]string, mutate ...func(*corev1.Pod)) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels}}
		for _, m := range mutate {
			m(&p)
		}
		return p
	}
	web := map[string]string{"app": "web", "tier": "frontend"}
	withIP := func(ip string) func(*corev1.Pod) { return func(p *corev1.Pod) { p.Status.PodIP = ip } }
	withPort := func(name string, port int32) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "c", Ports: []corev1.ContainerPort{{Name: name, ContainerPort: port}}})
		}
	}
	tests := []struct {
		name string
		a, b corev1.Pod
		same bool
	}{
		{"replicas: only the name differs", pod("shop", "web-1", web), pod("shop", "web-2", web), true},
		{"the same labels in another order of insertion", pod("shop", "web-1", map[string]string{"tier": "frontend", "app": "web"}), pod("shop", "web-2", web), true},
		{"another label value", pod("shop", "web-1", web), pod("shop", "web-2", map[string]string{"app": "web", "tier": "backend"}), false},
		{"one more label", pod("shop", "web-1", web), pod("shop", "web-2", map[string]string{"app": "web", "tier": "frontend", "track": "canary"}), false},
		{"a label value that spells another label", pod("shop", "web-1", map[string]string{"a": "b\x00c=d"}), pod("shop", "web-2", map[string]string{"a": "b", "c": "d"}), false},
		{"another namespace", pod("shop", "web", web), pod("blog", "web", web), false},
		{"another address (ipBlocks match pod IPs)", pod("shop", "web-1", web, withIP("10.0.0.1")), pod("shop", "web-2", web, withIP("10.0.0.2")), false},
		{"the same address listed twice", pod("shop", "web-1", web, withIP("10.0.0.1")), pod("shop", "web-2", web, withIP("10.0.0.1"), func(p *corev1.Pod) {
			p.Status.PodIPs = []corev1.PodIP{{IP: "10.0.0.1"}}
		}), true},
		{"another named port", pod("shop", "web-1", web, withPort("http", 80)), pod("shop", "web-2", web, withPort("http", 8080)), false},
		{"the same named port", pod("shop", "web-1", web, withPort("http", 80)), pod("shop", "web-2", web, withPort("http", 80)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := State{Pods: []corev1.Pod{tt.a, tt.b}}
			e, err := New(s)
			if err != nil {
				t.Fatal(err)
			}
			a, okA := e.PodClass(&s.Pods[0])
			b, okB := e.PodClass(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: tt.b.Namespace, Name: tt.b.Name}})
			if !okA || !okB {
				t.Fatalf("PodClass of the State's pods: ok %v and %v", okA, okB)
			}
			if (a == b) != tt.same {
				t.Errorf("classes %d and %d, want same=%v", a, b, tt.same)
			}
			if _, ok := e.Subset(func(*networkingv1.NetworkPolicy) bool { return false }).PodClass(&s.Pods[1]); !ok {
				t.Error("a Subset does not know the State's pods")
			}
			if _, ok := e.PodClass(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "absent"}}); ok {
				t.Error("PodClass of a pod not in the State: ok")
			}
		})
	}
}
