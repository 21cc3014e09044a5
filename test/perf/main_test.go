package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"
)

// TestRun runs the whole benchmark at a tiny scale, so that make perf keeps
// working, and checks what it reports that the machine's speed does not
// change: the writes of each phase, and none on unrelated changes or on a
// resync.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, &out, options{
		apps: 3, pods: 20, namespaces: 2, relabel: 3, workers: 2, qps: -1,
		busyPods: 40, foreign: 6, touches: 3, rounds: 2,
	})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		`(?m)^   bare client: \S+ for 27 writes \(create appisolations=3, create events=6, create networkpolicies=12, patch appisolations/status=6\)$`,
		`(?m)^   operator: \S+ for 24 writes \(create events=6, create networkpolicies=12, patch appisolations/status=6\)$`,
		`(?m)^RATIO operator/baseline: [0-9.]+ \(median of 2 rounds: [0-9.]+ and [0-9.]+\)$`,
		`(?m)^   events by type and reason: Normal PoliciesChanged \(NetworkPolicies created [^)]*\)=3, Warning PodInNoTier \([^)]*\)=3$`,
		`(?m)^   6 relabels of 3 pods in governed namespaces that no selector matches, and 3 namespace labels: 0 reconciles, writes: none$`,
		`(?m)^   a restarted manager reconciled all 3 AppIsolations and the probe: writes: none$`,
		`(?m)^   3 reconciles of an AppIsolation in a namespace of 40 pods with 6 foreign NetworkPolicies: at most \S+ of this process's CPU each$`,
		`(?m)^   heap after GC .* with 20 more pods in 2 namespaces: -?[0-9]+ B/pod$`,
		`(?m)^   cpu: wall .* other processes used [0-9]+% CPU during this phase`,
		`(?m)^   cpu: .*; the kube-apiserver sent [0-9]+ watch events, served [1-9][0-9]* writes in [0-9.]+ ms on average`,
	} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("the report has no line matching %s:\n%s", want, out.String())
		}
	}
}
