// Package dataplane is tierwall's dataplane lab: it proves with real TCP and
// UDP packets, under kube-router's NetworkPolicy controller (the engine K3s
// embeds), what the evaluator (pkg/reach) and the envtest suites prove
// on paper. It is test equipment in a module of its own, so that the
// operator's module, binary and image never carry kube-router.
//
// Run it with `make test-dataplane` (as root): lab.sh creates the network
// namespaces and runs this test binary inside the node namespace.
package dataplane

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudnativelabs/kube-router/v2/pkg/controllers/netpol"
	"github.com/cloudnativelabs/kube-router/v2/pkg/healthcheck"
	"github.com/cloudnativelabs/kube-router/v2/pkg/options"
	"github.com/cloudnativelabs/kube-router/v2/pkg/utils"
	"github.com/coreos/go-iptables/iptables"
	"github.com/go-logr/logr"
	"github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/tierwall/tierwall/controllers"
	"github.com/tierwall/tierwall/internal/report"
	"github.com/tierwall/tierwall/pkg/reach"
	"github.com/tierwall/tierwall/test/fixtures"
	"github.com/tierwall/tierwall/test/testenv"
)

const (
	// nodeName is the lab's Node, where the pods run; kube-router enforces
	// the pods whose status.hostIP is its InternalIP.
	nodeName = "twlab-node"
	// serviceCIDR and nodePortRange are what kube-router needs to start, as
	// K3s passes them (K3s's defaults).
	serviceCIDR   = "10.43.0.0/16"
	nodePortRange = "30000:32767"
	// matrixWidth is how many probes run at once.
	matrixWidth = 24
)

var verbose = flag.Bool("lab.verbose", false, "show kube-router's and the operator's logs")

// theLab is shared by the tests: one control plane, one kube-router, one
// operator.
var theLab *lab

func TestMain(m *testing.M) {
	flag.Parse()
	if os.Getenv("TWLAB_PREFIX") == "" {
		fmt.Fprintln(os.Stderr, "The dataplane lab runs inside the network namespaces lab.sh creates: run `make test-dataplane` (as root).")
		os.Exit(1)
	}
	if !*verbose {
		quietLogs()
	}
	ctx, cancel := context.WithCancel(context.Background())
	l, stop, err := startLab(ctx)
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, "failed to start the lab:", err)
	} else {
		theLab = l
		code = m.Run()
	}
	cancel()
	if err := stop(); err != nil {
		fmt.Fprintln(os.Stderr, "failed to stop the lab:", err)
		code = 1
	}
	os.Exit(code)
}

// quietLogs keeps kube-router's and the operator's logs out of the test
// output, except kube-router's errors.
func quietLogs() {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	_ = fs.Set("logtostderr", "false")
	_ = fs.Set("alsologtostderr", "false")
	_ = fs.Set("stderrthreshold", "ERROR")
	klog.SetOutput(io.Discard)
	ctrl.SetLogger(logr.Discard())
}

// lab is the running lab: the control plane, a client, the pod network
// namespaces (slots) that lab.sh created, and the second node's network
// namespace with its two addresses.
type lab struct {
	cfg    *rest.Config
	c      client.Client
	nodeIP string
	slots  []slot
	mu     sync.Mutex
	inUse  []bool
	// node2 is the second node's network namespace: its packets reach the
	// pods routed by the node, from node2IP or spareIP.
	node2   netns.NsHandle
	node2IP string
	spareIP string
}

// slot is a pod network namespace of lab.sh, with its address.
type slot struct {
	ns netns.NsHandle
	ip string
}

