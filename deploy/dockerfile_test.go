package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dockerfile is the parsed Dockerfile with its stages by name.
type dockerfile struct {
	stages   []instructions.Stage
	byName   map[string]*instructions.Stage
	metaArgs map[string]string
}

// parseDockerfile parses ../Dockerfile with BuildKit's own parser, as
// `docker build` does, and fails on its warnings and build-check findings.
func parseDockerfile(t *testing.T) dockerfile {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "Dockerfile"))
	require.NoError(t, err)
	defer f.Close()
	res, err := parser.Parse(f)
	require.NoError(t, err, "parsing the Dockerfile")
	for _, w := range res.Warnings {
		t.Errorf("Dockerfile: parser warning: %s", w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, description, url, msg string, loc []parser.Range) {
		t.Errorf("Dockerfile: build check %s at %v: %s", rule, loc, msg)
	}})
	stages, metaArgs, err := instructions.Parse(res.AST, lint)
	require.NoError(t, err, "reading the Dockerfile's instructions")
	d := dockerfile{stages: stages, byName: map[string]*instructions.Stage{}, metaArgs: map[string]string{}}
	for i := range stages {
		if stages[i].Name != "" {
			d.byName[stages[i].Name] = &stages[i]
		}
	}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			d.metaArgs[kv.Key] = kv.ValueString()
		}
	}
	return d
}

// dockerfileStageNames lists the Dockerfile's named stages (build targets).
func dockerfileStageNames(t *testing.T) []string {
	t.Helper()
	var names []string
	for name := range parseDockerfile(t).byName {
		names = append(names, name)
	}
	return names
}

// chain returns a stage followed by the stages it is built FROM, up to the
// one on an external image.
func (d dockerfile) chain(s *instructions.Stage) []*instructions.Stage {
	out := []*instructions.Stage{s}
	for {
		parent, ok := d.byName[strings.ToLower(d.expand(s.BaseName))]
		if !ok || slices.Contains(out, parent) {
			return out
		}
		out = append(out, parent)
		s = parent
	}
}

// expand substitutes the Dockerfile's global ARG defaults into a FROM.
func (d dockerfile) expand(s string) string {
	return os.Expand(s, func(k string) string { return d.metaArgs[k] })
}

// externalImage is the image a stage is ultimately built from.
func (d dockerfile) externalImage(s *instructions.Stage) string {
	c := d.chain(s)
	return d.expand(c[len(c)-1].BaseName)
}

func commands[T instructions.Command](stages ...*instructions.Stage) []T {
	var out []T
	for _, s := range stages {
		for _, c := range s.Commands {
			if v, ok := c.(T); ok {
				out = append(out, v)
			}
		}
	}
	return out
}

