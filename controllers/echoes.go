package controllers

import (
	"encoding/json"
	"hash/fnv"
	"sync"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
)

// echoes remembers tierwall's own writes until the watch brings them back,
// so that the event of a write does not wake again the AppIsolation whose
// reconcile made it: that reconcile already accounted for it. Kubernetes'
// own controllers call this expectations. Without it, converging one
// AppIsolation took three reconciles instead of one (four policies and two
// status writes, each echoed), and the same CPU again for nothing.
//
// A write is recorded before it is sent, by what it writes (a policy's
// spec, labels, annotations and owner references; an AppIsolation's
// status), since the watch may deliver its event before its response. An
// event that carries exactly that is its echo (or someone else writing the
// same, which asks for nothing either). An echo still wakes its AppIsolation
// when a reconcile of it started after the write: that reconcile may have
// read a cache without the write, and must be checked against the cache
// that has it. Other AppIsolations of the namespace are always woken by a
// policy's event.
type echoes struct {
	mu sync.Mutex
	// writes are tierwall's latest writes, by object.
	writes map[echoKey]write
	// reconciles counts the reconciles started, by AppIsolation.
	reconciles map[types.NamespacedName]uint64
}

// echoKey names an object of one kind.
type echoKey struct {
	kind string
	types.NamespacedName
}

// write is one write, of content, by the reconcile of app numbered
// reconcile.
type write struct {
	content   uint64
	app       types.NamespacedName
	reconcile uint64
}

// Kinds of the objects whose echoes are recognised.
const (
	echoPolicy       = "NetworkPolicy"
	echoAppIsolation = "AppIsolation"
)

// content is a hash of what tierwall writes of obj, of kind.
func content(kind string, obj client.Object) uint64 {
	var written any
	switch o := obj.(type) {
	case *networkingv1.NetworkPolicy:
		written = []any{o.Spec, o.Labels, o.Annotations, o.OwnerReferences}
	case *tierwallv1alpha1.AppIsolation:
		written = o.Status
	}
	data, err := json.Marshal([]any{kind, written})
	if err != nil {
		// Cannot happen for API types; an unknown hash is never an echo.
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write(data)
	return h.Sum64()
}

func newEchoes() *echoes {
	return &echoes{writes: map[echoKey]write{}, reconciles: map[types.NamespacedName]uint64{}}
}

// reconciling records that a reconcile of app starts.
func (e *echoes) reconciling(app types.NamespacedName) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reconciles[app]++
}

// forget drops what is known of app, once it is gone.
func (e *echoes) forget(app types.NamespacedName) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.reconciles, app)
	for key, w := range e.writes {
		if w.app == app {
			delete(e.writes, key)
		}
	}
}

// writing records that the current reconcile of app is about to write obj,
// of kind, as it is.
func (e *echoes) writing(kind string, obj client.Object, app types.NamespacedName) {
	c := content(kind, obj)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.writes[echoKey{kind, client.ObjectKeyFromObject(obj)}] = write{content: c, app: app, reconcile: e.reconciles[app]}
}

// echo reports whether obj, of kind, seen in a watch event, is tierwall's
// own write for an AppIsolation that no reconcile has looked at since, and
// names that AppIsolation. Each write is recognised once.
func (e *echoes) echo(kind string, obj client.Object) (types.NamespacedName, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	key := echoKey{kind, client.ObjectKeyFromObject(obj)}
	w, ok := e.writes[key]
	if !ok || w.content != content(kind, obj) || w.content == 0 {
		return types.NamespacedName{}, false
	}
	delete(e.writes, key)
	return w.app, w.reconcile == e.reconciles[w.app]
}
