package report

import (
	"maps"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
)

func TestOriginsDescribe(t *testing.T) {
	generated := func(name string, labels map[string]string) networkingv1.NetworkPolicy {
		l := map[string]string{tierwallv1alpha1.ManagedByLabel: tierwallv1alpha1.ManagedByValue, tierwallv1alpha1.AppIsolationLabel: "shop"}
		maps.Copy(l, labels)
		return networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: name, Labels: l}}
	}
	o := OriginsOf([]networkingv1.NetworkPolicy{
		generated("shop-tier-web", map[string]string{tierwallv1alpha1.RoleLabel: tierwallv1alpha1.RoleTier, tierwallv1alpha1.TierLabel: "web"}),
		generated("shop-dns", map[string]string{tierwallv1alpha1.RoleLabel: tierwallv1alpha1.RoleDNS}),
		generated("shop-old", nil),
		{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "by-hand", Labels: map[string]string{tierwallv1alpha1.AppIsolationLabel: "shop"}}},
	})
	tests := []struct{ policy, want string }{
		{"app/shop-tier-web", " (AppIsolation app/shop, tier web)"},
		{"app/shop-dns", " (AppIsolation app/shop, dns)"},
		{"app/shop-old", " (AppIsolation app/shop)"},
		{"app/by-hand", ""}, // not managed by tierwall, whatever its labels
		{"app/absent", ""},
	}
	for _, tt := range tests {
		if got := o.Describe(tt.policy); got != tt.want {
			t.Errorf("Describe(%s) = %q, want %q", tt.policy, got, tt.want)
		}
	}
}