// startLab starts the control plane, creates the Node, and starts kube-router
// and the operator. stop stops them in reverse order; call it even when
// startLab fails.
func startLab(ctx context.Context) (l *lab, stop func() error, err error) {
	var stops []func() error
	stop = func() error {
		var errs []error
		for _, s := range slices.Backward(stops) {
			errs = append(errs, s())
		}
		return errors.Join(errs...)
	}
	l = &lab{
		nodeIP:  os.Getenv("TWLAB_NODE_IP"),
		node2IP: os.Getenv("TWLAB_NODE2_IP"),
		spareIP: os.Getenv("TWLAB_SPARE_IP"),
	}
	n, err := strconv.Atoi(os.Getenv("TWLAB_SLOTS"))
	if err != nil {
		return nil, stop, fmt.Errorf("TWLAB_SLOTS: %w", err)
	}
	for i := 1; i <= n; i++ {
		ns, err := netns.GetFromName(fmt.Sprintf("%s-p%d", os.Getenv("TWLAB_PREFIX"), i))
		if err != nil {
			return nil, stop, fmt.Errorf("failed to open the pod network namespace %d: %w", i, err)
		}
		stops = append(stops, ns.Close)
		l.slots = append(l.slots, slot{ns: ns, ip: fmt.Sprintf("10.244.7.%d", 10+i)})
	}
	l.inUse = make([]bool, n)
	if l.node2, err = netns.GetFromName(os.Getenv("TWLAB_PREFIX") + "-node2"); err != nil {
		return nil, stop, fmt.Errorf("failed to open the second node's network namespace: %w", err)
	}
	stops = append(stops, l.node2.Close)

	env := testenv.WithCRDs()
	// The node namespace has no default route: kube-apiserver needs to be
	// told which address to advertise.
	env.ControlPlane.GetAPIServer().Configure().Set("advertise-address", l.nodeIP)
	l.cfg, err = testenv.Start(env)
	if err != nil {
		return nil, stop, err
	}
	stops = append(stops, env.Stop)
	if l.c, err = client.New(l.cfg, client.Options{Scheme: testenv.Scheme}); err != nil {
		return nil, stop, err
	}

	if _, err := l.createNode(ctx, nodeName, l.nodeIP); err != nil {
		return nil, stop, err
	}

	stopRouter, err := startKubeRouter(ctx, l.cfg)
	if err != nil {
		return nil, stop, err
	}
	stops = append(stops, stopRouter)
	stopManager, err := startManager(ctx, l.cfg)
	if err != nil {
		return nil, stop, err
	}
	stops = append(stops, stopManager)
	return l, stop, nil
}

// startKubeRouter starts kube-router's NetworkPolicy controller the way K3s
// does in pkg/agent/netpol: shared informers for pods, namespaces and
// NetworkPolicies, IPv4 iptables and ipset handlers, a service CIDR and a
// node-port range, and the controller's event handlers on the informers. It
// runs in this process, so its iptables and ipset commands act in the node
// namespace.
func startKubeRouter(ctx context.Context, cfg *rest.Config) (func() error, error) {
	clientset, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	krConfig := options.NewKubeRouterConfig()
	krConfig.ClusterIPCIDRs = []string{serviceCIDR}
	krConfig.EnableIPv4 = true
	krConfig.EnableIPv6 = false
	krConfig.NodePortRange = nodePortRange
	krConfig.HostnameOverride = nodeName
	krConfig.RunFirewall = true
	krConfig.RunRouter = false
	krConfig.RunServiceProxy = false

	stopCh := make(chan struct{})
	factory := informers.NewSharedInformerFactory(clientset, 0)
	podInformer := factory.Core().V1().Pods().Informer()
	nsInformer := factory.Core().V1().Namespaces().Informer()
	npInformer := factory.Networking().V1().NetworkPolicies().Informer()
	factory.Start(stopCh)
	factory.WaitForCacheSync(stopCh)

	ipt, err := iptables.NewWithProtocol(iptables.ProtocolIPv4)
	if err != nil {
		close(stopCh)
		return nil, fmt.Errorf("failed to create the iptables handler: %w", err)
	}
	ipset, err := utils.NewIPSet(false)
	if err != nil {
		close(stopCh)
		return nil, fmt.Errorf("failed to create the ipset handler: %w", err)
	}
	npc, err := netpol.NewNetworkPolicyController(clientset, krConfig, podInformer, npInformer, nsInformer, &sync.Mutex{},
		map[corev1.IPFamily]utils.IPTablesHandler{corev1.IPv4Protocol: ipt},
		map[corev1.IPFamily]utils.IPSetHandler{corev1.IPv4Protocol: ipset})
	if err != nil {
		close(stopCh)
		return nil, fmt.Errorf("failed to create kube-router's NetworkPolicy controller: %w", err)
	}
	if _, err := podInformer.AddEventHandler(npc.PodEventHandler); err != nil {
		close(stopCh)
		return nil, err
	}
	if _, err := nsInformer.AddEventHandler(npc.NamespaceEventHandler); err != nil {
		close(stopCh)
		return nil, err
	}
	if _, err := npInformer.AddEventHandler(npc.NetworkPolicyEventHandler); err != nil {
		close(stopCh)
		return nil, err
	}

	// The controller sends heartbeats and blocks until someone reads them;
	// K3s runs kube-router's health controller for that.
	health := make(chan *healthcheck.ControllerHeartbeat)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-health:
			case <-stopCh:
				return
			}
		}
	})
	wg.Add(1)
	go npc.Run(health, stopCh, &wg)
	go func() {
		<-ctx.Done()
		select {
		case <-stopCh:
		default:
			close(stopCh)
		}
	}()
	return func() error {
		select {
		case <-stopCh:
		default:
			close(stopCh)
		}
		wg.Wait()
		factory.Shutdown()
		return nil
	}, nil
}

