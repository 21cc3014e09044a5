//go:build e2e

// Package e2e installs tierwall the way a user does (kustomize build
// config/default | kubectl apply) on a local control plane, runs the real
// manager binary as the ServiceAccount that config/rbac grants, and follows
// the WordPress story through crashes and leader hand-overs.
//
// Run it with `make test-e2e`, which passes:
//
//	KUBEBUILDER_ASSETS  kube-apiserver, etcd and kubectl
//	KUSTOMIZE           the kustomize binary
//	MANAGER_BIN         the manager, built from ./cmd
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/tierwall/tierwall/test/fixtures"
	"github.com/tierwall/tierwall/test/testenv"
)

const (
	// systemNamespace is where config/default installs tierwall.
	systemNamespace = "tierwall-system"
	// serviceAccount is the user the manager runs as.
	serviceAccount = "system:serviceaccount:" + systemNamespace + ":tierwall-controller-manager"
	// leaseName is the manager's LeaderElectionID.
	leaseName = "tierwall.tierwall.dev"
	// acquiredLease is what client-go's leader election logs when this
	// process becomes the leader.
	acquiredLease = "Successfully acquired lease"
)

var (
	testEnv *envtest.Environment
	// k8sClient is an admin client that reads straight from the API server.
	k8sClient client.Client
	// adminKubeconfig is what kubectl uses: a system:masters user.
	adminKubeconfig string
	// managerKubeconfig is the admin user impersonating the manager's
	// ServiceAccount: every request the manager sends is authorized as that
	// ServiceAccount, by the RBAC that config/default installs.
	managerKubeconfig string

	kubectlBin, kustomizeBin, managerBin string

	// memoryLimit is the manager container's memory limit in bytes, as the
	// Downward API gives it to GOMEMLIMIT, once the install spec read it.
	memoryLimit string
)

// scheme knows the objects the tests read and write.
var scheme = testenv.Scheme

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "tierwall e2e")
}

