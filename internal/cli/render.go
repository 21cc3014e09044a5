package cli

import (
	"bytes"
	"fmt"

	"github.com/spf13/cobra"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/tierwall/tierwall/internal/evalstate"
	"github.com/tierwall/tierwall/internal/input"
)

func newRenderCommand(s *streams) *cobra.Command {
	var in inputFlags
	cmd := &cobra.Command{
		Use:   "render -f FILE",
		Short: "Print the NetworkPolicies the operator would apply for AppIsolations",
		Long: `Print, as multi-document YAML, the NetworkPolicies that the tierwall operator
would apply for each AppIsolation of the input: the tier policies, the DNS
policy and the default-deny, in the order the operator applies them (apply
them in this order too, so that no allowed traffic drops on the way).

Use it to review a change before it merges, or to enforce an AppIsolation on a
cluster without the operator (kubectl apply, Argo CD, Flux). The policies carry
the labels the operator sets but no ownerReference: applied this way, they
belong to whoever applies them. Do not apply them in a namespace where the
operator also enforces the same AppIsolation: the operator leaves policies it
does not own alone, and reports the conflict.

The input holds AppIsolations (or Lists of them) and, optionally, what the
operator reads from the cluster for the addresses a spec follows: the Nodes
(for ingress controllers with hostNetwork) and the EndpointSlices of the
default/kubernetes Service (for egress to the API server). Any other kind is
an error. An AppIsolation without a namespace renders into "default", or the
namespace of -n. Every AppIsolation goes through admission as on the API
server, offline (the CRD's schema, defaults and validation rules, with the
API server's own code): a spec kubectl apply would refuse is refused here,
with the same messages.`,
		Example: `  # The policies for the WordPress sample
  tierwall render -f config/samples/tierwall_v1alpha1_appisolation.yaml

  # Render an AppIsolation without a namespace into dev, and apply the result
  tierwall render -n dev -f app.yaml | kubectl apply -n dev -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := in.checkUsage(); err != nil {
				return err
			}
			objs, err := in.read(cmd, s, input.KindAppIsolation, input.KindNode, input.KindEndpointSlice)
			if err != nil {
				return fail(err)
			}
			rendered, err := evalstate.RenderAll(s.notes(), objs)
			if err != nil {
				return fail(err)
			}
			var policies []networkingv1.NetworkPolicy
			for _, r := range rendered {
				policies = append(policies, r.Policies...)
			}
			out, err := policiesYAML(policies)
			if err != nil {
				return fail(err)
			}
			_, err = s.out.Write(out)
			return err
		},
	}
	in.add(cmd, "AppIsolations to render")
	return cmd
}

// policiesYAML writes policies as multi-document YAML, without the
// ownerReference the renderer sets: the API server refuses an
// ownerReference without the owner's uid, and policies applied from a file
// have no owner.
func policiesYAML(policies []networkingv1.NetworkPolicy) ([]byte, error) {
	var b bytes.Buffer
	for i := range policies {
		p := policies[i].DeepCopy()
		p.OwnerReferences = nil
		data, err := yaml.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("failed to write NetworkPolicy %s/%s: %w", p.Namespace, p.Name, err)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(data)
	}
	return b.Bytes(), nil
}
