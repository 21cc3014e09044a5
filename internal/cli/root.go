// Package cli is the tierwall command line. It previews, without a cluster
// and without the operator, what an AppIsolation means:
//
//   - render: the NetworkPolicies the operator would apply, as YAML;
//   - reach: who can reach whom, given pods, namespaces and policies;
//   - graph: the tier graph the spec declares, as Mermaid or Graphviz DOT;
//   - diff: the flows and policies a change of manifests adds and removes.
//
// Run is the whole program; cmd/tierwall only calls it, so tests run the
// command line end to end with arguments and buffers.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/tierwall/tierwall/internal/evalstate"

	"github.com/spf13/cobra"

	"github.com/tierwall/tierwall/internal/input"
)

// Exit codes of Run.
const (
	// ExitOK means success.
	ExitOK = 0
	// ExitFailure means the input could not be read, rendered or evaluated.
	ExitFailure = 1
	// ExitUsage means the command line is wrong: an unknown command or
	// flag, a bad flag value, a missing -f.
	ExitUsage = 2
)

// Run runs the tierwall command line with args (without the program name),
// and returns the exit code.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return RunAs("tierwall", args, stdin, stdout, stderr)
}

// RunAs is Run for a program named program (the base name of argv[0]): as
// kubectl-tierwall, a kubectl plugin, help and errors say "kubectl tierwall".
func RunAs(program string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCommand(&streams{in: stdin, out: stdout, err: stderr})
	if plugin, ok := strings.CutPrefix(program, "kubectl-"); ok {
		root.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl " + plugin}
	}
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return ExitOK
	}
	if exit, ok := errors.AsType[*exitError](err); ok {
		if exit.err != nil {
			for line := range strings.SplitSeq(exit.err.Error(), "\n") {
				_, _ = fmt.Fprintf(stderr, "error: %s\n", line)
			}
		}
		return exit.code
	}
	if failed, ok := errors.AsType[*failure](err); ok {
		for line := range strings.SplitSeq(failed.err.Error(), "\n") {
			_, _ = fmt.Fprintf(stderr, "error: %s\n", line)
		}
		return ExitFailure
	}
	_, _ = fmt.Fprintf(stderr, "error: %v\nRun '%s --help' for usage.\n", err, cmd.CommandPath())
	return ExitUsage
}

// streams are where a command reads and writes.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

// note tells the user something on stderr that does not fail the command.
func (s *streams) note(format string, args ...any) {
	_, _ = fmt.Fprintf(s.err, "note: "+format+"\n", args...)
}

// notes sends the remarks and progress of internal/state to stderr.
func (s *streams) notes() evalstate.Notes {
	return evalstate.Notes{Note: s.note, Progress: s.progress}
}

// progress tells the user on stderr how a long read is going.
func (s *streams) progress(format string, args ...any) {
	_, _ = fmt.Fprintf(s.err, format+"\n", args...)
}

// failure marks an error in the input, or in rendering or evaluating it, as
// opposed to a usage error.
type failure struct{ err error }

func (f *failure) Error() string { return f.err.Error() }

func (f *failure) Unwrap() error { return f.err }

func fail(err error) error {
	if err == nil {
		return nil
	}
	return &failure{err: err}
}

func newRootCommand(s *streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "tierwall",
		Short: "Preview and check what tierwall AppIsolations and NetworkPolicies allow",
		Long: `tierwall previews what an AppIsolation (tierwall.dev/v1alpha1) means, from
files, without a cluster and without the tierwall operator; reach without -f
evaluates the live cluster of the current kubeconfig context. Installed as
kubectl-tierwall, it is the kubectl plugin "kubectl tierwall".

  render  the NetworkPolicies the operator would apply, as YAML
  reach   who can reach whom, given pods, namespaces and NetworkPolicies, and
          why (--explain)
  graph   the tier graph an AppIsolation declares, as Mermaid or Graphviz DOT
  diff    the flows and policies a change of manifests adds and removes

Input is YAML or JSON, one or more documents per file, as kubectl reads and
writes it; it is read strictly (unknown fields are errors). Exit codes: 0 on
success, 1 when the input cannot be read, rendered or evaluated, 2 for a
usage error; diff has its own, like diff(1): 0 no change, 1 changes, 2 error.`,
		Version:       version(),
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetIn(s.in)
	root.SetOut(s.out)
	root.SetErr(s.err)
	root.CompletionOptions.HiddenDefaultCmd = true
	root.AddCommand(newRenderCommand(s), newReachCommand(s), newGraphCommand(s), newDiffCommand(s))
	return root
}

// version is the module version tierwall was built from: a tag for
// `go install ...@v0.1.0`, "(devel)" for a build from a work tree.
func version() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(devel)"
}

// inputFlags are the -f and -n flags every command has.
type inputFlags struct {
	files     []string
	namespace string
}

func (f *inputFlags) add(cmd *cobra.Command, what string) {
	cmd.Flags().StringArrayVarP(&f.files, "filename", "f", nil,
		what+": a YAML or JSON file of one or more documents, or - for standard input. Repeat for several files.")
	cmd.Flags().StringVarP(&f.namespace, "namespace", "n", "",
		`Namespace of the objects that name none (default "default"). When given, an object in another namespace is an error, as with kubectl.`)
}

// checkUsage reports what is wrong with the flags before anything is read.
func (f *inputFlags) checkUsage() error {
	if len(f.files) == 0 {
		return errors.New("no input: give at least one -f FILE (or -f - for standard input)")
	}
	stdin := 0
	for _, name := range f.files {
		if name == "-" {
			stdin++
		}
	}
	if stdin > 1 {
		return errors.New("-f - is given more than once: standard input can be read only once")
	}
	return nil
}

// read reads every input, and returns all the problems found, joined.
func (f *inputFlags) read(cmd *cobra.Command, s *streams, kinds ...string) (*input.Objects, error) {
	r := input.NewReader(input.Options{
		Kinds:            kinds,
		Namespace:        f.namespace,
		EnforceNamespace: cmd.Flags().Changed("namespace"),
		Explain:          evalstate.Explain,
	})
	var errs []error
	for _, name := range f.files {
		var data []byte
		var err error
		if name == "-" {
			name = "<stdin>"
			data, err = io.ReadAll(s.in)
		} else {
			data, err = os.ReadFile(name)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("cannot read %s: %w", name, unwrapPathError(err)))
			continue
		}
		errs = append(errs, r.Read(name, data))
	}
	return r.Objects(), errors.Join(errs...)
}

// unwrapPathError drops the operation and path of an *os.PathError, which
// the message already names.
func unwrapPathError(err error) error {
	if pathErr, ok := errors.AsType[*os.PathError](err); ok {
		return pathErr.Err
	}
	return err
}

// oneOf checks the value of a flag with a fixed set of values.
func oneOf(flag, value string, allowed ...string) error {
	if slices.Contains(allowed, value) {
		return nil
	}
	return fmt.Errorf("invalid --%s %q: use one of %s", flag, value, strings.Join(allowed, ", "))
}
