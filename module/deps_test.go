package module

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestConsumerGetsMsgpAndNothingElse builds the README's complete program
// (testdata/consumer/main.go) as a module of its own, as a user's would (a replace to this folder stands in
// for a tagged release), and checks what it gets: the packages it compiles
// come from the module and msgp only, and its module graph is ours plus
// msgp's own.
func TestConsumerGetsMsgpAndNothingElse(t *testing.T) {
	self, err := filepath.Abs(".")
	require.NoError(t, err)
	dir := t.TempDir()
	const modPath = "github.com/seed-a2a44e50/ngwaf-helloworld/module"
	write := func(name, text string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	write("go.mod", "module example.com/consumer\n\ngo 1.26.0\n\nrequire "+modPath+" v0.0.0-00010101000000-000000000000\n\nreplace "+modPath+" => "+self+"\n")
	// The README's complete program.
	program, err := os.ReadFile(filepath.Join("testdata", "consumer", "main.go"))
	require.NoError(t, err)
	write("main.go", string(program))
	sum, err := os.ReadFile("go.sum")
	require.NoError(t, err)
	write("go.sum", string(sum))

	gocmd := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		require.NoError(t, err, "go %s: %s", strings.Join(args, " "), stderr.String())
		return string(out)
	}
	gocmd("mod", "tidy")
	gocmd("build", "-o", os.DevNull, ".")

	built := strings.Fields(gocmd("list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}", "."))
	slices.Sort(built)
	built = slices.Compact(built)
	assert.Equal(t, []string{"example.com/consumer", "github.com/philhofer/fwd", modPath, "github.com/tinylib/msgp"}, built,
		"modules whose packages the application compiles")

	// Everything in the module graph besides the application and us must be
	// msgp or come from msgp's own go.mod (its code generator's tools).
	var msgpReqs []string
	for line := range strings.Lines(gocmd("mod", "graph")) {
		from, to, ok := strings.Cut(strings.TrimSpace(line), " ")
		if ok && strings.HasPrefix(from, "github.com/tinylib/msgp@") {
			msgpReqs = append(msgpReqs, strings.Split(to, "@")[0])
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(gocmd("list", "-m", "all")), "\n") {
		path := strings.Fields(line)[0]
		switch {
		case path == "example.com/consumer", path == modPath, path == "github.com/tinylib/msgp":
		case slices.Contains(msgpReqs, path):
		default:
			t.Errorf("the application's module graph holds %s, which neither we nor msgp require", line)
		}
	}
}
