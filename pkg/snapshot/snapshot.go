// Package snapshot reads what tierwall's evaluator needs (Namespaces, Pods,
// NetworkPolicies and AppIsolations, and the addresses of Nodes, of the API
// server and of tierwall's Address documents) from a live or envtest
// cluster, or from YAML manifests, and builds the evaluator (package reach)
// over it.
//
// It evaluates exactly what `tierwall reach` evaluates, with the same code:
//
//   - [Snapshot.InForce] evaluates the NetworkPolicies as they are: on a
//     cluster where the operator runs, its policies are among them.
//   - [Snapshot.Reconciled] evaluates the policies once the operator has
//     reconciled the snapshot's AppIsolations: each one's rendered policies
//     take the place of those it controls. Use it on a GitOps directory, where
//     no operator has run.
//
// Both leave out the pods NetworkPolicies do not govern: terminated pods and
// pods on the host's network.
//
// A snapshot of YAML goes through the same checks as the CLI's input: every
// AppIsolation through the API server's admission (the CRD's schema and CEL
// rules, offline), and every error at its file and line.
package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/internal/evalstate"
	"github.com/tierwall/tierwall/internal/input"
	"github.com/tierwall/tierwall/pkg/reach"
)

// Snapshot is the objects of a cluster, or of a set of manifests, at one
// moment. Its fields may be changed before evaluating it (to add a pod that
// a test needs, for example).
type Snapshot struct {
	// Namespaces with their labels. A namespace that is not listed has only
	// the kubernetes.io/metadata.name label.
	Namespaces []corev1.Namespace
	// Pods with their labels, container ports and IP addresses.
	Pods []corev1.Pod
	// NetworkPolicies, hand-written or generated.
	NetworkPolicies []networkingv1.NetworkPolicy
	// AppIsolations, after admission: defaults applied.
	AppIsolations []tierwallv1alpha1.AppIsolation
	// Addresses are the endpoints that are not pods, whose flows the
	// evaluators' Flows include, named and ordered as `tierwall reach`
	// shows them: the Address documents (kind Address, apiVersion
	// cli.tierwall.dev/v1alpha1), each Node's InternalIP (node/NAME), and the
	// API server's endpoints (kube-apiserver, from the EndpointSlices of the
	// Service default/kubernetes). Add an external client a
	// test needs here.
	Addresses []reach.Address

	// read is what was read, with the position of each object; nil for a
	// cluster.
	read *input.Objects
}

// FromCluster reads the Namespaces, Pods, NetworkPolicies and AppIsolations
// of the whole cluster c, page by page, and the Nodes and EndpointSlices of
// default/kubernetes for their Addresses (none when RBAC forbids listing
// them). c's scheme must know tierwall's types
// (tierwallv1alpha1.AddToScheme); a cluster without the AppIsolation CRD has
// none.
func FromCluster(ctx context.Context, c client.Reader) (*Snapshot, error) {
	objs, err := evalstate.ReadCluster(ctx, c, evalstate.Notes{})
	if err != nil {
		return nil, err
	}
	return newSnapshot(objs), nil
}

// manifestExtensions are the names of the files FromFiles reads in a
// directory.
var manifestExtensions = []string{".yaml", ".yml", ".json"}

// FromFiles reads manifests: files of one or more YAML or JSON documents
// (Lists too), or directories, read recursively for their *.yaml, *.yml and
// *.json files in lexical order, as a GitOps repository holds them.
// Nodes, EndpointSlices and Address documents give the
// Addresses; documents of other kinds (Deployments, Services,
// Kustomizations) are skipped; a document without a kind is an error. Namespaced objects without
// a namespace are in "default". The error joins every problem found, each
// at its file and line.
func FromFiles(paths ...string) (*Snapshot, error) {
	r := input.NewReader(input.Options{
		Kinds: []string{input.KindNamespace, input.KindPod, input.KindNetworkPolicy, input.KindAppIsolation,
			input.KindNode, input.KindEndpointSlice, input.KindAddress},
		SkipOtherKinds: true,
		Explain:        evalstate.Explain,
	})
	var errs []error
	for _, path := range paths {
		files, err := manifests(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, name := range files {
			data, err := os.ReadFile(name)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			errs = append(errs, r.Read(name, data))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return newSnapshot(r.Objects()), nil
}

// manifests returns path if it is a file, or the manifests under it if it
// is a directory.
func manifests(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && slices.Contains(manifestExtensions, strings.ToLower(filepath.Ext(name))) {
			files = append(files, name)
		}
		return nil
	})
	return files, err
}

func newSnapshot(objs *input.Objects) *Snapshot {
	return &Snapshot{
		Namespaces:      objs.Namespaces,
		Pods:            objs.Pods,
		NetworkPolicies: objs.NetworkPolicies,
		AppIsolations:   objs.AppIsolations,
		Addresses:       evalstate.Addresses(objs),
		read:            objs,
	}
}

// objects returns the snapshot's objects, with the positions they were read
// at, for the messages of errors.
func (s *Snapshot) objects() *input.Objects {
	objs := &input.Objects{}
	if s.read != nil {
		*objs = *s.read
	}
	objs.Namespaces, objs.Pods, objs.NetworkPolicies, objs.AppIsolations = s.Namespaces, s.Pods, s.NetworkPolicies, s.AppIsolations
	return objs
}

// InForce returns the evaluator of the NetworkPolicies as they are. The
// AppIsolations are not rendered: on a cluster, the operator's policies are
// among the NetworkPolicies already (and an AppIsolation in DryRun has none
// in force).
func (s *Snapshot) InForce() (*reach.Evaluator, error) {
	objs := s.objects()
	state := evalstate.InForce(evalstate.Notes{}, objs)
	state.Addresses = s.Addresses
	return evaluator(objs, state)
}

// Reconciled returns the evaluator of the NetworkPolicies once the operator
// has reconciled the snapshot's AppIsolations: per AppIsolation, the
// policies of its namespace that it does not control, and those it renders.
// AppIsolations in DryRun mode are evaluated as if enforced. Like the
// operator, it fails on a policy that has the name of a rendered one but
// that the AppIsolation does not control.
func (s *Snapshot) Reconciled() (*reach.Evaluator, error) {
	objs := s.objects()
	state, err := evalstate.Reconciled(evalstate.Notes{}, objs)
	if err != nil {
		return nil, err
	}
	state.Addresses = s.Addresses
	return evaluator(objs, state)
}

func evaluator(objs *input.Objects, state reach.State) (*reach.Evaluator, error) {
	e, err := reach.New(state)
	if err != nil {
		return nil, evalstate.PlaceEvalError(err, objs, state.Policies)
	}
	return e, nil
}

// AppIsolation returns the snapshot's AppIsolation namespace/name.
func (s *Snapshot) AppIsolation(namespace, name string) (*tierwallv1alpha1.AppIsolation, error) {
	for i := range s.AppIsolations {
		if app := &s.AppIsolations[i]; app.Namespace == namespace && app.Name == name {
			return app, nil
		}
	}
	return nil, fmt.Errorf("no AppIsolation %s/%s in the snapshot", namespace, name)
}
