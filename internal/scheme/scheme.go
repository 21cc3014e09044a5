// Package scheme builds the one runtime.Scheme that tierwall's manager, its
// demo and its tests use.
package scheme

import (
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
)

// New returns a scheme that knows the built-in Kubernetes types and
// tierwall's.
func New() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(tierwallv1alpha1.AddToScheme(s))
	// +kubebuilder:scaffold:scheme
	return s
}
