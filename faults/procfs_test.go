package faults

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// usage is what a process holds: goroutines, open file descriptors and
// resident memory.
type usage struct {
	goroutines int
	fds        int
	rss        int64 // bytes
}

// processUsage reads a process's open files and resident memory from
// /proc, next to a goroutine count measured by the caller.
func processUsage(pid, goroutines int) (usage, error) {
	fds, err := openFDs(pid)
	if err != nil {
		return usage{}, err
	}
	rss, err := residentBytes(pid)
	if err != nil {
		return usage{}, err
	}
	return usage{goroutines: goroutines, fds: fds, rss: rss}, nil
}

// openFDs counts the entries of /proc/<pid>/fd.
func openFDs(pid int) (int, error) {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, err
	}
	return len(entries), nil
}

// residentBytes reads VmRSS from /proc/<pid>/status.
func residentBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		v, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		kb, unit, _ := strings.Cut(strings.TrimSpace(v), " ")
		n, err := strconv.ParseInt(kb, 10, 64)
		if err != nil || unit != "kB" {
			return 0, fmt.Errorf("/proc/%d/status: VmRSS %q", pid, v)
		}
		return n << 10, nil
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmRSS", pid)
}
