package v1alpha1_test

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
)

// This example registers the types on a scheme, as a client or a manager
// of a test suite needs, and reads the spec's defaults the way the
// renderer does.
func Example() {
	scheme := runtime.NewScheme()
	if err := tierwallv1alpha1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	gvks, _, err := scheme.ObjectKinds(&tierwallv1alpha1.AppIsolation{})
	if err != nil {
		panic(err)
	}
	fmt.Println(gvks[0])

	spec := tierwallv1alpha1.AppIsolationSpec{PolicyTypes: []tierwallv1alpha1.PolicyType{tierwallv1alpha1.PolicyTypeIngress}}
	namespace, _, dns := spec.DNSPeer()
	fmt.Printf("isolates egress: %v, DNS peer: %v %q\n", spec.Isolates(tierwallv1alpha1.PolicyTypeEgress), dns, namespace)
	spec.PolicyTypes = nil
	namespace, pods, dns := spec.DNSPeer()
	fmt.Printf("isolates egress: %v, DNS peer: %v %s %v\n", spec.Isolates(tierwallv1alpha1.PolicyTypeEgress), dns, namespace, pods.MatchLabels)
	// Output:
	// tierwall.dev/v1alpha1, Kind=AppIsolation
	// isolates egress: false, DNS peer: false ""
	// isolates egress: true, DNS peer: true kube-system map[k8s-app:kube-dns]
}
