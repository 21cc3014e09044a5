module example.com/platform/isolation-envtest

go 1.26.0

require github.com/tierwall/tierwall v0.0.0-00010101000000-000000000000

// In your repository, drop this line and `go get github.com/tierwall/tierwall@<version>`.
replace github.com/tierwall/tierwall => ../..
