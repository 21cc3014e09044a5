package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/internal/input"
	"github.com/tierwall/tierwall/internal/scheme"
	"github.com/tierwall/tierwall/pkg/reach"
)

// listPageSize is how many objects one list request of a live cluster
// asks for: large clusters are read in pages, with progress on stderr.
const listPageSize = 500

// clusterFlags are kubectl's flags that choose the cluster, for commands
// that read a live cluster when no -f is given.
type clusterFlags struct {
	kubeconfig, context string
}

func (f *clusterFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.kubeconfig, "kubeconfig", "", "Without -f: the kubeconfig file of the cluster to read (default: $KUBECONFIG, then ~/.kube/config).")
	cmd.Flags().StringVar(&f.context, "context", "", "Without -f: the kubeconfig context to use (default: the current context).")
}

// client returns a client for the cluster of the kubeconfig, and the name of
// its context.
func (f *clusterFlags) client() (client.Reader, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = f.kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: f.context})
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, "", fmt.Errorf("cannot read the kubeconfig: %w", err)
	}
	name := f.context
	if name == "" {
		name = raw.CurrentContext
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("cannot use the kubeconfig (give -f to read files instead): %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: clusterScheme})
	if err != nil {
		return nil, "", fmt.Errorf("cannot connect to context %s: %w", name, err)
	}
	return c, name, nil
}

// clusterScheme knows what reach reads from a cluster.
var clusterScheme = scheme.New()

// readCluster reads the Namespaces, Pods, NetworkPolicies and AppIsolations
// of the whole cluster, page by page, telling its progress on stderr. A
// cluster without the AppIsolation CRD has none.
func readCluster(ctx context.Context, c client.Reader, s *streams, contextName string) (*input.Objects, error) {
	s.progress("Reading Namespaces, Pods, NetworkPolicies and AppIsolations from context %s", contextName)
	objs := &input.Objects{}
	var err error
	if objs.Namespaces, err = listAll[corev1.Namespace](ctx, c, s, &corev1.NamespaceList{}, "Namespaces"); err != nil {
		return nil, err
	}
	if objs.Pods, err = listAll[corev1.Pod](ctx, c, s, &corev1.PodList{}, "Pods"); err != nil {
		return nil, err
	}
	if objs.NetworkPolicies, err = listAll[networkingv1.NetworkPolicy](ctx, c, s, &networkingv1.NetworkPolicyList{}, "NetworkPolicies"); err != nil {
		return nil, err
	}
	objs.AppIsolations, err = listAll[tierwallv1alpha1.AppIsolation](ctx, c, s, &tierwallv1alpha1.AppIsolationList{}, "AppIsolations")
	if meta.IsNoMatchError(err) {
		s.progress("The cluster has no AppIsolation CRD: tierwall is not installed there")
		err = nil
	}
	return objs, err
}

// listAll lists every object of a kind, page by page, and reports the count
// read so far after each page.
func listAll[T any](ctx context.Context, c client.Reader, s *streams, list client.ObjectList, what string) ([]T, error) {
	var out []T
	opts := []client.ListOption{client.Limit(listPageSize)}
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
		s.progress("Read %d %s so far", len(out), what)
		opts = []client.ListOption{client.Limit(listPageSize), client.Continue(token)}
	}
	s.progress("Read %d %s", len(out), what)
	return out, nil
}

// liveState is what reach evaluates on a live cluster: the policies in
// force. AppIsolations are not rendered: their Enforce policies are already
// in the cluster, and those in DryRun are noted, since none of their
// policies are in force.
func liveState(s *streams, objs *input.Objects) (reach.State, error) {
	var dryRun []string
	for _, app := range objs.AppIsolations {
		if app.Spec.Mode == tierwallv1alpha1.ModeDryRun {
			dryRun = append(dryRun, app.Namespace+"/"+app.Name)
		}
	}
	if len(dryRun) > 0 {
		s.note("AppIsolations in DryRun, whose policies are not in force and not shown: %s (preview them with kubectl get -o yaml and -f)", strings.Join(dryRun, ", "))
	}
	files := *objs
	files.AppIsolations = nil
	return stateOf(s, &files)
}

// inNamespace keeps the flows from or to a pod of namespace, and the pods
// they join.
func inNamespace(namespace string, pods []corev1.Pod, flows []reach.Flow) ([]corev1.Pod, []reach.Flow) {
	var kept []reach.Flow
	used := map[string]bool{}
	for _, f := range flows {
		if strings.HasPrefix(f.From, namespace+"/") || strings.HasPrefix(f.To, namespace+"/") {
			kept = append(kept, f)
			used[f.From], used[f.To] = true, true
		}
	}
	var keptPods []corev1.Pod
	for _, p := range pods {
		if p.Namespace == namespace || used[p.Namespace+"/"+p.Name] {
			keptPods = append(keptPods, p)
		}
	}
	return keptPods, kept
}
