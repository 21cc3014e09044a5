package cli

import (
	"bytes"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/tierwall/tierwall/pkg/reach"
)

func TestFlowsJSON(t *testing.T) {
	flowsJSON := func(flows []reach.Flow) string {
		var b bytes.Buffer
		if err := writeFlowsJSON(&b, slices.Values(flows), nil, nil); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	if got, want := flowsJSON(nil), "[]\n"; got != want {
		t.Errorf("flowsJSON(nil) = %q, want %q", got, want)
	}
	two := []reach.Flow{{From: "a/x", To: "a/y", Port: 80, Protocol: corev1.ProtocolTCP}, {From: "a/y", To: "a/x", Port: 53, Protocol: corev1.ProtocolUDP, Allowed: true}}
	want := `[
  {"from":"a/x","to":"a/y","port":80,"protocol":"TCP","allowed":false},
  {"from":"a/y","to":"a/x","port":53,"protocol":"UDP","allowed":true}
]
`
	if diff := cmp.Diff(want, flowsJSON(two)); diff != "" {
		t.Errorf("flowsJSON (-want +got):\n%s", diff)
	}
}
