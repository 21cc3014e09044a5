package reach

import (
	"slices"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
)

// podClasses numbers the pods of an Evaluator by what the evaluation reads
// of them.
type podClasses struct {
	once sync.Once
	of   []int32 // of[i] is the class of pod i
}

// PodClass returns the class of one of the State's pods, and false for a pod
// that is not in the State. Pods of one class (the same namespace, labels,
// addresses and container ports) are alike to every policy: a flow gets the
// same verdict with one in place of the other, but for a flow from a pod to
// itself, which is always allowed. The replicas of a Deployment are
// usually one class, so a question asked of one class member is answered
// for all of them.
func (e *Evaluator) PodClass(p *corev1.Pod) (int, bool) {
	i, ok := e.podByPtr[p]
	if !ok {
		i, ok = e.podIndex[podKey{p.Namespace, p.Name}]
	}
	if !ok {
		return 0, false
	}
	e.classes.once.Do(func() { e.classes.of = e.classifyPods() })
	return int(e.classes.of[i]), true
}

// classifyPods numbers the pods by their namespace, labels, addresses and
// container ports: everything newPodInfo keeps but the name. Each string
// of the key is prefixed by its length, so no label value can spell
// another label.
func (e *Evaluator) classifyPods() []int32 {
	of := make([]int32, len(e.pods))
	ids := map[string]int32{}
	var key []byte
	var names []string
	str := func(s string) {
		key = strconv.AppendInt(key, int64(len(s)), 10)
		key = append(key, ':')
		key = append(key, s...)
	}
	for i := range e.pods {
		p := &e.pods[i]
		key = key[:0]
		str(p.namespace)
		names = names[:0]
		for k := range p.labels {
			names = append(names, k)
		}
		slices.Sort(names)
		key = strconv.AppendInt(key, int64(len(names)), 10)
		for _, k := range names {
			str(k)
			str(p.labels[k])
		}
		key = strconv.AppendInt(key, int64(len(p.ips)), 10)
		for _, ip := range p.ips {
			str(ip.String())
		}
		key = strconv.AppendInt(key, int64(len(p.ports)), 10)
		for _, cp := range p.ports {
			str(cp.name)
			str(string(cp.protocol))
			key = strconv.AppendInt(key, int64(cp.port), 10)
			key = append(key, ';')
		}
		id, ok := ids[string(key)]
		if !ok {
			id = int32(len(ids))
			ids[string(key)] = id
		}
		of[i] = id
	}
	return of
}
