package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestDemo runs the demo end to end and checks that it shows what the
// README promises: Ready, the generated policies, the declared summary and
// the evaluator's matrix.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	var out bytes.Buffer
	if err := run(context.Background(), &out, false, false); err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"AppIsolation dev-wordpress/wordpress is Ready: Enforcing 4 NetworkPolicies for 2 tiers",
		"name: wordpress-default-deny",
		"name: wordpress-tier-frontend",
		"kube-system/traefik -> tier frontend on 80/TCP",
		"tier frontend -> tier database on 3306/TCP",
		"Everything else to or from the governed pods (app=wordpress in dev-wordpress) is denied.",
		"kube-system/traefik       ✗   ✗   ✗   ✓   ✗   ✓   ✓   -   -   ✓",
		"18 of 50 flows allowed",
		"Ready=True (Reconciled)",
		"shop/storefront tier web -> payments/api tier backend on 9090/TCP",
		"PeersAgree=True (EdgesAllowedOnBothSides)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the demo's output lacks %q:\n%s", want, out.String())
		}
	}
}
