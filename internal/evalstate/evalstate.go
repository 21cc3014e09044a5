// Package evalstate turns the objects read from files or a cluster into what
// the evaluator takes: the pods that policies govern, and the policies in
// force, either as they are or once the operator has reconciled the
// AppIsolations. The CLI and the public pkg/snapshot both build their
// reach.State here, so that `tierwall reach` and a user's test suite
// evaluate the same thing.
package evalstate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/internal/input"
	"github.com/tierwall/tierwall/internal/plan"
	"github.com/tierwall/tierwall/pkg/reach"
	"github.com/tierwall/tierwall/pkg/render"
)

// Notes receives what the user should know but that does not fail: pods
// left out, AppIsolations in DryRun, the progress of a long read. A nil
// func is silent.
type Notes struct {
	// Note is a remark about the result.
	Note func(format string, args ...any)
	// Progress tells how a long read is going.
	Progress func(format string, args ...any)
}

func (n Notes) note(format string, args ...any) {
	if n.Note != nil {
		n.Note(format, args...)
	}
}

func (n Notes) progress(format string, args ...any) {
	if n.Progress != nil {
		n.Progress(format, args...)
	}
}

// Rendered are the policies of one AppIsolation.
type Rendered struct {
	App      *tierwallv1alpha1.AppIsolation
	Policies []networkingv1.NetworkPolicy
}

// RenderAll renders every AppIsolation of objs, in input order, and fails if
// any does not render or if there are none. It notes the AppIsolations in
// DryRun mode, whose policies the operator would not apply.
func RenderAll(n Notes, objs *input.Objects) ([]Rendered, error) {
	if len(objs.AppIsolations) == 0 {
		return nil, errors.New("the input holds no AppIsolation")
	}
	var out []Rendered
	var errs []error
	platform := Platform(objs)
	for i := range objs.AppIsolations {
		app := &objs.AppIsolations[i]
		// Rendered as the operator would, with the Nodes and the API
		// server's endpoints the input holds: without them, a hostNetwork
		// ingress controller gets no peer, and egress to the API server no
		// rule, as in a cluster without them.
		policies, err := render.Render(app, platform)
		if err != nil {
			errs = append(errs, renderErrors(objs, app, err)...)
			continue
		}
		if app.Spec.FollowsNodes() && len(platform.NodeAddresses) == 0 {
			n.note("AppIsolation %s/%s has ingress controllers with hostNetwork, and the input has no Node: rendered without Node addresses, so nothing is allowed from them here; the operator allows every Node's InternalIP (add the Nodes: kubectl get nodes -o yaml)", app.Namespace, app.Name)
		}
		if app.Spec.FollowsKubeAPIServer() && !platform.KubeAPIServer.Known() {
			n.note("AppIsolation %s/%s allows egress to the API server, and the input has none of its EndpointSlices: rendered without its endpoints, so nothing is allowed to it here; the operator allows the endpoints of default/kubernetes (add them: kubectl get endpointslices -n default -l kubernetes.io/service-name=kubernetes -o yaml)", app.Namespace, app.Name)
		}
		for _, ref := range app.Spec.References() {
			if !slices.ContainsFunc(objs.AppIsolations, func(o tierwallv1alpha1.AppIsolation) bool {
				return o.Reference() == ref
			}) {
				n.note("AppIsolation %s/%s names AppIsolation %s, which the input does not hold: rendered without it, so its tiers are allowed nothing here, as in a cluster without it (add it to the input)", app.Namespace, app.Name, ref)
			}
		}
		if app.Spec.Mode == tierwallv1alpha1.ModeDryRun {
			n.note("AppIsolation %s/%s is in DryRun mode: the operator would apply none of its policies; shown as in Enforce mode", app.Namespace, app.Name)
		}
		out = append(out, Rendered{App: app, Policies: policies})
	}
	return out, errors.Join(errs...)
}

// Platform is what objs say of the cluster's platform endpoints, as the
// operator reads them: the Nodes' InternalIPs, the endpoints of the
// default/kubernetes Service's EndpointSlices, and the AppIsolations that
// cross-namespace tier peers name.
func Platform(objs *input.Objects) render.Platform {
	return render.Platform{
		NodeAddresses: render.NodeAddresses(objs.Nodes),
		KubeAPIServer: render.KubeAPIServerEndpoints(apiServerSlices(objs)),
		AppIsolations: objs.AppIsolations,
	}
}

// Explain returns the renderer's own findings on an AppIsolation that
// admission rejected: they name the entry at fault where a CEL rule names
// only its list (an allowFrom naming a tier that does not exist). It is the
// input.Options.Explain of every reader of AppIsolations.
func Explain(app *tierwallv1alpha1.AppIsolation) field.ErrorList {
	var invalid *render.InvalidSpecError
	if _, err := render.Render(app, render.Platform{}); errors.As(err, &invalid) {
		return invalid.Errors
	}
	return nil
}

