package dataplane

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/pkg/reach"
)

// probeInterval is the most time between two probes of the same flow while
// a transition runs.
const probeInterval = 50 * time.Millisecond

// prober probes cells continuously, each at least every probeInterval, and
// records every round.
type prober struct {
	cells []cell
	stop  chan struct{}
	done  sync.WaitGroup

	mu     sync.Mutex
	rounds []round
}

// round is one probe of every cell.
type round struct {
	start   time.Time
	allowed []bool
}

func startProber(cs []cell) *prober {
	p := &prober{cells: cs, stop: make(chan struct{})}
	p.done.Go(p.run)
	return p
}

func (p *prober) run() {
	for {
		select {
		case <-p.stop:
			return
		default:
		}
		start := time.Now()
		flows, _ := theLab.measure(p.cells)
		r := round{start: start, allowed: make([]bool, len(flows))}
		for i, f := range flows {
			r.allowed[i] = f.Allowed
		}
		p.mu.Lock()
		p.rounds = append(p.rounds, r)
		p.mu.Unlock()
		if d := probeInterval - time.Since(start); d > 0 {
			time.Sleep(d)
		}
	}
}

// mark returns the number of rounds so far: the start of a transition.
func (p *prober) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.rounds)
}

// report checks the rounds since from: the cells that old and new both
// allow must have got through in every round (else drops), the cells that
// both deny in none (else leaks). It also returns how many rounds that was
// and the longest time between the starts of two rounds.
func (p *prober) report(from int, old, new []reach.Flow) (drops, leaks []string, rounds int, longest time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	rs := p.rounds[max(from-1, 0):]
	for i := 1; i < len(rs); i++ {
		longest = max(longest, rs[i].start.Sub(rs[i-1].start))
	}
	rs = p.rounds[from:]
	for i, c := range p.cells {
		if old[i].Allowed != new[i].Allowed {
			continue
		}
		failed := 0
		for _, r := range rs {
			if r.allowed[i] != old[i].Allowed {
				failed++
			}
		}
		if failed == 0 {
			continue
		}
		line := fmt.Sprintf("%s (%d of %d probes)", flowKey(c.flow), failed, len(rs))
		if old[i].Allowed {
			drops = append(drops, line)
		} else {
			leaks = append(leaks, line)
		}
	}
	return drops, leaks, len(rs), longest
}

func (p *prober) close() {
	close(p.stop)
	p.done.Wait()
}

// policyWrite is a write to a NetworkPolicy of the app's namespace, as a
// watch saw it.
type policyWrite struct {
	kind watch.EventType
	name string
	role string
}

func (w policyWrite) String() string { return fmt.Sprintf("%s %s", w.kind, w.name) }

// opens tells whether the write can only widen what is allowed: an allow
// policy created, or the default-deny deleted. closes is the opposite.
func (w policyWrite) opens() bool {
	deny := w.role == tierwallv1alpha1.RoleDefaultDeny
	return (w.kind == watch.Added && !deny) || (w.kind == watch.Deleted && deny)
}

func (w policyWrite) closes() bool {
	deny := w.role == tierwallv1alpha1.RoleDefaultDeny
	return (w.kind == watch.Deleted && !deny) || (w.kind == watch.Added && deny)
}

// writeRecorder records the writes to the NetworkPolicies of a namespace.
type writeRecorder struct {
	mu     sync.Mutex
	writes []policyWrite
	w      watch.Interface
}

func recordWrites(t *testing.T, namespace string) *writeRecorder {
	t.Helper()
	wc, err := client.NewWithWatch(theLab.cfg, client.Options{Scheme: theLab.c.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	var list networkingv1.NetworkPolicyList
	if err := theLab.c.List(context.Background(), &list, client.InNamespace(namespace)); err != nil {
		t.Fatal(err)
	}
	w, err := wc.Watch(context.Background(), &networkingv1.NetworkPolicyList{}, client.InNamespace(namespace),
		&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}})
	if err != nil {
		t.Fatal(err)
	}
	r := &writeRecorder{w: w}
	go func() {
		for ev := range w.ResultChan() {
			np, ok := ev.Object.(*networkingv1.NetworkPolicy)
			if !ok {
				continue
			}
			r.mu.Lock()
			r.writes = append(r.writes, policyWrite{kind: ev.Type, name: np.Name, role: np.Labels[tierwallv1alpha1.RoleLabel]})
			r.mu.Unlock()
		}
	}()
	t.Cleanup(w.Stop)
	return r
}

