package dataplane

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/tierwall/tierwall/internal/reach"
	"github.com/tierwall/tierwall/test/fixtures"
)

var (
	seedFlag = flag.Uint64("lab.seed", 0, "seed of the differential test's generator (default: TWLAB_SEED, else the clock)")
	setsFlag = flag.Int("lab.sets", 200, "how many random NetworkPolicy sets the differential test checks")
)

// markerNamespace holds two pods and a policy that the differential test
// flips after writing each set: once the flip shows in packets, kube-router
// has synced every write before it (it reads all policies from its informer
// in one full sync, and the informer delivers the writes in order).
const markerNamespace = "dt-marker"

// TestDifferential checks internal/reach against kube-router on random
// NetworkPolicy sets: for each set, the matrix measured with packets must
// equal the evaluator's, cell by cell. A disagreement is shrunk to a minimal
// reproducer and printed with the seed that reproduces it.
func TestDifferential(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		if s, err := strconv.ParseUint(os.Getenv("TWLAB_SEED"), 10, 64); err == nil {
			seed = s
		} else {
			seed = uint64(time.Now().UnixNano())
		}
	}
	t.Logf("Seed %d: reproduce with TWLAB_SEED=%d make test-dataplane (or -lab.seed=%d)", seed, seed, seed)

	pods := theLab.addPods(t, genNamespaces, genPods())
	markers := theLab.addPods(t, map[string]map[string]string{markerNamespace: nil}, []*corev1.Pod{
		fixtures.Pod(markerNamespace, "m1", map[string]string{"marker": "m1"}, fixtures.Port("marker", 7000, corev1.ProtocolTCP)),
		fixtures.Pod(markerNamespace, "m2", map[string]string{"marker": "m2"}, fixtures.Port("marker", 7000, corev1.ProtocolTCP)),
	})
	cs, err := cells(pods)
	if err != nil {
		t.Fatal(err)
	}
	theLab.requireBaseline(t, append(slices.Clone(pods), markers...), mustCells(t, append(slices.Clone(pods), markers...)))
	d := &differential{pods: pods, cells: cs, m1: markers[0], m2: markers[1]}
	t.Cleanup(func() { d.clear(t) })

	g := &generator{r: rand.New(rand.NewPCG(seed, 0x7477))}
	for _, p := range pods {
		g.ips = append(g.ips, netip.MustParseAddr(theLab.slots[p.slot].ip))
	}
	failures := 0
	start := time.Now()
	for i := range *setsFlag {
		set := g.policies()
		disagree, measured, evaluated := d.check(t, set)
		if len(disagree) == 0 {
			continue
		}
		failures++
		minimal := d.shrink(t, set)
		_, measured, evaluated = d.check(t, minimal)
		t.Errorf("set %d of seed %d: kube-router and internal/reach disagree\n%s\nminimal reproducer (pods: %s):\n%s",
			i, seed, sideBySide([]string{"reach", "packets"}, evaluated, measured), podSummary(pods), policiesYAML(minimal))
		if failures == 3 {
			t.Fatalf("stopping after 3 disagreeing sets")
		}
	}
	t.Logf("%d random NetworkPolicy sets, %d cells each: packets under kube-router and internal/reach agree on every cell (%s)",
		*setsFlag, len(cs), time.Since(start).Round(time.Second))
}

func mustCells(t *testing.T, pods []*labPod) []cell {
	t.Helper()
	cs, err := cells(pods)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

type differential struct {
	pods   []*labPod
	cells  []cell
	m1, m2 *labPod
	// flips counts marker flips: odd is "m1 -> m2 denied".
	flips int
}

// apply replaces the policies of the population's namespaces with set and
// waits until kube-router has synced it.
func (d *differential) apply(t *testing.T, set []networkingv1.NetworkPolicy) {
	t.Helper()
	d.clear(t)
	ctx := context.Background()
	for i := range set {
		p := set[i].DeepCopy()
		if err := theLab.c.Create(ctx, p); err != nil {
			t.Fatalf("failed to create NetworkPolicy %s/%s: %v\n%s", p.Namespace, p.Name, err, policiesYAML(set[i:i+1]))
		}
	}
	d.flip(t)
}

func (d *differential) clear(t *testing.T) {
	t.Helper()
	for _, ns := range genNamespaceNames {
		if err := theLab.c.DeleteAllOf(context.Background(), &networkingv1.NetworkPolicy{}, client.InNamespace(ns)); err != nil {
			t.Fatalf("failed to delete the policies of %s: %v", ns, err)
		}
	}
}

// flip writes the marker policy (m2's ingress denied, then allowed again,
// and so on) and waits until the packets from m1 to m2 show it.
func (d *differential) flip(t *testing.T) {
	t.Helper()
	d.flips++
	deny := d.flips%2 == 1
	marker := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: markerNamespace, Name: "marker"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"marker": "m2"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		},
	}
	if !deny {
		marker.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{}}
	}
	ctx := context.Background()
	if d.flips == 1 {
		if err := theLab.c.Create(ctx, marker); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = theLab.c.Delete(ctx, marker) })
	} else {
		var current networkingv1.NetworkPolicy
		if err := theLab.c.Get(ctx, client.ObjectKeyFromObject(marker), &current); err != nil {
			t.Fatal(err)
		}
		current.Spec = marker.Spec
		if err := theLab.c.Update(ctx, &current); err != nil {
			t.Fatal(err)
		}
	}
	err := poll(convergence, func() (bool, error) {
		ok, err := probe(theLab.slots[d.m1.slot].ns, theLab.slots[d.m2.slot].ip, 7000, corev1.ProtocolTCP)
		return ok != deny, err
	})
	if err != nil {
		t.Fatalf("kube-router did not enforce the marker policy (deny=%t): %v", deny, err)
	}
}

