package cli

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/internal/evalstate"
	"github.com/tierwall/tierwall/internal/input"
	"github.com/tierwall/tierwall/internal/report"
	"github.com/tierwall/tierwall/pkg/reach"
)

// Exit codes of diff, like diff(1).
const (
	// ExitNoChange means that both sides allow the same flows and have the
	// same policies.
	ExitNoChange = 0
	// ExitChanges means that flows or policies differ.
	ExitChanges = 1
	// ExitDiffError means that diff could not compare the two sides.
	ExitDiffError = 2
)

// exitError ends the command with an exit code; err, when not nil, is
// printed first.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit code %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// manifestExtensions are the files diff reads in a directory.
var manifestExtensions = []string{".yaml", ".yml", ".json"}

func newDiffCommand(s *streams) *cobra.Command {
	var in inputFlags
	var base, output string
	var states []string
	cmd := &cobra.Command{
		Use:   "diff --base DIR|FILE|GIT-REF -f DIR|FILE... [--state FILE...] [-o text|json]",
		Short: "Show which flows and policies a change of manifests adds and removes",
		Long: `Compare two versions of the same manifests (AppIsolations, NetworkPolicies, or
both) and show what the change does to connectivity: the flows between pods
that it adds (+) and removes (-), the same flows in tier terms (a pod that a
tier of an AppIsolation selects, in either version, is named
namespace/appisolation/tier), and the
policies it creates (+), changes (~) and deletes (-), after rendering the
AppIsolations as the operator would.

-f names the new version: files, or directories read recursively for .yaml,
.yml and .json files. --base names the old version: a file or a directory,
or, when no such path exists, a git revision (a branch, a tag, a commit,
origin/main, HEAD~1) of the repository of the current directory, in which
the same -f paths are read as they were at that revision (a path missing
there is an empty old version: the change adds it).

Flows need pods: --state FILE (repeatable) adds Namespaces and Pods (for
example from kubectl get namespaces,pods -A -o yaml) to both versions. Pods
and Namespaces in the -f files count too. Without pods, only policies are
compared.

Exit codes, as with diff(1): 0 nothing changed, 1 flows or policies changed,
2 the versions could not be read or evaluated.`,
		Example: `  # What does this branch change, compared with main?
  tierwall diff --base origin/main -f deploy/ --state cluster-state.yaml

  # Does the migration from hand-written policies to an AppIsolation keep every flow?
  tierwall diff --base handwritten.yaml -f app.yaml --state pods.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := in.checkUsage(); err != nil {
				return err
			}
			if base == "" {
				return errors.New("no base: give --base DIR|FILE|GIT-REF")
			}
			if err := oneOf("output", output, "text", outputJSON); err != nil {
				return err
			}
			d, err := runDiff(cmd, s, &in, base, states)
			if err != nil {
				return &exitError{code: ExitDiffError, err: err}
			}
			out := d.text()
			if output == outputJSON {
				out = d.json()
			}
			if _, err := s.out.Write(out); err != nil {
				return &exitError{code: ExitDiffError, err: err}
			}
			if d.changed() {
				return &exitError{code: ExitChanges}
			}
			return nil
		},
	}
	in.add(cmd, "The new version: files or directories of AppIsolations, NetworkPolicies, Namespaces and Pods")
	cmd.Flags().StringVar(&base, "base", "", "The old version: a file, a directory, or a git revision of the repository of the current directory.")
	cmd.Flags().StringArrayVar(&states, "state", nil, "Namespaces and Pods to evaluate both versions on (repeatable).")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "Output format: text or json.")
	return cmd
}

// file is the content of one input file.
type file struct {
	name string
	data []byte
}

// runDiff reads and evaluates both versions and compares them.
func runDiff(cmd *cobra.Command, s *streams, in *inputFlags, base string, states []string) (*diffResult, error) {
	var stateFiles []file
	for _, name := range states {
		read, err := readPaths([]string{name})
		if err != nil {
			return nil, err
		}
		stateFiles = append(stateFiles, read...)
	}
	headFiles, err := readPaths(in.files)
	if err != nil {
		return nil, err
	}
	var baseFiles []file
	if _, statErr := os.Stat(base); statErr == nil {
		baseFiles, err = readPaths([]string{base})
	} else {
		baseFiles, err = readPathsAtRevision(s, base, in.files)
	}
	if err != nil {
		return nil, err
	}
	old, err := evaluateVersion(cmd, s, in, "base", append(baseFiles, stateFiles...))
	if err != nil {
		return nil, err
	}
	cur, err := evaluateVersion(cmd, s, in, "new version", append(headFiles, stateFiles...))
	if err != nil {
		return nil, err
	}
	if len(cur.state.Pods) == 0 && len(old.state.Pods) == 0 {
		s.note("no pods in either version: only policies are compared; give --state with the pods to compare flows")
	}
	return compareVersions(old, cur), nil
}

// readPaths reads files, and directories recursively (their .yaml, .yml and
// .json files, sorted by path).
func readPaths(paths []string) ([]file, error) {
	var out []file
	for _, p := range paths {
		if p == "-" {
			return nil, errors.New("diff does not read standard input: give files or directories")
		}
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", p, unwrapPathError(err))
		}
		if !info.IsDir() {
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("cannot read %s: %w", p, unwrapPathError(err))
			}
			out = append(out, file{p, data})
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !slices.Contains(manifestExtensions, filepath.Ext(path)) {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			out = append(out, file{path, data})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", p, err)
		}
	}
	return out, nil
}

// readPathsAtRevision reads paths as they are at revision in the git
// repository of the current directory, with go-git.
func readPathsAtRevision(s *streams, revision string, paths []string) ([]file, error) {
	repo, err := git.PlainOpenWithOptions(".", &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return nil, fmt.Errorf("--base %s is neither a file nor a directory, and the current directory is not in a git repository: %w", revision, err)
	}
	hash, err := repo.ResolveRevision(plumbing.Revision(revision))
	if err != nil {
		return nil, fmt.Errorf("--base %s is neither a file nor a directory, nor a revision of the git repository: %w", revision, err)
	}
	commit, err := repo.CommitObject(*hash)
	if err != nil {
		return nil, fmt.Errorf("cannot read commit %s of --base %s: %w", hash, revision, err)
	}
	tree, err := commit.Tree()
	if err != nil {
		return nil, fmt.Errorf("cannot read the tree of --base %s: %w", revision, err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return nil, fmt.Errorf("cannot find the work tree of the git repository: %w", err)
	}
	root, err := filepath.EvalSymlinks(wt.Filesystem.Root())
	if err != nil {
		return nil, fmt.Errorf("cannot find the work tree of the git repository: %w", err)
	}
	var out []file
	for _, p := range paths {
		rel, err := repoPath(root, p)
		if err != nil {
			return nil, err
		}
		name := revision + ":" + rel
		if f, err := tree.File(rel); err == nil {
			data, err := f.Contents()
			if err != nil {
				return nil, fmt.Errorf("cannot read %s: %w", name, err)
			}
			out = append(out, file{name, []byte(data)})
			continue
		}
		sub := tree
		if rel != "." {
			if sub, err = tree.Tree(rel); err != nil {
				s.note("%s does not exist at %s: the base has none of it", p, revision)
				continue
			}
		}
		var files []file
		err = sub.Files().ForEach(func(f *object.File) error {
			if !slices.Contains(manifestExtensions, filepath.Ext(f.Name)) {
				return nil
			}
			data, err := f.Contents()
			if err != nil {
				return err
			}
			files = append(files, file{revision + ":" + strings.TrimPrefix(rel+"/"+f.Name, "./"), []byte(data)})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", name, err)
		}
		slices.SortFunc(files, func(a, b file) int { return cmp.Compare(a.name, b.name) })
		out = append(out, files...)
	}
	return out, nil
}

// repoPath returns p relative to the repository's work tree root, with
// slashes.
func repoPath(root, p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s is outside the git repository at %s", p, root)
	}
	return filepath.ToSlash(rel), nil
}

// manifestVersion is one side of a diff, evaluated.
type manifestVersion struct {
	state    reach.State
	eval     *reach.Evaluator
	origins  origins
	policies map[string]*networkingv1.NetworkPolicy
}

// evaluateVersion reads, renders and evaluates the files of one version.
func evaluateVersion(cmd *cobra.Command, s *streams, in *inputFlags, what string, files []file) (*manifestVersion, error) {
	r := input.NewReader(input.Options{
		Kinds: []string{input.KindNamespace, input.KindPod, input.KindNetworkPolicy, input.KindAppIsolation,
			input.KindNode, input.KindEndpointSlice},
		Namespace:        in.namespace,
		EnforceNamespace: cmd.Flags().Changed("namespace"),
		Explain:          evalstate.Explain,
	})
	errs := make([]error, 0, len(files))
	for _, f := range files {
		errs = append(errs, r.Read(f.name, f.data))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	objs := r.Objects()
	state, err := evalstate.Reconciled(s.notes(), objs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	e, err := reach.New(state)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, evalstate.PlaceEvalError(err, objs, state.Policies))
	}
	v := &manifestVersion{state: state, eval: e, origins: originsOf(state.Policies), policies: map[string]*networkingv1.NetworkPolicy{}}
	for i := range state.Policies {
		p := &state.Policies[i]
		v.policies[p.Namespace+"/"+p.Name] = p
	}
	return v, nil
}

// tierNames names the pods that tiers of AppIsolations select
// namespace/appisolation/tier, from the generated policies that select them.
func (v *manifestVersion) tierNames() map[string]string {
	names := map[string][]string{}
	governed := map[string]string{}
	for key, p := range v.policies {
		g, ok := v.origins.Origins[key]
		if !ok {
			continue
		}
		view, ok := v.eval.Policy(p.Namespace, p.Name)
		if !ok {
			continue
		}
		for _, pod := range view.Selected {
			podKey := pod.Namespace + "/" + pod.Name
			switch {
			case g.Role == tierwallv1alpha1.RoleTier && g.Tier != "":
				names[podKey] = append(names[podKey], g.AppIsolation+"/"+g.Tier)
			case g.Role == tierwallv1alpha1.RoleDefaultDeny:
				governed[podKey] = g.AppIsolation + "/(no tier)"
			}
		}
	}
	out := governed
	for pod, n := range names {
		slices.Sort(n)
		out[pod] = strings.Join(slices.Compact(n), "+")
	}
	return out
}

// flowKey is an allowed flow, between pods or tiers.
type flowKey struct {
	From     string          `json:"from"`
	To       string          `json:"to"`
	Port     int32           `json:"port"`
	Protocol corev1.Protocol `json:"protocol"`
}

func (f flowKey) String() string {
	return fmt.Sprintf("%s -> %s %d/%s", f.From, f.To, f.Port, f.Protocol)
}

func compareFlowKeys(a, b flowKey) int {
	return cmp.Or(report.ComparePods(a.From, b.From), report.ComparePods(a.To, b.To), cmp.Compare(a.Port, b.Port), cmp.Compare(a.Protocol, b.Protocol))
}

// allowed returns the allowed flows between pods, and between tiers, whose
// pods names names.
func (v *manifestVersion) allowed(names map[string]string) (pods, tiers map[flowKey]bool) {
	name := func(pod string) string { return cmp.Or(names[pod], pod) }
	pods, tiers = map[flowKey]bool{}, map[flowKey]bool{}
	for f := range v.eval.Flows() {
		if !f.Allowed {
			continue
		}
		pods[flowKey{f.From, f.To, f.Port, f.Protocol}] = true
		if t := (flowKey{name(f.From), name(f.To), f.Port, f.Protocol}); t.From != t.To {
			tiers[t] = true
		}
	}
	return pods, tiers
}

// flowChanges are the flows one version allows and the other does not.
type flowChanges struct {
	Added   []flowKey `json:"added"`
	Removed []flowKey `json:"removed"`
}

// policyRef is a policy, with the AppIsolation and tier it was generated for.
type policyRef struct {
	Policy       string `json:"policy"`
	AppIsolation string `json:"appIsolation,omitempty"`
	Tier         string `json:"tier,omitempty"`
}

// policyChanges are the policies created, changed and deleted.
type policyChanges struct {
	Created []policyRef `json:"created"`
	Changed []policyRef `json:"changed"`
	Deleted []policyRef `json:"deleted"`
}

// diffResult is the output of diff.
type diffResult struct {
	Flows     flowChanges   `json:"flows"`
	TierFlows flowChanges   `json:"tierFlows"`
	Policies  policyChanges `json:"policies"`
	// origins names generated policies of both versions, for the text.
	origins origins
}

func (d *diffResult) changed() bool {
	return len(d.Flows.Added)+len(d.Flows.Removed)+len(d.Policies.Created)+len(d.Policies.Changed)+len(d.Policies.Deleted) > 0
}

// compareVersions diffs the flows and policies of two versions.
func compareVersions(old, cur *manifestVersion) *diffResult {
	d := &diffResult{
		Flows:     flowChanges{Added: []flowKey{}, Removed: []flowKey{}},
		TierFlows: flowChanges{Added: []flowKey{}, Removed: []flowKey{}},
		Policies:  policyChanges{Created: []policyRef{}, Changed: []policyRef{}, Deleted: []policyRef{}},
		origins:   origins{report.Origins{}},
	}
	maps.Copy(d.origins.Origins, old.origins.Origins)
	maps.Copy(d.origins.Origins, cur.origins.Origins)
	// One naming for both versions, so that a pod that a tier selects in
	// either version is compared under its tier's name.
	names := old.tierNames()
	maps.Copy(names, cur.tierNames())
	oldPods, oldTiers := old.allowed(names)
	curPods, curTiers := cur.allowed(names)
	d.Flows = diffFlows(oldPods, curPods)
	d.TierFlows = diffFlows(oldTiers, curTiers)

	ref := func(key string) policyRef {
		g := d.origins.Origins[key]
		return policyRef{Policy: key, AppIsolation: g.AppIsolation, Tier: g.Tier}
	}
	for _, key := range slices.SortedFunc(maps.Keys(cur.policies), report.ComparePods) {
		p, ok := old.policies[key]
		switch {
		case !ok:
			d.Policies.Created = append(d.Policies.Created, ref(key))
		case !apiequality.Semantic.DeepEqual(p.Spec, cur.policies[key].Spec) || !maps.Equal(p.Labels, cur.policies[key].Labels):
			d.Policies.Changed = append(d.Policies.Changed, ref(key))
		}
	}
	for _, key := range slices.SortedFunc(maps.Keys(old.policies), report.ComparePods) {
		if _, ok := cur.policies[key]; !ok {
			d.Policies.Deleted = append(d.Policies.Deleted, ref(key))
		}
	}
	return d
}

func diffFlows(old, cur map[flowKey]bool) flowChanges {
	c := flowChanges{Added: []flowKey{}, Removed: []flowKey{}}
	for f := range cur {
		if !old[f] {
			c.Added = append(c.Added, f)
		}
	}
	for f := range old {
		if !cur[f] {
			c.Removed = append(c.Removed, f)
		}
	}
	slices.SortFunc(c.Added, compareFlowKeys)
	slices.SortFunc(c.Removed, compareFlowKeys)
	return c
}

// text writes the diff for people, and for a pull request comment.
func (d *diffResult) text() []byte {
	var b bytes.Buffer
	if !d.changed() {
		b.WriteString("No change: both versions have the same policies and allow the same flows.\n")
		return b.Bytes()
	}
	flows := func(title string, c flowChanges) {
		if len(c.Added)+len(c.Removed) == 0 {
			return
		}
		fmt.Fprintf(&b, "%s:\n", title)
		for _, f := range c.Added {
			fmt.Fprintf(&b, "+ %s\n", f)
		}
		for _, f := range c.Removed {
			fmt.Fprintf(&b, "- %s\n", f)
		}
		b.WriteByte('\n')
	}
	flows("Flows between pods", d.Flows)
	flows("Flows between tiers", d.TierFlows)
	if n := len(d.Policies.Created) + len(d.Policies.Changed) + len(d.Policies.Deleted); n > 0 {
		b.WriteString("Policies:\n")
		for _, group := range []struct {
			mark string
			refs []policyRef
		}{{"+", d.Policies.Created}, {"~", d.Policies.Changed}, {"-", d.Policies.Deleted}} {
			for _, r := range group.refs {
				fmt.Fprintf(&b, "%s %s%s\n", group.mark, r.Policy, d.origins.describe(r.Policy))
			}
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "%s added, %s removed; %s created, %d changed, %d deleted.\n",
		plural(len(d.Flows.Added), "flow"), plural(len(d.Flows.Removed), "flow"),
		plural(len(d.Policies.Created), "policy"), len(d.Policies.Changed), len(d.Policies.Deleted))
	return b.Bytes()
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if before, ok := strings.CutSuffix(word, "y"); ok {
		return fmt.Sprintf("%d %sies", n, before)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// json writes the diff as an indented JSON object.
func (d *diffResult) json() []byte {
	data, _ := json.MarshalIndent(d, "", "  ") // cannot fail: strings and numbers
	return append(data, '\n')
}