// renderErrors places the problems of an invalid spec at their lines.
func renderErrors(objs *input.Objects, app *tierwallv1alpha1.AppIsolation, err error) []error {
	name := fmt.Sprintf("AppIsolation %s/%s", app.Namespace, app.Name)
	var invalid *render.InvalidSpecError
	if !errors.As(err, &invalid) {
		return []error{at(objs.Position(input.KindAppIsolation, app.Namespace, app.Name), fmt.Errorf("%s: %w", name, err))}
	}
	errs := make([]error, 0, len(invalid.Errors))
	for _, e := range invalid.Errors {
		pos := objs.FieldPosition(input.KindAppIsolation, app.Namespace, app.Name, e.Field)
		errs = append(errs, at(pos, fmt.Errorf("%s: invalid spec: %s", name, e.Error())))
	}
	return errs
}

// at prefixes err with the position it is about, when it is known (objects
// read from a cluster have none).
func at(pos input.Position, err error) error {
	if pos.File == "" {
		return err
	}
	return fmt.Errorf("%s: %w", pos, err)
}

// Reconciled is what the evaluator takes once the operator has reconciled
// the AppIsolations of objs: the namespaces, the pods that policies govern,
// and the policies in force. AppIsolations in DryRun mode are evaluated as
// if enforced.
func Reconciled(n Notes, objs *input.Objects) (reach.State, error) {
	state := reach.State{Namespaces: objs.Namespaces, Pods: governable(n, objs.Pods), Addresses: Addresses(objs)}
	var apps []Rendered
	if len(objs.AppIsolations) > 0 {
		var err error
		if apps, err = RenderAll(n, objs); err != nil {
			return state, err
		}
	}
	policies, err := policiesAfter(objs, apps)
	state.Policies = policies
	return state, err
}

// InForce is what the evaluator takes on a live cluster: the policies as
// they are. AppIsolations are not rendered: their Enforce policies are
// already in the cluster, and those in DryRun are noted, since none of
// their policies are in force.
func InForce(n Notes, objs *input.Objects) reach.State {
	var dryRun []string
	for _, app := range objs.AppIsolations {
		if app.Spec.Mode == tierwallv1alpha1.ModeDryRun {
			dryRun = append(dryRun, app.Namespace+"/"+app.Name)
		}
	}
	if len(dryRun) > 0 {
		n.note("AppIsolations in DryRun, whose policies are not in force and not shown: %s (preview them with kubectl get -o yaml and -f)", strings.Join(dryRun, ", "))
	}
	return reach.State{Namespaces: objs.Namespaces, Pods: governable(n, objs.Pods), Policies: objs.NetworkPolicies, Addresses: Addresses(objs)}
}

// APIServerName is the name of the API server's address in flows.
const APIServerName = "kube-apiserver"

// Addresses returns the endpoints of objs that are not pods, in this order:
//   - its Address documents, in input order, with their ports (none: those
//     that egress rules name, see reach.Address);
//   - each Node's InternalIP addresses, nodes sorted by name, named
//     node/<name>, without ports;
//   - the API server's endpoint addresses (those of the EndpointSlices of
//     the Service default/kubernetes) with their ports, named
//     kube-apiserver, as policies see them after DNAT.
//
// A node or an API server with several addresses (dual-stack, several
// control-plane nodes) gets one per address, named <name>/<address>.
func Addresses(objs *input.Objects) []reach.Address {
	var out []reach.Address
	for _, a := range objs.Addresses {
		ra := reach.Address{Name: a.Name(), IP: a.Address}
		for _, p := range a.Ports {
			ra.Ports = append(ra.Ports, reach.AddressPort{Port: p.Port, Protocol: p.Protocol})
		}
		out = append(out, ra)
	}
	nodes := slices.Clone(objs.Nodes)
	slices.SortFunc(nodes, func(a, b corev1.Node) int { return strings.Compare(a.Name, b.Name) })
	for _, node := range nodes {
		var ips []string
		for _, ip := range render.NodeAddresses([]corev1.Node{node}) {
			ips = append(ips, ip.String())
		}
		out = append(out, named("node/"+node.Name, ips, nil)...)
	}
	ips, ports := apiServerEndpoints(objs)
	return append(out, named(APIServerName, ips, ports)...)
}

