// Command tierwall previews what tierwall AppIsolations mean, from files and
// without a cluster: the NetworkPolicies they render to (render), who can
// reach whom (reach), and their tier graph (graph). See docs/cli.md.
package main

import (
	"os"

	"github.com/tierwall/tierwall/internal/cli"
)

func main() {
	os.Exit(cli.Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
