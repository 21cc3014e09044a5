package controllers

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
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
// cached object drops its managed fields, which tierwall never reads. Pods
// and namespaces are cached as metadata only (the watches ask for that) and
// also drop their annotations: tierwall reads their names, namespaces and
// labels, nothing else. NetworkPolicies and AppIsolations keep their
// annotations, because tierwall writes them back on update.
func CacheOptions() cache.Options {
	return cache.Options{DefaultTransform: stripUnread}
}

// stripUnread is the cache transform of CacheOptions.
func stripUnread(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	if m, ok := obj.(*metav1.PartialObjectMetadata); ok {
		m.SetAnnotations(nil)
		m.SetOwnerReferences(nil)
		m.SetFinalizers(nil)
	}
	return obj, nil
}
