package fleettest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Main is the TestMain of a package whose tests run fleetbook as a process: it builds the
// fleetbook command into a temporary directory, sets *bin to its path, runs m's tests, removes
// the directory and exits with the tests' code. A failed build exits 1 before any test runs.
func Main(m *testing.M, bin *string) {
	dir, err := os.MkdirTemp("", "fleetbook-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*bin = filepath.Join(dir, "fleetbook")
	build := exec.Command("go", "build", "-o", *bin, "github.com/fleetbook/fleetbook/cmd/fleetbook")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building fleetbook:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
