// Package crd embeds the CustomResourceDefinitions that `make manifests`
// generates into bases/, so that Go programs (the tierwall CLI, tests, or a
// program that installs tierwall) use exactly the CRD that kustomize
// installs, without reading files at run time.
package crd

import (
	"embed"
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// bases holds the generated CRDs; never edit them by hand.
//
//go:embed bases/*.yaml
var bases embed.FS

// AppIsolationFile is the path of the AppIsolation CRD in Bases.
const AppIsolationFile = "bases/tierwall.dev_appisolations.yaml"

// Bases returns the generated CRD files, by path (such as AppIsolationFile).
func Bases() embed.FS { return bases }

// AppIsolation returns the AppIsolation CustomResourceDefinition.
func AppIsolation() (*apiextensionsv1.CustomResourceDefinition, error) {
	data, err := bases.ReadFile(AppIsolationFile)
	if err != nil {
		return nil, fmt.Errorf("failed to read the embedded CRD %s: %w", AppIsolationFile, err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(data, crd); err != nil {
		return nil, fmt.Errorf("failed to decode the embedded CRD %s: %w", AppIsolationFile, err)
	}
	return crd, nil
}

// All returns every CustomResourceDefinition tierwall installs, ready for
// envtest.Environment's CRDs or for a client to create.
func All() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	app, err := AppIsolation()
	if err != nil {
		return nil, err
	}
	return []*apiextensionsv1.CustomResourceDefinition{app}, nil
}
