package report

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tierwall/tierwall/pkg/reach"
)

func testPod(key string) corev1.Pod {
	ns, name, _ := strings.Cut(key, "/")
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

func TestFlowsTable(t *testing.T) {
	// Pods named a-b and a sort by namespace first, not as strings
	// ("a-b/x" < "a/x").
	twoPods := []corev1.Pod{testPod("a-b/x"), testPod("a/y"), testPod("a/quiet")}
	twoFlows := []reach.Flow{
		{From: "a/quiet", To: "a-b/x", Port: 80, Protocol: corev1.ProtocolTCP, Allowed: false},
		{From: "a/quiet", To: "a/y", Port: 53, Protocol: corev1.ProtocolUDP, Allowed: true},
		{From: "a/y", To: "a-b/x", Port: 80, Protocol: corev1.ProtocolTCP, Allowed: true},
		{From: "a-b/x", To: "a/y", Port: 53, Protocol: corev1.ProtocolUDP, Allowed: false},
	}
	many := make([]corev1.Pod, 0, 31)
	var manyFlows []reach.Flow
	for i := range 31 {
		many = append(many, testPod(fmt.Sprintf("ns/p%02d", i)))
	}
	for i := range many {
		for j := range many {
			if i != j {
				manyFlows = append(manyFlows, reach.Flow{From: many[i].Namespace + "/" + many[i].Name, To: many[j].Namespace + "/" + many[j].Name, Port: 80, Protocol: corev1.ProtocolTCP, Allowed: i == 0 && j < 3})
			}
		}
	}
	tests := []struct {
		name  string
		pods  []corev1.Pod
		flows []reach.Flow
		want  string
	}{
		{
			name: "no pods",
			want: "No flows: a flow needs two pods, the destination with a container port.\n",
		},
		{
			name: "pods without ports",
			pods: []corev1.Pod{testPod("a/x"), testPod("a/y")},
			want: "No flows: a flow needs two pods, the destination with a container port.\n",
		},
		{
			name:  "a matrix, with a row for a pod without ports",
			pods:  twoPods,
			flows: twoFlows,
			want: `Destinations (pod:port/protocol):
  1  a/y:53/UDP
  2  a-b/x:80/TCP

FROM     1  2
a/quiet  ✓  ✗
a/y      -  ✓
a-b/x    ✗  -

✓ allowed  ✗ denied  - same pod. 2 of 4 flows allowed; the others are denied.
`,
		},
		{
			name:  "too many columns: the allowed flows",
			pods:  many,
			flows: manyFlows,
			want: `More than 30 destination ports, too many for a matrix: the allowed flows follow (-o json has them all).

FROM     TO       PORT
ns/p00   ns/p01   80/TCP
ns/p00   ns/p02   80/TCP

2 of 930 flows allowed; the others are denied.
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, string(FlowsTable(tt.pods, tt.flows))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestListAllowedAllDenied(t *testing.T) {
	denied := []reach.Flow{{From: "a/x", To: "a/y", Port: 80, Protocol: corev1.ProtocolTCP}}
	if got, want := string(ListAllowed(slices.Values(denied))), "No flow is allowed: all 1 are denied.\n"; got != want {
		t.Errorf("ListAllowed = %q, want %q", got, want)
	}
}