func TestDockerfile(t *testing.T) {
	d := parseDockerfile(t)

	t.Run("every base image is pinned to a version, never latest", func(t *testing.T) {
		for i := range d.stages {
			s := &d.stages[i]
			if _, internal := d.byName[strings.ToLower(d.expand(s.BaseName))]; internal {
				continue
			}
			image := d.expand(s.BaseName)
			require.NotContains(t, image, "$", "stage %q: FROM %s has an unresolved variable", s.Name, s.BaseName)
			_, tag, digest := splitImage(image)
			assert.True(t, tag != "" || digest != "", "stage %q: FROM %s has no tag", s.Name, image)
			assert.NotEqual(t, "latest", tag, "stage %q: FROM %s", s.Name, image)
			if digest != "" {
				assert.Regexp(t, `^sha256:[0-9a-f]{64}$`, digest, "stage %q", s.Name)
			}
		}
	})

	build := d.byName["build"]
	t.Run("the build stage uses Go 1.27.3 and builds both binaries statically with a stamped version", func(t *testing.T) {
		require.NotNil(t, build, "no stage named build")
		repo, tag, _ := splitImage(d.externalImage(build))
		assert.Equal(t, "golang", repo)
		assert.Regexp(t, `^1\.27\.3(-|$)`, tag, "the golang image matches the project's go1.27.3 toolchain")

		env := map[string]string{}
		for _, e := range commands[*instructions.EnvCommand](build) {
			for _, kv := range e.Env {
				env[kv.Key] = kv.Value
			}
		}
		assert.Contains(t, []string{"local", "go1.27.3"}, env["GOTOOLCHAIN"], "GOTOOLCHAIN: use the image's Go, download nothing")

		var goBuild string
		for _, r := range commands[*instructions.RunCommand](build) {
			if line := strings.Join(r.CmdLine, " "); strings.Contains(line, "go build") {
				goBuild = line
			}
		}
		require.NotEmpty(t, goBuild, "no RUN go build")
		assert.True(t, env["CGO_ENABLED"] == "0" || strings.Contains(goBuild, "CGO_ENABLED=0"), "CGO_ENABLED=0: the runtime image has no libc")
		assert.Contains(t, goBuild, "-trimpath")
		assert.Regexp(t, regexp.MustCompile(`-X main\.version=\$\{?VERSION\}?`), goBuild, "the version is stamped from the VERSION build arg")
		assert.Contains(t, goBuild, "./cmd/helloworld")
		assert.Contains(t, goBuild, "./cmd/fakeagent")
		assert.Contains(t, argNames(build), "VERSION")
	})

	t.Run("nothing is ADDed from a URL", func(t *testing.T) {
		for i := range d.stages {
			for _, a := range commands[*instructions.AddCommand](&d.stages[i]) {
				for _, src := range a.SourcePaths {
					assert.NotRegexp(t, `^(https?://|git@|git://)`, src, "stage %q: ADD %s; fetch with a checksum in a build stage instead", d.stages[i].Name, src)
				}
			}
		}
	})

	targets := []struct {
		name, binary string
		volume       string // a declared writable place, if any
	}{
		{name: "helloworld", binary: "helloworld"},
		{name: "fakeagent", binary: "fakeagent", volume: agentTmpMount},
	}
	for _, target := range targets {
		t.Run("target "+target.name, func(t *testing.T) {
			s := d.byName[target.name]
			require.NotNil(t, s, "no stage %q: `docker build --target %s` would fail", target.name, target.name)
			chain := d.chain(s)

			t.Run("runs on a minimal distroless base", func(t *testing.T) {
				repo, tag, _ := splitImage(d.externalImage(s))
				assert.Equal(t, "gcr.io/distroless/static-debian12", repo)
				assert.Contains(t, tag, "nonroot")
				assert.Empty(t, commands[*instructions.RunCommand](chain...), "RUN needs a shell, which the image lacks")
			})

			t.Run("runs as a numeric non-root user", func(t *testing.T) {
				user, ok := effectiveUser(chain)
				require.True(t, ok, "no USER: the image would run as its base's user")
				uid, _, _ := strings.Cut(user, ":")
				assert.Regexp(t, `^[0-9]+$`, uid, "numeric, so that Kubernetes' runAsNonRoot can verify it")
				assert.NotEqual(t, "0", uid)
			})

			t.Run("starts its binary in exec form", func(t *testing.T) {
				eps := commands[*instructions.EntrypointCommand](s)
				require.NotEmpty(t, eps, "no ENTRYPOINT")
				ep := eps[len(eps)-1]
				assert.False(t, ep.PrependShell, "shell form needs /bin/sh")
				assert.Equal(t, target.binary, filepath.Base(ep.CmdLine[0]))
				copied := false
				for _, c := range commands[*instructions.CopyCommand](s) {
					if c.From == "build" && filepath.Base(c.SourcePaths[0]) == target.binary {
						copied = true
					}
				}
				assert.True(t, copied, "the binary is copied from the build stage")
			})

			t.Run("checks its health with its own probe subcommand, no shell", func(t *testing.T) {
				hcs := commands[*instructions.HealthCheckCommand](s)
				require.NotEmpty(t, hcs, "no HEALTHCHECK")
				test := hcs[len(hcs)-1].Health.Test
				require.NotEmpty(t, test)
				assert.Equal(t, "CMD", test[0], "CMD-SHELL needs a shell")
				require.Len(t, test, 3)
				assert.Equal(t, target.binary, filepath.Base(test[1]))
				assert.Equal(t, "probe", test[2])
				// buildah (podman build) and Docker engines before 25 do not
				// know --start-interval and refuse the Dockerfile.
				assert.Zero(t, hcs[len(hcs)-1].Health.StartInterval, "HEALTHCHECK --start-interval breaks older builders")
			})

			if target.volume == "" {
				return
			}
			t.Run("declares "+target.volume+" as its writable place, owned by its user", func(t *testing.T) {
				var volumes []string
				for _, v := range commands[*instructions.VolumeCommand](s) {
					volumes = append(volumes, v.Volumes...)
				}
				assert.Contains(t, volumes, target.volume)
				user, ok := effectiveUser(chain)
				require.True(t, ok, "no USER")
				owned := false
				for _, c := range commands[*instructions.CopyCommand](s) {
					dest := strings.TrimSuffix(c.DestPath, "/")
					if c.Chown == user && (dest == target.volume || strings.HasPrefix(target.volume, dest+"/")) {
						owned = true
					}
				}
				assert.True(t, owned, "a COPY --chown=%s creates %s, so a fresh volume is writable by the user", user, target.volume)
			})
		})
	}
}

// effectiveUser is the user a stage's image runs as: its last USER, or
// else the last one of the nearest stage it is built from.
func effectiveUser(chain []*instructions.Stage) (string, bool) {
	for _, s := range chain {
		if users := commands[*instructions.UserCommand](s); len(users) > 0 {
			return users[len(users)-1].User, true
		}
	}
	return "", false
}

func argNames(s *instructions.Stage) []string {
	var names []string
	for _, a := range commands[*instructions.ArgCommand](s) {
		for _, kv := range a.Args {
			names = append(names, kv.Key)
		}
	}
	return names
}
