// Command perf measures tierwall on a local control plane (envtest's
// kube-apiserver and etcd): how long the operator takes to converge N
// AppIsolations of the WordPress shape compared with a bare client making
// the same writes under the same client-side limits, which writes it sends,
// that it sends none on a resync or on unrelated pod and namespace changes,
// and how much heap each pod costs the manager. It reports, it asserts
// nothing: a ratio taken on a busy machine is not a figure, so every phase
// also says how much CPU other processes used meanwhile.
//
// Run it with `make perf` (PERF_ARGS="-apps 1000 -pods 50000 -namespaces 500"
// for the figures of docs/performance.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/controllers"
	"github.com/tierwall/tierwall/internal/scheme"
	"github.com/tierwall/tierwall/pkg/render"
	"github.com/tierwall/tierwall/test/fixtures"
	"github.com/tierwall/tierwall/test/testenv"
)

// options are the command-line flags.
type options struct {
	apps       int
	pods       int
	namespaces int
	relabel    int
	workers    int
	qps        float64
	burst      int
	timeout    time.Duration
	busyPods   int
	foreign    int
	touches    int
	profile    string
	opProfile  string
	rounds     int
}

func main() {
	var o options
	flag.IntVar(&o.apps, "apps", 50, "AppIsolations to converge (N), each in its own namespace with 4 pods, 3 of them governed")
	flag.IntVar(&o.pods, "pods", 5000, "pods in namespaces no AppIsolation governs, created to measure the manager's heap per pod (M)")
	flag.IntVar(&o.namespaces, "namespaces", 50, "namespaces the M pods are spread over")
	flag.IntVar(&o.relabel, "relabel", 100, "unrelated pods and namespaces to relabel while counting writes")
	flag.IntVar(&o.workers, "concurrent", controllers.DefaultMaxConcurrentReconciles, "reconciles at once (the manager's --concurrent), and the bare client's writers")
	flag.Float64Var(&o.qps, "qps", -1, "client-side QPS limit of every client (-1: none, as the manager runs)")
	flag.IntVar(&o.burst, "burst", 0, "client-side burst of every client, with -qps > 0")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Minute, "give up after this long")
	flag.IntVar(&o.busyPods, "busy-pods", 2000, "pods of the namespace where one reconcile's CPU is measured")
	flag.IntVar(&o.foreign, "foreign", 200, "NetworkPolicies tierwall does not own in that namespace")
	flag.IntVar(&o.touches, "touches", 50, "reconciles to measure there, one at a time")
	flag.StringVar(&o.profile, "reconcile-cpuprofile", "", "write a CPU profile of the reconcile cost phase's reconciles to this file")
	flag.StringVar(&o.opProfile, "operator-cpuprofile", "", "write a CPU profile of the last round's operator phase to this file")
	flag.IntVar(&o.rounds, "rounds", 4, "rounds of the operator and the baseline (in turn first), from the same world; the ratio is their median")
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := run(ctx, os.Stdout, o); err != nil {
		_, _ = fmt.Fprintln(os.Stderr, "perf:", err)
		os.Exit(1)
	}
}

// bench holds what the phases share.
type bench struct {
	o      options
	out    io.Writer
	cfg    *rest.Config
	client client.Client // creates the world and the AppIsolations
	writes *writeCounter // the manager's writes
	app    *tierwallv1alpha1.AppIsolation
	phase  cpuSample
	// etcd is the address of etcd's client API.
	etcd *url.URL
	// apiserver reads the kube-apiserver's metrics.
	apiserver rest.Interface
}