// named returns an address per ip, named name when there is one, else
// name/<ip>.
func named(name string, ips []string, ports []reach.AddressPort) []reach.Address {
	out := make([]reach.Address, 0, len(ips))
	for _, ip := range ips {
		a := reach.Address{Name: name, IP: ip, Ports: ports}
		if len(ips) > 1 {
			a.Name += "/" + ip
		}
		out = append(out, a)
	}
	return out
}

// apiServerSlices returns the EndpointSlices of objs that belong to the
// API server's Service, default/kubernetes.
func apiServerSlices(objs *input.Objects) []discoveryv1.EndpointSlice {
	var out []discoveryv1.EndpointSlice
	for _, s := range objs.EndpointSlices {
		if s.Namespace == tierwallv1alpha1.KubeAPIServerNamespace && s.Labels[discoveryv1.LabelServiceName] == tierwallv1alpha1.KubeAPIServerService {
			out = append(out, s)
		}
	}
	return out
}

// apiServerEndpoints returns the addresses and ports of the API server's
// endpoints, as the operator reads them (render.KubeAPIServerEndpoints).
func apiServerEndpoints(objs *input.Objects) (ips []string, ports []reach.AddressPort) {
	endpoints := render.KubeAPIServerEndpoints(apiServerSlices(objs))
	for _, ip := range endpoints.Addresses {
		ips = append(ips, ip.String())
	}
	for _, p := range endpoints.Ports {
		ports = append(ports, reach.AddressPort{Port: p.Port, Protocol: p.Protocol})
	}
	return ips, ports
}

// governable returns the pods that NetworkPolicies govern: not those that
// have terminated, nor those on the host's network. It notes those left
// out.
func governable(n Notes, pods []corev1.Pod) []corev1.Pod {
	var kept []corev1.Pod
	var terminated, hostNetwork []string
	for _, p := range pods {
		switch {
		case p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed:
			terminated = append(terminated, p.Namespace+"/"+p.Name)
		case p.Spec.HostNetwork:
			hostNetwork = append(hostNetwork, p.Namespace+"/"+p.Name)
		default:
			kept = append(kept, p)
		}
	}
	if len(terminated) > 0 {
		n.note("left out pods that have terminated: %s", strings.Join(terminated, ", "))
	}
	if len(hostNetwork) > 0 {
		n.note("left out pods with hostNetwork, which NetworkPolicies do not govern: %s", strings.Join(hostNetwork, ", "))
	}
	return kept
}

// policiesAfter returns the policies in force once the operator has
// reconciled apps, as internal/plan decides it for the operator: per
// AppIsolation, the namespace's policies it does not own, plus what it
// renders. AppIsolations in DryRun mode are evaluated as if enforced. Like
// the operator, it refuses to replace a policy that has a rendered name but
// that the AppIsolation does not own.
func policiesAfter(objs *input.Objects, apps []Rendered) ([]networkingv1.NetworkPolicy, error) {
	policies := slices.Clone(objs.NetworkPolicies)
	var errs []error
	for _, r := range apps {
		app := r.App.DeepCopy()
		app.Spec.Mode = tierwallv1alpha1.ModeEnforce
		p := plan.New(app, r.Policies, policies)
		for _, name := range p.Conflicts {
			errs = append(errs, at(objs.Position(input.KindNetworkPolicy, app.Namespace, name), fmt.Errorf(
				"NetworkPolicy %s/%s is not controlled by AppIsolation %s%s, which renders a policy of that name: the operator would not replace it and would report PolicyConflict; rename one of them, or leave the policy out of the input",
				app.Namespace, name, app.Name, inParens(objs.Position(input.KindAppIsolation, app.Namespace, app.Name)))))
		}
		policies = append(slices.DeleteFunc(policies, func(np networkingv1.NetworkPolicy) bool {
			return np.Namespace == app.Namespace
		}), p.InForce...)
	}
	return policies, errors.Join(errs...)
}

func inParens(pos input.Position) string {
	if pos.File == "" {
		return ""
	}
	return " (" + pos.String() + ")"
}

// PlaceEvalError adds to an error of reach.New the position of the policy
// it is about, or of the AppIsolation that rendered it.
func PlaceEvalError(err error, objs *input.Objects, policies []networkingv1.NetworkPolicy) error {
	var invalid *reach.PolicyError
	if !errors.As(err, &invalid) {
		return err
	}
	if pos := objs.Position(input.KindNetworkPolicy, invalid.Namespace, invalid.Name); pos.File != "" {
		return fmt.Errorf("%s: %w", pos, err)
	}
	i := slices.IndexFunc(policies, func(p networkingv1.NetworkPolicy) bool {
		return p.Namespace == invalid.Namespace && p.Name == invalid.Name
	})
	if i < 0 {
		return err
	}
	if app, ok := RenderedFrom(&policies[i]); ok && objs.Position(input.KindAppIsolation, invalid.Namespace, app).File != "" {
		return fmt.Errorf("%s: AppIsolation %s/%s renders a policy the API server would refuse (check the spec against the CRD, for example with kubectl apply --dry-run=server): %w",
			objs.Position(input.KindAppIsolation, invalid.Namespace, app), invalid.Namespace, app, err)
	}
	return err
}

