package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tierwall/tierwall/test/fixtures"
)

// busyNamespace is where reconcileCost measures.
const busyNamespace = "busy"

// reconcileCost measures the manager's CPU for one reconcile of an
// AppIsolation in a namespace of o.busyPods pods (all governed, in its two
// tiers) and o.foreign NetworkPolicies it does not own, which its
// foreign-policy check evaluates with those pods. Once the AppIsolation is
// Ready, it touches a foreign policy's annotation o.touches times, one at a
// time: each touch wakes one reconcile, which writes nothing. It returns
// this process's CPU (the manager, and this benchmark's client sending the
// touches) divided by the reconciles: an upper bound of a reconcile's cost.
func (b *bench) reconcileCost(ctx context.Context) (perReconcile time.Duration, reconciled int, err error) {
	if err := b.client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: busyNamespace}}); err != nil {
		return 0, 0, err
	}
	pods, policies := fixtures.BusyNamespace(busyNamespace, b.o.busyPods, b.o.foreign)
	err = b.setUp(len(pods), func(i int) error { return b.client.Create(ctx, pods[i]) })
	if err == nil {
		err = b.setUp(len(policies), func(i int) error { return b.client.Create(ctx, policies[i]) })
	}
	if err != nil {
		return 0, 0, err
	}
	app := b.app.DeepCopy()
	app.Namespace = busyNamespace
	if err := b.client.Create(ctx, app); err != nil {
		return 0, 0, err
	}
	if err := b.settle(ctx); err != nil {
		return 0, 0, err
	}

	stopProfile, err := startCPUProfile(b.o.profile)
	if err != nil {
		return 0, 0, err
	}
	defer func() { err = errors.Join(err, stopProfile()) }()
	start, before := selfCPU(), reconciles()
	for i := range b.o.touches {
		count := reconciles()
		policy := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: busyNamespace, Name: fmt.Sprintf("foreign-%d", i%b.o.foreign)}}
		if err := b.client.Patch(ctx, policy, client.RawPatch("application/merge-patch+json",
			fmt.Appendf(nil, `{"metadata":{"annotations":{"perf.tierwall.dev/touch":"%d"}}}`, i))); err != nil {
			return 0, 0, err
		}
		// One reconcile per touch: wait for it before the next.
		err := wait.PollUntilContextCancel(ctx, 20*time.Millisecond, true, func(context.Context) (bool, error) {
			return reconciles() > count && gauge("controller_runtime_active_workers", "controller") == 0, nil
		})
		if err != nil {
			return 0, 0, err
		}
	}
	reconciled = int(reconciles() - before)
	if reconciled == 0 {
		return 0, 0, fmt.Errorf("no reconcile in namespace %s", busyNamespace)
	}
	return (selfCPU() - start) / time.Duration(reconciled), reconciled, nil
}

// selfCPU is the user and system CPU time of this process so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startCPUProfile writes a CPU profile of this process to path, when not
// empty, until the returned function is called.
func startCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, errors.Join(err, f.Close())
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}
