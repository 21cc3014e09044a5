package crd_test

import (
	"fmt"

	"github.com/tierwall/tierwall/config/crd"
)

// This example reads the embedded CRDs, as a test suite does before giving
// them to envtest.Environment{CRDs: crds}.
func Example() {
	crds, err := crd.All()
	if err != nil {
		panic(err)
	}
	for _, c := range crds {
		for _, v := range c.Spec.Versions {
			fmt.Println(c.Name, v.Name, "served:", v.Served)
		}
	}
	// Output:
	// appisolations.tierwall.dev v1alpha1 served: true
}
