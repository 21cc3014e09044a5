package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/internal/input"
	"github.com/tierwall/tierwall/internal/plan"
	"github.com/tierwall/tierwall/internal/reach"
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
	cmd := &cobra.Command{
		Use:   "reach -f FILE... [-o table|list|json]",
		Short: "Show which pods can reach which, given pods, namespaces and NetworkPolicies",
		Long: `Evaluate NetworkPolicies the way Kubernetes specifies them, and show for every
ordered pair of distinct pods, and every container port of the destination,
whether the connection is allowed.

The input holds Namespaces (for their labels; a namespace that is not given
has only the kubernetes.io/metadata.name label), Pods (labels, container
ports, status.podIP) and NetworkPolicies, as kubectl get -o yaml writes them
(a List is fine), in any number of files. Pods that have terminated and pods
with hostNetwork: true are left out: NetworkPolicies do not govern them.

AppIsolations in the input are rendered, and their policies take the place of
the input's policies that the AppIsolation controls (those whose controller
ownerReference names it), as the operator would do: so
  tierwall reach -f app.yaml -f cluster-state.yaml
previews an AppIsolation, or a change to it, against real pods. AppIsolations
in DryRun mode are evaluated as if enforced.

Output formats (-o):
  table  a matrix: a row per source pod, a column per destination
         pod:port/protocol (numbered, with a key), ✓ allowed, ✗ denied. With
         more than 30 destination ports it becomes the list below.
  list   the allowed flows only, one per line.
  json   every flow: [{"from":"ns/pod","to":"ns/pod","port":80,
         "protocol":"TCP","allowed":true}, ...], for scripts and jq.

Not modelled: traffic from a pod's own node (always allowed), Services (ask
about the pods' ports: policies apply after DNAT), and CNI differences on
ipBlocks that match pod IPs (here they do).`,
		Example: `  # Preview the WordPress sample against a pod population
  tierwall reach -f config/samples/tierwall_v1alpha1_appisolation.yaml -f pods.yaml

  # Check what the cluster's policies allow now
  kubectl get namespaces,pods,networkpolicies -A -o yaml | tierwall reach -f -

  # Every allowed connection to MySQL
  tierwall reach -f state.yaml -o json | jq '.[] | select(.allowed and .port == 3306)'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := in.checkUsage(); err != nil {
				return err
			}
			if err := oneOf("output", output, outputTable, outputList, outputJSON); err != nil {
				return err
			}
			objs, err := in.read(cmd, s, input.KindNamespace, input.KindPod, input.KindNetworkPolicy, input.KindAppIsolation)
			if err != nil {
				return fail(err)
			}
			state, err := stateOf(s, objs)
			if err != nil {
				return fail(err)
			}
			e, err := reach.New(state)
			if err != nil {
				return fail(placeEvalError(err, objs, state.Policies))
			}
			if len(state.Pods) == 0 {
				s.note("the input holds no pods: there is nothing to evaluate")
			}
			flows := slices.Collect(e.Flows())
			switch output {
			case outputJSON:
				_, err = s.out.Write(flowsJSON(flows))
			case outputList:
				_, err = s.out.Write(flowsList(flows))
			default:
				_, err = s.out.Write(FlowsTable(state.Pods, flows))
			}
			return err
		},
	}
	in.add(cmd, "Namespaces, Pods, NetworkPolicies and AppIsolations")
	cmd.Flags().StringVarP(&output, "output", "o", outputTable, "Output format: table, list or json.")
	return cmd
}

// stateOf is what reach evaluates: the input's namespaces, its pods that
// policies govern, and the policies once the operator has reconciled the
// input's AppIsolations.
func stateOf(s *streams, objs *input.Objects) (reach.State, error) {
	state := reach.State{Namespaces: objs.Namespaces}
	var terminated, hostNetwork []string
	for _, p := range objs.Pods {
		switch {
		case p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed:
			terminated = append(terminated, p.Namespace+"/"+p.Name)
		case p.Spec.HostNetwork:
			hostNetwork = append(hostNetwork, p.Namespace+"/"+p.Name)
		default:
			state.Pods = append(state.Pods, p)
		}
	}
	if len(terminated) > 0 {
		s.note("left out pods that have terminated: %s", strings.Join(terminated, ", "))
	}
	if len(hostNetwork) > 0 {
		s.note("left out pods with hostNetwork, which NetworkPolicies do not govern: %s", strings.Join(hostNetwork, ", "))
	}

	var apps []rendered
	if len(objs.AppIsolations) > 0 {
		var err error
		if apps, err = renderAll(s, objs); err != nil {
			return state, err
		}
	}
	policies, err := policiesAfter(objs, apps)
	state.Policies = policies
	return state, err
}

// policiesAfter returns the policies in force once the operator has
// reconciled apps, as internal/plan decides it for the operator: per
// AppIsolation, the namespace's policies it does not own, plus what it
// renders. AppIsolations in DryRun mode are evaluated as if enforced. Like
// the operator, it refuses to replace a policy that has a rendered name but
// that the AppIsolation does not own.
func policiesAfter(objs *input.Objects, apps []rendered) ([]networkingv1.NetworkPolicy, error) {
	policies := slices.Clone(objs.NetworkPolicies)
	var errs []error
	for _, r := range apps {
		app := r.app.DeepCopy()
		app.Spec.Mode = tierwallv1alpha1.ModeEnforce
		p := plan.New(app, r.policies, policies)
		for _, name := range p.Conflicts {
			errs = append(errs, fmt.Errorf(
				"%s: NetworkPolicy %s/%s is not controlled by AppIsolation %s (%s), which renders a policy of that name: the operator would not replace it and would report PolicyConflict; rename one of them, or leave the policy out of the input",
				objs.Position(input.KindNetworkPolicy, app.Namespace, name), app.Namespace, name, app.Name,
				objs.Position(input.KindAppIsolation, app.Namespace, app.Name)))
		}
		policies = append(slices.DeleteFunc(policies, func(np networkingv1.NetworkPolicy) bool {
			return np.Namespace == app.Namespace
		}), p.InForce...)
	}
	return policies, errors.Join(errs...)
}

// placeEvalError adds to an error of reach.New the position of the policy it
// is about, or of the AppIsolation that rendered it.
func placeEvalError(err error, objs *input.Objects, policies []networkingv1.NetworkPolicy) error {
	var invalid *reach.PolicyError
	if !errors.As(err, &invalid) {
		return err
	}
	for _, p := range objs.NetworkPolicies {
		if p.Namespace == invalid.Namespace && p.Name == invalid.Name {
			return fmt.Errorf("%s: %w", objs.Position(input.KindNetworkPolicy, p.Namespace, p.Name), err)
		}
	}
	for _, p := range policies {
		if p.Namespace != invalid.Namespace || p.Name != invalid.Name {
			continue
		}
		if app := p.Labels[tierwallv1alpha1.AppIsolationLabel]; app != "" {
			return fmt.Errorf("%s: AppIsolation %s/%s renders a policy the API server would refuse (check the spec against the CRD, for example with kubectl apply --dry-run=server): %w",
				objs.Position(input.KindAppIsolation, p.Namespace, app), p.Namespace, app, err)
		}
	}
	return err
}