// startManager runs tierwall's operator, as the other suites do.
func startManager(ctx context.Context, cfg *rest.Config) (func() error, error) {
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 testenv.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  controllers.CacheOptions(),
	})
	if err != nil {
		return nil, err
	}
	if err := controllers.Setup(mgr, controllers.Options{ObservableNamespaces: []string{"kube-system"}}); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return func() error {
		cancel()
		return <-done
	}, nil
}

// createNode creates a Node with the InternalIP ip.
func (l *lab) createNode(ctx context.Context, name, ip string) (*corev1.Node, error) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := l.c.Create(ctx, node); err != nil {
		return nil, fmt.Errorf("failed to create the Node %s: %w", name, err)
	}
	return node, l.setNodeIP(ctx, node, ip)
}

// setNodeIP sets the InternalIP of node, its only address.
func (l *lab) setNodeIP(ctx context.Context, node *corev1.Node, ip string) error {
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}}
	if err := l.c.Status().Update(ctx, node); err != nil {
		return fmt.Errorf("failed to set the address of the Node %s: %w", node.Name, err)
	}
	return nil
}

// labPod is a pod of the lab: an API object whose status says it runs on the
// lab's Node with the address of its slot, and listeners on its container
// ports in the slot's network namespace.
type labPod struct {
	pod  *corev1.Pod
	slot int
}

// key is the pod's "namespace/name".
func (p *labPod) key() string { return p.pod.Namespace + "/" + p.pod.Name }

// addPods creates namespaces (with labels) that do not exist yet, gives each
// pod a free slot, starts its listeners, and creates it running on the
// Node. The test's cleanup deletes the pods and frees the slots.
func (l *lab) addPods(t *testing.T, namespaces map[string]map[string]string, pods []*corev1.Pod) []*labPod {
	t.Helper()
	ctx := context.Background()
	for name, labels := range namespaces {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
		if err := l.c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("failed to create Namespace %s: %v", name, err)
		}
	}
	var out []*labPod
	for _, pod := range pods {
		s := l.takeSlot(t)
		lp := &labPod{pod: pod, slot: s}
		out = append(out, lp)
		for _, c := range pod.Spec.Containers {
			for _, port := range c.Ports {
				closer, err := listen(l.slots[s].ns, port.ContainerPort, protocolOf(port.Protocol))
				if err != nil {
					t.Fatalf("pod %s: %v", lp.key(), err)
				}
				t.Cleanup(func() { _ = closer.Close() })
			}
		}
		pod.Spec.NodeName = nodeName
		if err := l.c.Create(ctx, pod); err != nil {
			t.Fatalf("failed to create Pod %s: %v", lp.key(), err)
		}
		t.Cleanup(func() {
			if err := l.c.Delete(ctx, pod, client.GracePeriodSeconds(0)); client.IgnoreNotFound(err) != nil {
				t.Errorf("failed to delete Pod %s: %v", lp.key(), err)
			}
		})
		pod.Status = corev1.PodStatus{
			Phase:   corev1.PodRunning,
			HostIP:  l.nodeIP,
			HostIPs: []corev1.HostIP{{IP: l.nodeIP}},
			PodIP:   l.slots[s].ip,
			PodIPs:  []corev1.PodIP{{IP: l.slots[s].ip}},
		}
		if err := l.c.Status().Update(ctx, pod); err != nil {
			t.Fatalf("failed to set the status of Pod %s: %v", lp.key(), err)
		}
	}
	return out
}

