// Package isolation is a platform team's envtest suite for its apps'
// isolation: it installs tierwall's CRD, runs tierwall's reconciler in the
// test process, applies an AppIsolation and asserts which pods reach which,
// with tierwall's own evaluator and matchers. Copy this directory into your
// repository, change the module path and drop the replace directive.
package isolation

import (
	"context"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/config/crd"
	"github.com/tierwall/tierwall/controllers"
)

var (
	k8s     client.Client
	testEnv *envtest.Environment
	cancel  context.CancelFunc
)

func TestIsolation(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Isolation Suite")
}

var _ = BeforeSuite(func() {
	// envtest finds kube-apiserver and etcd through KUBEBUILDER_ASSETS
	// (setup-envtest use -p path prints it).
	crds, err := crd.All()
	Expect(err).NotTo(HaveOccurred())
	testEnv = &envtest.Environment{CRDs: crds}
	cfg, err := testEnv.Start()
	Expect(err).NotTo(HaveOccurred())

	scheme := runtime.NewScheme()
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(tierwallv1alpha1.AddToScheme(scheme)).To(Succeed())
	k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:  scheme,
		Cache:   controllers.CacheOptions(),
		Metrics: metricsserver.Options{BindAddress: "0"},
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(controllers.Setup(mgr, controllers.Options{})).To(Succeed())
	var ctx context.Context
	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
})

var _ = AfterSuite(func() {
	if cancel != nil {
		cancel()
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

// ctx is the context of the running spec.
func ctx() context.Context { return context.Background() }
