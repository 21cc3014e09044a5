// Command demo shows tierwall at work on a machine with nothing but Go: it
// starts a local control plane (envtest's kube-apiserver and etcd), installs
// the CRD, runs the operator, applies the WordPress sample with its pods,
// waits for Ready, and prints the generated policies and who may talk to
// whom; then it applies the two-namespace sample and prints what both of
// its AppIsolations report of the edge between them. With --keep it stays
// up and prints a kubeconfig path for kubectl.
//
// Run it with `make demo` (or `make demo DEMO_KEEP=1`), which builds the
// control-plane binaries first.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/controllers"
	"github.com/tierwall/tierwall/internal/report"
	"github.com/tierwall/tierwall/pkg/reach"
	"github.com/tierwall/tierwall/test/fixtures"
	"github.com/tierwall/tierwall/test/testenv"
)

const (
	appNamespace   = "dev-wordpress"
	otherNamespace = "other-team"
	// shopNamespace and paymentsNamespace are the two-namespace sample's.
	shopNamespace     = "shop"
	paymentsNamespace = "payments"
)

func main() {
	keep := flag.Bool("keep", false,
		"keep the control plane and the operator running, and print a kubeconfig path for kubectl")
	verbose := flag.Bool("v", false, "show the operator's logs")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, *keep, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, keep, verbose bool) (retErr error) {
	logOut := io.Discard
	if verbose {
		logOut = os.Stderr
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(logOut)))
	scheme := testenv.Scheme

	step(out, "Starting a local control plane (kube-apiserver and etcd)")
	env := testenv.WithCRDs()
	cfg, err := testenv.Start(env)
	if err != nil {
		return fmt.Errorf("%w (run the demo with `make demo`, which builds the binaries)", err)
	}
	defer func() { retErr = errors.Join(retErr, env.Stop()) }()
	step(out, "Installed the AppIsolation CRD")

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  controllers.CacheOptions(),
	})
	if err != nil {
		return err
	}
	if err := controllers.Setup(mgr, controllers.Options{ObservableNamespaces: []string{"kube-system"}}); err != nil {
		return err
	}
	mgrCtx, stopManager := context.WithCancel(ctx)
	managerDone := make(chan error, 1)
	go func() { managerDone <- mgr.Start(mgrCtx) }()
	defer func() {
		stopManager()
		retErr = errors.Join(retErr, <-managerDone)
	}()
	step(out, "Running the tierwall operator")

	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	app, err := fixtures.WordPress(appNamespace)
	if err != nil {
		return err
	}
	pods := fixtures.WordPressPods(appNamespace, otherNamespace, "")
	for _, ns := range []string{appNamespace, otherNamespace} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
	}
	for _, p := range pods {
		if err := c.Create(ctx, p); err != nil {
			return err
		}
	}
	step(out, "Created the pods of the story: Traefik and CoreDNS in kube-system; "+
		"wordpress, mysql and backup in dev-wordpress; a Traefik look-alike in other-team")
	if err := c.Create(ctx, app); err != nil {
		return err
	}
	step(out, "Applied %s", relative(fixtures.SamplePath()))

	if err := waitReady(ctx, c, app); err != nil {
		return err
	}
	step(out, "AppIsolation %s/%s is Ready: %s", app.Namespace, app.Name, readyMessage(app))

	var generated networkingv1.NetworkPolicyList
	if err := c.List(ctx, &generated, client.InNamespace(appNamespace)); err != nil {
		return err
	}
	_, _ = fmt.Fprintf(out,
		"\n# The NetworkPolicies tierwall generated (kubectl get networkpolicies -n %s -o yaml)\n", appNamespace)
	for i := range generated.Items {
		if err := printPolicy(out, &generated.Items[i]); err != nil {
			return err
		}
	}

	_, _ = fmt.Fprintf(out, "\n# In short: who may talk to whom, as declared\n")
	for _, line := range app.Status.Connectivity {
		_, _ = fmt.Fprintf(out, "  %s\n", line)
	}
	_, _ = fmt.Fprintf(out, "  Everything else to or from the governed pods (%s in %s) is denied.\n",
		metav1.FormatLabelSelector(app.Spec.PodSelector), app.Namespace)
	if err := printReachability(ctx, out, c, pods); err != nil {
		return err
	}
	printStatus(out, app)
	if err := showTwoNamespaces(ctx, out, c); err != nil {
		return err
	}

	if !keep {
		return nil
	}
	kubeconfig, err := writeKubeconfig(env)
	if err != nil {
		return err
	}
	_, _ = fmt.Fprintf(out, "\nThe control plane and the operator keep running. Explore with:\n\n"+
		"  export KUBECONFIG=%s\n  kubectl get appisolations -A\n  kubectl get networkpolicies -n %s\n\n"+
		"Press Ctrl-C to stop.\n", kubeconfig, appNamespace)
	<-ctx.Done()
	return nil
}

