//go:build e2e && soak

package e2e

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/internal/plan"
	"github.com/tierwall/tierwall/pkg/render"
	"github.com/tierwall/tierwall/test/fixtures"
	"github.com/tierwall/tierwall/test/specs"
)

// The soak runs with `make soak` only: the build tag keeps it out of
// `make test-e2e` and CI. It is bounded by SOAK_DURATION (churn) and
// SOAK_QUIET (the quiet period), plus the time to converge.
const (
	busyNamespace = "soak-busy"
	// busyApps is how many AppIsolations share the busy namespace, each over
	// its own app label.
	busyApps = 5
	// busyPods is how many pods of the busy namespace flap labels.
	busyPods = 40
	// otherApps are the ordinary AppIsolations, one per namespace.
	otherApps = 6
	// hostileApps are AppIsolations at every bound of the schema.
	hostileApps = 2
	// invalidApps pass the schema but cannot be rendered.
	invalidApps = 3
	// soakLease is short, so that a killed leader's Lease expires quickly.
	soakLease = "4s"
)

var _ = Describe("Soak", Label("soak"), Ordered, func() {
	var (
		managers []*manager
		current  *manager
		// peakRSS is the largest VmHWM seen of any manager process, in bytes.
		peakRSS int64
		limit   int64
		valid   []types.NamespacedName
		invalid []types.NamespacedName
	)
	// supervise starts a manager when none runs, as the Deployment's
	// ReplicaSet and the kubelet would.
	supervise := func() {
		if current != nil && !current.hasExited() {
			peakRSS = max(peakRSS, highWaterRSS(current))
			return
		}
		current = startManager(fmt.Sprintf("soak-%d", len(managers)),
			"--leader-elect-lease-duration="+soakLease, "--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=1s")
		managers = append(managers, current)
	}
	BeforeAll(func() {
		DeferCleanup(func() {
			for _, m := range managers {
				m.kill()
			}
		})
	})

	It("installs config/default", func() {
		manifests := kustomizeBuild("config/default")
		_, stderr, err := runKubectl(adminKubeconfig, manifests, "apply", "--server-side", "-f", "-")
		Expect(err).NotTo(HaveOccurred(), "kubectl apply: %s", stderr)
		kubectl(nil, "wait", "--for=condition=Established", "--timeout=120s", "crd/appisolations.tierwall.dev")
		deployment := &appsv1.Deployment{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: systemNamespace, Name: "tierwall-controller-manager"}, deployment)).To(Succeed())
		limit = deployment.Spec.Template.Spec.Containers[0].Resources.Limits.Memory().Value()
		Expect(limit).To(BeNumerically(">", 0), "the manager container has no memory limit")
		memoryLimit = strconv.FormatInt(limit, 10)
	})

	It("creates hostile, invalid and ordinary AppIsolations, and a busy namespace", func() {
		// Traefik and the cluster DNS, in kube-system.
		for _, pod := range fixtures.WordPressPods(busyNamespace, busyNamespace, "soak")[:2] {
			Expect(k8sClient.Create(ctx, pod)).To(Succeed())
		}
		create := func(app *tierwallv1alpha1.AppIsolation) types.NamespacedName {
			GinkgoHelper()
			createNamespace(app.Namespace)
			Expect(k8sClient.Create(ctx, app)).To(Succeed(), "AppIsolation %s/%s", app.Namespace, app.Name)
			return client.ObjectKeyFromObject(app)
		}
		createNamespace(busyNamespace)
		for i := range busyPods {
			labels := map[string]string{"app": fmt.Sprintf("wp-%d", i%busyApps), "tier": "frontend"}
			Expect(k8sClient.Create(ctx, fixtures.Pod(busyNamespace, fmt.Sprintf("pod-%02d", i), labels,
				fixtures.Port("http", 80, "TCP"), fixtures.Port("mysql", 3306, "TCP")))).To(Succeed())
		}
		for i := range busyApps {
			app := wordpressApp(busyNamespace, fmt.Sprintf("wp-%d", i))
			app.Spec.PodSelector.MatchLabels["app"] = app.Name
			valid = append(valid, create(app))
		}
		for i := range otherApps {
			valid = append(valid, create(wordpressApp(fmt.Sprintf("soak-app-%d", i), "wordpress")))
		}
		for i := range hostileApps {
			app := wordpressApp(fmt.Sprintf("soak-hostile-%d", i), strings.Repeat("h", 62)+strconv.Itoa(i))
			specs.Largest(app)
			valid = append(valid, create(app))
		}
		for i := range invalidApps {
			app := wordpressApp(fmt.Sprintf("soak-invalid-%d", i), "wordpress")
			// The schema bounds label values' length, not their syntax:
			// only rendering refuses this one.
			app.Spec.Tiers[0].PodSelector.MatchLabels["tier"] = "not a valid label value"
			invalid = append(invalid, create(app))
		}
	})

	It("churns: flaps labels, changes specs, kills the manager and restarts the API server", func() {
		duration := envDuration("SOAK_DURATION", 2*time.Minute)
		seed := uint64(time.Now().UnixNano())
		if s := os.Getenv("SOAK_SEED"); s != "" {
			var err error
			seed, err = strconv.ParseUint(s, 10, 64)
			Expect(err).NotTo(HaveOccurred(), "SOAK_SEED")
		}
		fmt.Fprintf(GinkgoWriter, "Soak: seed %d (rerun with SOAK_SEED=%d), %s of churn\n", seed, seed, duration)
		AddReportEntry("seed", seed)
		rng := rand.New(rand.NewPCG(seed, seed))
		// The API server restarts once, somewhere in the middle third.
		restartAt := time.Now().Add(duration/3 + time.Duration(rng.Int64N(int64(duration/3))))
		restarted := false
		// The next kill -9 of the leader, 3 to 15 seconds after the last.
		nextKill := func() time.Time { return time.Now().Add(time.Duration(3000+rng.IntN(12000)) * time.Millisecond) }
		killAt := nextKill()
		counts := map[string]int{}
		deadline := time.Now().Add(duration)
		for time.Now().Before(deadline) {
			supervise()
			switch {
			case !restarted && time.Now().After(restartAt):
				restarted = true
				counts["apiserver restarts"]++
				restartAPIServer()
			case time.Now().After(killAt) && current.leading():
				counts["kill -9"]++
				current.kill()
				killAt = nextKill()
			case rng.IntN(100) < 75:
				counts["label flaps"]++
				flapLabel(rng)
			default:
				counts["spec changes"]++
				toggleDatabaseTier(valid[rng.IntN(busyApps+otherApps)])
			}
			// The pace of the churn, not a wait for a condition.
			time.Sleep(time.Duration(20+rng.IntN(400)) * time.Millisecond)
		}
		supervise()
		fmt.Fprintf(GinkgoWriter, "Soak: %v, %d manager processes\n", counts, len(managers))
		Expect(restarted).To(BeTrue(), "SOAK_DURATION is too short to restart the API server")
	})

	It("converges: every valid AppIsolation Ready with exactly its policies, every invalid one Stalled", func() {
		Eventually(func(g Gomega) {
			supervise()
			for _, key := range valid {
				app := &tierwallv1alpha1.AppIsolation{}
				g.Expect(k8sClient.Get(ctx, key, app)).To(Succeed())
				g.Expect(readyAtCurrentGeneration(app)).To(BeTrue(), "%s is not Ready at generation %d", key, app.Generation)
				rendered, err := render.Render(app, render.Platform{})
				g.Expect(err).NotTo(HaveOccurred())
				p := plan.New(app, rendered, namespacePolicies(g, key.Namespace))
				g.Expect(p.Conflicts).To(BeEmpty(), "%s", key)
				g.Expect(p.Steps).To(BeEmpty(), "%s: its policies differ from what it renders", key)
				g.Expect(policyNames(p.Owned)).To(Equal(policyNames(rendered)), "%s owns other policies than it renders", key)
			}
			for _, key := range invalid {
				app := &tierwallv1alpha1.AppIsolation{}
				g.Expect(k8sClient.Get(ctx, key, app)).To(Succeed())
				g.Expect(app.Status.ObservedGeneration).To(Equal(app.Generation), "%s", key)
				stalled := meta.FindStatusCondition(app.Status.Conditions, tierwallv1alpha1.StalledCondition)
				g.Expect(stalled).NotTo(BeNil(), "%s is not Stalled", key)
				g.Expect(stalled.Reason).To(Equal(tierwallv1alpha1.InvalidSpecReason), "%s", key)
				g.Expect(plan.New(app, nil, namespacePolicies(g, key.Namespace)).Owned).To(BeEmpty(), "%s", key)
			}
		}).WithTimeout(5 * time.Minute).Should(Succeed())
	})

	It("leaves no orphan: every policy tierwall manages belongs to a live AppIsolation", func() {
		var policies networkingv1.NetworkPolicyList
		Expect(k8sClient.List(ctx, &policies, client.MatchingLabels{tierwallv1alpha1.ManagedByLabel: tierwallv1alpha1.ManagedByValue})).To(Succeed())
		Expect(policies.Items).NotTo(BeEmpty())
		orphans := 0
		for i := range policies.Items {
			p := &policies.Items[i]
			app := &tierwallv1alpha1.AppIsolation{}
			err := k8sClient.Get(ctx, types.NamespacedName{Namespace: p.Namespace, Name: p.Labels[tierwallv1alpha1.AppIsolationLabel]}, app)
			if err != nil || !plan.Owns(app, p) {
				orphans++
				fmt.Fprintf(GinkgoWriter, "Orphan: NetworkPolicy %s/%s (%v)\n", p.Namespace, p.Name, err)
			}
		}
		fmt.Fprintf(GinkgoWriter, "Soak: %d policies managed by tierwall, %d orphans\n", len(policies.Items), orphans)
		Expect(orphans).To(BeZero())
	})

	It("writes no AppIsolation status during a quiet period", func() {
		quiet := envDuration("SOAK_QUIET", 30*time.Second)
		supervise()
		watcher, err := client.NewWithWatch(testEnv.Config, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		var list tierwallv1alpha1.AppIsolationList
		Expect(k8sClient.List(ctx, &list)).To(Succeed())
		w, err := watcher.Watch(ctx, &tierwallv1alpha1.AppIsolationList{}, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}})
		Expect(err).NotTo(HaveOccurred())
		defer w.Stop()
		var writes atomic.Int64
		go func() {
			for e := range w.ResultChan() {
				if e.Type != watch.Bookmark {
					writes.Add(1)
					if app, ok := e.Object.(*tierwallv1alpha1.AppIsolation); ok {
						fmt.Fprintf(GinkgoWriter, "Write in the quiet period: %s %s/%s\n", e.Type, app.Namespace, app.Name)
					}
				}
			}
		}()
		Consistently(writes.Load).WithTimeout(quiet).WithPolling(time.Second).Should(BeZero())
		Expect(current.hasExited()).To(BeFalse(), "the manager exited during the quiet period")
		fmt.Fprintf(GinkgoWriter, "Soak: 0 AppIsolation writes in %s\n", quiet)
	})

	It("kept every manager's memory under the container's limit", func() {
		supervise()
		fmt.Fprintf(GinkgoWriter, "Soak: peak manager RSS %d MiB, limit %d MiB\n", peakRSS>>20, limit>>20)
		Expect(peakRSS).To(BeNumerically(">", 0))
		Expect(peakRSS).To(BeNumerically("<", limit))
	})
})