// RenderedFrom returns the name of the AppIsolation that generated policy,
// from the labels tierwall sets on the policies it generates.
func RenderedFrom(policy *networkingv1.NetworkPolicy) (string, bool) {
	if policy.Labels[tierwallv1alpha1.ManagedByLabel] != tierwallv1alpha1.ManagedByValue {
		return "", false
	}
	app, ok := policy.Labels[tierwallv1alpha1.AppIsolationLabel]
	return app, ok && app != ""
}

// ListPageSize is how many objects one list request of a live cluster asks
// for: large clusters are read in pages, with progress.
const ListPageSize = 500

// ReadCluster reads the Namespaces, Pods, NetworkPolicies and AppIsolations
// of the whole cluster c (which must know tierwall's types), page by page,
// telling its progress. A cluster without the AppIsolation CRD has none. It
// also reads the Nodes and the EndpointSlices of the Service
// default/kubernetes (the API server's endpoints), for their addresses (see
// Addresses): when the user may not list them, it notes it and goes on
// without.
func ReadCluster(ctx context.Context, c client.Reader, n Notes) (*input.Objects, error) {
	objs := &input.Objects{}
	var err error
	if objs.Namespaces, err = listAll[corev1.Namespace](ctx, c, n, &corev1.NamespaceList{}, "Namespaces"); err != nil {
		return nil, err
	}
	if objs.Pods, err = listAll[corev1.Pod](ctx, c, n, &corev1.PodList{}, "Pods"); err != nil {
		return nil, err
	}
	if objs.NetworkPolicies, err = listAll[networkingv1.NetworkPolicy](ctx, c, n, &networkingv1.NetworkPolicyList{}, "NetworkPolicies"); err != nil {
		return nil, err
	}
	objs.AppIsolations, err = listAll[tierwallv1alpha1.AppIsolation](ctx, c, n, &tierwallv1alpha1.AppIsolationList{}, "AppIsolations")
	if meta.IsNoMatchError(err) {
		n.progress("The cluster has no AppIsolation CRD: tierwall is not installed there")
		err = nil
	}
	if err != nil {
		return nil, err
	}
	if objs.Nodes, err = listAll[corev1.Node](ctx, c, n, &corev1.NodeList{}, "Nodes"); err != nil {
		if !apierrors.IsForbidden(err) {
			return nil, err
		}
		n.note("cannot list Nodes, so node addresses are not shown: %v", apierrors.ReasonForError(err))
	}
	objs.EndpointSlices, err = listAll[discoveryv1.EndpointSlice](ctx, c, n, &discoveryv1.EndpointSliceList{}, "EndpointSlices of default/kubernetes",
		client.InNamespace(tierwallv1alpha1.KubeAPIServerNamespace), client.MatchingLabels{discoveryv1.LabelServiceName: tierwallv1alpha1.KubeAPIServerService})
	if err != nil {
		if !apierrors.IsForbidden(err) && !meta.IsNoMatchError(err) {
			return nil, err
		}
		n.note("cannot list the EndpointSlices of default/kubernetes, so the API server's addresses are not shown: %v", apierrors.ReasonForError(err))
	}
	return objs, nil
}

// listAll lists every object of a kind (that filters select), page by page,
// and reports the count read so far after each page.
func listAll[T any](ctx context.Context, c client.Reader, n Notes, list client.ObjectList, what string, filters ...client.ListOption) ([]T, error) {
	var out []T
	opts := append([]client.ListOption{client.Limit(ListPageSize)}, filters...)
	for {
		if err := c.List(ctx, list, opts...); err != nil {
			return nil, fmt.Errorf("cannot list %s: %w", what, err)
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return nil, fmt.Errorf("cannot read the list of %s: %w", what, err)
		}
		for _, item := range items {
			v, ok := any(item).(*T)
			if !ok {
				return nil, fmt.Errorf("unexpected item %T in the list of %s", item, what)
			}
			out = append(out, *v)
		}
		token := list.GetContinue()
		if token == "" {
			break
		}
		n.progress("Read %d %s so far", len(out), what)
		opts = append([]client.ListOption{client.Limit(ListPageSize), client.Continue(token)}, filters...)
	}
	n.progress("Read %d %s", len(out), what)
	return out, nil
}