// take returns the writes recorded since the last take.
func (r *writeRecorder) take() []policyWrite {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.writes
	r.writes = nil
	return out
}

// checkOrder fails when a write that narrows comes before one that widens.
func checkOrder(writes []policyWrite) error {
	firstClose := slices.IndexFunc(writes, policyWrite.closes)
	if firstClose < 0 {
		return nil
	}
	if i := slices.IndexFunc(writes[firstClose:], policyWrite.opens); i >= 0 {
		return fmt.Errorf("%s came before %s: the writes are %v", writes[firstClose], writes[firstClose+i], writes)
	}
	return nil
}

// transition is a change to the WordPress setup.
type transition struct {
	name string
	// change makes it; app is current.
	change func(t *testing.T, app *tierwallv1alpha1.AppIsolation)
	// ordered says whether tierwall orders the writes of the transition
	// (deleting an AppIsolation leaves them to the garbage collector).
	ordered bool
}

func editSpec(edit func(spec *tierwallv1alpha1.AppIsolationSpec)) func(*testing.T, *tierwallv1alpha1.AppIsolation) {
	return func(t *testing.T, app *tierwallv1alpha1.AppIsolation) {
		t.Helper()
		edit(&app.Spec)
		if err := theLab.c.Update(context.Background(), app); err != nil {
			t.Fatalf("failed to update the AppIsolation: %v", err)
		}
	}
}

func tier(spec *tierwallv1alpha1.AppIsolationSpec, name string) *tierwallv1alpha1.Tier {
	i := slices.IndexFunc(spec.Tiers, func(t tierwallv1alpha1.Tier) bool { return t.Name == name })
	return &spec.Tiers[i]
}

