package matchers_test

import (
	"strings"
	"testing"

	"github.com/onsi/gomega"

	"github.com/tierwall/tierwall/pkg/matchers"
)

// TestDocsQuoteAFailureMessage keeps the failure message docs/testing.md
// quotes in step with what AllowFlow prints.
func TestDocsQuoteAFailureMessage(t *testing.T) {
	_, state := wordpress(t, nil, nil)
	e := evaluate(t, state)
	m := assertion(func(g gomega.Gomega) {
		g.Expect(e).To(matchers.AllowFlow("default/debug", "dev-wordpress/mysql-0", 3306))
	})
	if !strings.Contains(read(t, "../../docs/testing.md"), "```\n"+m+"```\n") {
		t.Errorf("docs/testing.md does not quote what AllowFlow prints: update it to\n%s", m)
	}
}
