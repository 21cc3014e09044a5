// Package admission checks custom resources offline the way the API server
// admits them on create: the CRD's structural OpenAPI schema with its
// defaults, its list-type invariants and its CEL rules
// (x-kubernetes-validations), evaluated by the API server's own libraries
// from k8s.io/apiextensions-apiserver. A resource it rejects, the API server
// rejects with the same field errors, and the reverse; the admission suite
// (api/v1alpha1) checks this against a real API server.
//
// The steps and their order follow the API server's handler for custom
// resources (apiextensions-apiserver pkg/apiserver/customresource_handler.go
// for decoding and defaulting, pkg/registry/customresource/strategy.go and
// validator.go for validation, at the version in go.mod). The strategy
// itself is not imported: it drags the API server's storage layer, three
// times the CLI's size, into every program that validates.
package admission

import (
	"context"
	"fmt"

	"k8s.io/apiextensions-apiserver/pkg/apihelpers"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/api/operation"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/features"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
)

// Validator admits the resources of one version of one CRD.
type Validator struct {
	gvk        schema.GroupVersionKind
	namespaced bool
	// structural is the version's structural schema, with its defaults
	// pruned as the API server prunes them.
	structural *structuralschema.Structural
	schema     apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

// New returns a Validator for the resources of crd at version.
func New(crd *apiextensionsv1.CustomResourceDefinition, version string) (*Validator, error) {
	val, err := apihelpers.GetSchemaForVersion(crd, version)
	if err != nil {
		return nil, fmt.Errorf("failed to read the schema of %s %s: %w", crd.Name, version, err)
	}
	if val == nil || val.OpenAPIV3Schema == nil {
		return nil, fmt.Errorf("CRD %s has no schema for version %s", crd.Name, version)
	}
	internal := &apiextensions.CustomResourceValidation{}
	if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(val, internal, nil); err != nil {
		return nil, fmt.Errorf("failed to convert the schema of %s %s: %w", crd.Name, version, err)
	}
	s, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
	if err != nil {
		return nil, fmt.Errorf("the schema of %s %s is not structural: %w", crd.Name, version, err)
	}
	s = s.DeepCopy()
	if err := structuraldefaulting.PruneDefaults(s); err != nil {
		return nil, fmt.Errorf("failed to prune the defaults of %s %s: %w", crd.Name, version, err)
	}
	validator, _, err := apiservervalidation.NewSchemaValidator(internal.OpenAPIV3Schema)
	if err != nil {
		return nil, fmt.Errorf("failed to compile the schema of %s %s: %w", crd.Name, version, err)
	}
	return &Validator{
		gvk:        schema.GroupVersionKind{Group: crd.Spec.Group, Version: version, Kind: crd.Spec.Names.Kind},
		namespaced: crd.Spec.Scope == apiextensionsv1.NamespaceScoped,
		structural: s,
		schema:     validator,
		cel:        cel.NewValidator(s, true, celconfig.PerCallLimit),
	}, nil
}

// Admit does to obj, in place, what the API server does to a resource it is
// asked to create before it stores it: it drops the fields the schema does
// not know, applies the schema's defaults, clears status, and validates the
// result. It returns the field errors the API server would answer with
// (the schema's errors come in the map order of obj's fields, which varies
// on the API server too); none means the API server would accept obj.
func (v *Validator) Admit(ctx context.Context, obj *unstructured.Unstructured) field.ErrorList {
	v.decode(obj)
	// PrepareForCreate: status is a subresource, so create drops it.
	unstructured.RemoveNestedField(obj.Object, "status")
	return v.validate(ctx, obj)
}

// decode does what the API server's decoder does to a custom resource:
// prune, drop nulls that have no default, coerce metadata, default.
func (v *Validator) decode(obj *unstructured.Unstructured) {
	structuralpruning.PruneWithOptions(obj.Object, v.structural, true, structuralschema.UnknownFieldPathOptions{})
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(obj.Object, v.structural)
	// Malformed metadata fails validation below; the decoder's coercion
	// only drops it when reading from storage.
	_, _ = schemaobjectmeta.CoerceWithOptions(nil, obj.Object, v.structural, false, schemaobjectmeta.CoerceOptions{})
	structuraldefaulting.Default(obj.Object, v.structural)
}

// validate is the custom resource strategy's Validate on create.
func (v *Validator) validate(ctx context.Context, obj *unstructured.Unstructured) field.ErrorList {
	if errs := v.validateTypeMeta(obj); len(errs) > 0 {
		return errs
	}
	var errs field.ErrorList
	errs = append(errs, v.validateObjectMeta(ctx, obj)...)
	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, obj.UnstructuredContent(), v.schema)...)
	errs = append(errs, schemaobjectmeta.Validate(ctx, nil, obj.Object, v.structural, false)...)
	errs = append(errs, structurallisttype.ValidateListSetsAndMaps(nil, v.structural, obj.Object)...)
	if blocking := blockingError(errs); blocking != nil {
		return append(errs, blocking)
	}
	celErrs, _ := v.cel.Validate(ctx, nil, v.structural, obj.Object, nil, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...)
}

func (v *Validator) validateTypeMeta(obj *unstructured.Unstructured) field.ErrorList {
	var errs field.ErrorList
	if obj.GetKind() != v.gvk.Kind {
		errs = append(errs, field.Invalid(field.NewPath("kind"), obj.GetKind(), fmt.Sprintf("must be %v", v.gvk.Kind)))
	}
	if want := v.gvk.GroupVersion().String(); obj.GetAPIVersion() != want {
		errs = append(errs, field.Invalid(field.NewPath("apiVersion"), obj.GetAPIVersion(), "must be "+want))
	}
	return errs
}

func (v *Validator) validateObjectMeta(ctx context.Context, obj *unstructured.Unstructured) field.ErrorList {
	path := field.NewPath("metadata")
	meta := &metav1.ObjectMeta{}
	if raw, ok := obj.Object["metadata"]; ok && raw != nil {
		m, ok := raw.(map[string]any)
		if !ok {
			return field.ErrorList{field.Invalid(path, raw, fmt.Sprintf("expected map[string]interface{}, got %T", raw))}
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, meta); err != nil {
			return field.ErrorList{field.Invalid(path, raw, err.Error())}
		}
	}
	return apivalidation.ValidateObjectMetaDeclaratively(ctx, operation.Create, meta, nil, v.namespaced,
		apivalidation.NameIsDNSSubdomain, path, utilfeature.DefaultFeatureGate.Enabled(features.DeclarativeValidationBeta))
}

// blockingError is the error the API server adds, instead of running the
// CEL rules, when the schema found an error that the rules may not expect
// (a missing field, a wrong type, a list too long).
func blockingError(errs field.ErrorList) *field.Error {
	for _, err := range errs {
		switch err.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return field.Invalid(nil, nil, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation")
		}
	}
	return nil
}