func (l *lab) takeSlot(t *testing.T) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := slices.Index(l.inUse, false)
	if i < 0 {
		t.Fatalf("the lab has %d pod network namespaces, all in use: raise SLOTS", len(l.inUse))
	}
	l.inUse[i] = true
	t.Cleanup(func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.inUse[i] = false
	})
	return i
}

func protocolOf(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// state reads what reach evaluates from the API server: the namespaces, the
// lab's pods (as stored) and the NetworkPolicies in force.
func (l *lab) state(ctx context.Context, pods []*labPod) (reach.State, error) {
	var s reach.State
	var nss corev1.NamespaceList
	if err := l.c.List(ctx, &nss); err != nil {
		return s, err
	}
	s.Namespaces = nss.Items
	for _, p := range pods {
		var stored corev1.Pod
		if err := l.c.Get(ctx, client.ObjectKeyFromObject(p.pod), &stored); err != nil {
			return s, err
		}
		s.Pods = append(s.Pods, stored)
	}
	var policies networkingv1.NetworkPolicyList
	if err := l.c.List(ctx, &policies); err != nil {
		return s, err
	}
	s.Policies = policies.Items
	return s, nil
}

// cell is one flow of a matrix, with the pods' slots. from is nil when the
// flow comes from an address of the second node's namespace
// (flow.FromIP); to is nil when it goes to one (flow.ToIP).
type cell struct {
	flow     reach.Flow
	from, to *labPod
}

// cells lists every flow between distinct pods, from each pod to each
// address with ports, and from each address to every pod, in the order of
// reach.Flows: every pod (then address) to every container port of every
// other pod, then to every port of every address. The addresses must be the
// second node's (lab.node2IP, lab.spareIP), where the probes from them
// start and where listeners on the addresses' ports answer.
func cells(pods []*labPod, addresses ...reach.Address) ([]cell, error) {
	s := reach.State{Addresses: addresses}
	byKey := map[string]*labPod{}
	for _, p := range pods {
		s.Pods = append(s.Pods, *p.pod)
		byKey[p.key()] = p
	}
	e, err := reach.New(s)
	if err != nil {
		return nil, err
	}
	var out []cell
	for f := range e.Flows() {
		if f.FromIP != "" && f.ToIP != "" {
			return nil, fmt.Errorf("the lab probes no flow between two addresses: %s", flowKey(f))
		}
		out = append(out, cell{flow: f, from: byKey[f.From], to: byKey[f.To]})
	}
	return out, nil
}

// measure probes every cell once, with new connections, and returns the
// flows with Allowed set from the packets.
func (l *lab) measure(cs []cell) ([]reach.Flow, error) {
	out := make([]reach.Flow, len(cs))
	errs := make([]error, len(cs))
	parallel(len(cs), matrixWidth, func(i int) {
		c := cs[i]
		out[i] = c.flow
		ns, to := l.node2, c.flow.ToIP
		if c.from != nil {
			ns = l.slots[c.from.slot].ns
		}
		if c.to != nil {
			to = l.slots[c.to.slot].ip
		}
		out[i].Allowed, errs[i] = probe(ns, c.flow.FromIP, to, c.flow.Port, c.flow.Protocol)
	})
	return out, errors.Join(errs...)
}

// evaluate is what pkg/reach says of the cells, given the State.
func evaluate(s reach.State, cs []cell) ([]reach.Flow, error) {
	e, err := reach.New(s)
	if err != nil {
		return nil, err
	}
	out := make([]reach.Flow, len(cs))
	for i, c := range cs {
		out[i] = c.flow
		from := reach.IPEndpoint(c.flow.FromIP)
		if c.from != nil {
			from = reach.PodEndpoint(c.from.pod)
		}
		to := reach.IPEndpoint(c.flow.ToIP)
		if c.to != nil {
			to = reach.PodEndpoint(c.to.pod)
		}
		v := e.Check(from, to, c.flow.Port, c.flow.Protocol)
		out[i].Allowed = v.Allowed
	}
	return out, nil
}

// table prints flows in the layout of `tierwall reach`.
func table(pods []*labPod, flows []reach.Flow) string {
	var ps []corev1.Pod
	for _, p := range pods {
		ps = append(ps, *p.pod)
	}
	return string(report.FlowsTable(ps, flows))
}

// requireBaseline proves every listener: with no policy selecting the pods,
// every cell must be reachable, so that a refused probe later means a
// rejection, not a missing listener.
func (l *lab) requireBaseline(t *testing.T, pods []*labPod, cs []cell) {
	t.Helper()
	var flows []reach.Flow
	err := poll(10*time.Second, func() (bool, error) {
		var err error
		flows, err = l.measure(cs)
		return err == nil && !slices.ContainsFunc(flows, func(f reach.Flow) bool { return !f.Allowed }), err
	})
	if err != nil {
		t.Fatalf("not every listener answers with no policy in place (%v):\n%s", err, table(pods, flows))
	}
}

// poll calls cond until it returns true, an error, or timeout passes.
func poll(timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still not so after %s", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// networkingv1NetworkPolicy is the type DeleteAllOf needs.
var networkingv1NetworkPolicy = networkingv1.NetworkPolicy{}

// requireMatrix probes the cells until the packets show declared, and
// requires tierwall reach, on the policies then in force, to agree; it
// returns the measured matrix.
func requireMatrix(t *testing.T, when string, pods []*labPod, cs []cell, declared []reach.Flow) []reach.Flow {
	t.Helper()
	var measured []reach.Flow
	err := poll(convergence, func() (bool, error) {
		var err error
		measured, err = theLab.measure(cs)
		return err == nil && sameVerdicts(measured, declared), err
	})
	s, stateErr := theLab.state(context.Background(), pods)
	if stateErr != nil {
		t.Fatal(stateErr)
	}
	evaluated, evalErr := evaluate(s, cs)
	if evalErr != nil {
		t.Fatal(evalErr)
	}
	if err != nil || !sameVerdicts(evaluated, declared) {
		t.Fatalf("%s: the matrices disagree (%v):\n%s\ndeclared:\n%s\ntierwall reach:\n%s\npackets (kube-router):\n%s",
			when, err, sideBySide([]string{"declared", "reach", "packets"}, declared, evaluated, measured),
			table(pods, declared), table(pods, evaluated), table(pods, measured))
	}
	t.Logf("%s: measured with packets under kube-router, equal to the declared graph and to tierwall reach:\n%s",
		when, table(pods, measured))
	return measured
}

// declare sets each cell's verdict: allowed when its flow is in allowed.
func declare(cs []cell, allowed map[string]bool) []reach.Flow {
	out := make([]reach.Flow, 0, len(cs))
	for _, c := range cs {
		f := c.flow
		f.Allowed = allowed[flowKey(f)]
		out = append(out, f)
	}
	return out
}

// requireQuoted fails the test unless docs/testing.md quotes the matrix as
// the lab prints it.
func requireQuoted(t *testing.T, what string, pods []*labPod, measured []reach.Flow) {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(fixtures.RepoRoot(), "docs", "testing.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), table(pods, measured)) {
		t.Errorf("docs/testing.md does not quote the measured matrix of %s as the lab prints it: update it", what)
	}
}
