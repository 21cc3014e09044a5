package dataplane

import (
	"context"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tierwall/tierwall/pkg/reach"
	"github.com/tierwall/tierwall/test/fixtures"
)

const mailNamespace = "mail"

// declaredMail is the mail story's intent, written from the story rather
// than computed: SMTP, submission and IMAPS to the mail server from
// anywhere that may send there (every pod tierwall does not govern, and the
// MTA on 25, which it may send to the whole internet), LMTP from the MTA
// only, DNS for the governed pods, nothing else to or from them.
func declaredMail(cs []reach.Flow) []reach.Flow {
	allowed := map[string]bool{
		"mail/mta -> mail/mailserver:24/TCP": true,
		"mail/mta -> mail/mailserver:25/TCP": true,
	}
	for _, source := range []string{"kube-system/coredns", "mail/webmail"} {
		for _, port := range []string{"25", "587", "993"} {
			allowed[source+" -> mail/mailserver:"+port+"/TCP"] = true
		}
	}
	for _, governed := range []string{"mailserver", "mta"} {
		allowed["mail/"+governed+" -> kube-system/coredns:53/TCP"] = true
		allowed["mail/"+governed+" -> kube-system/coredns:53/UDP"] = true
	}
	governed := func(key string) bool {
		return strings.HasPrefix(key, "mail/mailserver") || strings.HasPrefix(key, "mail/mta")
	}
	out := make([]reach.Flow, 0, len(cs))
	for _, f := range cs {
		f.Allowed = allowed[flowKey(f)] || (!governed(f.From) && !governed(f.To))
		out = append(out, f)
	}
	return out
}

// TestMailPortsPerPeer applies the mail sample, one tier whose allowFrom
// entries each list their own ports, and proves with packets under
// kube-router that LMTP (24) is open to the MTA only while SMTP,
// submission and IMAPS are open to every source the ipBlocks 0.0.0.0/0 and
// ::/0 match: the measured matrix equals the declared one and tierwall
// reach's, cell by cell. The sample avoids kube-router's known departures:
// numeric ports only, no except, and no policy that selects both ends of a
// flow between governed pods with an egress rule allowing it.
func TestMailPortsPerPeer(t *testing.T) {
	pods := theLab.addPods(t, map[string]map[string]string{mailNamespace: nil}, fixtures.MailPods(mailNamespace, ""))
	cs, err := cells(pods)
	if err != nil {
		t.Fatal(err)
	}
	theLab.requireBaseline(t, pods, cs)

	app, err := fixtures.Mail(mailNamespace)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := theLab.c.Create(ctx, app); err != nil {
		t.Fatalf("failed to apply the mail sample: %v", err)
	}
	t.Cleanup(func() {
		_ = client.IgnoreNotFound(theLab.c.Delete(ctx, app))
		_ = theLab.c.DeleteAllOf(ctx, &networkingv1NetworkPolicy, client.InNamespace(mailNamespace))
	})
	waitReady(t, app)

	flows := make([]reach.Flow, len(cs))
	for i, c := range cs {
		flows[i] = c.flow
	}
	measured := requireMatrix(t, "the mail story", pods, cs, declaredMail(flows))
	requireQuoted(t, "the mail story", pods, measured)
}