// check applies set, measures the matrix and evaluates it; it returns the
// disagreeing flows (confirmed by probing them twice more) and both
// matrices.
func (d *differential) check(t *testing.T, set []networkingv1.NetworkPolicy) (disagree []reach.Flow, measured, evaluated []reach.Flow) {
	t.Helper()
	d.apply(t, set)
	measured, err := theLab.measure(d.cells)
	if err != nil {
		t.Fatal(err)
	}
	s, err := theLab.state(context.Background(), d.pods)
	if err != nil {
		t.Fatal(err)
	}
	evaluated, err = evaluate(s, d.cells)
	if err != nil {
		t.Fatalf("internal/reach refused the set: %v\n%s", err, policiesYAML(set))
	}
	for i := range d.cells {
		if measured[i].Allowed == evaluated[i].Allowed {
			continue
		}
		for range 2 {
			again, err := theLab.measure(d.cells[i : i+1])
			if err != nil {
				t.Fatal(err)
			}
			if again[0].Allowed != measured[i].Allowed {
				t.Fatalf("the packets of %s change without a policy change: a flaky lab, not a verdict", flowKey(measured[i]))
			}
		}
		disagree = append(disagree, measured[i])
	}
	return disagree, measured, evaluated
}

// shrink removes policies, rules, peers and ports from set while the
// disagreement remains, and returns what is left.
func (d *differential) shrink(t *testing.T, set []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
	t.Helper()
	for budget := 60; budget > 0; {
		smaller := false
		for _, candidate := range reductions(set) {
			budget--
			if disagree, _, _ := d.check(t, candidate); len(disagree) > 0 {
				set, smaller = candidate, true
				break
			}
			if budget == 0 {
				break
			}
		}
		if !smaller {
			break
		}
	}
	return set
}

// reductions lists the sets that have one thing less than set: a policy, a
// rule, a peer or a port.
func reductions(set []networkingv1.NetworkPolicy) [][]networkingv1.NetworkPolicy {
	var out [][]networkingv1.NetworkPolicy
	with := func(i int, edit func(*networkingv1.NetworkPolicy)) {
		c := make([]networkingv1.NetworkPolicy, len(set))
		for j := range set {
			c[j] = *set[j].DeepCopy()
		}
		edit(&c[i])
		out = append(out, c)
	}
	for i := range set {
		if len(set) > 1 {
			out = append(out, slices.Delete(slices.Clone(set), i, i+1))
		}
		p := &set[i]
		for r := range p.Spec.Ingress {
			with(i, func(p *networkingv1.NetworkPolicy) { p.Spec.Ingress = slices.Delete(p.Spec.Ingress, r, r+1) })
			for k := range p.Spec.Ingress[r].From {
				with(i, func(p *networkingv1.NetworkPolicy) {
					p.Spec.Ingress[r].From = slices.Delete(p.Spec.Ingress[r].From, k, k+1)
				})
			}
			for k := range p.Spec.Ingress[r].Ports {
				with(i, func(p *networkingv1.NetworkPolicy) {
					p.Spec.Ingress[r].Ports = slices.Delete(p.Spec.Ingress[r].Ports, k, k+1)
				})
			}
		}
		for r := range p.Spec.Egress {
			with(i, func(p *networkingv1.NetworkPolicy) { p.Spec.Egress = slices.Delete(p.Spec.Egress, r, r+1) })
			for k := range p.Spec.Egress[r].To {
				with(i, func(p *networkingv1.NetworkPolicy) { p.Spec.Egress[r].To = slices.Delete(p.Spec.Egress[r].To, k, k+1) })
			}
			for k := range p.Spec.Egress[r].Ports {
				with(i, func(p *networkingv1.NetworkPolicy) {
					p.Spec.Egress[r].Ports = slices.Delete(p.Spec.Egress[r].Ports, k, k+1)
				})
			}
		}
	}
	return out
}

func policiesYAML(set []networkingv1.NetworkPolicy) string {
	var b strings.Builder
	for _, p := range set {
		p.TypeMeta = metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"}
		p.ObjectMeta = metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name}
		data, _ := yaml.Marshal(p)
		b.WriteString("---\n")
		b.Write(data)
	}
	return b.String()
}

func podSummary(pods []*labPod) string {
	var parts []string
	for _, p := range pods {
		var ports []string
		for _, c := range p.pod.Spec.Containers {
			for _, port := range c.Ports {
				ports = append(ports, fmt.Sprintf("%s=%d/%s", port.Name, port.ContainerPort, port.Protocol))
			}
		}
		parts = append(parts, fmt.Sprintf("%s %v %s [%s]", p.key(), p.pod.Labels, theLab.slots[p.slot].ip, strings.Join(ports, " ")))
	}
	return strings.Join(parts, "; ")
}
