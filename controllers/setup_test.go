package controllers

import (
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
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
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := stripUnread(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("stripUnread() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStripUnreadInterns(t *testing.T) {
	pod := func() any {
		// Strings built at run time, as the decoder builds them: distinct
		// bytes for equal values.
		return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
			Name: "web", Namespace: string([]byte("shop")), Labels: map[string]string{string([]byte("app")): string([]byte("web"))},
		}}
	}
	a, _ := stripUnread(pod())
	b, _ := stripUnread(pod())
	am, bm := a.(*metav1.PartialObjectMetadata), b.(*metav1.PartialObjectMetadata)
	if unsafe.StringData(am.Namespace) != unsafe.StringData(bm.Namespace) {
		t.Error("two pods of one namespace do not share its name")
	}
	if unsafe.StringData(am.Labels["app"]) != unsafe.StringData(bm.Labels["app"]) {
		t.Error("two pods with one label value do not share it")
	}
}