// wordpressApp is the WordPress sample, named name, in namespace.
func wordpressApp(namespace, name string) *tierwallv1alpha1.AppIsolation {
	GinkgoHelper()
	app, err := fixtures.WordPress(namespace)
	Expect(err).NotTo(HaveOccurred())
	app.Name = name
	return app
}

// createNamespace creates namespace unless it exists.
func createNamespace(namespace string) {
	GinkgoHelper()
	if _, _, err := runKubectl(adminKubeconfig, nil, "get", "namespace", namespace); err != nil {
		kubectl(nil, "create", "namespace", namespace)
	}
}

// flapLabel moves a random pod of the busy namespace to another tier, or to
// none. Errors (while the API server restarts) are logged, not failures.
func flapLabel(rng *rand.Rand) {
	tier := []string{"frontend", "mysql", "none"}[rng.IntN(3)]
	patch := fmt.Sprintf(`{"metadata":{"labels":{"tier":%q}}}`, tier)
	pod := &metav1.PartialObjectMetadata{}
	pod.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Pod"))
	pod.Namespace, pod.Name = busyNamespace, fmt.Sprintf("pod-%02d", rng.IntN(busyPods))
	if err := k8sClient.Patch(ctx, pod, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		fmt.Fprintf(GinkgoWriter, "Soak: flapping %s: %v\n", pod.Name, err)
	}
}

