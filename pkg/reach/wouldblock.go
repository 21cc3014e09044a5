package reach

import (
	"fmt"
	"iter"

	networkingv1 "k8s.io/api/networking/v1"
)

// Blocked is what WouldBlock finds: the flows open now that other policies
// would block.
type Blocked struct {
	// Flows are the first blocked flows, at most the limit given, in the
	// order of Flows (sources, then destinations, by namespace and name;
	// then ports). All are allowed now and denied after.
	Flows []Flow
	// Total counts every blocked flow, including those past the limit.
	Total int
}

// WouldBlock lists the flows between the pods of now that now.Policies
// allow and after would deny: what switching an AppIsolation from DryRun to
// Enforce would break, when after is the policies in force once it is
// enforced (now.Policies less those the AppIsolation controls, plus what
// render.Render returns for it). "Open now" means allowed by the policies in
// force, since live traffic is not observed. It returns at most limit flows
// (all when limit < 0) and the total count.
func WouldBlock(now State, after []networkingv1.NetworkPolicy, limit int) (Blocked, error) {
	before, err := New(now)
	if err != nil {
		return Blocked{}, fmt.Errorf("failed to evaluate the policies in force: %w", err)
	}
	next, err := New(State{Namespaces: now.Namespaces, Pods: now.Pods, Policies: after})
	if err != nil {
		return Blocked{}, fmt.Errorf("failed to evaluate the policies after the change: %w", err)
	}
	var b Blocked
	nextFlow, stop := iter.Pull(next.Flows())
	defer stop()
	// Both Evaluators have the same pods, so Flows yields the same flows in
	// the same order; only Allowed differs.
	for f := range before.Flows() {
		g, ok := nextFlow()
		if !ok || g.From != f.From || g.To != f.To || g.Port != f.Port || g.Protocol != f.Protocol {
			return Blocked{}, fmt.Errorf("internal error: the flows of the two states differ at %s -> %s %d/%s", f.From, f.To, f.Port, f.Protocol)
		}
		if f.Allowed && !g.Allowed {
			b.Total++
			if limit < 0 || len(b.Flows) < limit {
				b.Flows = append(b.Flows, f)
			}
		}
	}
	return b, nil
}
