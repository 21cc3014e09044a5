package specs

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
)

// The bounds on label selectors, as docs/validation.md states them.
const (
	maxMatchLabels      = 8
	maxMatchExpressions = 4
	maxValues           = 16
	// maxKey is a label key: a DNS subdomain prefix of 253 characters, '/'
	// and a name of 63.
	maxKey   = 253 + 1 + 63
	maxValue = 63
)

// longKey is a valid label key of maxKey characters, distinct for each
// (prefix, i).
func longKey(prefix string, i int) string {
	dns := strings.Join([]string{
		strings.Repeat("a", 63), strings.Repeat("b", 63), strings.Repeat("c", 63), strings.Repeat("d", 61),
	}, ".")
	name := fmt.Sprintf("%s%02d", prefix, i)
	return dns + "/" + name + strings.Repeat("n", 63-len(name))
}

// longValue is a valid label value of maxValue characters.
func longValue(prefix string, i int) string {
	v := fmt.Sprintf("%s%02d", prefix, i)
	return v + strings.Repeat("v", maxValue-len(v))
}

// largestSelector is a selector at every bound: maxMatchLabels labels whose
// keys depend on labelKeys only (so that two selectors with the same
// labelKeys and different labelValues conflict, and their intersection
// turns every label into an expression), and maxMatchExpressions
// expressions of maxValues values, all of the longest length.
func largestSelector(labelKeys, labelValues, expressions string) *metav1.LabelSelector {
	s := &metav1.LabelSelector{MatchLabels: map[string]string{}}
	for i := range maxMatchLabels {
		s.MatchLabels[longKey(labelKeys, i)] = longValue(labelValues, i)
	}
	for i := range maxMatchExpressions {
		e := metav1.LabelSelectorRequirement{Key: longKey(expressions, i), Operator: metav1.LabelSelectorOpNotIn}
		for j := range maxValues {
			e.Values = append(e.Values, longValue(expressions, j))
		}
		s.MatchExpressions = append(s.MatchExpressions, e)
	}
	return s
}

// Largest makes the AppIsolation whose first tier's policy is the largest a
// valid spec can render: every selector at its bounds, 16 tiers that all
// allow each other on 16 ports, and 16 egressTo entries of two selectors in
// the first tier. (The same egressTo in every tier would make the
// AppIsolation itself larger than the API server accepts; each tier
// policy carries only its own tier's egressTo.)
func Largest(app *tierwallv1alpha1.AppIsolation) {
	app.Spec = tierwallv1alpha1.AppIsolationSpec{
		PodSelector: largestSelector("g", "g", "ge"),
		DNS: &tierwallv1alpha1.DNS{PodSelector: largestSelector("d", "d", "de"),
			// The longest canonical IPv6 address.
			NodeLocal: &tierwallv1alpha1.NodeLocalDNS{Address: "fd00:1111:2222:3333:4444:5555:6666:7777"}},
		IngressControllers: nil,
	}
	ports := make([]tierwallv1alpha1.Port, 16)
	for i := range ports {
		ports[i] = tierwallv1alpha1.Port{
			Port: intstr.FromInt32(int32(10000 + i)), EndPort: ptr.To(int32(20000 + i)), Protocol: "SCTP",
		}
	}
	names := make([]string, 0, 16)
	for i := range 16 {
		names = append(names, fmt.Sprintf("tier-%02d-%s", i, strings.Repeat("t", 32)))
	}
	for i, name := range names {
		// Same label keys as spec.podSelector, other values: the
		// intersection keeps both, as expressions.
		selector := largestSelector("g", fmt.Sprintf("t%d", i), fmt.Sprintf("t%de", i))
		tier := tierwallv1alpha1.Tier{Name: name, PodSelector: *selector, Ports: ports}
		for _, peer := range names {
			tier.AllowFrom = append(tier.AllowFrom, tierwallv1alpha1.Peer{Tier: peer})
		}
		app.Spec.Tiers = append(app.Spec.Tiers, tier)
	}
	for i := range 16 {
		app.Spec.Tiers[0].EgressTo = append(app.Spec.Tiers[0].EgressTo, tierwallv1alpha1.EgressRule{
			NamespaceSelector: largestSelector(fmt.Sprintf("n%d", i), "n", "ne"),
			PodSelector:       largestSelector(fmt.Sprintf("p%d", i), "p", "pe"),
			Ports:             ports,
		})
	}
}
