package gitops

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/test/fixtures"
)

// readExample reads the objects of a file in docs/examples.
func readExample(t *testing.T, name string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures.RepoRoot(), "docs", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		obj := &unstructured.Unstructured{}
		if err := decoder.Decode(&obj.Object); errors.Is(err, io.EOF) {
			return objs
		} else if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
}

func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, obj := range objs {
		if obj.GetKind() == kind && obj.GetName() == name {
			return obj
		}
	}
	t.Fatalf("no %s %s", kind, name)
	return nil
}

func str(t *testing.T, obj *unstructured.Unstructured, fields ...string) string {
	t.Helper()
	value, _, err := unstructured.NestedFieldNoCopy(obj.Object, fields...)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := value.(string)
	return s
}

// TestExamples checks that the GitOps examples point at what the repository
// really ships: the kustomization that installs tierwall, and the group,
// version and kind of the AppIsolation API.
func TestExamples(t *testing.T) {
	installPath := filepath.Join(fixtures.RepoRoot(), "config", "default", "kustomization.yaml")
	if _, err := os.Stat(installPath); err != nil {
		t.Fatal(err)
	}

	argo := readExample(t, "argocd-applications.yaml")
	if got := str(t, find(t, argo, "Application", "tierwall"), "spec", "source", "path"); got != "config/default" {
		t.Errorf("the tierwall Application syncs path %q, want config/default", got)
	}

	flux := readExample(t, "flux-kustomizations.yaml")
	install := find(t, flux, "Kustomization", "tierwall")
	if got := str(t, install, "spec", "path"); got != "./config/default" {
		t.Errorf("the tierwall Kustomization applies path %q, want ./config/default", got)
	}
	if wait, _, _ := unstructured.NestedBool(install.Object, "spec", "wait"); !wait {
		t.Error("the tierwall Kustomization does not wait for its objects")
	}
	app := find(t, flux, "Kustomization", "wordpress")
	if wait, _, _ := unstructured.NestedBool(app.Object, "spec", "wait"); wait {
		t.Error("the wordpress Kustomization sets wait: true, so Flux ignores its healthChecks")
	}
	checks, _, _ := unstructured.NestedSlice(app.Object, "spec", "healthChecks")
	found := false
	for _, check := range checks {
		c, _ := check.(map[string]any)
		if c["kind"] == "AppIsolation" {
			found = true
			if c["apiVersion"] != tierwallv1alpha1.GroupVersion.String() {
				t.Errorf("the AppIsolation health check has apiVersion %v, want %s", c["apiVersion"], tierwallv1alpha1.GroupVersion)
			}
		}
	}
	if !found {
		t.Error("the wordpress Kustomization has no health check on its AppIsolation")
	}
}
