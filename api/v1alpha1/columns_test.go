package v1alpha1_test

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/test/fixtures"
)

var _ = Describe("kubectl get", func() {
	It("shows Ready, mode, tier and policy counts, warnings and age, under the short name too", func() {
		app, err := fixtures.WordPress(newNamespace())
		Expect(err).NotTo(HaveOccurred())
		Expect(k8sClient.Create(ctx, app)).To(Succeed())
		// The status as the operator writes it for the sample.
		app.Status = tierwallv1alpha1.AppIsolationStatus{ObservedGeneration: app.Generation, TierCount: 2, PolicyCount: ptr.To[int32](4),
			Warnings: tierwallv1alpha1.PodInNoTierReason}
		meta.SetStatusCondition(&app.Status.Conditions, metav1.Condition{
			Type: tierwallv1alpha1.ReadyCondition, Status: metav1.ConditionTrue,
			Reason: tierwallv1alpha1.ReconciledReason, Message: "Enforcing 4 NetworkPolicies for 2 tiers",
		})
		Expect(k8sClient.Status().Update(ctx, app)).To(Succeed())

		for _, resource := range []string{"appisolations", "appiso"} {
			stdout, stderr, err := kubectl("get", resource, "-n", app.Namespace, "-o", "wide")
			Expect(err).NotTo(HaveOccurred(), readAll(stderr))
			lines := strings.Split(strings.TrimSpace(readAll(stdout)), "\n")
			Expect(lines).To(HaveLen(2))
			Expect(strings.Fields(lines[0])).To(Equal([]string{"NAME", "READY", "MODE", "TIERS", "POLICIES", "WARNINGS", "STATUS", "AGE"}))
			Expect(lines[1]).To(MatchRegexp(`^wordpress\s+True\s+Enforce\s+2\s+4\s+PodInNoTier\s+Enforcing 4 NetworkPolicies for 2 tiers\s+\d+s$`))
		}
	})
})

// The docs quote kubectl get's header: it must be the real one.
var _ = Describe("kubectl get in the docs", func() {
	It("quotes the columns kubectl really prints", func() {
		// With no AppIsolation kubectl prints no header: create one.
		app, err := fixtures.WordPress(newNamespace())
		Expect(err).NotTo(HaveOccurred())
		Expect(k8sClient.Create(ctx, app)).To(Succeed())
		stdout, stderr, err := kubectl("get", "appisolations", "-A")
		Expect(err).NotTo(HaveOccurred(), readAll(stderr))
		header := strings.Fields(strings.SplitN(readAll(stdout), "\n", 2)[0])
		Expect(header).To(ContainElement("WARNINGS"))
		for _, doc := range []string{"README.md", filepath.Join("docs", "reconciliation.md")} {
			data, err := os.ReadFile(filepath.Join(fixtures.RepoRoot(), doc))
			Expect(err).NotTo(HaveOccurred())
			quoted := 0
			for line := range strings.SplitSeq(string(data), "\n") {
				fields := strings.Fields(line)
				if len(fields) == 0 || (fields[0] != "NAME" && fields[0] != "NAMESPACE") || !slices.Contains(fields, "READY") {
					continue
				}
				quoted++
				want := header
				if fields[0] == "NAME" {
					want = header[1:] // without -A
				}
				Expect(fields).To(Equal(want), "%s quotes a kubectl get header that kubectl does not print", doc)
			}
			Expect(quoted).To(BeNumerically(">", 0), "%s quotes no kubectl get header", doc)
		}
	})
})

func readAll(r io.Reader) string {
	data, err := io.ReadAll(r)
	Expect(err).NotTo(HaveOccurred())
	return string(data)
}
