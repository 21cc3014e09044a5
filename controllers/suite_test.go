package controllers

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/tierwall/tierwall/test/testenv"
)

var (
	testEnv *envtest.Environment
	cfg     *rest.Config
	// k8sClient reads straight from the API server, for assertions.
	k8sClient client.Client
	// calls records the API calls the reconciler makes.
	calls = &callRecorder{}
	ctx   context.Context
)

// scheme knows the objects the tests read and write.
var scheme = testenv.Scheme

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controllers Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	SetDefaultConsistentlyDuration(2 * time.Second)
	SetDefaultConsistentlyPollingInterval(100 * time.Millisecond)

	var cancel context.CancelFunc
	ctx, cancel = context.WithCancel(context.Background())

	testEnv = testenv.WithCRDs()
	var err error
	cfg, err = testenv.Start(testEnv)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(testEnv.Stop)

	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  CacheOptions(),
		// The reconciler's API calls go through the recorder.
		NewClient: func(cfg *rest.Config, opts client.Options) (client.Client, error) {
			c, err := client.New(cfg, opts)
			return calls.wrap(c), err
		},
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(Setup(mgr, Options{ObservableNamespaces: []string{"kube-system"}})).To(Succeed())

	stopped := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(stopped)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	// Cleanups run last-in first-out: the manager stops before the API
	// server does.
	DeferCleanup(func() {
		cancel()
		<-stopped
	})
})

// newNamespace creates a namespace for one spec and deletes it afterwards.
func newNamespace() string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "tierwall-test-"}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, ns))).To(Succeed()) })
	return ns.Name
}

// call is one API call the reconciler made.
type call struct {
	Verb, Kind, Namespace, Name string
}

// callRecorder records the reconciler's API calls, and can make the next
// write matching a filter fail, to simulate a crash or an API error midway.
type callRecorder struct {
	mu    sync.Mutex
	calls []call
	fail  func(verb string, obj client.Object) error
}

func (r *callRecorder) record(verb string, obj client.Object) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	if kind == "" {
		if gvks, _, err := scheme.ObjectKinds(obj); err == nil {
			kind = gvks[0].Kind
		}
	}
	r.calls = append(r.calls, call{Verb: verb, Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName()})
	if r.fail != nil {
		return r.fail(verb, obj)
	}
	return nil
}

// failWrites makes writes fail with fn's error while fn returns one.
func (r *callRecorder) failWrites(fn func(verb string, obj client.Object) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = fn
}

// in returns the calls made in namespace, in order.
func (r *callRecorder) in(namespace string) []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []call
	for _, c := range r.calls {
		if c.Namespace == namespace {
			out = append(out, c)
		}
	}
	return out
}

// writes returns the writes made in namespace, in order.
func (r *callRecorder) writes(namespace string) []call {
	var out []call
	for _, c := range r.in(namespace) {
		if c.Verb != "list" {
			out = append(out, c)
		}
	}
	return out
}

// withoutWatch lets the manager's client, which does not watch, be
// intercepted.
type withoutWatch struct{ client.Client }

func (withoutWatch) Watch(context.Context, client.ObjectList, ...client.ListOption) (watch.Interface, error) {
	return nil, errors.New("the reconciler does not watch through its client")
}

func (r *callRecorder) wrap(c client.Client) client.Client {
	return interceptor.NewClient(withoutWatch{c}, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if err := r.record("create", obj); err != nil {
				return err
			}
			return c.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			if err := r.record("update", obj); err != nil {
				return err
			}
			return c.Update(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			if err := r.record("patch", obj); err != nil {
				return err
			}
			return c.Patch(ctx, obj, patch, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			if err := r.record("delete", obj); err != nil {
				return err
			}
			return c.Delete(ctx, obj, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			if err := r.record("patch/"+sub, obj); err != nil {
				return err
			}
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			if err := r.record("update/"+sub, obj); err != nil {
				return err
			}
			return c.SubResource(sub).Update(ctx, obj, opts...)
		},
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			lo := (&client.ListOptions{}).ApplyOptions(opts)
			r.mu.Lock()
			kind := list.GetObjectKind().GroupVersionKind().Kind
			if gvks, _, err := scheme.ObjectKinds(list); kind == "" && err == nil {
				kind = gvks[0].Kind
			}
			r.calls = append(r.calls, call{Verb: "list", Kind: kind, Namespace: lo.Namespace})
			r.mu.Unlock()
			return c.List(ctx, list, opts...)
		},
	})
}
