package deploy

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// repoRoot is the main module's directory, where the Dockerfile and the
// compose files live.
const repoRoot = ".."

// loadCompose loads compose files the way `docker compose -f ... -f ...`
// does: schema validation, merging, interpolation (from an empty
// environment, so the caller's variables cannot change the result) and
// consistency checks.
func loadCompose(t *testing.T, files ...string) *types.Project {
	t.Helper()
	var paths []string
	for _, f := range files {
		paths = append(paths, filepath.Join(repoRoot, f))
	}
	opts, err := cli.NewProjectOptions(paths,
		cli.WithWorkingDirectory(repoRoot),
		cli.WithEnv(nil),
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
	)
	require.NoError(t, err)
	project, err := opts.LoadProject(context.Background())
	require.NoErrorf(t, err, "loading %v", files)
	return project
}

func TestCompose(t *testing.T) {
	tests := []struct {
		name     string
		files    []string
		appDials string // the app's second argument
		agentEnv map[string]string
	}{
		{
			name:     "docker-compose.yml: the agent's socket on a shared volume",
			files:    []string{"docker-compose.yml"},
			appDials: defaultSocket,
		},
		{
			name:     "with docker-compose.tcp.yml: the agent on TCP port 9999 of the compose network",
			files:    []string{"docker-compose.yml", "docker-compose.tcp.yml"},
			appDials: "agent:9999",
			agentEnv: map[string]string{"SIGSCI_RPC_ADDRESS": "0.0.0.0:9999"},
		},
	}
	stages := dockerfileStageNames(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := loadCompose(t, tt.files...)
			agent, err := p.GetService("agent")
			require.NoError(t, err)
			app, err := p.GetService("app")
			require.NoError(t, err)
			socket := strings.Contains(tt.appDials, "/")

			t.Run("each service is built from its Dockerfile target", func(t *testing.T) {
				for want, s := range map[string]types.ServiceConfig{"fakeagent": agent, "helloworld": app} {
					require.NotNil(t, s.Build, "service %q has no build", s.Name)
					assert.Equal(t, want, s.Build.Target, "service %q", s.Name)
					assert.Contains(t, stages, s.Build.Target, "the Dockerfile has no stage %q", s.Build.Target)
					_, tag, _ := splitImage(s.Image)
					assert.NotEmpty(t, tag, "service %q: image %q has no tag", s.Name, s.Image)
					assert.NotEqual(t, "latest", tag, "service %q", s.Name)
				}
			})

			t.Run("the agent runs with a read-only root and writes to a named volume at /sigsci/tmp", func(t *testing.T) {
				assert.True(t, agent.ReadOnly, "read_only")
				v := namedVolumeAt(agent, agentTmpMount)
				require.NotNil(t, v, "no named volume at %s in the agent", agentTmpMount)
				assert.False(t, v.ReadOnly)
				assert.Contains(t, p.Volumes, v.Source, "volume %q is not declared", v.Source)
			})

			t.Run("the app shares the agent's volume exactly when it dials the socket", func(t *testing.T) {
				a, b := namedVolumeAt(agent, agentTmpMount), namedVolumeAt(app, agentTmpMount)
				if !socket {
					assert.Nil(t, b, "the app needs no agent volume over TCP")
					return
				}
				require.NotNil(t, b, "the app must mount the agent's volume to reach the socket")
				assert.Equal(t, a.Source, b.Source, "the same volume")
			})

			t.Run("every service runs with a read-only root, no capabilities and no new privileges", func(t *testing.T) {
				for _, s := range []types.ServiceConfig{agent, app} {
					assert.True(t, s.ReadOnly, "service %q: read_only", s.Name)
					assert.Contains(t, s.CapDrop, "ALL", "service %q: cap_drop", s.Name)
					assert.Contains(t, s.SecurityOpt, "no-new-privileges:true", "service %q: security_opt", s.Name)
					assert.NotEqual(t, "root", s.User, "service %q", s.Name)
					assert.False(t, s.Privileged, "service %q", s.Name)
				}
			})

			t.Run("health checks run the binaries' probe subcommands in exec form", func(t *testing.T) {
				for bin, s := range map[string]types.ServiceConfig{"fakeagent": agent, "helloworld": app} {
					require.NotNil(t, s.HealthCheck, "service %q has no healthcheck", s.Name)
					assert.False(t, s.HealthCheck.Disable)
					test := []string(s.HealthCheck.Test)
					require.NotEmpty(t, test)
					assert.Equal(t, "CMD", test[0], "service %q: CMD-SHELL needs a shell, which the image lacks", s.Name)
					assert.Equal(t, []string{bin, "probe"}, test[1:], "service %q", s.Name)
					// Docker engines before 25 and podman's Docker API (1.41)
					// reject start_interval: docker compose refuses to create
					// the container.
					assert.Nil(t, s.HealthCheck.StartInterval, "service %q: start_interval needs Docker Engine 25+", s.Name)
				}
			})

			t.Run("the app listens on every interface and dials the agent as its second argument", func(t *testing.T) {
				assert.Equal(t, []string{"0.0.0.0:8000", tt.appDials}, []string(app.Command))
			})

			t.Run("the agent listens where the app dials", func(t *testing.T) {
				for k, v := range tt.agentEnv {
					got := agent.Environment[k]
					require.NotNil(t, got, "the agent has no %s", k)
					assert.Equal(t, v, *got, k)
				}
				if socket {
					assert.Nil(t, agent.Environment["SIGSCI_RPC_ADDRESS"], "the agent's default address is the socket the app dials")
					return
				}
				host, port, ok := strings.Cut(tt.appDials, ":")
				require.True(t, ok)
				assert.Equal(t, agent.Name, host, "the app dials the agent by its service name")
				listen := agent.Environment["SIGSCI_RPC_ADDRESS"]
				require.NotNil(t, listen)
				assert.True(t, strings.HasSuffix(*listen, ":"+port), "the agent listens on port %s: %s", port, *listen)
				assert.False(t, strings.HasPrefix(*listen, "127.") || strings.HasPrefix(*listen, "localhost"), "the app's container cannot reach the agent's loopback")
				assert.Empty(t, agent.Ports, "the agent's RPC is not published on the host")
			})

			t.Run("the app starts once the agent is healthy", func(t *testing.T) {
				dep, ok := app.DependsOn["agent"]
				require.True(t, ok, "the app does not depend on the agent")
				assert.Equal(t, types.ServiceConditionHealthy, dep.Condition)
			})

			t.Run("the app is published on port 8000", func(t *testing.T) {
				require.Len(t, app.Ports, 1)
				port := app.Ports[0]
				assert.Equal(t, uint32(8000), port.Target)
				assert.Equal(t, "8000", port.Published)
				assert.Contains(t, []string{"", "127.0.0.1"}, port.HostIP)
			})
		})
	}
}

// namedVolumeAt returns the service's named volume mounted at target.
func namedVolumeAt(s types.ServiceConfig, target string) *types.ServiceVolumeConfig {
	i := slices.IndexFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool {
		return v.Target == target && v.Type == types.VolumeTypeVolume
	})
	if i < 0 {
		return nil
	}
	return &s.Volumes[i]
}
