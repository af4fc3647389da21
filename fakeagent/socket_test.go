package fakeagent

import (
	"context"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUnixSocketHygiene(t *testing.T) {
	t.Run("a stale socket is replaced", func(t *testing.T) {
		path := shortSocketPath(t)
		old, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		require.NoError(t, err)
		old.SetUnlinkOnClose(false)
		require.NoError(t, old.Close())
		require.FileExists(t, path)

		var logs logBuffer
		s := Start(t, WithAddress(path), withLogs(&logs))
		moduleInit(t, dial(t, s))
		assert.Contains(t, logs.String(), "removed stale socket")
	})
	t.Run("a socket something listens on is refused", func(t *testing.T) {
		path := shortSocketPath(t)
		live, err := net.Listen("unix", path)
		require.NoError(t, err)
		defer live.Close()

		s, err := New(Config{Address: path})
		require.NoError(t, err)
		err = s.Listen()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "another process is listening")
	})
	t.Run("a path that is not a socket is refused and left alone", func(t *testing.T) {
		path := shortSocketPath(t)
		require.NoError(t, os.WriteFile(path, []byte("precious"), 0o600))

		s, err := New(Config{Address: path})
		require.NoError(t, err)
		err = s.Listen()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "is a regular file, not a socket")
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Equal(t, "precious", string(b))
		require.NoError(t, s.Close())
	})
	t.Run("a missing parent directory is created", func(t *testing.T) {
		path := filepath.Join(filepath.Dir(shortSocketPath(t)), "a", "b", "sigsci.sock")
		s := Start(t, WithAddress(path))
		moduleInit(t, dial(t, s))
	})
	t.Run("the socket lets any user connect and is removed at shutdown", func(t *testing.T) {
		s := Start(t)
		fi, err := os.Lstat(s.Addr())
		require.NoError(t, err)
		assert.Equal(t, fs.ModeSocket, fi.Mode().Type())
		assert.Equal(t, DefaultSocketMode, fi.Mode().Perm())

		shutdown(t, s)
		assert.NoFileExists(t, s.Addr())
	})
	t.Run("the socket mode is configurable", func(t *testing.T) {
		s := Start(t, Option(func(c *Config) { c.SocketMode = 0o660 }))
		fi, err := os.Lstat(s.Addr())
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o660), fi.Mode().Perm())
	})
	t.Run("a socket replaced by another agent is not removed", func(t *testing.T) {
		s := Start(t)
		require.NoError(t, os.Remove(s.Addr()))
		other, err := net.Listen("unix", s.Addr())
		require.NoError(t, err)
		defer other.Close()

		shutdown(t, s)
		assert.FileExists(t, s.Addr())
	})
}

// tree lists the paths under root, relative to it.
func tree(t testing.TB, root string) []string {
	t.Helper()
	var paths []string
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		paths = append(paths, rel)
		return err
	}))
	slices.Sort(paths)
	return paths
}

// names lists the entries of dir.
func names(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var n []string
	for _, e := range entries {
		n = append(n, e.Name())
	}
	return n
}

func TestWritesOnlyUnderTheSocketAndCacheDirectories(t *testing.T) {
	root := filepath.Dir(shortSocketPath(t))
	require.NoError(t, os.Mkdir(filepath.Join(root, "untouched"), 0o755))
	cwdBefore := names(t, ".")

	s, err := New(Config{
		Address:              filepath.Join(root, "tmp", "sigsci.sock"),
		SharedCacheDir:       filepath.Join(root, "tmp", "cache"),
		StartupProbeFilepath: filepath.Join(root, "tmp", "startup"),
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()
	<-s.Ready()
	cl := dial(t, s)
	moduleInit(t, cl)
	pre(t, cl, sqli())
	cancel()
	require.NoError(t, <-served)

	assert.Equal(t, []string{
		".", "tmp", "tmp/cache", "tmp/cache/rules.json", "tmp/cache/state.json", "untouched",
	}, tree(t, root), "the socket and the probe file are gone, no temporary file is left")
	assert.Equal(t, cwdBefore, names(t, "."), "nothing written in the working directory")
}
