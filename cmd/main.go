// Command manager runs the tierwall operator: it reconciles AppIsolations
// into NetworkPolicies.
package main

import (
	"crypto/tls"
	"flag"
	"os"
	"strings"
	"time"

	_ "k8s.io/client-go/plugin/pkg/client/auth"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/tierwall/tierwall/controllers"
	"github.com/tierwall/tierwall/internal/scheme"
	// The +kubebuilder:scaffold markers show `kubebuilder create api` and
	// `create webhook` where to add imports and controller setups (scheme
	// registrations go to internal/scheme); keep them in place when editing
	// this file.
	// +kubebuilder:scaffold:imports
)

func main() {
	var (
		metricsAddr, probeAddr string
		leaderElect            bool
		secureMetrics          bool
		leaderElectionNS       string
		gracefulShutdown       time.Duration
		leaseDuration          time.Duration
		renewDeadline          time.Duration
		retryPeriod            time.Duration
		concurrent             int
		observableNamespaces   []string
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8443",
		"The address the Prometheus metrics endpoint binds to (use :8080 with --metrics-secure=false); 0 disables it.")
	flag.BoolVar(&secureMetrics, "metrics-secure", true,
		"Serve metrics over HTTPS, only to clients the API server authenticates and authorizes to GET /metrics; "+
			"false serves plain HTTP to anyone.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081",
		"The address the /healthz and /readyz endpoints bind to.")
	flag.BoolVar(&leaderElect, "leader-elect", false,
		"Elect a leader, so that only one of several replicas reconciles at a time.")
	flag.StringVar(&leaderElectionNS, "leader-election-namespace", "",
		"The namespace of the leader election Lease (default: the namespace the manager runs in).")
	flag.DurationVar(&leaseDuration, "leader-elect-lease-duration", 15*time.Second,
		"How long a standby waits, after the leader last renewed the Lease, before it takes over.")
	flag.DurationVar(&renewDeadline, "leader-elect-renew-deadline", 10*time.Second,
		"How long the leader retries renewing the Lease before it gives up leading and exits; "+
			"shorter than the lease duration.")
	flag.DurationVar(&retryPeriod, "leader-elect-retry-period", 2*time.Second,
		"How often candidates try to take, and the leader to renew, the Lease; shorter than the renew deadline.")
	flag.DurationVar(&gracefulShutdown, "graceful-shutdown-timeout", 30*time.Second,
		"How long in-flight reconciles may take to finish on shutdown.")
	flag.IntVar(&concurrent, "concurrent", controllers.DefaultMaxConcurrentReconciles,
		"How many AppIsolations reconcile at once.")
	flag.Func("observable-namespaces", "Comma-separated namespaces, besides an AppIsolation's own, "+
		"whose pods its status and events may count and name (default kube-system; \"\" for none).",
		func(s string) error { observableNamespaces = splitList(s); return nil })
	observableNamespaces = []string{"kube-system"}
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	log := ctrl.Log.WithName("setup")
	if leaseDuration <= renewDeadline || renewDeadline <= retryPeriod {
		log.Error(nil, "Leader election needs --leader-elect-lease-duration > --leader-elect-renew-deadline > "+
			"--leader-elect-retry-period",
			"leaseDuration", leaseDuration, "renewDeadline", renewDeadline, "retryPeriod", retryPeriod)
		os.Exit(1)
	}

	metrics := metricsserver.Options{
		BindAddress:   metricsAddr,
		SecureServing: secureMetrics,
		// HTTP/1.1 only: HTTP/2's stream resets (CVE-2023-44487) need no
		// credentials, and a scrape gains nothing from HTTP/2.
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }},
	}
	if secureMetrics {
		// Every scrape is checked with a TokenReview and a
		// SubjectAccessReview (nonResourceURL /metrics, verb get).
		metrics.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                  scheme.New(),
		Metrics:                 metrics,
		HealthProbeBindAddress:  probeAddr,
		LeaderElection:          leaderElect,
		LeaderElectionID:        "tierwall.tierwall.dev",
		LeaderElectionNamespace: leaderElectionNS,
		// The next leader may start as soon as this one stops: the manager
		// exits right after, so nothing reconciles twice.
		LeaderElectionReleaseOnCancel: true,
		// A leader that cannot renew for renewDeadline stops leading:
		// controller-runtime then cancels the context of every reconcile
		// (aborting the writes in flight) and Start returns, so the process
		// exits; the standby takes over after leaseDuration. See
		// docs/security.md for the window that remains.
		LeaseDuration:           &leaseDuration,
		RenewDeadline:           &renewDeadline,
		RetryPeriod:             &retryPeriod,
		GracefulShutdownTimeout: &gracefulShutdown,
		Cache:                   controllers.CacheOptions(),
	})
	if err != nil {
		log.Error(err, "Unable to create the manager")
		os.Exit(1)
	}
	if err := controllers.Setup(mgr, controllers.Options{
		MaxConcurrentReconciles: concurrent,
		ObservableNamespaces:    observableNamespaces,
	}); err != nil {
		log.Error(err, "Unable to set up the AppIsolation controller")
		os.Exit(1)
	}
	// +kubebuilder:scaffold:builder

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		log.Error(err, "Unable to set up the health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		log.Error(err, "Unable to set up the ready check")
		os.Exit(1)
	}
	log.Info("Starting the manager")
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "The manager stopped with an error")
		os.Exit(1)
	}
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
