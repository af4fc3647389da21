package faults

import (
	"fmt"
	"os"
	"os/exec"
	"testing"

	"go.uber.org/goleak"
)

// modulePath is the main module, whose commands the suite builds.
const modulePath = "github.com/seed-a2a44e50/ngwaf-helloworld"

// binDir holds the helloworld and fakeagent binaries built for this run.
var binDir string

// TestMain builds the binaries once, runs the tests, prints the per-case
// summary and checks that the tests themselves left no goroutines behind.
func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "faults-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// The binaries are built without -race whatever the tests use: they
	// are what users run, and the race detector would distort timings.
	build := exec.Command("go", "build", "-o", dir+string(os.PathSeparator),
		modulePath+"/cmd/helloworld", modulePath+"/cmd/fakeagent")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "faults: building the binaries:", err)
		return 1
	}
	binDir = dir

	code := m.Run()
	if s := summary.markdown(); s != "" {
		fmt.Print(s)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "faults: the tests leaked goroutines:", err)
			code = 1
		}
	}
	return code
}
