package cli

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/tierwall/tierwall/internal/evalstate"
	"github.com/tierwall/tierwall/internal/input"
	"github.com/tierwall/tierwall/internal/peering"
	"github.com/tierwall/tierwall/internal/report"
	"github.com/tierwall/tierwall/pkg/reach"
)

// Output formats of reach.
const (
	outputTable = "table"
	outputList  = "list"
	outputJSON  = "json"
)

func newReachCommand(s *streams) *cobra.Command {
	var in inputFlags
	var output string
	var explain bool
	var from, to string
	var cluster clusterFlags
	var addressFlags []string
	cmd := &cobra.Command{
		Use:   "reach [-f FILE...] [--address ADDRESS[=NAME]...] [-o table|list|json] [--explain --from SRC --to DST:PORT[/PROTOCOL]]",
		Short: "Show which pods can reach which, given pods, namespaces and NetworkPolicies",
		Long: `Evaluate NetworkPolicies the way Kubernetes specifies them, and show for every
ordered pair of distinct pods, and every container port of the destination,
whether the connection is allowed.

The input holds Namespaces (for their labels; a namespace that is not given
has only the kubernetes.io/metadata.name label), Pods (labels, container
ports, status.podIP) and NetworkPolicies, as kubectl get -o yaml writes them
(a List is fine), in any number of files. Pods that have terminated and pods
with hostNetwork: true are left out: NetworkPolicies do not govern them.

Addresses outside the pods show too, so that ipBlock rules do: each
--address ADDRESS[=NAME] (IPv4 or IPv6; NAME is shown instead of the
address), each document of kind Address (apiVersion cli.tierwall.dev/v1alpha1,
with address, optional metadata.name and ports), the InternalIP of each Node
(node/NAME) and the API server's endpoints, from the EndpointSlices of the
Service default/kubernetes (kube-apiserver, on their ports). Flows go from each address to every pod port, and from every pod to
each address on its ports: those given, or else the numeric ports of the
egress rules whose ipBlock holds the address.

Without -f, reach reads the live cluster of the current kubeconfig context
(or --kubeconfig, --context): its Namespaces, Pods, NetworkPolicies,
AppIsolations, Nodes and the API server's EndpointSlices, with progress on
stderr (Nodes and EndpointSlices that RBAC forbids are noted and skipped). It evaluates the policies in force:
AppIsolations in DryRun are noted, not rendered. There, -n NAMESPACE keeps
the flows from or to the pods of that namespace (the whole cluster is still
read, since other namespaces' pods and policies take part).

AppIsolations in the input are rendered, and their policies take the place of
the input's policies that the AppIsolation controls (those whose controller
ownerReference names it), as the operator would do: so
  tierwall reach -f app.yaml -f cluster-state.yaml
previews an AppIsolation, or a change to it, against real pods. AppIsolations
in DryRun mode are evaluated as if enforced. When AppIsolations of the input
name tiers of each other (allowFrom or egressTo with appIsolation), the edges
between those tiers follow the flows, each with its ports; an edge that one
side declares and the other blocks is marked one-sided, with the side at
fault: each AppIsolation only opens its own half.

Output formats (-o):
  table  a matrix: a row per source pod (then address), a column per
         destination pod:port/protocol (then address), numbered, with a key;
         ✓ allowed, ✗ denied. With more than 30 destination ports it becomes
         the list below.
  list   the allowed flows only, one per line.
  json   every flow: [{"from":"ns/pod","to":"ns/pod","port":80,
         "protocol":"TCP","allowed":true}, ...], for scripts and jq; an
         address has its name in from or to and its IP in fromIP or toIP; a
         denied flow also has "why", its explanation (see --explain). The
         edges between AppIsolations follow, as {"edge":{"from":
         {"appIsolation":"ns/name","tier":"t"},"to":{...},"ports":"9090/TCP",
         "oneSided":false}} ("problem" says why, when one-sided).

--explain --from SRC --to DST:PORT[/PROTOCOL] explains one connection
instead: for the source's egress and the destination's ingress, the
policies that isolate it, the rules that allow the connection, or, when none
does, the rules that came nearest to matching and what they miss (the port,
the podSelector, the namespace, the ipBlock). SRC and DST are pods (ns/name,
or a name in the namespace of -n), IP addresses ([IPv6]:PORT) or the names of
the input's addresses (kube-apiserver, node/NAME); PROTOCOL is
TCP (the default), UDP or SCTP. A policy that tierwall generated is named
with its AppIsolation and tier. -o json writes the explanation as JSON.

Not modelled: traffic from a pod's own node (always allowed), Services (ask
about the pods' ports: policies apply after DNAT), and CNI differences on
ipBlocks that match pod IPs (here they do).`,
		Example: `  # What the live cluster allows to and from dev-wordpress (also: kubectl tierwall reach ...)
  tierwall reach -n dev-wordpress

  # Preview the WordPress sample against a pod population
  tierwall reach -f config/samples/tierwall_v1alpha1_appisolation.yaml -f pods.yaml

  # Check what the cluster's policies allow now
  kubectl get namespaces,pods,networkpolicies -A -o yaml | tierwall reach -f -

  # What an external client and the API server may reach, and be reached from
  kubectl get nodes,endpointslices -n default -o yaml > platform.yaml
  tierwall reach -f state.yaml -f platform.yaml --address 203.0.113.7=partner

  # Why can debug not reach MySQL?
  tierwall reach -f state.yaml --explain --from default/debug --to dev-wordpress/mysql-0:3306

  # Every allowed connection to MySQL
  tierwall reach -f state.yaml -o json | jq '.[] | select(.allowed and .port == 3306)'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			live := len(in.files) == 0
			if !live {
				if err := in.checkUsage(); err != nil {
					return err
				}
			}
			if err := oneOf("output", output, outputTable, outputList, outputJSON); err != nil {
				return err
			}
			if explain != (from != "" && to != "") || (!explain && (from != "" || to != "")) {
				return errors.New("--explain needs --from and --to, and --from and --to need --explain")
			}
			addrs, err := parseAddresses(addressFlags)
			if err != nil {
				return err
			}
			var objs *input.Objects
			var state reach.State
			if live {
				objs, state, err = readLive(cmd, s, &cluster, addrs)
			} else {
				objs, state, err = readFiles(cmd, s, &in, addrs)
			}
			if err != nil {
				return fail(err)
			}
			e, err := reach.New(state)
			if err != nil {
				return fail(evalstate.PlaceEvalError(err, objs, state.Policies))
			}
			o := originsOf(state.Policies)
			if explain {
				return explainFlow(s, e, state, o, in.namespace, from, to, output)
			}
			if len(state.Pods) == 0 {
				s.note("the input holds no pods: there is nothing to evaluate")
			}
			// The flows are streamed, never held at once: 2,000 pods make
			// millions of them.
			flows, pods := e.Flows(), state.Pods
			edges := peering.Edges(objs.AppIsolations)
			if live && in.namespace != "" {
				pods, flows = inNamespace(in.namespace, pods, flows)
				edges = edgesInNamespace(in.namespace, edges)
			}
			switch output {
			case outputJSON:
				return writeFlowsJSON(s.out, flows, whyFunc(e, state.Pods, o), edges)
			case outputList:
				_, err = s.out.Write(report.ListAllowed(flows))
			default:
				_, err = s.out.Write(report.Table(pods, flows))
			}
			if err == nil {
				_, err = s.out.Write(report.Edges(edges))
			}
			return err
		},
	}
	in.add(cmd, "Namespaces, Pods, NetworkPolicies and AppIsolations; Nodes, EndpointSlices and Addresses")
	cmd.Flags().StringVarP(&output, "output", "o", outputTable, "Output format: table, list or json.")
	cluster.add(cmd)
	cmd.Flags().BoolVar(&explain, "explain", false, "Explain one connection, given with --from and --to, instead of showing them all.")
	cmd.Flags().StringVar(&from, "from", "", "With --explain: the source, a pod (ns/name) or an IP address.")
	cmd.Flags().StringArrayVar(&addressFlags, "address", nil, "An address outside the pods to show flows from and to, ADDRESS[=NAME] (IPv4 or IPv6; NAME is shown instead). Repeat for several.")
	cmd.Flags().StringVar(&to, "to", "", "With --explain: the destination and port, ns/name:PORT[/PROTOCOL] or ADDRESS:PORT[/PROTOCOL].")
	return cmd
}

// readFiles reads the -f files, adds the --address addresses, and renders
// the AppIsolations.
func readFiles(cmd *cobra.Command, s *streams, in *inputFlags, addrs []input.Address) (*input.Objects, reach.State, error) {
	objs, err := in.read(cmd, s, input.KindNamespace, input.KindPod, input.KindNetworkPolicy, input.KindAppIsolation,
		input.KindNode, input.KindEndpointSlice, input.KindAddress)
	if err != nil {
		return nil, reach.State{}, err
	}
	objs.Addresses = append(objs.Addresses, addrs...)
	st, err := evalstate.Reconciled(s.notes(), objs)
	return objs, st, err
}

// readLive reads the cluster of the kubeconfig, and adds the --address
// addresses.
func readLive(cmd *cobra.Command, s *streams, cluster *clusterFlags, addrs []input.Address) (*input.Objects, reach.State, error) {
	c, name, err := cluster.client()
	if err != nil {
		return nil, reach.State{}, err
	}
	s.progress("Reading Namespaces, Pods, NetworkPolicies, AppIsolations, Nodes and the API server's EndpointSlices from context %s", name)
	objs, err := evalstate.ReadCluster(cmd.Context(), c, s.notes())
	if err != nil {
		return nil, reach.State{}, err
	}
	objs.Addresses = append(objs.Addresses, addrs...)
	return objs, evalstate.InForce(s.notes(), objs), nil
}

// parseAddresses reads the --address flags, ADDRESS[=NAME].
func parseAddresses(flags []string) ([]input.Address, error) {
	out := make([]input.Address, 0, len(flags))
	for _, f := range flags {
		ip, name, named := strings.Cut(f, "=")
		if _, err := netip.ParseAddr(ip); err != nil {
			return nil, fmt.Errorf("invalid --address %q: %q is not an IPv4 or IPv6 address (give ADDRESS[=NAME])", f, ip)
		}
		if named && (name == "" || strings.ContainsFunc(name, unicode.IsSpace)) {
			return nil, fmt.Errorf("invalid --address %q: the name after = must be non-empty, without spaces", f)
		}
		out = append(out, input.Address{Address: ip, Metadata: input.AddressMetadata{Name: name}})
	}
	return out, nil
}

// explainFlow writes the explanation of the connection from -> to.
func explainFlow(s *streams, e *reach.Evaluator, state reach.State, o origins, namespace, from, to, output string) error {
	q, err := parseFlow(from, to, namespace, state.Pods, e.Addresses())
	if err != nil {
		return fail(err)
	}
	x := e.Explain(q.from, q.to, q.port, q.protocol)
	out := report.ExplainText(q.report(), x, o.Origins)
	if output == outputJSON {
		if out, err = explainJSON(q, x, o); err != nil {
			return fail(err)
		}
	}
	_, err = s.out.Write(out)
	return err
}

// whyFunc explains flows between the pods of the state.
func whyFunc(e *reach.Evaluator, pods []corev1.Pod, o origins) func(reach.Flow) *explanationJSON {
	byKey := map[string]*corev1.Pod{}
	for i := range pods {
		byKey[pods[i].Namespace+"/"+pods[i].Name] = &pods[i]
	}
	endpoint := func(name, ip string) reach.Endpoint {
		if ip != "" {
			return reach.IPEndpoint(ip)
		}
		return reach.PodEndpoint(byKey[name])
	}
	return func(f reach.Flow) *explanationJSON {
		x := e.Explain(endpoint(f.From, f.FromIP), endpoint(f.To, f.ToIP), f.Port, f.Protocol)
		return o.explanationJSON(x)
	}
}
