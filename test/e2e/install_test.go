//go:build e2e

package e2e

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/test/fixtures"
	"github.com/tierwall/tierwall/test/gitops"
)

const (
	appNamespace = "dev-wordpress"
	appName      = "wordpress"
	// Argo CD's tracking annotation and label-mode tracking label, which the
	// AppIsolation carries when Argo CD applies it.
	argoTrackingAnnotation = "argocd.argoproj.io/tracking-id"
	argoInstanceLabel      = "app.kubernetes.io/instance"
)

var _ = Describe("Installing tierwall like a user", Ordered, func() {
	// managers are all the manager processes started, in order. Each spec
	// builds on the state the previous ones left, processes included: they
	// are killed only when the container is done.
	var managers []*manager
	BeforeAll(func() {
		DeferCleanup(func() {
			for _, m := range managers {
				m.kill()
			}
		})
	})

	It("installs config/default with kubectl", func() {
		manifests := kustomizeBuild("config/default")
		_, stderr, err := runKubectl(adminKubeconfig, manifests, "apply", "--server-side", "-f", "-")
		Expect(err).NotTo(HaveOccurred(), "kubectl apply: %s", stderr)
		// tierwall-system enforces and warns on the restricted Pod Security
		// profile: a warning means the Deployment's pods would be refused.
		Expect(stderr).NotTo(ContainSubstring("Warning"), "kubectl apply warned")
		kubectl(nil, "wait", "--for=condition=Established", "--timeout=120s", "crd/appisolations.tierwall.dev")

		By("setting GOMEMLIMIT from the container's memory limit")
		deployment := &appsv1.Deployment{}
		key := types.NamespacedName{Namespace: systemNamespace, Name: "tierwall-controller-manager"}
		Expect(k8sClient.Get(ctx, key, deployment)).To(Succeed())
		container := deployment.Spec.Template.Spec.Containers[0]
		var ref *corev1.ResourceFieldSelector
		for _, env := range container.Env {
			if env.Name == "GOMEMLIMIT" && env.ValueFrom != nil {
				ref = env.ValueFrom.ResourceFieldRef
			}
		}
		Expect(ref).NotTo(BeNil(), "GOMEMLIMIT is not set from a resource field")
		Expect(ref.ContainerName).To(Equal("manager"))
		Expect(ref.Resource).To(Equal("limits.memory"))
		// The API server defaults the divisor to 0, which means 1: bytes.
		Expect(ref.Divisor.Value()).To(BeNumerically("<=", 1))
		// What the kubelet puts there: the limit in bytes.
		memoryLimit = strconv.FormatInt(container.Resources.Limits.Memory().Value(), 10)

		for kind, names := range map[string][]string{
			"namespace":          {systemNamespace},
			"serviceaccount":     {"tierwall-controller-manager"},
			"clusterrole":        {"tierwall-manager-role", "tierwall-metrics-auth-role", "tierwall-metrics-reader"},
			"clusterrolebinding": {"tierwall-manager-rolebinding", "tierwall-metrics-auth-rolebinding"},
			"role":               {"tierwall-leader-election-role"},
			"rolebinding":        {"tierwall-leader-election-rolebinding"},
			"deployment":         {"tierwall-controller-manager"},
			"service":            {"tierwall-controller-manager-metrics"},
			"networkpolicy": {"tierwall-default-deny", "tierwall-allow-dns", "tierwall-allow-apiserver",
				"tierwall-allow-metrics"},
		} {
			for _, name := range names {
				kubectl(nil, "get", "-n", systemNamespace, kind, name)
			}
		}
	})

	It("gives the manager the ServiceAccount's rights and no more", func() {
		whoami, stderr, err := runKubectl(managerKubeconfig, nil, "auth", "whoami", "-o",
			"jsonpath={.status.userInfo.username}")
		Expect(err).NotTo(HaveOccurred(), stderr)
		Expect(whoami).To(Equal(serviceAccount))
		for _, check := range []struct {
			args []string
			want string
		}{
			{[]string{"list", "networkpolicies", "--all-namespaces"}, "yes"},
			{[]string{"create", "leases", "-n", systemNamespace}, "yes"},
			{[]string{"update", "leases/" + leaseName, "-n", systemNamespace}, "yes"},
			{[]string{"update", "leases/someone-elses-lease", "-n", systemNamespace}, "no"},
			{[]string{"list", "secrets", "--all-namespaces"}, "no"},
			{[]string{"update", "appisolations"}, "no"},
			// Reads go through the cache, which lists and watches.
			{[]string{"get", "pods", "-n", "default"}, "no"},
			{[]string{"list", "pods", "--all-namespaces"}, "yes"},
			// The metrics endpoint checks scrapers' tokens and rights.
			{[]string{"create", "tokenreviews"}, "yes"},
			{[]string{"create", "subjectaccessreviews"}, "yes"},
		} {
			// can-i exits 1 on "no".
			out, _, _ := runKubectl(managerKubeconfig, nil, append([]string{"auth", "can-i"}, check.args...)...)
			Expect(strings.TrimSpace(out)).To(Equal(check.want), "kubectl auth can-i %s", strings.Join(check.args, " "))
		}
	})

	It("installs the Argo CD health check with the documented patch", func() {
		kubectl(nil, "create", "namespace", "argocd")
		kubectl(nil, "create", "configmap", "argocd-cm", "-n", "argocd")
		kubectl(nil, "patch", "configmap", "argocd-cm", "-n", "argocd",
			"--patch-file", filepath.Join(fixtures.RepoRoot(), "config", "argocd", "argocd-cm.yaml"))
		Expect(argoCDHealthScript(Default)).To(ContainSubstring("Healthy"))
	})

	It("starts the manager as the ServiceAccount; it becomes ready and leads", func() {
		managers = append(managers, startManager("manager-1"))
		Eventually(managers[0].ready).Should(Succeed())
		Eventually(managers[0].leading).Should(BeTrue())
		Expect(leaseHolder(Default)).NotTo(BeEmpty())
	})

	It("serves metrics over HTTPS only to tokens allowed to read them", func() {
		// A standby with metrics on: it must not outlive this spec, or it
		// could take the Lease in the hand-over specs below.
		addr := freeLocalAddr()
		standby := startManager("metrics", "--metrics-bind-address", addr)
		defer standby.kill()
		Eventually(standby.ready).Should(Succeed())

		By("refusing a request without a token")
		Eventually(func(g Gomega) { g.Expect(scrape(g, addr, "")).To(Equal(http.StatusUnauthorized)) }).Should(Succeed())

		By("refusing a valid token that may not read /metrics")
		kubectl(nil, "create", "namespace", "monitoring")
		kubectl(nil, "create", "serviceaccount", "nosy", "-n", "monitoring")
		nosy := strings.TrimSpace(kubectl(nil, "create", "token", "nosy", "-n", "monitoring"))
		Eventually(func(g Gomega) { g.Expect(scrape(g, addr, nosy)).To(Equal(http.StatusForbidden)) }).Should(Succeed())

		By("serving the metrics to a token bound to tierwall-metrics-reader")
		kubectl(nil, "create", "serviceaccount", "prometheus", "-n", "monitoring")
		kubectl(nil, "create", "clusterrolebinding", "prometheus-tierwall-metrics",
			"--clusterrole", "tierwall-metrics-reader", "--serviceaccount", "monitoring:prometheus")
		prometheus := strings.TrimSpace(kubectl(nil, "create", "token", "prometheus", "-n", "monitoring"))
		Eventually(func(g Gomega) {
			var body string
			g.Expect(scrape(g, addr, prometheus, &body)).To(Equal(http.StatusOK))
			// A standby runs no controller, but talks to the API server.
			g.Expect(body).To(ContainSubstring("rest_client_requests_total"))
		}).Should(Succeed())

		By("serving plain HTTP to nobody")
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			_ = resp.Body.Close()
			Expect(resp).NotTo(HaveHTTPStatus(http.StatusOK))
		}
		expectNoForbidden([]*manager{standby})
	})

	It("reconciles the WordPress sample, applied the way Argo CD applies it", func() {
		kubectl(nil, "create", "namespace", appNamespace)
		kubectl(nil, "create", "namespace", "e2e-other")
		for _, pod := range fixtures.WordPressPods(appNamespace, "e2e-other", "e2e") {
			Expect(k8sClient.Create(ctx, pod)).To(Succeed())
		}
		// Argo CD adds its tracking annotation (and, in label mode, the
		// instance label) to what it applies.
		kubectl(sampleAsArgoCDAppliesIt(), "apply", "--server-side", "-f", "-")
		kubectl(nil, "wait", "--for=condition=Ready", "appisolation/"+appName, "-n", appNamespace, "--timeout=120s")

		app := appIsolation(Default)
		Expect(readyAtCurrentGeneration(app)).To(BeTrue())
		policies := policiesOf(Default, app)
		Expect(policies).To(HaveKey("wordpress-tier-frontend"))
		Expect(policies).To(HaveKey("wordpress-tier-database"))
		Expect(policies).To(HaveKey("wordpress-dns"))
		Expect(policies).To(HaveKey("wordpress-default-deny"))
		Expect(policies).To(HaveLen(4))
		Expect(argoCDHealth(Default).Status).To(Equal(gitops.Healthy))
		expectNoForbidden(managers)
	})

	It("converges after a crash, with one of two new replicas leading", func() {
		crashed := leaseHolder(Default)
		By("killing the manager (SIGKILL: the Lease is not released)")
		managers[0].stop(syscall.SIGKILL)

		By("removing the database tier while no manager runs")
		generation := appIsolation(Default).Generation
		kubectl(nil, "patch", "appisolation", appName, "-n", appNamespace, "--type=json", "-p",
			`[{"op":"test","path":"/spec/tiers/1/name","value":"database"},{"op":"remove","path":"/spec/tiers/1"}]`)
		app := appIsolation(Default)
		Expect(app.Generation).To(Equal(generation + 1))
		Expect(app.Status.ObservedGeneration).To(Equal(generation), "nothing reconciled the change")
		Expect(policiesOf(Default, app)).To(HaveKey("wordpress-tier-database"))
		Expect(argoCDHealth(Default).Status).To(Equal(gitops.Progressing))

		By("starting two replicas: one takes the Lease once the dead leader's expires")
		replicas := []*manager{startManager("manager-2"), startManager("manager-3")}
		managers = append(managers, replicas...)
		for _, m := range replicas {
			Eventually(m.ready).Should(Succeed())
		}
		Eventually(func(g Gomega) {
			holder := leaseHolder(g)
			g.Expect(holder).NotTo(BeEmpty())
			g.Expect(holder).NotTo(Equal(crashed))
			g.Expect(leaders(replicas)).To(HaveLen(1))
		}).Should(Succeed())

		By("applying the change made while no manager ran")
		Eventually(func(g Gomega) {
			app := appIsolation(g)
			g.Expect(app.Generation).To(Equal(generation + 1))
			g.Expect(readyAtCurrentGeneration(app)).To(BeTrue())
			g.Expect(policiesOf(g, app)).To(SatisfyAll(
				HaveLen(3),
				HaveKey("wordpress-tier-frontend"), HaveKey("wordpress-dns"), HaveKey("wordpress-default-deny")))
		}).Should(Succeed())
		Expect(leaders(replicas)).To(HaveLen(1), "exactly one replica leads")
		Expect(argoCDHealth(Default).Status).To(Equal(gitops.Healthy))
		expectNoForbidden(managers)
	})

	It("hands over on SIGTERM, and the new leader reconciles the next change", func() {
		replicas := managers[1:]
		leader := leaders(replicas)
		Expect(leader).To(HaveLen(1))
		var standby *manager
		for _, m := range replicas {
			if m != leader[0] {
				standby = m
			}
		}
		previous := leaseHolder(Default)

		By("stopping the leader gracefully: it releases the Lease and exits cleanly")
		leader[0].stop(syscall.SIGTERM)
		Expect(leader[0].exitErr).NotTo(HaveOccurred())
		Eventually(func(g Gomega) {
			holder := leaseHolder(g)
			g.Expect(holder).NotTo(BeEmpty())
			g.Expect(holder).NotTo(Equal(previous))
			g.Expect(standby.leading()).To(BeTrue())
		}).Should(Succeed())

		By("putting the database tier back, as a GitOps tool would: apply the sample again")
		generation := appIsolation(Default).Generation
		kubectl(sampleAsArgoCDAppliesIt(), "apply", "--server-side", "--force-conflicts", "-f", "-")
		Eventually(func(g Gomega) {
			app := appIsolation(g)
			g.Expect(app.Generation).To(Equal(generation + 1))
			g.Expect(readyAtCurrentGeneration(app)).To(BeTrue())
			g.Expect(policiesOf(g, app)).To(SatisfyAll(HaveLen(4), HaveKey("wordpress-tier-database")))
		}).Should(Succeed())
		Expect(argoCDHealth(Default).Status).To(Equal(gitops.Healthy))
		expectNoForbidden(managers)
	})

	It("reports a conflict it must not resolve as Stalled, which Argo CD shows as Degraded", func() {
		kubectl([]byte(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: wordpress-tier-cache
  namespace: `+appNamespace+`
spec:
  podSelector: {}
  policyTypes: [Ingress]
`), "apply", "--server-side", "-f", "-")
		kubectl(nil, "patch", "appisolation", appName, "-n", appNamespace, "--type=json", "-p",
			`[{"op":"add","path":"/spec/tiers/-","value":{"name":"cache","podSelector":{"matchLabels":{"tier":"cache"}}}}]`)
		kubectl(nil, "wait", "--for=condition=Stalled", "appisolation/"+appName, "-n", appNamespace, "--timeout=120s")

		app := appIsolation(Default)
		Expect(app.Status.ObservedGeneration).To(Equal(app.Generation))
		stalled := meta.FindStatusCondition(app.Status.Conditions, tierwallv1alpha1.StalledCondition)
		Expect(stalled.Reason).To(Equal(tierwallv1alpha1.PolicyConflictReason))
		Expect(meta.IsStatusConditionFalse(app.Status.Conditions, tierwallv1alpha1.ReadyCondition)).To(BeTrue())
		health := argoCDHealth(Default)
		Expect(health.Status).To(Equal(gitops.Degraded))
		Expect(health.Message).To(ContainSubstring("wordpress-tier-cache"))
		// The foreign policy is left as it was.
		foreign := &networkingv1.NetworkPolicy{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: appNamespace, Name: "wordpress-tier-cache"},
			foreign)).To(Succeed())
		Expect(foreign.OwnerReferences).To(BeEmpty())
		expectNoForbidden(managers)
	})

	It("recorded events with the rights config/rbac grants", func() {
		Eventually(func(g Gomega) {
			var events corev1.EventList
			g.Expect(k8sClient.List(ctx, &events, client.InNamespace(systemNamespace))).To(Succeed())
			var leaderElection []string
			for _, e := range events.Items {
				if e.Reason == "LeaderElection" && e.InvolvedObject.Name == leaseName {
					leaderElection = append(leaderElection, e.Message)
				}
			}
			g.Expect(leaderElection).To(ContainElement(HaveSuffix("became leader")))
		}).Should(Succeed())
		out := kubectl(nil, "get", "events.events.k8s.io", "-n", appNamespace, "-o", "json")
		var events struct {
			Items []struct {
				Reason              string `json:"reason"`
				Note                string `json:"note"`
				ReportingController string `json:"reportingController"`
			} `json:"items"`
		}
		Expect(json.Unmarshal([]byte(out), &events)).To(Succeed())
		var changes []string
		for _, e := range events.Items {
			if e.ReportingController == "tierwall" && e.Reason == tierwallv1alpha1.PoliciesChangedReason {
				changes = append(changes, e.Note)
			}
		}
		// One event per reconcile that wrote: creates, then the deletion of
		// the database tier's policy.
		Expect(changes).To(ContainElement(HavePrefix("NetworkPolicies created ")))
		Expect(changes).To(ContainElement(ContainSubstring("deleted wordpress-tier-database")))
		expectNoForbidden(managers)
	})

	It("exits as soon as a paused leader resumes after losing the Lease", func() {
		By("stopping the managers of the previous specs; they release the Lease")
		for _, m := range managers {
			if !m.hasExited() {
				m.stop(syscall.SIGTERM)
			}
		}
		// Short leases, so that the spec takes seconds.
		lease := []string{
			"--leader-elect-lease-duration=4s", "--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=1s",
		}
		paused := startManager("paused", lease...)
		managers = append(managers, paused)
		Eventually(paused.leading).Should(BeTrue())
		standby := startManager("standby", lease...)
		managers = append(managers, standby)
		Eventually(standby.ready).Should(Succeed())

		By("pausing the leader (SIGSTOP): the standby takes the Lease when it expires")
		Expect(paused.cmd.Process.Signal(syscall.SIGSTOP)).To(Succeed())
		Eventually(standby.leading).Should(BeTrue())

		By("resuming it (SIGCONT): it finds the Lease lost and exits")
		Expect(paused.cmd.Process.Signal(syscall.SIGCONT)).To(Succeed())
		Eventually(paused.exited).Should(BeClosed())
		Expect(paused.exitErr).To(HaveOccurred(), "the old leader exited with status 0")
		Expect(paused.log.String()).To(ContainSubstring("leader election lost"))
		Expect(leaders(managers)).To(ConsistOf(standby))
	})
})

// scrape GETs https://addr/metrics with token as bearer token ("" for
// none), and returns the status code, and the body into body if not nil.
// The manager's certificate is self-signed: the test checks who may read,
// not who serves.
func scrape(g Gomega, addr, token string, body ...*string) int {
	GinkgoHelper()
	req, err := http.NewRequest(http.MethodGet, "https://"+addr+"/metrics", nil)
	g.Expect(err).NotTo(HaveOccurred())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	insecure := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // self-signed
	}}
	resp, err := insecure.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	g.Expect(err).NotTo(HaveOccurred())
	for _, b := range body {
		*b = string(data)
	}
	return resp.StatusCode
}

// sampleAsArgoCDAppliesIt is the WordPress sample with Argo CD's tracking
// annotation and instance label added.
func sampleAsArgoCDAppliesIt() []byte {
	GinkgoHelper()
	data, err := os.ReadFile(fixtures.SamplePath())
	Expect(err).NotTo(HaveOccurred())
	obj := &unstructured.Unstructured{}
	Expect(yaml.Unmarshal(data, &obj.Object)).To(Succeed())
	obj.SetAnnotations(map[string]string{
		argoTrackingAnnotation: "tierwall-demo:tierwall.dev/AppIsolation:dev-wordpress/wordpress",
	})
	obj.SetLabels(map[string]string{argoInstanceLabel: "tierwall-demo"})
	out, err := yaml.Marshal(obj.Object)
	Expect(err).NotTo(HaveOccurred())
	return out
}

// appIsolation reads the WordPress AppIsolation from the API server.
func appIsolation(g Gomega) *tierwallv1alpha1.AppIsolation {
	GinkgoHelper()
	app := &tierwallv1alpha1.AppIsolation{}
	g.Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: appNamespace, Name: appName}, app)).To(Succeed())
	return app
}

// readyAtCurrentGeneration tells whether tierwall reports app Ready for its
// current spec.
func readyAtCurrentGeneration(app *tierwallv1alpha1.AppIsolation) bool {
	return app.Status.ObservedGeneration == app.Generation &&
		meta.IsStatusConditionTrue(app.Status.Conditions, tierwallv1alpha1.ReadyCondition)
}

// policiesOf lists the NetworkPolicies of the app's namespace with kubectl,
// as a user would, and checks that each is tierwall's: controlled by app,
// labelled as managed by tierwall, and carrying neither Argo CD's tracking
// annotation nor its instance label (else Argo CD would prune it). It
// returns them by name.
func policiesOf(g Gomega, app *tierwallv1alpha1.AppIsolation) map[string]networkingv1.NetworkPolicy {
	GinkgoHelper()
	out, stderr, err := runKubectl(adminKubeconfig, nil, "get", "networkpolicies", "-n", appNamespace, "-o", "json")
	g.Expect(err).NotTo(HaveOccurred(), stderr)
	var list networkingv1.NetworkPolicyList
	g.Expect(json.Unmarshal([]byte(out), &list)).To(Succeed())
	policies := map[string]networkingv1.NetworkPolicy{}
	for _, p := range list.Items {
		if p.Name == "wordpress-tier-cache" && metav1.GetControllerOf(&p) == nil {
			continue // the foreign policy of the conflict spec
		}
		owner := metav1.GetControllerOf(&p)
		g.Expect(owner).NotTo(BeNil(), "NetworkPolicy %s has no controller", p.Name)
		g.Expect([]string{owner.Kind, owner.Name, string(owner.UID)}).
			To(Equal([]string{"AppIsolation", appName, string(app.UID)}),
				"the controller of NetworkPolicy %s (kind, name, UID)", p.Name)
		g.Expect(p.Labels).To(HaveKeyWithValue(tierwallv1alpha1.ManagedByLabel, tierwallv1alpha1.ManagedByValue))
		g.Expect(p.Labels).To(HaveKeyWithValue(tierwallv1alpha1.AppIsolationLabel, appName))
		g.Expect(p.Labels).NotTo(HaveKey(argoInstanceLabel))
		g.Expect(p.Annotations).NotTo(HaveKey(argoTrackingAnnotation))
		policies[p.Name] = p
	}
	return policies
}

// leaseHolder is the identity that holds the manager's Lease.
func leaseHolder(g Gomega) string {
	GinkgoHelper()
	lease := &coordinationv1.Lease{}
	err := k8sClient.Get(ctx, types.NamespacedName{Namespace: systemNamespace, Name: leaseName}, lease)
	if apierrors.IsNotFound(err) {
		return ""
	}
	g.Expect(err).NotTo(HaveOccurred())
	if lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *lease.Spec.HolderIdentity
}

// leaders are the managers that have become leader and still run.
func leaders(managers []*manager) []*manager {
	var out []*manager
	for _, m := range managers {
		if m.leading() && !m.hasExited() {
			out = append(out, m)
		}
	}
	return out
}

// expectNoForbidden fails if the API server refused any manager a request:
// the RBAC in config/rbac is short of a verb.
func expectNoForbidden(managers []*manager) {
	GinkgoHelper()
	for _, m := range managers {
		Expect(strings.ToLower(m.log.String())).NotTo(ContainSubstring("forbidden"),
			"the API server refused %s a request: config/rbac misses a rule", m.name)
	}
}

// argoCDHealthScript is the health check as Argo CD reads it: from argocd-cm.
func argoCDHealthScript(g Gomega) string {
	GinkgoHelper()
	cm := &corev1.ConfigMap{}
	g.Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: "argocd", Name: "argocd-cm"}, cm)).To(Succeed())
	return cm.Data[gitops.HealthConfigMapKey]
}

// argoCDHealth is the health Argo CD shows for the WordPress AppIsolation,
// as served by the API server.
func argoCDHealth(g Gomega) gitops.Health {
	GinkgoHelper()
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(tierwallv1alpha1.GroupVersion.WithKind("AppIsolation"))
	g.Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: appNamespace, Name: appName}, obj)).To(Succeed())
	health, err := gitops.ArgoCDHealth(argoCDHealthScript(g), obj.Object)
	g.Expect(err).NotTo(HaveOccurred())
	GinkgoWriter.Printf("Argo CD health of the AppIsolation: %s (%s)\n", health.Status, health.Message)
	return health
}
