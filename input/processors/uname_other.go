//go:build !linux

package processors

// uname is only implemented on Linux; elsewhere runtime.GOARCH is used.
func uname() (machine, release string) { return "", "" }
