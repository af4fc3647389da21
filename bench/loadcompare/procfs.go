package loadcompare

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// CPUTime is the user+system CPU time a process has used, all threads
// included, read from /proc/<pid>/stat.
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading CPU time of pid %d: %w", pid, err)
	}
	return parseStatCPU(b, clockTicks)
}

// parseStatCPU extracts utime+stime (fields 14 and 15) from the contents
// of /proc/<pid>/stat. The command name (field 2) may hold spaces and
// parentheses, so fields are counted from its last ')'.
func parseStatCPU(stat []byte, ticksPerSecond int64) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc stat %q: no command name", truncate(stat))
	}
	// After ")" come field 3 (state) onwards; utime is field 14.
	fields := strings.Fields(string(stat[i+1:]))
	const utime, stime = 14 - 3, 15 - 3
	if len(fields) <= stime {
		return 0, fmt.Errorf("/proc stat %q: %d fields after the command name, want more than %d", truncate(stat), len(fields), stime)
	}
	var ticks int64
	for _, f := range []string{fields[utime], fields[stime]} {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc stat: CPU ticks %q: %w", f, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / time.Duration(ticksPerSecond), nil
}

func truncate(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

// clockTicks is the kernel's USER_HZ, the unit of /proc CPU times.
var clockTicks = readClockTicks()

// readClockTicks reads AT_CLKTCK from the process's auxiliary vector (what
// sysconf(_SC_CLK_TCK) returns), falling back to 100, Linux's value on
// every common architecture.
func readClockTicks() int64 {
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return 100
	}
	if n := parseAuxvClockTicks(b); n > 0 {
		return n
	}
	return 100
}

// parseAuxvClockTicks finds AT_CLKTCK (17) in a 64-bit little-endian
// auxiliary vector; 0 when absent.
func parseAuxvClockTicks(auxv []byte) int64 {
	const atClkTck, atNull = 17, 0
	for len(auxv) >= 16 {
		key := binary.LittleEndian.Uint64(auxv)
		val := binary.LittleEndian.Uint64(auxv[8:])
		auxv = auxv[16:]
		switch key {
		case atNull:
			return 0
		case atClkTck:
			return int64(val)
		}
	}
	return 0
}

// Socket is one TCP connection as /proc/net/tcp lists it, addresses in the
// kernel's hexadecimal notation.
type Socket struct {
	Local, Remote string // "0100007F:1F90" (IP:port, hex)
}

// Port returns the port of a /proc/net/tcp address.
func Port(addr string) int {
	_, p, ok := strings.Cut(addr, ":")
	if !ok {
		return -1
	}
	n, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return -1
	}
	return int(n)
}

// HasPort reports whether either end of s uses port.
func (s Socket) HasPort(port int) bool { return Port(s.Local) == port || Port(s.Remote) == port }

// tcpTimeWait is the TIME_WAIT state code in /proc/net/tcp.
const tcpTimeWait = "06"

// TimeWaitSockets returns the sockets in TIME_WAIT on this machine's
// network namespace, IPv4 and IPv6.
func TimeWaitSockets() (map[Socket]bool, error) {
	set := make(map[Socket]bool)
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if os.IsNotExist(err) && f == "/proc/net/tcp6" {
			continue // no IPv6 in this kernel
		}
		if err != nil {
			return nil, fmt.Errorf("reading TIME_WAIT sockets: %w", err)
		}
		if err := parseNetTCP(b, tcpTimeWait, set); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	return set, nil
}

// parseNetTCP adds the sockets of /proc/net/tcp{,6} contents in state to
// set.
func parseNetTCP(b []byte, state string, set map[Socket]bool) error {
	sc := bufio.NewScanner(bytes.NewReader(b))
	first := true
	for sc.Scan() {
		if first { // the header line
			first = false
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 4 {
			continue
		}
		// sl local_address rem_address st ...
		if f[3] == state {
			set[Socket{Local: f[1], Remote: f[2]}] = true
		}
	}
	return sc.Err()
}

// NewSockets counts the sockets in after that were not in before, in all
// and (when port > 0) those with an end on port.
func NewSockets(before, after map[Socket]bool, port int) (all, onPort int) {
	for s := range after {
		if before[s] {
			continue
		}
		all++
		if port > 0 && s.HasPort(port) {
			onPort++
		}
	}
	return all, onPort
}

// MachineCPU is the whole machine's CPU time, summed over cores, from the
// first line of /proc/stat. Busy is user, nice, system and steal time; IRQ
// is interrupt and softirq time (loopback networking runs much of its work
// there, and the kernel charges it to no process); Total adds idle and
// iowait.
type MachineCPU struct {
	Busy, IRQ, Total time.Duration
}

// ReadMachineCPU reads /proc/stat.
func ReadMachineCPU() (MachineCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return MachineCPU{}, fmt.Errorf("reading machine CPU time: %w", err)
	}
	return parseProcStat(b, clockTicks)
}

// parseProcStat reads the "cpu" line of /proc/stat: user nice system idle
// iowait irq softirq steal [guest guest_nice], in clock ticks. Guest time
// is already counted in user and nice.
func parseProcStat(stat []byte, ticksPerSecond int64) (MachineCPU, error) {
	line, _, _ := bytes.Cut(stat, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return MachineCPU{}, fmt.Errorf("/proc/stat: first line %q is not the cpu total", truncate(line))
	}
	var busy, irq, total int64
	for i, v := range f[1:] {
		if i >= 8 { // guest, guest_nice: part of user and nice
			break
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return MachineCPU{}, fmt.Errorf("/proc/stat: %q: %w", v, err)
		}
		total += n
		switch i {
		case 0, 1, 2, 7: // user, nice, system, steal
			busy += n
		case 5, 6: // irq, softirq
			irq += n
		}
	}
	tick := time.Second / time.Duration(ticksPerSecond)
	return MachineCPU{Busy: time.Duration(busy) * tick, IRQ: time.Duration(irq) * tick, Total: time.Duration(total) * tick}, nil
}

// CountOnPort counts the sockets in set with an end on port.
func CountOnPort(set map[Socket]bool, port int) int {
	n := 0
	for s := range set {
		if s.HasPort(port) {
			n++
		}
	}
	return n
}

// CPUModel returns the first "model name" of /proc/cpuinfo, or "unknown".
func CPUModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	return parseCPUModel(b)
}

func parseCPUModel(cpuinfo []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(cpuinfo))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// LoadAverage returns the 1-, 5- and 15-minute load averages as
// /proc/loadavg shows them ("0.52 0.58 0.59"), or "unknown".
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