func run(ctx context.Context, out io.Writer, o options) (retErr error) {
	env := testenv.WithCRDs()
	// etcd is compacted between rounds (compactEtcd), not every five
	// minutes in the middle of one.
	env.ControlPlane.GetAPIServer().Configure().Set("etcd-compaction-interval", "0")
	cfg, err := testenv.Start(env)
	if err != nil {
		return err
	}
	defer func() { retErr = errors.Join(retErr, env.Stop()) }()
	cfg.QPS, cfg.Burst = float32(o.qps), o.burst
	c, err := client.New(cfg, client.Options{Scheme: scheme.New()})
	if err != nil {
		return err
	}
	app, err := fixtures.WordPress("")
	if err != nil {
		return err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	b := &bench{o: o, out: out, cfg: cfg, client: c, writes: newWriteCounter(), app: app,
		etcd: env.ControlPlane.Etcd.URL, apiserver: dc.RESTClient()}
	_, _ = fmt.Fprintf(out, "tierwall perf: N=%d AppIsolations (%d policies), %d governed-namespace pods, M=%d other pods in %d namespaces, --concurrent %d, client QPS %g burst %d, %d CPUs, %s\n",
		o.apps, 4*o.apps, 4*o.apps, o.pods, o.namespaces, o.workers, o.qps, o.burst, runtime.NumCPU(), runtime.Version())

	b.start("world")
	if err := errors.Join(b.createWorld(ctx), compactEtcd(ctx, b.etcd)); err != nil {
		return err
	}
	b.end("created %d namespaces, %d pods and the probe AppIsolation", 2*o.apps+1, 4*o.apps+2)

	mgr, stopManager, err := b.rounds(ctx)
	if err != nil {
		return err
	}
	if err := b.reportEvents(ctx); err != nil {
		return errors.Join(err, stopManager())
	}

	b.start("unrelated changes")
	unrelated, reconciles, err := b.unrelatedChanges(ctx, mgr)
	if err != nil {
		return errors.Join(err, stopManager())
	}
	relabelled := min(o.relabel, o.apps)
	b.end("%d relabels of %d pods in governed namespaces that no selector matches, and %d namespace labels: %d reconciles, writes: %s",
		2*relabelled, relabelled, relabelled, reconciles, formatCounts(unrelated))
	if err := stopManager(); err != nil {
		return err
	}

	b.start("resync")
	mgr, stopManager, before, err := b.startManager(ctx)
	if err != nil {
		return err
	}
	resync, err := b.resync(ctx, before)
	if err != nil {
		return errors.Join(err, stopManager())
	}
	b.end("a restarted manager reconciled all %d AppIsolations and the probe: writes: %s", o.apps, formatCounts(resync))

	b.start("reconcile cost")
	perReconcile, reconciled, err := b.reconcileCost(ctx)
	if err != nil {
		return errors.Join(err, stopManager())
	}
	b.end("%d reconciles of an AppIsolation in a namespace of %d pods with %d foreign NetworkPolicies: at most %s of this process's CPU each",
		reconciled, o.busyPods, o.foreign, perReconcile.Round(100*time.Microsecond))

	b.start("memory")
	perPod, heapBefore, heapAfter, err := b.memory(ctx, mgr)
	if err != nil {
		return errors.Join(err, stopManager())
	}
	b.end("heap after GC %.1f MiB -> %.1f MiB with %d more pods in %d namespaces: %.0f B/pod",
		mib(heapBefore), mib(heapAfter), o.pods, o.namespaces, perPod)
	return stopManager()
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// rounds runs the baseline and the operator o.rounds times from the same
// world, and prints each round's ratio and their median: one round on a
// shared machine moves by more than the target's margin. The order
// alternates, operator first in odd rounds, so that neither phase always
// runs on the later, slower control plane: the kube-apiserver's heap grows
// round after round (from about 200 MiB to 1.2 GiB in three rounds at
// N=1,000), and each phase ran slower than the one before it. It returns a
// manager that has converged the AppIsolations.
func (b *bench) rounds(ctx context.Context) (manager.Manager, func() error, error) {
	ratios := make([]float64, 0, b.o.rounds)
	var mgr manager.Manager
	var stopManager func() error
	stop := func() error {
		if stopManager == nil {
			return nil
		}
		err := stopManager()
		mgr, stopManager = nil, nil
		return err
	}
	for round := 1; round <= b.o.rounds; round++ {
		name := func(phase string) string {
			if b.o.rounds == 1 {
				return phase
			}
			return fmt.Sprintf("%s, round %d of %d", phase, round, b.o.rounds)
		}
		var baseline, converge time.Duration
		runBaseline := func() (err error) {
			baseline, err = b.baselinePhase(ctx, name("baseline"))
			return err
		}
		runOperator := func() (err error) {
			profile := ""
			if round == b.o.rounds {
				profile = b.o.opProfile
			}
			mgr, stopManager, converge, err = b.operatorPhase(ctx, name("operator"), profile)
			return err
		}
		steps := []func() error{runBaseline, runOperator}
		if round%2 == 1 {
			// The manager must not see the bare client's AppIsolations.
			steps = []func() error{runOperator, stop, runBaseline}
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return nil, nil, errors.Join(err, stop())
			}
		}
		ratios = append(ratios, float64(converge)/float64(baseline))
		if round == b.o.rounds {
			break
		}
		_, _ = fmt.Fprintf(b.out, "   ratio operator/baseline: %.2f\n", ratios[len(ratios)-1])
		if err := errors.Join(stop(), b.clearRound(ctx)); err != nil {
			return nil, nil, err
		}
	}
	_, _ = fmt.Fprintf(b.out, "RATIO operator/baseline: %.2f (median of %s)\n", median(ratios), formatRatios(ratios))
	if mgr == nil {
		var err error
		if mgr, stopManager, _, err = b.startManager(ctx); err != nil {
			return nil, nil, err
		}
	}
	return mgr, stopManager, nil
}

// baselinePhase times the bare client.
func (b *bench) baselinePhase(ctx context.Context, name string) (time.Duration, error) {
	b.start(name)
	elapsed, writes, err := b.baseline(ctx)
	if err != nil {
		return 0, err
	}
	b.end("bare client: %s for %d writes (%s)", elapsed.Round(time.Millisecond), total(writes), formatCounts(writes))
	return elapsed, nil
}

// operatorPhase starts a manager and times it converging the
// AppIsolations, with a CPU profile written to profile when not empty. It
// returns the manager, still running.
func (b *bench) operatorPhase(ctx context.Context, name, profile string) (manager.Manager, func() error, time.Duration, error) {
	mgr, stopManager, _, err := b.startManager(ctx)
	if err != nil {
		return nil, nil, 0, err
	}
	b.start(name)
	stopProfile, err := startCPUProfile(profile)
	if err != nil {
		return nil, nil, 0, errors.Join(err, stopManager())
	}
	elapsed, writes, err := b.converge(ctx, mgr)
	if err := errors.Join(err, stopProfile()); err != nil {
		return nil, nil, 0, errors.Join(err, stopManager())
	}
	b.end("operator: %s for %d writes (%s)", elapsed.Round(time.Millisecond), total(writes), formatCounts(writes))
	return mgr, stopManager, elapsed, nil
}

// clearRound deletes, with the manager stopped, what a round wrote: the
// AppIsolations, and the policies and events of both clients, and compacts
// etcd, so that the next round starts from the world as createWorld left
// it.
func (b *bench) clearRound(ctx context.Context) error {
	err := b.setUp(b.o.apps, func(i int) error {
		app := &tierwallv1alpha1.AppIsolation{ObjectMeta: metav1.ObjectMeta{Namespace: appNamespace(i), Name: b.app.Name}}
		if err := b.client.Delete(ctx, app); client.IgnoreNotFound(err) != nil {
			return err
		}
		for _, ns := range []string{appNamespace(i), baseNamespace(i)} {
			for _, obj := range []client.Object{&networkingv1.NetworkPolicy{}, &eventsv1.Event{}} {
				if err := b.client.DeleteAllOf(ctx, obj, client.InNamespace(ns)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return compactEtcd(ctx, b.etcd)
}

// median is the middle ratio, or the mean of the two middle ones.
func median(ratios []float64) float64 {
	sorted := slices.Sorted(slices.Values(ratios))
	mid := len(sorted) / 2
	if len(sorted)%2 == 0 {
		return (sorted[mid-1] + sorted[mid]) / 2
	}
	return sorted[mid]
}

// formatRatios writes ratios as "1.16, 1.00 and 1.09".
func formatRatios(ratios []float64) string {
	parts := make([]string, 0, len(ratios))
	for _, r := range ratios {
		parts = append(parts, fmt.Sprintf("%.2f", r))
	}
	if len(parts) == 1 {
		return "1 round: " + parts[0]
	}
	return fmt.Sprintf("%d rounds: %s and %s", len(parts), strings.Join(parts[:len(parts)-1], ", "), parts[len(parts)-1])
}

// sample reads the CPU and the control plane's counters.
func (b *bench) sample() cpuSample {
	return sampleCPU(context.Background(), b.apiserver)
}

// start begins a phase.
func (b *bench) start(name string) {
	_, _ = fmt.Fprintf(b.out, "== %s\n", name)
	b.phase = b.sample()
}

// end reports the outcome of a phase and the CPU it saw.
func (b *bench) end(format string, args ...any) {
	_, _ = fmt.Fprintf(b.out, "   "+format+"\n", args...)
	_, _ = fmt.Fprintf(b.out, "   cpu: %s\n", cpuReport(b.phase, b.sample()))
}

func appNamespace(i int) string  { return fmt.Sprintf("app-%04d", i) }
func baseNamespace(i int) string { return fmt.Sprintf("base-%04d", i) }

// createWorld creates kube-system's Traefik and CoreDNS, per AppIsolation
// a namespace with the WordPress pods, a pod no selector matches, and a
// namespace for the bare client's writes, and the probe.
func (b *bench) createWorld(ctx context.Context) error {
	namespaces := make([]client.Object, 0, 2*b.o.apps)
	var pods []client.Object
	for _, p := range fixtures.WordPressPods("", "", "")[:2] {
		pods = append(pods, p)
	}
	for i := range b.o.apps {
		ns := appNamespace(i)
		namespaces = append(namespaces, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: baseNamespace(i)}})
		for _, p := range fixtures.WordPressPods(ns, "", "")[2:5] {
			pods = append(pods, p)
		}
		pods = append(pods, fixtures.Pod(ns, "unrelated", map[string]string{"app": "other"}))
	}
	probe := b.app.DeepCopy()
	probe.Namespace = probeNamespace
	namespaces = append(namespaces, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: probeNamespace}})
	for _, objs := range [][]client.Object{namespaces, pods, {probe}} {
		if err := b.setUp(len(objs), func(i int) error { return b.client.Create(ctx, objs[i]) }); err != nil {
			return err
		}
	}
	return nil
}

// setupWorkers is how many workers create and delete what no phase times:
// creating the world is bound by the latency of each create, not by the
// control plane's CPU, and took minutes on the --concurrent workers.
const setupWorkers = 16

// parallel runs f(0..n-1) on the configured number of workers (--concurrent,
// as in the operator) and returns the first error.
func (b *bench) parallel(n int, f func(i int) error) error {
	return parallelOn(b.o.workers, n, f)
}

// setUp runs f(0..n-1), work no phase times, on setupWorkers workers.
func (b *bench) setUp(n int, f func(i int) error) error {
	return parallelOn(setupWorkers, n, f)
}

// parallelOn runs f(0..n-1) on workers goroutines and returns the first
// error.
func parallelOn(workers, n int, f func(i int) error) error {
	next := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	var err error
feed:
	for i := range n {
		select {
		case next <- i:
		case err = <-errs:
			break feed
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	return errors.Join(err, <-errs)
}

// baseline makes, with a bare client, the writes tierwall makes for a fresh
// AppIsolation: the AppIsolations are created by one client on as many
// workers as in the operator's run (as a user or Argo CD would), and, as
// each appears, a second client with the same limits, on as many workers as
// the manager reconciles at once, creates the four policies,
// patches the status twice (Reconciling, then Ready) and creates the two
// events tierwall emits.
// It then deletes the AppIsolations so that the manager never sees them.
func (b *bench) baseline(ctx context.Context) (time.Duration, map[string]int, error) {
	counter := newWriteCounter()
	writer, err := client.New(counter.wrap(b.cfg), client.Options{Scheme: scheme.New()})
	if err != nil {
		return 0, nil, err
	}
	creator, err := client.New(counter.wrap(b.cfg), client.Options{Scheme: scheme.New()})
	if err != nil {
		return 0, nil, err
	}
	start := time.Now()
	created := make(chan *tierwallv1alpha1.AppIsolation, b.o.apps)
	creating := make(chan error, 1)
	go func() {
		defer close(created)
		creating <- b.parallel(b.o.apps, func(i int) error {
			app := b.app.DeepCopy()
			app.Namespace = baseNamespace(i)
			if err := creator.Create(ctx, app); err != nil {
				return err
			}
			created <- app
			return nil
		})
	}()
	err = b.parallel(b.o.apps, func(int) error {
		app, ok := <-created
		if !ok {
			return errors.New("an AppIsolation was not created")
		}
		policies, err := render.Render(app, render.Platform{})
		if err != nil {
			return err
		}
		original := app.DeepCopy()
		meta.SetStatusCondition(&app.Status.Conditions, metav1.Condition{Type: tierwallv1alpha1.ReconcilingCondition,
			Status: metav1.ConditionTrue, Reason: tierwallv1alpha1.ProgressingReason, Message: "Reconciling generation 1", ObservedGeneration: 1})
		if err := writer.Status().Patch(ctx, app, client.MergeFromWithOptions(original, client.MergeFromWithOptimisticLock{})); err != nil {
			return err
		}
		for i := range policies {
			if err := writer.Create(ctx, &policies[i], client.FieldOwner(controllers.FieldManager)); err != nil {
				return err
			}
		}
		original = app.DeepCopy()
		app.Status.ObservedGeneration = app.Generation
		app.Status.Conditions = []metav1.Condition{{Type: tierwallv1alpha1.ReadyCondition, Status: metav1.ConditionTrue,
			Reason: "Enforced", Message: "4 NetworkPolicies enforce the 2 tiers", ObservedGeneration: app.Generation, LastTransitionTime: metav1.Now()}}
		for _, p := range policies {
			app.Status.Policies = append(app.Status.Policies, p.Name)
		}
		app.Status.PolicyCount, app.Status.TierCount = ptr.To(int32(len(policies))), int32(len(app.Spec.Tiers))
		if err := writer.Status().Patch(ctx, app, client.MergeFromWithOptions(original, client.MergeFromWithOptimisticLock{})); err != nil {
			return err
		}
		// The summary of the policy writes, and the warning the WordPress
		// story earns: its backup pod is governed but in no tier.
		for _, e := range []struct{ typ, reason, note string }{
			{corev1.EventTypeNormal, tierwallv1alpha1.PoliciesChangedReason, "NetworkPolicies created " + policies[0].Name + ", ..."},
			{corev1.EventTypeWarning, tierwallv1alpha1.PodInNoTierReason, "Governed pods in no tier, allowed DNS only: backup"},
		} {
			err := writer.Create(ctx, &eventsv1.Event{
				ObjectMeta:          metav1.ObjectMeta{Namespace: app.Namespace, Name: fmt.Sprintf("%s.%x", app.Name, time.Now().UnixNano())},
				EventTime:           metav1.NowMicro(),
				ReportingController: controllers.ControllerName, ReportingInstance: "perf",
				Action: "Reconcile", Reason: e.reason, Type: e.typ, Note: e.note,
				Regarding: corev1.ObjectReference{Kind: "AppIsolation", APIVersion: tierwallv1alpha1.GroupVersion.String(),
					Namespace: app.Namespace, Name: app.Name, UID: app.UID},
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	elapsed := time.Since(start)
	if err := errors.Join(err, <-creating); err != nil {
		return 0, nil, err
	}
	_, _ = fmt.Fprintf(b.out, "   the bare client's writes:%s\n", counter.timeline(start))
	counts, _ := counter.snapshot()
	err = b.setUp(b.o.apps, func(i int) error {
		return b.client.Delete(ctx, &tierwallv1alpha1.AppIsolation{ObjectMeta: metav1.ObjectMeta{Namespace: baseNamespace(i), Name: b.app.Name}})
	})
	return elapsed, counts, err
}

// probeNamespace holds the probe: an AppIsolation that every manager the
// benchmark starts reconciles first, which tells that its controller runs.
const probeNamespace = "perf-probe"

// started is what had happened before a manager started: the writes
// counted, and the reconciles.
type started struct {
	writes     map[string]int
	reconciles float64
}

// startManager starts the operator in this process, built as cmd/main.go
// builds it, with writes counted, and returns once its controller has
// reconciled an AppIsolation (there is always the probe) and settled, and
// what had happened before it started. Its caches having synced is not
// enough: the controller starts its informers after that, and an operator
// phase started then would time the manager's initial lists, which a
// running operator has long done.
func (b *bench) startManager(ctx context.Context) (manager.Manager, func() error, started, error) {
	writes, _ := b.writes.snapshot()
	before := started{writes: writes, reconciles: reconciles()}
	mgr, stop, err := b.newManager(ctx)
	if err != nil {
		return nil, nil, before, err
	}
	err = wait.PollUntilContextCancel(ctx, 20*time.Millisecond, true, func(context.Context) (bool, error) {
		return reconciles() > before.reconciles, nil
	})
	if err := errors.Join(err, b.settle(ctx)); err != nil {
		return nil, nil, before, errors.Join(fmt.Errorf("the manager did not reconcile the probe and settle: %w", err), stop())
	}
	return mgr, stop, before, nil
}

// newManager starts the operator and waits for the caches it has asked for.
func (b *bench) newManager(ctx context.Context) (manager.Manager, func() error, error) {
	mgr, err := ctrl.NewManager(b.writes.wrap(b.cfg), ctrl.Options{
		Scheme:                 scheme.New(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  controllers.CacheOptions(),
		// A second manager in this process (the resync) registers the same
		// controller name.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, nil, err
	}
	if err := controllers.Setup(mgr, controllers.Options{
		MaxConcurrentReconciles: b.o.workers,
		ObservableNamespaces:    []string{"kube-system"},
	}); err != nil {
		return nil, nil, err
	}
	mgrCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mgrCtx) }()
	stop := func() error {
		cancel()
		return <-done
	}
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		return nil, nil, errors.Join(errors.New("the manager's caches did not sync"), stop())
	}
	return mgr, stop, nil
}

// converge creates the N AppIsolations, waits until all are Ready at their
// generation, and returns the time from the first create to the manager's
// last write, and the manager's writes.
func (b *bench) converge(ctx context.Context, mgr manager.Manager) (time.Duration, map[string]int, error) {
	before, _ := b.writes.snapshot()
	reconcilesBefore := reconciles()
	start := time.Now()
	err := b.parallel(b.o.apps, func(i int) error {
		app := b.app.DeepCopy()
		app.Namespace = appNamespace(i)
		return b.client.Create(ctx, app)
	})
	if err != nil {
		return 0, nil, err
	}
	created := time.Since(start)
	// Readiness is read from the manager's cache, without copies: listing
	// every AppIsolation from the API server five times a second loaded the
	// control plane with work the baseline does not make it do, and was
	// most of this process's CPU in this phase.
	err = wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		var list tierwallv1alpha1.AppIsolationList
		if err := mgr.GetCache().List(ctx, &list, &client.ListOptions{UnsafeDisableDeepCopy: ptr.To(true)}); err != nil {
			return false, err
		}
		ready := 0
		for _, app := range list.Items {
			if strings.HasPrefix(app.Namespace, "app-") && app.Status.ObservedGeneration == app.Generation &&
				meta.IsStatusConditionTrue(app.Status.Conditions, tierwallv1alpha1.ReadyCondition) {
				ready++
			}
		}
		return ready == b.o.apps, nil
	})
	if err != nil {
		return 0, nil, fmt.Errorf("the AppIsolations did not all become Ready: %w", err)
	}
	if err := b.settle(ctx); err != nil {
		return 0, nil, err
	}
	after, last := b.writes.snapshot()
	_, _ = fmt.Fprintf(b.out, "   the %d creates took %.2fs; %.0f reconciles; the manager's writes:%s\n",
		b.o.apps, created.Seconds(), reconciles()-reconcilesBefore, b.writes.timeline(start))
	return last.Sub(start), since(after, before), nil
}

// reportEvents prints the events of the AppIsolations' namespaces by
// type and reason: what the writes to events were.
func (b *bench) reportEvents(ctx context.Context) error {
	var events eventsv1.EventList
	if err := b.client.List(ctx, &events); err != nil {
		return err
	}
	counts := map[string]int{}
	for _, e := range events.Items {
		if strings.HasPrefix(e.Namespace, "app-") {
			counts[e.Type+" "+e.Reason+" ("+e.Note[:min(len(e.Note), 40)]+"...)"]++
		}
	}
	_, _ = fmt.Fprintf(b.out, "   events by type and reason: %s\n", formatCounts(counts))
	return nil
}

// settle waits until the controller's queue is empty, no reconcile runs,
// and no write has been sent for a second: the events the manager sends
// trail the reconciles that emit them.
func (b *bench) settle(ctx context.Context) error {
	quiet := 0
	return wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(context.Context) (bool, error) {
		_, last := b.writes.snapshot()
		if gauge("workqueue_depth", "name") > 0 || gauge("controller_runtime_active_workers", "controller") > 0 || time.Since(last) < time.Second {
			quiet = 0
			return false, nil
		}
		quiet++
		return quiet >= 4, nil
	})
}

// gauge sums a gauge or counter of the controller-runtime metrics registry
// over the series whose label is tierwall's controller name.
func gauge(name, label string) float64 {
	families, _ := metrics.Registry.Gather()
	for _, f := range families {
		if f.GetName() == name {
			v, _ := sumOf(f, func(m *dto.Metric) bool { return hasLabel(m, label, controllers.ControllerName) })
			return v
		}
	}
	return 0
}

func reconciles() float64 { return gauge("controller_runtime_reconcile_total", "controller") }

// unrelatedChanges relabels, in each of the first AppIsolations'
// namespaces, the pod no selector matches (twice), and labels namespaces
// that no AppIsolation references, then counts the manager's writes and
// reconciles once the manager has seen the changes.
func (b *bench) unrelatedChanges(ctx context.Context, mgr manager.Manager) (map[string]int, int, error) {
	before, _ := b.writes.snapshot()
	reconciled := reconciles()
	n := min(b.o.relabel, b.o.apps)
	for round := range 2 {
		err := b.parallel(n, func(i int) error {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: appNamespace(i), Name: "unrelated"}}
			return b.client.Patch(ctx, pod, client.RawPatch("application/merge-patch+json",
				fmt.Appendf(nil, `{"metadata":{"labels":{"round":"%d"}}}`, round)))
		})
		if err != nil {
			return nil, 0, err
		}
	}
	err := b.parallel(n, func(i int) error {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: baseNamespace(i)}}
		return b.client.Patch(ctx, ns, client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"labels":{"relabelled":"yes"}}}`)))
	})
	if err != nil {
		return nil, 0, err
	}
	// The last change is in the manager's cache once it lists there.
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		pods := &metav1.PartialObjectMetadataList{}
		pods.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("PodList"))
		if err := mgr.GetCache().List(ctx, pods, client.MatchingLabels{"round": "1"}); err != nil {
			return false, err
		}
		return len(pods.Items) == n, nil
	})
	if err != nil {
		return nil, 0, err
	}
	if err := b.settle(ctx); err != nil {
		return nil, 0, err
	}
	after, _ := b.writes.snapshot()
	return since(after, before), int(reconciles() - reconciled), nil
}

// resync waits until a freshly started manager has reconciled every
// AppIsolation, the probe's included, once, and returns its writes since it
// started.
func (b *bench) resync(ctx context.Context, before started) (map[string]int, error) {
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(context.Context) (bool, error) {
		return reconciles()-before.reconciles >= float64(b.o.apps+1), nil
	})
	if err != nil {
		return nil, err
	}
	if err := b.settle(ctx); err != nil {
		return nil, err
	}
	after, _ := b.writes.snapshot()
	return since(after, before.writes), nil
}

// memory measures the manager's heap before and after M pods appear in
// namespaces no AppIsolation governs, once its cache holds them all.
func (b *bench) memory(ctx context.Context, mgr manager.Manager) (float64, uint64, uint64, error) {
	cachedPods := func(ctx context.Context) (int, error) {
		pods := &metav1.PartialObjectMetadataList{}
		pods.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("PodList"))
		err := mgr.GetCache().List(ctx, pods)
		return len(pods.Items), err
	}
	before, err := cachedPods(ctx)
	if err != nil {
		return 0, 0, 0, err
	}
	heapBefore := heap()
	for i := range b.o.namespaces {
		if err := b.client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("other-%04d", i),
			Labels: map[string]string{"team": fmt.Sprintf("team-%d", i%10)}}}); err != nil {
			return 0, 0, 0, err
		}
	}
	err = b.setUp(b.o.pods, func(i int) error {
		ns := fmt.Sprintf("other-%04d", i%b.o.namespaces)
		pod := fixtures.Pod(ns, fmt.Sprintf("web-%d", i), map[string]string{
			"app.kubernetes.io/name": fmt.Sprintf("web-%d", i%50), "app.kubernetes.io/instance": fmt.Sprintf("web-%d", i%50),
			"pod-template-hash": fmt.Sprintf("%x", i%50*7919)})
		// What a controller and a scheduler leave on a real pod's
		// metadata, which the cache must not keep.
		pod.Annotations = map[string]string{"kubectl.kubernetes.io/restartedAt": time.Now().Format(time.RFC3339)}
		pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: fmt.Sprintf("web-%d", i%50), UID: "00000000-0000-0000-0000-000000000000"}}
		return b.client.Create(ctx, pod)
	})
	if err != nil {
		return 0, 0, 0, err
	}
	err = wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		n, err := cachedPods(ctx)
		return n == before+b.o.pods, err
	})
	if err != nil {
		return 0, 0, 0, fmt.Errorf("the manager's cache did not see the pods: %w", err)
	}
	if err := b.settle(ctx); err != nil {
		return 0, 0, 0, err
	}
	heapAfter := heap()
	return (float64(heapAfter) - float64(heapBefore)) / float64(b.o.pods), heapBefore, heapAfter, nil
}

// heap is the live heap after a full collection.
func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