// TestMakeBeforeBreak runs tierwall's sync transitions on the WordPress
// story while probing every flow every 50 ms: a flow that the setups before
// and after both allow must never fail a probe, and a flow that both deny
// must never get through. It also checks, from a watch, that tierwall
// writes what widens before what narrows: kube-router reads the policies
// about 100 ms after an event, so a wrong order that lasts less would not
// show in packets.
func TestMakeBeforeBreak(t *testing.T) {
	w := startWordPress(t)
	ctx := context.Background()
	current := func() []reach.Flow {
		t.Helper()
		s, err := theLab.state(ctx, w.pods)
		if err != nil {
			t.Fatal(err)
		}
		flows, err := evaluate(s, w.cells)
		if err != nil {
			t.Fatal(err)
		}
		return flows
	}
	converge := func(want []reach.Flow) {
		t.Helper()
		var measured []reach.Flow
		err := poll(convergence, func() (bool, error) {
			var err error
			measured, err = theLab.measure(w.cells)
			return err == nil && sameVerdicts(measured, want), err
		})
		if err != nil {
			t.Fatalf("the packets do not match pkg/reach (%v):\n%s", err, sideBySide([]string{"reach", "packets"}, want, measured))
		}
	}
	converge(current())

	policyName := func(role string) string {
		var list networkingv1.NetworkPolicyList
		if err := theLab.c.List(ctx, &list, client.InNamespace(appNamespace), client.MatchingLabels{tierwallv1alpha1.RoleLabel: role}); err != nil || len(list.Items) == 0 {
			t.Fatalf("no generated policy with role %s (%v)", role, err)
		}
		return list.Items[0].Name
	}
	transitions := []transition{
		{name: "a tier's selector changes", ordered: true, change: editSpec(func(s *tierwallv1alpha1.AppIsolationSpec) {
			tier(s, "frontend").PodSelector = metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"frontend", "web"}}}}
		})},
		{name: "a tier is added", ordered: true, change: editSpec(func(s *tierwallv1alpha1.AppIsolationSpec) {
			s.Tiers = append(s.Tiers, tierwallv1alpha1.Tier{
				Name: "backup",
				PodSelector: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: "tier", Operator: metav1.LabelSelectorOpDoesNotExist}}},
				Ports:     []tierwallv1alpha1.Port{{Port: intstr.FromInt32(8080)}},
				AllowFrom: []tierwallv1alpha1.Peer{{Tier: "frontend"}},
			})
		})},
		{name: "a tier is removed", ordered: true, change: editSpec(func(s *tierwallv1alpha1.AppIsolationSpec) {
			s.Tiers = slices.DeleteFunc(s.Tiers, func(t tierwallv1alpha1.Tier) bool { return t.Name == "backup" })
		})},
		{name: "a port changes", ordered: true, change: editSpec(func(s *tierwallv1alpha1.AppIsolationSpec) {
			tier(s, "database").Ports = []tierwallv1alpha1.Port{{Port: intstr.FromInt32(33060)}}
		})},
		{name: "Enforce -> DryRun", ordered: true, change: editSpec(func(s *tierwallv1alpha1.AppIsolationSpec) {
			s.Mode = tierwallv1alpha1.ModeDryRun
		})},
		{name: "DryRun -> Enforce", ordered: true, change: editSpec(func(s *tierwallv1alpha1.AppIsolationSpec) {
			s.Mode = tierwallv1alpha1.ModeEnforce
		})},
		{name: "a generated policy is deleted and repaired", ordered: false, change: func(t *testing.T, app *tierwallv1alpha1.AppIsolation) {
			np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: appNamespace, Name: policyName(tierwallv1alpha1.RoleDefaultDeny)}}
			if err := theLab.c.Delete(ctx, np); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "the AppIsolation is deleted", ordered: false, change: func(t *testing.T, app *tierwallv1alpha1.AppIsolation) {
			if err := theLab.c.Delete(ctx, app); err != nil {
				t.Fatal(err)
			}
			// envtest runs no garbage collector: delete the children as it
			// would, all at once, in no particular order.
			var list networkingv1.NetworkPolicyList
			if err := theLab.c.List(ctx, &list, client.InNamespace(appNamespace)); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for i := range list.Items {
				if metav1.IsControlledBy(&list.Items[i], app) {
					wg.Go(func() { _ = theLab.c.Delete(ctx, &list.Items[i]) })
				}
			}
			wg.Wait()
		}},
	}

	writes := recordWrites(t, appNamespace)
	p := startProber(w.cells)
	defer p.close()
	var report []string
	for _, tr := range transitions {
		old := current()
		writes.take()
		from := p.mark()
		if err := theLab.c.Get(ctx, client.ObjectKeyFromObject(w.app), w.app); err != nil {
			t.Fatal(err)
		}
		tr.change(t, w.app)
		var next []reach.Flow
		if tr.name == "the AppIsolation is deleted" {
			next = current()
		} else {
			waitReady(t, w.app)
			if tr.name == "a generated policy is deleted and repaired" {
				if err := poll(convergence, func() (bool, error) { return sameVerdicts(current(), old), nil }); err != nil {
					t.Fatalf("tierwall did not repair the deleted policy: %v", err)
				}
			}
			next = current()
		}
		converge(next)
		// A few more rounds, then judge every round since the change.
		for to := p.mark() + 3; p.mark() < to; {
			time.Sleep(probeInterval)
		}
		drops, leaks, rounds, longest := p.report(from, old, next)
		order := writes.take()
		line := fmt.Sprintf("%-45s %3d rounds, longest gap %4s, %d drops, %d leaks, writes: %v",
			tr.name, rounds, longest.Round(time.Millisecond), len(drops), len(leaks), order)
		report = append(report, line)
		if len(drops) > 0 || len(leaks) > 0 {
			t.Errorf("%s: drops %v, leaks %v", tr.name, drops, leaks)
		}
		if tr.ordered {
			if err := checkOrder(order); err != nil {
				t.Errorf("%s: tierwall narrowed before it widened: %v", tr.name, err)
			}
		}
	}
	t.Logf("Make-before-break, probing every flow at least every %s:\n%s", probeInterval, strings.Join(report, "\n"))
}
