package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/config/crd"
	"github.com/tierwall/tierwall/controllers"
)

// This example runs tierwall's reconciler in a test's own manager, on an
// envtest control plane with the embedded CRDs (envtest finds kube-apiserver
// and etcd through KUBEBUILDER_ASSETS), applies an AppIsolation and lists
// the NetworkPolicies it gets. It is what cmd/main.go does, without the
// production flags; examples/envtest is a whole suite built this way.
func ExampleSetup() {
	crds, err := crd.All()
	if err != nil {
		panic(err)
	}
	env := &envtest.Environment{CRDs: crds}
	cfg, err := env.Start()
	if err != nil {
		panic(err)
	}
	defer func() { _ = env.Stop() }()

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if err := tierwallv1alpha1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:  scheme,
		Cache:   controllers.CacheOptions(),
		Metrics: metricsserver.Options{BindAddress: "0"},
		// A test process may start several managers, each with a
		// controller named tierwall.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		panic(err)
	}
	if err := controllers.Setup(mgr, controllers.Options{ObservableNamespaces: []string{"kube-system"}}); err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		if err := mgr.Start(ctx); err != nil {
			panic(err)
		}
	}()

	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		panic(err)
	}
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}); err != nil {
		panic(err)
	}
	app := &tierwallv1alpha1.AppIsolation{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
		Spec: tierwallv1alpha1.AppIsolationSpec{
			Tiers: []tierwallv1alpha1.Tier{{
				Name:        "web",
				PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": "web"}},
				Ports:       []tierwallv1alpha1.Port{{Port: intstr.FromInt32(8080)}},
				AllowFrom:   []tierwallv1alpha1.Peer{{NamespaceSelector: &metav1.LabelSelector{}}},
			}},
		},
	}
	if err := c.Create(ctx, app); err != nil {
		panic(err)
	}
	var names []string
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		policies := &networkingv1.NetworkPolicyList{}
		if err := c.List(ctx, policies, client.InNamespace("shop")); err != nil {
			return false, err
		}
		names = names[:0]
		for _, p := range policies.Items {
			names = append(names, p.Name)
		}
		return len(names) == 3, nil
	})
	if err != nil {
		panic(err)
	}
	slices.Sort(names)
	fmt.Println(names)
	// Output:
	// [web-default-deny web-dns web-tier-web]
}
