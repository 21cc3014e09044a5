package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-cmp/cmp"
)

const (
	cachePod = "testdata/diff/cache-pod.yaml"
)

func TestDiffGolden(t *testing.T) {
	state := []string{"--state", pods, "--state", cachePod}
	tests := []struct {
		name   string
		args   []string
		code   int
		golden string
	}{
		{"a tier added", []string{"--base", sample, "-f", "testdata/diff/tier-added.yaml"}, ExitChanges, "diff/tier-added.txt"},
		{"a port changed", []string{"--base", sample, "-f", "testdata/diff/port-changed.yaml"}, ExitChanges, "diff/port-changed.txt"},
		{"a selector narrowed", []string{"--base", sample, "-f", "testdata/diff/selector-narrowed.yaml"}, ExitChanges, "diff/selector-narrowed.txt"},
		{"the migration from the hand-written policies", []string{"--base", handwritten, "-f", sample}, ExitChanges, "diff/migration.txt"},
		{"the migration, as JSON", []string{"--base", handwritten, "-f", sample, "-o", "json"}, ExitChanges, "diff/migration.json"},
		{"no change", []string{"--base", sample, "-f", sample}, ExitNoChange, "diff/no-change.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run("", append(append([]string{"diff"}, tt.args...), state...)...)
			if code != tt.code || stderr != "" {
				t.Fatalf("exit code %d (want %d), stderr:\n%s", code, tt.code, stderr)
			}
			golden(t, tt.golden, stdout)
		})
	}
}

func TestDiffJSONSchema(t *testing.T) {
	_, stdout, _ := run("", "diff", "--base", sample, "-f", "testdata/diff/tier-added.yaml", "--state", pods, "--state", cachePod, "-o", "json")
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"flows": map[string]any{
			"added":   []any{map[string]any{"from": "dev-wordpress/wordpress", "to": "dev-wordpress/redis", "port": 6379.0, "protocol": "TCP"}},
			"removed": []any{},
		},
		"tierFlows": map[string]any{
			"added":   []any{map[string]any{"from": "dev-wordpress/wordpress/frontend", "to": "dev-wordpress/wordpress/cache", "port": 6379.0, "protocol": "TCP"}},
			"removed": []any{},
		},
		"policies": map[string]any{
			"created": []any{map[string]any{"policy": "dev-wordpress/wordpress-tier-cache", "appIsolation": "dev-wordpress/wordpress", "tier": "cache"}},
			"changed": []any{map[string]any{"policy": "dev-wordpress/wordpress-tier-frontend", "appIsolation": "dev-wordpress/wordpress", "tier": "frontend"}},
			"deleted": []any{},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("diff -o json (-want +got):\n%s", diff)
	}
}

func TestDiffErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("kind: AppIsolation\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string // contained in stderr
	}{
		{"no base", []string{"-f", sample}, ExitDiffError, "error: no base: give --base DIR|FILE|GIT-REF"},
		{"no -f", []string{"--base", sample}, ExitDiffError, "error: no input"},
		{"a missing -f", []string{"--base", sample, "-f", missing}, ExitDiffError, "error: cannot read " + missing + ": no such file or directory"},
		{"an invalid new version", []string{"--base", sample, "-f", bad}, ExitDiffError, "error: new version: " + bad + ":1:"},
		{"an unknown revision", []string{"--base", "no-such-branch", "-f", sample}, ExitDiffError, "error: --base no-such-branch is neither a file nor a directory, nor a revision of the git repository"},
		{"a bad -o", []string{"--base", sample, "-f", sample, "-o", "yaml"}, ExitDiffError, `error: invalid --output "yaml": use one of text, json`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run("", append([]string{"diff"}, tt.args...)...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit code %d, stderr %q; want %d and %q", code, stderr, tt.code, tt.stderr)
			}
		})
	}
}

// TestDiffGitRevision compares the work tree of a temporary repository
// with its commits.
func TestDiffGitRevision(t *testing.T) {
	handwrittenAbs, err := filepath.Abs(handwritten)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	commit := func(msg string) {
		t.Helper()
		if _, err := wt.Add("."); err != nil {
			t.Fatal(err)
		}
		sig := &object.Signature{Name: "test", Email: "test@example.com", When: time.Unix(0, 0)}
		if _, err := wt.Commit(msg, &git.CommitOptions{Author: sig}); err != nil {
			t.Fatal(err)
		}
	}
	write("state/pods.yaml", readFile(t, pods)+"---\n"+readFile(t, cachePod))
	write("deploy/app.yaml", readFile(t, sample))
	commit("the sample")
	write("deploy/app.yaml", readFile(t, "testdata/diff/tier-added.yaml"))
	commit("a cache tier")
	write("deploy/app.yaml", readFile(t, "testdata/diff/port-changed.yaml"))
	want := readFile(t, "testdata/diff/port-changed.txt")
	tierAdded := readFile(t, "testdata/diff/tier-added.yaml")
	t.Chdir(filepath.Join(dir, "deploy"))

	// The work tree against the commit before the last: the port change.
	code, stdout, stderr := run("", "diff", "--base", "HEAD~1", "-f", "app.yaml", "--state", "../state/pods.yaml")
	if code != ExitChanges || stderr != "" {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
	}
	if diff := cmp.Diff(want, stdout); diff != "" {
		t.Errorf("diff --base HEAD~1 (-want +got):\n%s", diff)
	}

	// The directory, against the last commit: the cache tier goes too.
	code, stdout, _ = run("", "diff", "--base", "HEAD", "-f", ".", "--state", "../state/pods.yaml")
	for _, line := range []string{
		"- dev-wordpress/wordpress -> dev-wordpress/redis 6379/TCP\n",
		"- kube-system/traefik -> dev-wordpress/wordpress 80/TCP\n",
		"- dev-wordpress/wordpress-tier-cache (AppIsolation dev-wordpress/wordpress, tier cache)\n",
	} {
		if code != ExitChanges || !strings.Contains(stdout, line) {
			t.Errorf("diff --base HEAD -f . exits %d, and does not show %q:\n%s", code, line, stdout)
		}
	}

	// The same, with a clean work tree: no change.
	write("deploy/app.yaml", tierAdded)
	if code, stdout, _ := run("", "diff", "--base", "HEAD", "-f", ".", "--state", "../state/pods.yaml"); code != ExitNoChange {
		t.Errorf("diff of a clean work tree exits %d:\n%s", code, stdout)
	}

	// A file that the base revision does not have is an empty old version.
	write("deploy/new/extra.yaml", readFile(t, handwrittenAbs))
	code, stdout, stderr = run("", "diff", "--base", "HEAD", "-f", "new", "--state", "../state/pods.yaml")
	if code != ExitChanges || !strings.Contains(stdout, "+ dev-wordpress/allow-mysql\n") || !strings.Contains(stderr, "new does not exist at HEAD") {
		t.Errorf("diff of a new directory exits %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}