// toggleDatabaseTier removes the database tier of the AppIsolation key, or
// puts it back. Errors are logged, not failures.
func toggleDatabaseTier(key types.NamespacedName) {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		app := &tierwallv1alpha1.AppIsolation{}
		if err := k8sClient.Get(ctx, key, app); err != nil {
			return err
		}
		if len(app.Spec.Tiers) == 2 {
			app.Spec.Tiers = app.Spec.Tiers[:1]
		} else {
			app.Spec.Tiers = wordpressApp(key.Namespace, key.Name).Spec.Tiers
		}
		return k8sClient.Update(ctx, app)
	})
	if err != nil {
		fmt.Fprintf(GinkgoWriter, "Soak: changing %s: %v\n", key, err)
	}
}

// restartAPIServer kills the kube-apiserver (SIGKILL, as a crash would: a
// graceful stop can outlast envtest's stop timeout while watches drain)
// and starts it again on the same port and certificates (the suite fixes
// its CertDir), with etcd running.
func restartAPIServer() {
	GinkgoHelper()
	apiServer := testEnv.ControlPlane.GetAPIServer()
	pid := apiServerPID(apiServer.CertDir)
	fmt.Fprintf(GinkgoWriter, "Soak: killing the kube-apiserver (pid %d) and starting it again\n", pid)
	Expect(syscall.Kill(pid, syscall.SIGKILL)).To(Succeed())
	// Gone once envtest has reaped it: Stop then has nothing to stop.
	Eventually(func() error {
		_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
		return err
	}).Should(MatchError(os.ErrNotExist))
	Expect(apiServer.Stop()).To(Succeed())
	Expect(apiServer.Start()).To(Succeed())
	Eventually(func() error {
		_, _, err := runKubectl(adminKubeconfig, nil, "get", "--raw", "/readyz")
		return err
	}).Should(Succeed())
}

