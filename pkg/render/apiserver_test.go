package render_test

import (
	"maps"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tierwall/tierwall/pkg/render"
	"github.com/tierwall/tierwall/test/testenv"
)

// TestFuzzCorpusAcceptedByAPIServer runs the fuzz generator's corpus
// through a real API server (envtest, with the CRD `make manifests`
// generates), so that FuzzRender's checks rest on the API server's own
// validation rather than a copy of it:
//   - the API server accepts exactly the AppIsolations the generator
//     believes valid, so the fuzzer explores what users can really create;
//   - it accepts every NetworkPolicy rendered from them.
//
// It is the one test of this package that starts envtest; -short skips it.
func TestFuzzCorpusAcceptedByAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an API server")
	}
	c := startAPIServer(t)
	ctx := t.Context()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fuzz"}}); err != nil {
		t.Fatal(err)
	}

	inputs := corpus(t, 200)
	names := slices.Sorted(maps.Keys(inputs))
	var policyCount, refused int
	for _, name := range names {
		g := generate(inputs[name])
		err := c.Create(ctx, g.app.DeepCopy(), client.DryRunAll)
		switch {
		case g.refused == "" && err != nil:
			t.Errorf("%s: the API server refused an AppIsolation the generator believes valid: %v", name, err)
			continue
		case g.refused != "" && err == nil:
			t.Errorf("%s: the API server accepted an AppIsolation the generator believes invalid (%s)", name, g.refused)
			continue
		case g.refused != "":
			refused++
			if !apierrors.IsInvalid(err) {
				t.Errorf("%s: the API server refused the AppIsolation with %v, want an Invalid error", name, err)
			}
			continue
		}
		policies, err := render.Render(g.app, g.platform)
		if g.renderError != "" {
			if !render.IsInvalidSpec(err) {
				t.Errorf("%s: Render() error = %v, want an InvalidSpecError (%s)", name, err, g.renderError)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: Render() error = %v", name, err)
			continue
		}
		for i := range policies {
			if err := c.Create(ctx, &policies[i], client.DryRunAll); err != nil {
				t.Errorf("%s: the API server refused NetworkPolicy %s: %v", name, policies[i].Name, err)
			}
			policyCount++
		}
	}
	t.Logf("%d inputs: %d AppIsolations refused as the generator expected, %d NetworkPolicies accepted",
		len(names), refused, policyCount)
}

// startAPIServer starts envtest's API server with tierwall's CRD, stops it
// when the test ends, and returns a client.
func startAPIServer(t *testing.T) client.Client {
	t.Helper()
	cfg := testenv.StartForTest(t)
	scheme := testenv.Scheme
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
