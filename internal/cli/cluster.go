package cli

import (
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tierwall/tierwall/internal/peering"
	"github.com/tierwall/tierwall/internal/scheme"
	"github.com/tierwall/tierwall/pkg/reach"
)

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

// inNamespace keeps the flows from or to a pod of namespace, and the pods
// they join.
func inNamespace(namespace string, pods []corev1.Pod, flows iter.Seq[reach.Flow]) ([]corev1.Pod, iter.Seq[reach.Flow]) {
	kept := func(yield func(reach.Flow) bool) {
		for f := range flows {
			if (strings.HasPrefix(f.From, namespace+"/") || strings.HasPrefix(f.To, namespace+"/")) && !yield(f) {
				return
			}
		}
	}
	used := map[string]bool{}
	for f := range kept {
		used[f.From], used[f.To] = true, true
	}
	var keptPods []corev1.Pod
	for _, p := range pods {
		if p.Namespace == namespace || used[p.Namespace+"/"+p.Name] {
			keptPods = append(keptPods, p)
		}
	}
	return keptPods, kept
}

// edgesInNamespace keeps the edges between AppIsolations with an end in
// namespace, as inNamespace keeps the flows.
func edgesInNamespace(namespace string, edges []peering.Edge) []peering.Edge {
	return slices.DeleteFunc(edges, func(e peering.Edge) bool {
		return e.From.AppIsolation.Namespace != namespace && e.To.AppIsolation.Namespace != namespace
	})
}
