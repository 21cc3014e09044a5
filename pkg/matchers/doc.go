// Package matchers holds Gomega matchers that assert reachability in a
// user's own test suites: over a *reach.Evaluator, built from the objects of
// an envtest or live cluster or from YAML files, they check single
// connections (AllowFlow) or a whole AppIsolation (IsolateExactly).
//
// Build the evaluator from the Namespaces, Pods and NetworkPolicies the
// cluster holds (for example with pkg/snapshot), then assert:
//
//	e, err := reach.New(state)
//	Expect(err).NotTo(HaveOccurred())
//
//	// Traefik may reach WordPress on port 80 (TCP unless a protocol is given).
//	Expect(e).To(matchers.AllowFlow("kube-system/traefik", "dev-wordpress/wordpress", 80))
//	// Nothing but WordPress may reach MySQL.
//	Expect(e).NotTo(matchers.AllowFlow("dev-wordpress/backup", "dev-wordpress/mysql", 3306))
//	// An address outside the cluster: an IP instead of namespace/name.
//	Expect(e).NotTo(matchers.AllowFlow("203.0.113.7", "dev-wordpress/mysql", 3306))
//	// Every flow to or from the pods the AppIsolation governs is declared.
//	Expect(e).To(matchers.IsolateExactly(app))
//
// In an envtest suite, where the operator reconciles asynchronously, wrap the
// assertion in Eventually and rebuild the evaluator at each attempt:
//
//	Eventually(func(g Gomega) {
//		g.Expect(evaluatorOfTheCluster(g)).To(matchers.IsolateExactly(app))
//	}).Should(Succeed())
//
// A pod name the evaluator does not know is an error, not a failed match, so
// that a typo cannot make NotTo pass. The failure messages show the
// explanation `tierwall reach --explain` gives for the connection (which
// policies and rules decide it, or which rules come nearest) and the rows of
// the matrix `tierwall reach` prints.
//
// IsolateExactly compares what the evaluator decides with what the
// AppIsolation's spec declares, read independently of the policies tierwall
// renders:
//
//   - Governed pods are the pods of the AppIsolation's namespace that
//     spec.podSelector selects; a tier's pods are the governed pods its
//     podSelector selects.
//   - Into a governed pod: the flows its tiers accept, on their ports, from
//     their allowFrom peers (tiers, ingress controllers, selectors with
//     NetworkPolicy semantics, address blocks matched against pod IPs, and
//     for a hostNetwork ingress controller the Node addresses given with
//     OnPlatform).
//   - Out of a governed pod: DNS (port 53, UDP and TCP, to spec.dns or the
//     kube-dns pods of kube-system, and to the NodeLocal DNSCache address
//     of spec.dns.nodeLocal, matched against pod IPs; unless disabled), the
//     ports of the tiers that list one of its tiers in allowFrom, and its
//     tiers' egressTo.
//
// Each side is compared on its own, so another AppIsolation that isolates
// the far side does not fail the match, while any policy that opens the
// governed pods wider than declared does.
package matchers
