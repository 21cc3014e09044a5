package v1alpha1_test

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/test/fixtures"
)

// The user roles of config/rbac, tested by impersonation. envtest runs no
// kube-controller-manager, so ClusterRole aggregation does not happen here:
// the specs bind the shipped ClusterRoles themselves, and check the labels
// that aggregate them into admin, edit and view on a real cluster.
var _ = Describe("The user roles config/rbac ships", func() {
	// install creates the ClusterRole of config/rbac/<file>, under a name of
	// its own for this spec, and returns it.
	install := func(file string) *rbacv1.ClusterRole {
		data, err := os.ReadFile(filepath.Join(fixtures.RepoRoot(), "config", "rbac", file))
		Expect(err).NotTo(HaveOccurred())
		role := &rbacv1.ClusterRole{}
		Expect(yaml.UnmarshalStrict(data, role)).To(Succeed())
		installed := role.DeepCopy()
		installed.GenerateName = role.Name + "-"
		installed.Name = ""
		Expect(k8sClient.Create(ctx, installed)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, installed))).To(Succeed()) })
		return installed
	}

	// bind binds role to user in namespace, and returns a client that
	// impersonates user.
	bind := func(role *rbacv1.ClusterRole, user, namespace string) client.Client {
		binding := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: namespace},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
		}
		Expect(k8sClient.Create(ctx, binding)).To(Succeed())
		cfg := rest.CopyConfig(testEnv.Config)
		cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
		c, err := client.New(cfg, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		return c
	}

	// allowed asks the API server whether user may do verb on
	// appisolations[/subresource] in namespace.
	allowed := func(user, verb, subresource, namespace string) bool {
		review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: user,
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: namespace, Verb: verb, Group: tierwallv1alpha1.GroupVersion.Group,
				Resource: "appisolations", Subresource: subresource,
			},
		}}
		Expect(k8sClient.Create(ctx, review)).To(Succeed())
		return review.Status.Allowed
	}

	It("aggregates the editor into admin and edit only, and the viewer into view only", func() {
		Expect(install("appisolation_editor_role.yaml").Labels).To(Equal(map[string]string{
			"rbac.authorization.k8s.io/aggregate-to-admin": "true",
			"rbac.authorization.k8s.io/aggregate-to-edit":  "true",
		}))
		Expect(install("appisolation_viewer_role.yaml").Labels).To(Equal(map[string]string{
			"rbac.authorization.k8s.io/aggregate-to-view": "true",
		}))
	})

	It("lets an editor manage AppIsolations in the bound namespace only, and not write their status", func() {
		namespace, elsewhere := newNamespace(), newNamespace()
		alice := bind(install("appisolation_editor_role.yaml"), "alice", namespace)

		app := wordpress(namespace)
		// The API server's RBAC cache learns of the binding shortly.
		Eventually(func() error { return alice.Create(ctx, app) }).Should(Succeed())
		Expect(alice.Get(ctx, client.ObjectKeyFromObject(app), app)).To(Succeed())
		app.Spec.Mode = tierwallv1alpha1.ModeDryRun
		Expect(alice.Update(ctx, app)).To(Succeed())
		Expect(alice.List(ctx, &tierwallv1alpha1.AppIsolationList{}, client.InNamespace(namespace))).To(Succeed())

		app.Status.TierCount = 2
		Expect(apierrors.IsForbidden(alice.Status().Update(ctx, app))).To(BeTrue(), "the editor wrote the status")
		Expect(apierrors.IsForbidden(alice.Create(ctx, wordpress(elsewhere)))).To(BeTrue(), "the editor created outside its namespace")
		Expect(alice.Delete(ctx, app)).To(Succeed())

		for verb, want := range map[string]bool{"get": true, "update": false, "patch": false} {
			Expect(allowed("nobody", verb, "status", namespace)).To(BeFalse(), "an unbound user may %s the status", verb)
			Expect(allowed("alice", verb, "status", namespace)).To(Equal(want), "alice %s status", verb)
		}
	})

	It("lets a viewer read AppIsolations and their status in the bound namespace, and change nothing", func() {
		namespace := newNamespace()
		bob := bind(install("appisolation_viewer_role.yaml"), "bob", namespace)
		app := wordpress(namespace)
		Expect(k8sClient.Create(ctx, app)).To(Succeed())

		Eventually(func() error {
			return bob.Get(ctx, client.ObjectKeyFromObject(app), &tierwallv1alpha1.AppIsolation{})
		}).Should(Succeed())
		Expect(bob.List(ctx, &tierwallv1alpha1.AppIsolationList{}, client.InNamespace(namespace))).To(Succeed())
		Expect(apierrors.IsForbidden(bob.Create(ctx, wordpress(namespace, func(a *tierwallv1alpha1.AppIsolation) {
			a.Name = "another"
		})))).To(BeTrue(), "the viewer created an AppIsolation")
		Expect(apierrors.IsForbidden(bob.Delete(ctx, app))).To(BeTrue(), "the viewer deleted an AppIsolation")

		for verb, want := range map[string]bool{"get": true, "list": true, "watch": true, "create": false, "update": false, "patch": false, "delete": false} {
			Expect(allowed("bob", verb, "", namespace)).To(Equal(want), "bob %s appisolations", verb)
		}
		Expect(allowed("bob", "get", "status", namespace)).To(BeTrue(), "bob get status")
		Expect(allowed("bob", "get", "", "default")).To(BeFalse(), "bob reads outside the bound namespace")
	})
})
