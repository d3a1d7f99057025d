//go:build tools

// Package tools pins the build tools the repository runs with `go run`
// (mage), so go.mod and go.sum keep them.
package tools

import _ "github.com/magefile/mage"
