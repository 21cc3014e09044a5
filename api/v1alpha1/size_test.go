package v1alpha1_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/tierwall/tierwall/pkg/render"
	"github.com/tierwall/tierwall/test/fixtures"
	"github.com/tierwall/tierwall/test/specs"
)

const (
	// maxPolicyBytes is the bound docs/validation.md computes for the JSON
	// of one rendered policy: well under the API server's 3 MiB request
	// limit and etcd's 1.5 MiB object limit.
	maxPolicyBytes = 1 << 20
)

var _ = Describe("The largest valid AppIsolation", func() {
	It("is accepted, and renders policies the API server stores", func() {
		namespace := newNamespace()
		app := wordpress(namespace, specs.Largest)
		app.Name = strings.Repeat("w", 63)
		data, err := json.Marshal(app)
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Printf("AppIsolation: %d bytes\n", len(data))
		Expect(k8sClient.Create(ctx, app)).To(Succeed())

		policies, err := render.Render(app, render.Platform{})
		Expect(err).NotTo(HaveOccurred())
		sizes := make([]int, 0, len(policies))
		total := 0
		for i := range policies {
			data, err := json.Marshal(&policies[i])
			Expect(err).NotTo(HaveOccurred())
			total += len(data)
			sizes = append(sizes, len(data))
			Expect(len(data)).To(BeNumerically("<=", maxPolicyBytes), "NetworkPolicy %s", policies[i].Name)
			// Stored for real, not dry-run: etcd's limit applies too.
			Expect(k8sClient.Create(ctx, &policies[i])).To(Succeed(), "NetworkPolicy %s", policies[i].Name)
		}
		slices.Sort(sizes)
		largestPolicy, secondPolicy := sizes[len(sizes)-1], sizes[len(sizes)-2]
		GinkgoWriter.Printf("%d policies, %d bytes in all, the largest %d bytes, the next %d\n", len(policies), total, largestPolicy, secondPolicy)
		doc, err := os.ReadFile(filepath.Join(fixtures.RepoRoot(), "docs", "validation.md"))
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.Join(strings.Fields(string(doc)), " ")).To(ContainSubstring(
			fmt.Sprintf("The largest measures %s bytes, the 17 others %s bytes or less", thousands(largestPolicy), thousands(secondPolicy))),
			"docs/validation.md quotes other sizes")
		// The spec is really the worst case of the arithmetic: its largest
		// policy comes close to the bound.
		Expect(largestPolicy).To(BeNumerically(">", maxPolicyBytes*8/10))
	})
})

// thousands formats n with commas between thousands, as docs/validation.md
// writes sizes: 905968 is 905,968.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
