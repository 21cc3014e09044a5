package cli

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/internal/input"
	"github.com/tierwall/tierwall/pkg/render"
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

The input must hold only AppIsolations (or Lists of them); any other kind is
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
			objs, err := in.read(cmd, s, input.KindAppIsolation)
			if err != nil {
				return fail(err)
			}
			rendered, err := renderAll(s, objs)
			if err != nil {
				return fail(err)
			}
			var policies []networkingv1.NetworkPolicy
			for _, r := range rendered {
				policies = append(policies, r.policies...)
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

// rendered are the policies of one AppIsolation.
type rendered struct {
	app      *tierwallv1alpha1.AppIsolation
	policies []networkingv1.NetworkPolicy
}

// renderAll renders every AppIsolation of objs, in input order, and fails if
// any does not render or if there are none. It notes the AppIsolations in
// DryRun mode, whose policies the operator would not apply.
func renderAll(s *streams, objs *input.Objects) ([]rendered, error) {
	if len(objs.AppIsolations) == 0 {
		return nil, errors.New("the input holds no AppIsolation")
	}
	var out []rendered
	var errs []error
	for i := range objs.AppIsolations {
		app := &objs.AppIsolations[i]
		policies, err := render.Render(app)
		if err != nil {
			errs = append(errs, renderErrors(objs, app, err)...)
			continue
		}
		if app.Spec.Mode == tierwallv1alpha1.ModeDryRun {
			s.note("AppIsolation %s/%s is in DryRun mode: the operator would apply none of its policies; shown as in Enforce mode", app.Namespace, app.Name)
		}
		out = append(out, rendered{app: app, policies: policies})
	}
	return out, errors.Join(errs...)
}

// explain returns the renderer's own findings on an AppIsolation that
// admission rejected: they name the entry at fault where a CEL rule names
// only its list (an allowFrom naming a tier that does not exist).
func explain(app *tierwallv1alpha1.AppIsolation) field.ErrorList {
	var invalid *render.InvalidSpecError
	if _, err := render.Render(app); errors.As(err, &invalid) {
		return invalid.Errors
	}
	return nil
}

// renderErrors places the problems of an invalid spec at their lines.
func renderErrors(objs *input.Objects, app *tierwallv1alpha1.AppIsolation, err error) []error {
	name := fmt.Sprintf("AppIsolation %s/%s", app.Namespace, app.Name)
	var invalid *render.InvalidSpecError
	if !errors.As(err, &invalid) {
		return []error{fmt.Errorf("%s: %s: %w", objs.Position(input.KindAppIsolation, app.Namespace, app.Name), name, err)}
	}
	errs := make([]error, 0, len(invalid.Errors))
	for _, e := range invalid.Errors {
		pos := objs.FieldPosition(input.KindAppIsolation, app.Namespace, app.Name, e.Field)
		errs = append(errs, fmt.Errorf("%s: %s: invalid spec: %s", pos, name, e.Error()))
	}
	return errs
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