// apiServerPID is the process id of the kube-apiserver that envtest started
// with certDir.
func apiServerPID(certDir string) int {
	GinkgoHelper()
	entries, err := os.ReadDir("/proc")
	Expect(err).NotTo(HaveOccurred())
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if filepath.Base(args[0]) == "kube-apiserver" && slices.Contains(args, "--cert-dir="+certDir) {
			return pid
		}
	}
	Fail("found no kube-apiserver with --cert-dir=" + certDir)
	return 0
}

// namespacePolicies are the NetworkPolicies of namespace.
func namespacePolicies(g Gomega, namespace string) []networkingv1.NetworkPolicy {
	var list networkingv1.NetworkPolicyList
	g.Expect(k8sClient.List(ctx, &list, client.InNamespace(namespace))).To(Succeed())
	return list.Items
}

func policyNames(policies []networkingv1.NetworkPolicy) []string {
	names := make([]string, 0, len(policies))
	for _, p := range policies {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	return names
}

// highWaterRSS is the peak resident set size of the manager's process, in
// bytes (VmHWM in /proc/<pid>/status), or 0 once it has exited.
func highWaterRSS(m *manager) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", m.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer func() { _ = f.Close() }()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) == 3 && fields[0] == "VmHWM:" && fields[2] == "kB" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// envDuration reads a duration from the environment, or returns def.
func envDuration(name string, def time.Duration) time.Duration {
	GinkgoHelper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	Expect(err).NotTo(HaveOccurred(), name)
	return d
}
