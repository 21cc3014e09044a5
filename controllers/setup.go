package controllers

import (
	"unique"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
)

// Setup registers the AppIsolation controller on mgr, with mgr's client
// and an event recorder. It is the one way tierwall's manager, its demo and
// its test suites start the controller; mgr's scheme must know the
// built-in types and tierwall's, and its cache should use CacheOptions.
func Setup(mgr ctrl.Manager, opts Options) error {
	return (&AppIsolationReconciler{
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorder(ControllerName),
		Options:  opts,
	}).SetupWithManager(mgr)
}

// CacheOptions are the informer cache settings of tierwall's manager. Every
// cached object drops its managed fields, which tierwall never reads.
// NetworkPolicies and AppIsolations keep the rest, because tierwall writes
// them back on update. Pods and namespaces are cached as metadata only (the
// watches ask for that), each as a cachedMeta: name, namespace, labels,
// resourceVersion and deletionTimestamp, with namespaces and label sets
// interned, because thousands of pods share them. Nodes are cached whole
// but for what tierwall reads (see leanNode); EndpointSlices only for the
// API server's Service. A large cluster's pods are
// most of the manager's memory: see docs/performance.md.
func CacheOptions() cache.Options {
	return cache.Options{
		DefaultTransform: stripUnread,
		ByObject: map[client.Object]cache.ByObject{
			// Only the API server's: tierwall reads no other endpoints.
			&discoveryv1.EndpointSlice{}: {
				Namespaces: map[string]cache.Config{tierwallv1alpha1.KubeAPIServerNamespace: {}},
				Label:      labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: tierwallv1alpha1.KubeAPIServerService}),
			},
		},
	}
}

// stripUnread is the cache transform of CacheOptions.
func stripUnread(obj any) (any, error) {
	if m, ok := obj.(*metav1.PartialObjectMetadata); ok {
		return newCachedMeta(m), nil
	}
	if n, ok := obj.(*corev1.Node); ok {
		return leanNode(n), nil
	}
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

// intern returns the canonical copy of s, so that equal strings of
// different objects share their bytes.
func intern(s string) string { return unique.Make(s).Value() }

// leanNode keeps what tierwall reads of a Node, its name, labels and
// InternalIP addresses, and what the cache needs (resourceVersion,
// deletionTimestamp): a Node's status (images, conditions, capacity) runs
// to kilobytes, and hostNetwork ingress controllers need only addresses.
func leanNode(n *corev1.Node) *corev1.Node {
	out := &corev1.Node{
		TypeMeta: n.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{
			Name:              n.Name,
			UID:               n.UID,
			ResourceVersion:   n.ResourceVersion,
			Labels:            n.Labels,
			DeletionTimestamp: n.DeletionTimestamp,
		},
	}
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			out.Status.Addresses = append(out.Status.Addresses, a)
		}
	}
	return out
}
