// Package testenv starts envtest control planes for tierwall's tests, e2e
// and demo, with the binaries hack/envtest-binaries.sh builds.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/tierwall/tierwall/config/crd"
	"github.com/tierwall/tierwall/internal/scheme"
)

// Start starts env. When KUBEBUILDER_ASSETS is unset it uses the binaries
// cached where setup-envtest and hack/envtest-binaries.sh keep them, for the
// Kubernetes version of k8s.io/api in go.mod, so plain `go test` works once
// `make envtest` has run. When starting fails midway (a CRD that does not
// install, say), it stops what started, so no kube-apiserver or etcd
// outlives the caller.
func Start(env *envtest.Environment) (*rest.Config, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" && env.BinaryAssetsDirectory == "" {
		env.BinaryAssetsDirectory = cachedAssets()
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, errors.Join(
			fmt.Errorf("failed to start envtest (run `make envtest`, or set KUBEBUILDER_ASSETS): %w", err),
			env.Stop())
	}
	return cfg, nil
}

// WithCRDs is a control plane with tierwall's CRDs installed, as every
// suite, the demo and the lab start it: the embedded ones of package crd,
// the way users' suites install them (see examples/envtest).
func WithCRDs() *envtest.Environment {
	crds, err := crd.All()
	if err != nil {
		// The CRDs are embedded at build time: failing to decode them is a
		// bug of the build, not a condition a suite can handle.
		panic(err)
	}
	return &envtest.Environment{CRDs: crds}
}

// StartForTest starts WithCRDs for one Go test and stops it when the test
// ends; it fails the test, pointing at go test -short, when it cannot start.
func StartForTest(t testing.TB) *rest.Config {
	t.Helper()
	env := WithCRDs()
	cfg, err := Start(env)
	if err != nil {
		t.Fatalf("%v (or run go test -short)", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("failed to stop envtest: %v", err)
		}
	})
	return cfg
}

// cachedAssets is the setup-envtest cache directory for the Kubernetes
// version this binary was built against, or "" when it cannot tell.
func cachedAssets() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, dep := range info.Deps {
		if dep.Path != "k8s.io/api" {
			continue
		}
		// k8s.io/api v0.Y.Z ships with Kubernetes 1.Y.Z.
		version := "1." + strings.TrimPrefix(dep.Version, "v0.")
		dataHome := os.Getenv("XDG_DATA_HOME")
		if dataHome == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return ""
			}
			dataHome = filepath.Join(home, ".local", "share")
		}
		return filepath.Join(dataHome, "kubebuilder-envtest", "k8s", version+"-"+runtime.GOOS+"-"+runtime.GOARCH)
	}
	return ""
}

// Scheme knows the built-in Kubernetes types and tierwall's: what the tests,
// the e2e and the demo read and write. It is the manager's own scheme.
var Scheme = scheme.New()