// showTwoNamespaces applies the two-namespace sample, a storefront in shop
// calling the payments team's API tier, with a pod in each tier, and
// prints what both AppIsolations report of the edge between them.
func showTwoNamespaces(ctx context.Context, out io.Writer, c client.Client) error {
	storefront, api, err := fixtures.Shop(shopNamespace, paymentsNamespace)
	if err != nil {
		return err
	}
	for _, ns := range []string{shopNamespace, paymentsNamespace} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
	}
	pods := []*corev1.Pod{
		fixtures.Pod(shopNamespace, "web", map[string]string{"app": "storefront", "tier": "web"},
			fixtures.Port("http", 8080, corev1.ProtocolTCP)),
		fixtures.Pod(paymentsNamespace, "backend", map[string]string{"app": "payments-api", "tier": "backend"},
			fixtures.Port("api", 9090, corev1.ProtocolTCP)),
	}
	for _, p := range pods {
		if err := c.Create(ctx, p); err != nil {
			return err
		}
	}
	_, _ = fmt.Fprintln(out)
	for _, app := range []*tierwallv1alpha1.AppIsolation{storefront, api} {
		if err := c.Create(ctx, app); err != nil {
			return err
		}
	}
	step(out, "Applied %s: %s/%s calls the tier backend of %s/%s, each side declaring its half",
		relative(fixtures.ShopSamplePath()), storefront.Namespace, storefront.Name, api.Namespace, api.Name)
	_, _ = fmt.Fprintf(out, "\n# What both AppIsolations report of the edge between them (status.peers, PeersAgree)\n")
	for _, app := range []*tierwallv1alpha1.AppIsolation{storefront, api} {
		// The storefront may be Ready before the API exists, one-sided:
		// wait until both sides see each other.
		if err := waitReady(ctx, c, app, tierwallv1alpha1.PeersAgreeCondition); err != nil {
			return err
		}
		_, _ = fmt.Fprintf(out, "  %s/%s:\n", app.Namespace, app.Name)
		for _, edge := range app.Status.Peers {
			_, _ = fmt.Fprintf(out, "    %s\n", edge)
		}
		if peers := meta.FindStatusCondition(app.Status.Conditions, tierwallv1alpha1.PeersAgreeCondition); peers != nil {
			_, _ = fmt.Fprintf(out, "    %s=%s (%s): %s\n", peers.Type, peers.Status, peers.Reason, peers.Message)
		}
	}
	return nil
}

func step(out io.Writer, format string, args ...any) {
	_, _ = fmt.Fprintf(out, "==> "+format+"\n", args...)
}

func relative(path string) string {
	if rel, err := filepath.Rel(fixtures.RepoRoot(), path); err == nil {
		return rel
	}
	return path
}

// waitReady polls until the AppIsolation is Ready at its generation, and
// the other conditions named are True.
func waitReady(ctx context.Context, c client.Client, app *tierwallv1alpha1.AppIsolation, conditions ...string) error {
	ready := func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(app), app); err != nil {
			return false, err
		}
		for _, t := range append(conditions, tierwallv1alpha1.ReadyCondition) {
			if !meta.IsStatusConditionTrue(app.Status.Conditions, t) {
				return false, nil
			}
		}
		return app.Status.ObservedGeneration == app.Generation, nil
	}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, ready)
	if err != nil {
		return fmt.Errorf("AppIsolation %s/%s did not become Ready (%s): %w", app.Namespace, app.Name, readyMessage(app), err)
	}
	return nil
}

func readyMessage(app *tierwallv1alpha1.AppIsolation) string {
	if c := meta.FindStatusCondition(app.Status.Conditions, tierwallv1alpha1.ReadyCondition); c != nil {
		return c.Message
	}
	return "no Ready condition yet"
}

// printPolicy prints a policy as kubectl would, without the server's
// bookkeeping fields.
func printPolicy(out io.Writer, p *networkingv1.NetworkPolicy) error {
	p = p.DeepCopy()
	p.APIVersion, p.Kind = networkingv1.SchemeGroupVersion.String(), "NetworkPolicy"
	p.ManagedFields, p.ResourceVersion, p.UID, p.Generation = nil, "", "", 0
	p.CreationTimestamp = metav1.Time{}
	for i := range p.OwnerReferences {
		p.OwnerReferences[i].UID = ""
	}
	data, err := yaml.Marshal(p)
	if err != nil {
		return err
	}
	_, _ = fmt.Fprintf(out, "---\n%s", data)
	return nil
}

// printReachability evaluates the policies now in the cluster over the
// story's pods and prints who may talk to whom.
func printReachability(ctx context.Context, out io.Writer, c client.Client, pods []*corev1.Pod) error {
	state := reach.State{}
	var all networkingv1.NetworkPolicyList
	if err := c.List(ctx, &all); err != nil {
		return err
	}
	state.Policies = all.Items
	for _, p := range pods {
		state.Pods = append(state.Pods, *p)
	}
	evaluator, err := reach.New(state)
	if err != nil {
		return err
	}
	_, _ = fmt.Fprintf(out,
		"\n# The proof: every pod pair and destination port, evaluated over the policies in the cluster\n")
	_, err = out.Write(report.FlowsTable(state.Pods, slices.Collect(evaluator.Flows())))
	return err
}

func printStatus(out io.Writer, app *tierwallv1alpha1.AppIsolation) {
	_, _ = fmt.Fprintf(out, "\n# What the AppIsolation reports (kubectl get appisolation %s -n %s -o yaml)\n",
		app.Name, app.Namespace)
	for _, t := range app.Status.Tiers {
		_, _ = fmt.Fprintf(out, "  tier %-10s selects %d pod(s)\n", t.Name, t.Pods)
	}
	for _, c := range app.Status.IngressControllers {
		_, _ = fmt.Fprintf(out, "  ingress controller %s matches %d pod(s)\n", c.Name, c.Pods)
	}
	for _, c := range app.Status.Conditions {
		_, _ = fmt.Fprintf(out, "  %s=%s (%s): %s\n", c.Type, c.Status, c.Reason, c.Message)
	}
}

// writeKubeconfig writes an admin kubeconfig for the local control plane.
func writeKubeconfig(env *envtest.Environment) (string, error) {
	user, err := env.AddUser(envtest.User{Name: "demo-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", err
	}
	data, err := user.KubeConfig()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(fixtures.RepoRoot(), "tmp")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "demo.kubeconfig")
	return path, os.WriteFile(path, data, 0o600)
}
