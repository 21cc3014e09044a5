package controllers

import (
	"fmt"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestStripUnread(t *testing.T) {
	deleted := metav1.Now()
	full := metav1.ObjectMeta{
		Name: "web-7d4b9c8f6-x2x9z", GenerateName: "web-7d4b9c8f6-", Namespace: "shop", UID: "6f1c9a5e",
		ResourceVersion: "42", Generation: 3, CreationTimestamp: metav1.Now(), DeletionTimestamp: &deleted,
		Labels:          map[string]string{"app": "web"},
		Annotations:     map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{}"},
		OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "web-7d4b9c8f6"}},
		Finalizers:      []string{"example.com/finalizer"},
		ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager"}},
	}
	tests := []struct {
		name string
		in   any
		want any
	}{{
		name: "pod or namespace metadata keeps what tierwall reads",
		in:   &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: *full.DeepCopy()},
		want: &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{
			Name: "web-7d4b9c8f6-x2x9z", Namespace: "shop", ResourceVersion: "42", DeletionTimestamp: &deleted,
			Labels: map[string]string{"app": "web"},
		}},
	}, {
		name: "no labels stay nil",
		in:   &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}},
		want: &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}},
	}, {
		name: "a NetworkPolicy keeps all but its managed fields, which tierwall writes back",
		in:   &networkingv1.NetworkPolicy{ObjectMeta: *full.DeepCopy()},
		want: func() any {
			want := &networkingv1.NetworkPolicy{ObjectMeta: *full.DeepCopy()}
			want.ManagedFields = nil
			return want
		}(),
	}, {
		name: "a Node keeps its name, labels and InternalIPs only",
		in: &corev1.Node{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Node"},
			ObjectMeta: *full.DeepCopy(),
			Spec:       corev1.NodeSpec{PodCIDR: "10.244.1.0/24", ProviderID: "aws:///i-1"},
			Status: corev1.NodeStatus{
				Addresses: []corev1.NodeAddress{
					{Type: corev1.NodeHostName, Address: "node-a"},
					{Type: corev1.NodeInternalIP, Address: "10.0.0.1"},
					{Type: corev1.NodeExternalIP, Address: "203.0.113.1"},
					{Type: corev1.NodeInternalIP, Address: "fd00::1"},
				},
				Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
				Images:     []corev1.ContainerImage{{Names: []string{"registry.k8s.io/pause:3.10"}, SizeBytes: 320000}},
			},
		},
		want: &corev1.Node{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Node"},
			ObjectMeta: metav1.ObjectMeta{
				Name: "web-7d4b9c8f6-x2x9z", UID: "6f1c9a5e", ResourceVersion: "42", DeletionTimestamp: &deleted,
				Labels: map[string]string{"app": "web"},
			},
			Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: "10.0.0.1"},
				{Type: corev1.NodeInternalIP, Address: "fd00::1"},
			}},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := stripUnread(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			// The cache reads a metadata object through DeepCopyObject.
			if m, ok := got.(*cachedMeta); ok {
				got = m.DeepCopyObject()
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("stripUnread() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStripUnreadInterns(t *testing.T) {
	pod := func(name, app string) *cachedMeta {
		// Strings built at run time, as the decoder builds them: distinct
		// bytes for equal values.
		m, _ := stripUnread(&metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: string([]byte("shop")), Labels: map[string]string{string([]byte("app")): string([]byte(app))},
		}})
		return m.(*cachedMeta)
	}
	a, b, other := pod("web-1", "web"), pod("web-2", "web"), pod("api-1", "api")
	if unsafe.StringData(a.GetNamespace()) != unsafe.StringData(b.GetNamespace()) {
		t.Error("two pods of one namespace do not share its name")
	}
	if a.labels != b.labels {
		t.Error("two pods with the same labels do not share them")
	}
	if a.labels == other.labels || other.GetLabels()["app"] != "api" {
		t.Errorf("pods with different labels share them: %v", other.GetLabels())
	}
	copied := a.DeepCopyObject().(*metav1.PartialObjectMetadata)
	copied.Labels["app"] = "changed"
	if b.GetLabels()["app"] != "web" {
		t.Error("changing the labels of an object read from the cache changed the cache")
	}
}

// TestLabelSetsAreForgotten checks that a label set no cached object holds
// any more is dropped, so that label churn (a rollout's pod-template-hash)
// does not grow the manager.
func TestLabelSetsAreForgotten(t *testing.T) {
	// Count this test's own sets only: other objects' sets come and go as
	// collections run.
	keys := make([]string, 0, 100)
	interned := func() int {
		labelSets.mu.Lock()
		defer labelSets.mu.Unlock()
		n := 0
		for _, k := range keys {
			if _, ok := labelSets.sets[k]; ok {
				n++
			}
		}
		return n
	}
	held := make([]*cachedMeta, 0, 100)
	for i := range 100 {
		labels := map[string]string{"pod-template-hash": fmt.Sprintf("forgotten-%d", i)}
		keys = append(keys, labelKey(labels))
		m, _ := stripUnread(&metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: labels}})
		held = append(held, m.(*cachedMeta))
	}
	if got := interned(); got != 100 {
		t.Fatalf("%d of 100 label sets held while their objects are in use", got)
	}
	runtime.KeepAlive(held)
	// Cleanups run after a collection finds the sets unreachable; poll.
	for range 100 {
		runtime.GC()
		if interned() == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("%d of 100 label sets held once their objects are gone", interned())
}
