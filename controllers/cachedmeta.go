package controllers

import (
	"maps"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"unique"
	"weak"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// cachedMeta is how the informer cache keeps a pod or a namespace, which
// tierwall watches as metadata only: what tierwall reads (name, namespace,
// labels) and what the cache needs (resourceVersion, deletionTimestamp), in
// 64 bytes instead of a 288-byte PartialObjectMetadata. Namespaces, kinds
// and label sets are interned: the replicas of a Deployment share one
// labels map. A large cluster's pods are most of the manager's memory (see
// docs/performance.md).
//
// Reads through the cache never see a cachedMeta: DeepCopyObject, which the
// cache calls on every Get and List, returns the PartialObjectMetadata the
// caller asked for. Event handlers do see it, as a client.Object: they must
// only read it, and must never modify the map GetLabels returns, which
// other objects share.
type cachedMeta struct {
	kind              unique.Handle[metav1.TypeMeta]
	namespace, name   string
	resourceVersion   string
	labels            *labelSet
	deletionTimestamp *metav1.Time
}

// newCachedMeta keeps what tierwall reads of m.
func newCachedMeta(m *metav1.PartialObjectMetadata) *cachedMeta {
	c := &cachedMeta{
		kind:            unique.Make(m.TypeMeta),
		namespace:       intern(m.Namespace),
		name:            m.Name,
		resourceVersion: m.ResourceVersion,
		labels:          labelSets.intern(m.Labels),
	}
	if m.DeletionTimestamp != nil {
		c.deletionTimestamp = m.DeletionTimestamp.DeepCopy()
	}
	return c
}

// DeepCopyObject returns the PartialObjectMetadata that m stands for, with
// a labels map of its own.
func (m *cachedMeta) DeepCopyObject() runtime.Object {
	out := &metav1.PartialObjectMetadata{
		TypeMeta: m.kind.Value(),
		ObjectMeta: metav1.ObjectMeta{
			Name:            m.name,
			Namespace:       m.namespace,
			ResourceVersion: m.resourceVersion,
			Labels:          maps.Clone(m.GetLabels()),
		},
	}
	if m.deletionTimestamp != nil {
		out.DeletionTimestamp = m.deletionTimestamp.DeepCopy()
	}
	return out
}

// GetObjectKind returns a copy of the kind: setting it changes nothing.
func (m *cachedMeta) GetObjectKind() schema.ObjectKind {
	kind := m.kind.Value()
	return &kind
}

// The metav1.Object getters of what is kept.

func (m *cachedMeta) GetNamespace() string                { return m.namespace }
func (m *cachedMeta) GetName() string                     { return m.name }
func (m *cachedMeta) GetResourceVersion() string          { return m.resourceVersion }
func (m *cachedMeta) GetDeletionTimestamp() *metav1.Time  { return m.deletionTimestamp }
func (m *cachedMeta) SetNamespace(namespace string)       { m.namespace = intern(namespace) }
func (m *cachedMeta) SetName(name string)                 { m.name = name }
func (m *cachedMeta) SetResourceVersion(version string)   { m.resourceVersion = version }
func (m *cachedMeta) SetDeletionTimestamp(t *metav1.Time) { m.deletionTimestamp = t }
func (m *cachedMeta) SetLabels(labels map[string]string)  { m.labels = labelSets.intern(labels) }

// GetLabels returns the shared labels map: read it, never modify it.
func (m *cachedMeta) GetLabels() map[string]string {
	if m.labels == nil {
		return nil
	}
	return m.labels.labels
}

// The metav1.Object accessors of what the cache does not keep: the getters
// return the zero value, the setters do nothing.

func (m *cachedMeta) GetGenerateName() string                       { return "" }
func (m *cachedMeta) SetGenerateName(string)                        {}
func (m *cachedMeta) GetUID() types.UID                             { return "" }
func (m *cachedMeta) SetUID(types.UID)                              {}
func (m *cachedMeta) GetGeneration() int64                          { return 0 }
func (m *cachedMeta) SetGeneration(int64)                           {}
func (m *cachedMeta) GetSelfLink() string                           { return "" }
func (m *cachedMeta) SetSelfLink(string)                            {}
func (m *cachedMeta) GetCreationTimestamp() metav1.Time             { return metav1.Time{} }
func (m *cachedMeta) SetCreationTimestamp(metav1.Time)              {}
func (m *cachedMeta) GetDeletionGracePeriodSeconds() *int64         { return nil }
func (m *cachedMeta) SetDeletionGracePeriodSeconds(*int64)          {}
func (m *cachedMeta) GetAnnotations() map[string]string             { return nil }
func (m *cachedMeta) SetAnnotations(map[string]string)              {}
func (m *cachedMeta) GetFinalizers() []string                       { return nil }
func (m *cachedMeta) SetFinalizers([]string)                        {}
func (m *cachedMeta) GetOwnerReferences() []metav1.OwnerReference   { return nil }
func (m *cachedMeta) SetOwnerReferences([]metav1.OwnerReference)    {}
func (m *cachedMeta) GetManagedFields() []metav1.ManagedFieldsEntry { return nil }
func (m *cachedMeta) SetManagedFields([]metav1.ManagedFieldsEntry)  {}

// labelSet is one interned set of labels.
type labelSet struct{ labels map[string]string }

// labelInterner hands out one labelSet per distinct set of labels, for as
// long as some object holds it: a set no object uses any more is dropped.
type labelInterner struct {
	mu   sync.Mutex
	sets map[string]weak.Pointer[labelSet]
}

// labelSets interns the label sets of the cached pods and namespaces.
var labelSets = &labelInterner{sets: map[string]weak.Pointer[labelSet]{}}

// intern returns the labelSet equal to labels, nil for no labels.
func (in *labelInterner) intern(labels map[string]string) *labelSet {
	if len(labels) == 0 {
		return nil
	}
	key := labelKey(labels)
	in.mu.Lock()
	defer in.mu.Unlock()
	if set := in.sets[key].Value(); set != nil {
		return set
	}
	set := &labelSet{labels: make(map[string]string, len(labels))}
	for k, v := range labels {
		set.labels[intern(k)] = intern(v)
	}
	in.sets[key] = weak.Make(set)
	goruntime.AddCleanup(set, in.forget, key)
	return set
}

// forget drops the entry of key once its set is unreachable, unless the key
// was interned again since.
func (in *labelInterner) forget(key string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.sets[key].Value() == nil {
		delete(in.sets, key)
	}
}

// labelKey is a string that equal label sets, and only they, share.
func labelKey(labels map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		// Label keys and values cannot hold NUL.
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(labels[k])
		b.WriteByte(0)
	}
	return b.String()
}

var _ client.Object = &cachedMeta{}