var _ = BeforeSuite(func() {
	// Generous, for loaded CI machines: a passing run takes a fraction of it.
	SetDefaultEventuallyTimeout(2 * time.Minute)
	SetDefaultEventuallyPollingInterval(250 * time.Millisecond)

	assets := requireEnv("KUBEBUILDER_ASSETS")
	kustomizeBin, managerBin = requireEnv("KUSTOMIZE"), requireEnv("MANAGER_BIN")
	kubectlBin = filepath.Join(assets, "kubectl")
	for _, bin := range []string{kubectlBin, kustomizeBin, managerBin} {
		Expect(bin).To(BeAnExistingFile(), "run the e2e with `make test-e2e`, which builds it")
	}

	By("starting a local control plane (kube-apiserver and etcd, no CRDs)")
	testEnv = &envtest.Environment{
		BinaryAssetsDirectory: assets,
		// A loaded CI machine may need more than envtest's default 20s.
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	// OpenShift turns this plugin on: setting blockOwnerDeletion on the
	// policies' owner references then needs appisolations/finalizers update,
	// the one rule of the manager's ClusterRole no request exercises.
	testEnv.ControlPlane.GetAPIServer().Configure().
		Append("enable-admission-plugins", "OwnerReferencesPermissionEnforcement")
	cfg, err := testenv.Start(testEnv)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(testEnv.Stop)
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	By("writing kubeconfigs: an admin for kubectl, the admin impersonating the manager's ServiceAccount for the manager")
	admin, err := testEnv.AddUser(envtest.User{Name: "e2e-admin", Groups: []string{"system:masters"}}, nil)
	Expect(err).NotTo(HaveOccurred())
	data, err := admin.KubeConfig()
	Expect(err).NotTo(HaveOccurred())
	dir := GinkgoT().TempDir()
	adminKubeconfig = filepath.Join(dir, "admin.kubeconfig")
	Expect(os.WriteFile(adminKubeconfig, data, 0o600)).To(Succeed())

	kubeconfig, err := clientcmd.Load(data)
	Expect(err).NotTo(HaveOccurred())
	for _, user := range kubeconfig.AuthInfos {
		user.Impersonate = serviceAccount
	}
	managerKubeconfig = filepath.Join(dir, "manager.kubeconfig")
	Expect(clientcmd.WriteToFile(*kubeconfig, managerKubeconfig)).To(Succeed())
})

func requireEnv(name string) string {
	value := os.Getenv(name)
	Expect(value).NotTo(BeEmpty(), "%s is not set: run the e2e with `make test-e2e`", name)
	return value
}

// kubectl runs kubectl as the admin, with stdin, and returns its stdout. It
// fails the spec if kubectl fails.
func kubectl(stdin []byte, args ...string) string {
	GinkgoHelper()
	stdout, stderr, err := runKubectl(adminKubeconfig, stdin, args...)
	Expect(err).NotTo(HaveOccurred(), "kubectl %s: %s", strings.Join(args, " "), stderr)
	return stdout
}

func runKubectl(kubeconfig string, stdin []byte, args ...string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	cmd := exec.Command(kubectlBin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(stdin), &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// kustomizeBuild builds a kustomization of the repository.
func kustomizeBuild(dir string) []byte {
	GinkgoHelper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(kustomizeBin, "build", filepath.Join(fixtures.RepoRoot(), dir))
	cmd.Stdout, cmd.Stderr = &out, &errOut
	Expect(cmd.Run()).To(Succeed(), "kustomize build %s: %s", dir, errOut.String())
	return out.Bytes()
}

// manager is one manager process.
type manager struct {
	name      string
	cmd       *exec.Cmd
	log       *syncBuffer
	probeAddr string
	exited    chan struct{}
	// exitErr is how the process ended; read it after exited is closed.
	exitErr error
}

// startManager runs the manager binary as its own process, as the
// ServiceAccount, with leader election on, metrics off, and args. Kill it
// with kill, in a DeferCleanup of the container that outlives it.
func startManager(name string, args ...string) *manager {
	GinkgoHelper()
	m := &manager{name: name, log: &syncBuffer{}, probeAddr: freeLocalAddr(), exited: make(chan struct{})}
	m.cmd = exec.Command(managerBin,
		"--leader-elect",
		"--leader-election-namespace", systemNamespace,
		"--metrics-bind-address", "0",
		"--health-probe-bind-address", m.probeAddr,
	)
	// A flag given twice takes the last value.
	m.cmd.Args = append(m.cmd.Args, args...)
	m.cmd.Env = append(os.Environ(), "KUBECONFIG="+managerKubeconfig)
	if memoryLimit != "" {
		// As the Deployment sets it from its memory limit: the Go runtime
		// refuses to start on a GOMEMLIMIT it cannot parse.
		m.cmd.Env = append(m.cmd.Env, "GOMEMLIMIT="+memoryLimit)
	}
	out := io.MultiWriter(m.log, prefixWriter(name))
	m.cmd.Stdout, m.cmd.Stderr = out, out
	Expect(m.cmd.Start()).To(Succeed())
	go func() {
		m.exitErr = m.cmd.Wait()
		close(m.exited)
	}()
	return m
}

// kill kills the manager if it still runs, and waits for it to exit.
func (m *manager) kill() {
	if !m.hasExited() {
		_ = m.cmd.Process.Kill()
		<-m.exited
	}
}

// ready tells whether the manager's /readyz answers 200.
func (m *manager) ready() error {
	resp, err := http.Get("http://" + m.probeAddr + "/readyz")
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/readyz answered %s", resp.Status)
	}
	return nil
}

// leading tells whether the manager has become the leader.
func (m *manager) leading() bool {
	return strings.Contains(m.log.String(), acquiredLease)
}

func (m *manager) hasExited() bool {
	select {
	case <-m.exited:
		return true
	default:
		return false
	}
}

// stop sends sig to the manager and waits for it to exit.
func (m *manager) stop(sig syscall.Signal) {
	GinkgoHelper()
	Expect(m.cmd.Process.Signal(sig)).To(Succeed())
	Eventually(m.exited).Should(BeClosed(), "%s did not exit on %s", m.name, sig)
}

// freeLocalAddr returns a loopback address with a port nobody listens on.
func freeLocalAddr() string {
	GinkgoHelper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

// syncBuffer is a bytes.Buffer that a process may write to while the test
// reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// prefixWriter writes each line to GinkgoWriter, prefixed with the process
// name, so that the manager logs show in the test output.
type prefixWriter string

func (p prefixWriter) Write(data []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if line != "" {
			_, _ = fmt.Fprintf(GinkgoWriter, "[%s] %s", string(p), line)
		}
	}
	return len(data), nil
}

// ctx is for API calls in specs.
var ctx = context.Background()
