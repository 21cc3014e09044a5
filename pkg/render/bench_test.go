package render_test

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/pkg/render"
)

// BenchmarkRender renders the WordPress sample (2 tiers), and the largest
// spec admission accepts in tiers: 16 tiers, each allowing traffic from
// every other tier on 16 ports. Every reconcile renders once.
func BenchmarkRender(b *testing.B) {
	largest := func(app *tierwallv1alpha1.AppIsolation) {
		app.Spec.Tiers = nil
		for i := range 16 {
			t := tierwallv1alpha1.Tier{
				Name:        fmt.Sprintf("tier-%d", i),
				PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": fmt.Sprintf("t%d", i)}},
			}
			for p := range 16 {
				t.Ports = append(t.Ports, tierwallv1alpha1.Port{Port: intstr.FromInt32(int32(8000 + p))})
			}
			for j := range 16 {
				if j != i {
					t.AllowFrom = append(t.AllowFrom, tierwallv1alpha1.Peer{Tier: fmt.Sprintf("tier-%d", j)})
				}
			}
			app.Spec.Tiers = append(app.Spec.Tiers, t)
		}
	}
	for _, c := range []struct {
		name  string
		tweak func(*tierwallv1alpha1.AppIsolation)
	}{
		{"wordpress", func(*tierwallv1alpha1.AppIsolation) {}},
		{"tiers=16", largest},
	} {
		b.Run(c.name, func(b *testing.B) {
			app := wordpress(b, c.tweak)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := render.Render(app, render.Platform{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
