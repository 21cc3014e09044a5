package controllers

import (
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestEchoes(t *testing.T) {
	app := types.NamespacedName{Namespace: "shop", Name: "web"}
	// policy is the policy at a version: what its label says, and a
	// resourceVersion that echoes ignore (the API server sets it after the
	// write is recorded).
	policy := func(version string) *networkingv1.NetworkPolicy {
		return &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-tier-web",
			ResourceVersion: version + "0", Labels: map[string]string{"version": version}}}
	}
	type event struct {
		version   string
		wantEcho  bool
		wantOwner types.NamespacedName
	}
	tests := []struct {
		name string
		// steps run before the events: "reconcile", "write 5" (the policy
		// at version 5), "forget".
		steps  []string
		events []event
	}{
		{
			name:   "the event of a write is its echo, once",
			steps:  []string{"reconcile", "write 5"},
			events: []event{{version: "5", wantEcho: true, wantOwner: app}, {version: "5"}},
		},
		{
			name:   "another version is not an echo, and leaves the echo to come",
			steps:  []string{"reconcile", "write 5"},
			events: []event{{version: "4"}, {version: "5", wantEcho: true, wantOwner: app}},
		},
		{
			name:   "a reconcile since the write may have read a cache without it: the echo wakes it",
			steps:  []string{"reconcile", "write 5", "reconcile"},
			events: []event{{version: "5", wantOwner: app}},
		},
		{
			name:   "a newer write replaces the older one",
			steps:  []string{"reconcile", "write 5", "write 6"},
			events: []event{{version: "5"}, {version: "6", wantEcho: true, wantOwner: app}},
		},
		{
			name:   "an AppIsolation gone is forgotten",
			steps:  []string{"reconcile", "write 5", "forget"},
			events: []event{{version: "5"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEchoes()
			for _, s := range tt.steps {
				switch s {
				case "reconcile":
					e.reconciling(app)
				case "forget":
					e.forget(app)
				default:
					e.writing(echoPolicy, policy(s[len("write "):]), app)
				}
			}
			for i, ev := range tt.events {
				owner, echo := e.echo(echoPolicy, policy(ev.version))
				if echo != ev.wantEcho || owner != ev.wantOwner {
					t.Errorf("event %d (version %s): echo %v of %v, want %v of %v", i, ev.version, echo, owner, ev.wantEcho, ev.wantOwner)
				}
			}
			if _, echo := e.echo(echoAppIsolation, policy("5")); echo {
				t.Error("an AppIsolation with the name and version of a policy written is taken for an echo")
			}
		})
	}
}
