// Command tierwall previews what tierwall AppIsolations mean, from files or
// a live cluster: the NetworkPolicies they render to (render), who can reach
// whom and why (reach), what a change opens and closes (diff), and their
// tier graph (graph). Installed as kubectl-tierwall, it is a kubectl plugin.
// See docs/cli.md.
package main

import (
	"os"
	"path/filepath"

	"github.com/tierwall/tierwall/internal/cli"
)

func main() {
	// As kubectl-tierwall (a copy or a link), it is the kubectl plugin
	// `kubectl tierwall`.
	os.Exit(cli.RunAs(filepath.Base(os.Args[0]), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
