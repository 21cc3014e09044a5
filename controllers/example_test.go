package controllers_test

import (
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/controllers"
)

// This example runs tierwall's reconciler in a test suite's own manager,
// against the control plane of cfg (envtest's, for example, started with
// the CRDs of package crd). It is what cmd/main.go does, without the
// production flags. examples/envtest runs it for real.
func ExampleSetup() {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if err := tierwallv1alpha1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	cfg := ctrl.GetConfigOrDie() // in a suite: the *rest.Config envtest returns
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:  scheme,
		Cache:   controllers.CacheOptions(),
		Metrics: metricsserver.Options{BindAddress: "0"},
	})
	if err != nil {
		panic(err)
	}
	if err := controllers.Setup(mgr, controllers.Options{ObservableNamespaces: []string{"kube-system"}}); err != nil {
		panic(err)
	}
	ctx := ctrl.SetupSignalHandler() // in a suite: a context cancelled in AfterSuite
	go func() {
		if err := mgr.Start(ctx); err != nil {
			panic(err)
		}
	}()
}
