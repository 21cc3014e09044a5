package controllers

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
)

// BenchmarkPodCache reports the heap one pod costs in the manager's
// metadata cache: pods decoded from the JSON the API server sends (with
// the managed fields, annotations and owner references a Deployment's pod
// carries), passed through CacheOptions' transform, and stored in an
// indexer with a namespace index, as the informer stores them. It leaves
// out the informer's fixed costs, which make perf measures end to end.
func BenchmarkPodCache(b *testing.B) {
	const pods = 20000
	raw := make([][]byte, pods)
	for i := range raw {
		rs := fmt.Sprintf("web-%d-7d4b9c8f6", i%500)
		raw[i] = fmt.Appendf(nil, `{"apiVersion":"meta.k8s.io/v1","kind":"PartialObjectMetadata","metadata":{
			"name":"%s-%05x","generateName":"%s-","namespace":"team-%d","uid":"6f1c9a5e-2b7d-4c61-9e0a-%012x",
			"resourceVersion":"%d","creationTimestamp":"2026-11-29T20:00:00Z",
			"labels":{"app.kubernetes.io/name":"web-%d","app.kubernetes.io/instance":"web-%d","pod-template-hash":"7d4b9c8f6"},
			"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-11-29T20:00:00Z"},
			"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"%s","uid":"1f1c9a5e-2b7d-4c61-9e0a-8d5f4b2c7a10","controller":true,"blockOwnerDeletion":true}],
			"managedFields":[{"manager":"kube-controller-manager","operation":"Update","apiVersion":"v1","time":"2026-11-29T20:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{"f:app.kubernetes.io/name":{}}}}}]}}`,
			rs, i, rs, i%500, i, 1000+i, i%500, i%500, rs)
	}
	var perPod float64
	for b.Loop() {
		before := liveHeap()
		store := toolscache.NewIndexer(toolscache.MetaNamespaceKeyFunc,
			toolscache.Indexers{toolscache.NamespaceIndex: toolscache.MetaNamespaceIndexFunc})
		for _, data := range raw {
			obj := &metav1.PartialObjectMetadata{}
			if err := json.Unmarshal(data, obj); err != nil {
				b.Fatal(err)
			}
			stripped, err := stripUnread(obj)
			if err != nil {
				b.Fatal(err)
			}
			if err := store.Add(stripped); err != nil {
				b.Fatal(err)
			}
		}
		perPod = (float64(liveHeap()) - float64(before)) / pods
		runtime.KeepAlive(store)
	}
	b.ReportMetric(perPod, "B/pod")
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
