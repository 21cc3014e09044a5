package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tierwall/tierwall/internal/evalstate"

	corev1 "k8s.io/api/core/v1"

	"github.com/tierwall/tierwall/internal/input"
	"github.com/tierwall/tierwall/pkg/reach"
)

// wordpressEvaluator evaluates the WordPress sample against its pods, as
// reach does.
func wordpressEvaluator(t *testing.T) (*reach.Evaluator, reach.State) {
	t.Helper()
	r := input.NewReader(input.Options{Kinds: []string{input.KindNamespace, input.KindPod, input.KindNetworkPolicy, input.KindAppIsolation}})
	for _, name := range []string{sample, pods} {
		if err := r.Read(name, []byte(readFile(t, name))); err != nil {
			t.Fatal(err)
		}
	}
	state, err := evalstate.Reconciled(evalstate.Notes{}, r.Objects())
	if err != nil {
		t.Fatal(err)
	}
	e, err := reach.New(state)
	if err != nil {
		t.Fatal(err)
	}
	return e, state
}

// TestExplainEveryCellOfTheWordPressMatrix explains every cell of the
// WordPress matrix and fails on an explanation that contradicts the
// evaluator's verdict, or that does not name the AppIsolation and tier of
// the deciding policies.
func TestExplainEveryCellOfTheWordPressMatrix(t *testing.T) {
	e, state := wordpressEvaluator(t)
	o := originsOf(state.Policies)
	byKey := map[string]*corev1.Pod{}
	for i := range state.Pods {
		byKey[state.Pods[i].Namespace+"/"+state.Pods[i].Name] = &state.Pods[i]
	}
	n := 0
	for f := range e.Flows() {
		n++
		name := fmt.Sprintf("%s -> %s:%d/%s", f.From, f.To, f.Port, f.Protocol)
		x := e.Explain(reach.PodEndpoint(byKey[f.From]), reach.PodEndpoint(byKey[f.To]), f.Port, f.Protocol)
		if x.Verdict.Allowed != f.Allowed {
			t.Errorf("%s: the explanation's verdict is %v, the matrix says %v", name, x.Verdict.Allowed, f.Allowed)
		}
		if err := x.Contradiction(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if !f.Allowed && x.Egress.Allowed() && x.Ingress.Allowed() {
			t.Errorf("%s: denied, but the explanation allows both sides", name)
		}
		// Every policy in the WordPress namespace is generated: the
		// explanation must name its AppIsolation.
		for _, s := range []reach.Side{x.Egress, x.Ingress} {
			for _, p := range s.IsolatedBy {
				if !strings.Contains(o.describe(p), "AppIsolation dev-wordpress/wordpress") {
					t.Errorf("%s: policy %s is not named by its AppIsolation: %q", name, p, o.describe(p))
				}
			}
		}
	}
	if n != 24 {
		t.Errorf("explained %d cells, want the 24 of the matrix", n)
	}
}

// TestReachJSONExplainsDeniedFlows checks that -o json explains every
// denied flow, and only those.
func TestReachJSONExplainsDeniedFlows(t *testing.T) {
	code, stdout, stderr := run("", "reach", "-f", sample, "-f", pods, "-o", "json")
	if code != ExitOK || stderr != "" {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
	}
	var flows []flowJSON
	if err := json.Unmarshal([]byte(stdout), &flows); err != nil {
		t.Fatal(err)
	}
	for _, f := range flows {
		name := fmt.Sprintf("%s -> %s:%d/%s", f.From, f.To, f.Port, f.Protocol)
		switch {
		case f.Allowed && f.Why != nil:
			t.Errorf("%s: allowed, yet explained", name)
		case f.Allowed:
		case f.Why == nil:
			t.Errorf("%s: denied, without an explanation", name)
		case f.Why.Egress.Allowed && f.Why.Ingress.Allowed:
			t.Errorf("%s: denied, but both sides of the explanation allow it", name)
		default:
			for _, s := range []sideJSON{f.Why.Egress, f.Why.Ingress} {
				if !s.Allowed && len(s.NearestMisses) == 0 {
					t.Errorf("%s: a denying side without its nearest miss", name)
				}
				for _, m := range s.NearestMisses {
					if m.AppIsolation != "dev-wordpress/wordpress" || m.Miss == "" {
						t.Errorf("%s: miss %+v does not name its AppIsolation and kind", name, m)
					}
				}
			}
		}
	}
}

func TestParseFlow(t *testing.T) {
	_, state := wordpressEvaluator(t)
	addrs := []reach.Address{{Name: "kube-apiserver", IP: "172.18.0.2"}, {Name: "node/worker", IP: "10.1.0.2"}}
	tests := []struct {
		from, to  string
		namespace string
		want      string // "fromName toName port/proto", or the error
	}{
		{"default/debug", "dev-wordpress/mysql-0:3306", "", "default/debug dev-wordpress/mysql-0 3306/TCP"},
		{"debug", "kube-system/coredns:53/udp", "", "default/debug kube-system/coredns 53/UDP"},
		{"wordpress", "mysql-0:3306/TCP", "dev-wordpress", "dev-wordpress/wordpress dev-wordpress/mysql-0 3306/TCP"},
		{"10.1.2.3", "[fd00::1]:443", "", "10.1.2.3 fd00::1 443/TCP"},
		{"node/worker", "kube-apiserver:6443", "", "node/worker kube-apiserver 6443/TCP"},
		{"default/nope", "dev-wordpress/mysql-0:3306", "", `invalid --from "default/nope": no pod default/nope in the input, and not an IP address`},
		{"default/debug", "dev-wordpress/mysql-0", "", `invalid --to "dev-wordpress/mysql-0": give the destination port: ns/pod:PORT[/PROTOCOL] or ADDRESS:PORT[/PROTOCOL]`},
		{"default/debug", "dev-wordpress/mysql-0:0", "", `invalid --to "dev-wordpress/mysql-0:0": port "0" is not a number from 1 to 65535`},
		{"default/debug", "dev-wordpress/mysql-0:3306/ICMP", "", `invalid --to "dev-wordpress/mysql-0:3306/ICMP": protocol "ICMP" is not TCP, UDP or SCTP`},
	}
	for _, tc := range tests {
		t.Run(tc.from+" "+tc.to, func(t *testing.T) {
			q, err := parseFlow(tc.from, tc.to, tc.namespace, state.Pods, addrs)
			got := fmt.Sprintf("%s %s %d/%s", q.fromName, q.toName, q.port, q.protocol)
			if err != nil {
				if _, ok := errors.AsType[*EndpointError](err); !ok {
					t.Errorf("error %v is not an *EndpointError", err)
				}
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("parseFlow() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestExplainUsageAndErrors(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"--from without --explain", []string{"--from", "default/debug", "--to", "default/debug:80"}, ExitUsage,
			"error: --explain needs --from and --to, and --from and --to need --explain\nRun 'tierwall reach --help' for usage.\n"},
		{"--explain without --to", []string{"--explain", "--from", "default/debug"}, ExitUsage,
			"error: --explain needs --from and --to, and --from and --to need --explain\nRun 'tierwall reach --help' for usage.\n"},
		{"an unknown pod", []string{"--explain", "--from", "default/nope", "--to", "default/debug:8080"}, ExitFailure,
			"error: invalid --from \"default/nope\": no pod default/nope in the input, and not an IP address\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run("", append([]string{"reach", "-f", sample, "-f", pods}, tc.args...)...)
			if code != tc.code || stderr != tc.stderr {
				t.Errorf("exit code %d, stderr %q; want %d, %q", code, stderr, tc.code, tc.stderr)
			}
		})
	}
}
