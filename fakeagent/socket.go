package fakeagent

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// listenUnix listens on a Unix socket at path with the given permissions:
// it creates the parent directory if missing, replaces a stale socket left
// by a previous run, and refuses a path that is not a socket or on which
// something still listens. It returns the listener and the socket file's
// identity, so that only this very socket is removed at shutdown.
func listenUnix(path string, mode os.FileMode, log *slog.Logger) (*net.UnixListener, os.FileInfo, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, nil, fmt.Errorf("fakeagent: creating the socket directory: %w", err)
	}
	switch fi, err := os.Lstat(path); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, nil, fmt.Errorf("fakeagent: checking socket path: %w", err)
	case fi.Mode().Type() != fs.ModeSocket:
		return nil, nil, fmt.Errorf("fakeagent: socket path %s exists and is %s, not a socket; refusing to replace it", path, fileKind(fi.Mode()))
	default:
		if err := checkStale(path); err != nil {
			return nil, nil, err
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("fakeagent: removing stale socket: %w", err)
		}
		log.Info("removed stale socket", "path", path)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, nil, fmt.Errorf("fakeagent: %w", err)
	}
	// Shutdown removes the socket itself, and only if it is still ours.
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (*net.UnixListener, os.FileInfo, error) {
		_ = ln.Close()
		_ = os.Remove(path)
		return nil, nil, err
	}
	if err := os.Chmod(path, mode); err != nil {
		return fail(fmt.Errorf("fakeagent: setting socket permissions: %w", err))
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fail(fmt.Errorf("fakeagent: %w", err))
	}
	return ln, fi, nil
}

// checkStale returns nil if nothing listens on the socket at path.
func checkStale(path string) error {
	c, err := net.DialTimeout("unix", path, time.Second)
	switch {
	case err == nil:
		_ = c.Close()
		return fmt.Errorf("fakeagent: socket path %s: another process is listening on it", path)
	case errors.Is(err, syscall.ECONNREFUSED):
		return nil
	default:
		return fmt.Errorf("fakeagent: checking whether socket %s is stale: %w", path, err)
	}
}

// removeSocket removes the socket file at path if it is still the one
// described by ours (a newer agent may have replaced it).
func removeSocket(path string, ours os.FileInfo) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !os.SameFile(fi, ours) {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// fileKind describes the type of a file for an error message.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "a " + m.Type().String() + " file"
}
