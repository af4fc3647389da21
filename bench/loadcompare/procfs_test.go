package loadcompare

import (
	"encoding/binary"
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name string
		stat string
		want time.Duration
	}{
		{
			name: "a plain command name",
			stat: "1234 (helloworld) S 1 1234 1234 0 -1 4194560 1024 0 0 0 250 130 0 0 20 0 7 0 12345 1000000 500 18446744073709551615",
			want: 3800 * time.Millisecond,
		},
		{
			name: "a command name with spaces and parentheses",
			stat: "99 (my (odd) prog) R 1 99 99 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 1 1 1",
			want: 100 * time.Millisecond,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tt.stat), 100)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "12 (x) S 1 2", "12 (x) S 1 2 3 4 5 6 7 8 9 10 eleven 12"} {
		if _, err := parseStatCPU([]byte(bad), 100); err == nil {
			t.Errorf("parseStatCPU(%q) succeeded, want an error", bad)
		}
	}
}

func TestCPUTimeOfThisProcessGrows(t *testing.T) {
	before, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Burn CPU until the kernel has counted at least one tick more; the
	// loop ends by itself within a few ticks.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		now, err := CPUTime(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if now > before {
			return
		}
	}
	t.Error("this process's CPU time did not grow while it computed for 5s")
}

func TestParseAuxvClockTicks(t *testing.T) {
	var auxv []byte
	for _, kv := range [][2]uint64{{6, 4096}, {17, 250}, {0, 0}} {
		auxv = binary.LittleEndian.AppendUint64(auxv, kv[0])
		auxv = binary.LittleEndian.AppendUint64(auxv, kv[1])
	}
	if got := parseAuxvClockTicks(auxv); got != 250 {
		t.Errorf("got %d, want 250", got)
	}
	if got := parseAuxvClockTicks(auxv[16*2:]); got != 0 {
		t.Errorf("a vector without AT_CLKTCK gave %d, want 0", got)
	}
	if clockTicks <= 0 {
		t.Errorf("clockTicks = %d", clockTicks)
	}
}

const netTCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:A1B2 0100007F:1F90 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
   2: 0100007F:A1B3 0100007F:1F90 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
   3: 0100007F:C350 0100007F:0050 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
   4: 0100007F:C351 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000
`

func TestParseNetTCPAndNewSockets(t *testing.T) {
	after := map[Socket]bool{}
	if err := parseNetTCP([]byte(netTCP), tcpTimeWait, after); err != nil {
		t.Fatal(err)
	}
	if len(after) != 3 {
		t.Fatalf("found %d sockets in TIME_WAIT, want 3: %v", len(after), after)
	}
	before := map[Socket]bool{{Local: "0100007F:A1B2", Remote: "0100007F:1F90"}: true}
	all, onPort := NewSockets(before, after, 0x1F90)
	if all != 2 || onPort != 1 {
		t.Errorf("NewSockets = %d, %d; want 2 new, 1 on port 8080", all, onPort)
	}
	if p := Port("0100007F:1F90"); p != 8080 {
		t.Errorf("Port = %d, want 8080", p)
	}
	if p := Port("garbage"); p != -1 {
		t.Errorf("Port(garbage) = %d, want -1", p)
	}
}

func TestTimeWaitSocketsReadsThisMachine(t *testing.T) {
	if _, err := TimeWaitSockets(); err != nil {
		t.Fatal(err)
	}
}

func TestParseCPUModel(t *testing.T) {
	info := "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\nflags\t\t: fpu\n\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n"
	if got := parseCPUModel([]byte(info)); got != "Intel(R) Xeon(R) CPU @ 2.20GHz" {
		t.Errorf("got %q", got)
	}
	if got := parseCPUModel([]byte("processor : 0\n")); got != "unknown" {
		t.Errorf("without a model name: got %q, want unknown", got)
	}
}

func TestParseProcStat(t *testing.T) {
	stat := "cpu  100 5 50 800 20 3 2 10 7 0\ncpu0 50 2 25 400 10 1 1 5 3 0\nintr 1\n"
	got, err := parseProcStat([]byte(stat), 100)
	if err != nil {
		t.Fatal(err)
	}
	// Busy: user+nice+system+steal = 100+5+50+10 = 165 ticks; IRQ:
	// irq+softirq = 5; total adds idle and iowait: 990 ticks. Guest is not
	// added twice.
	if got.Busy != 1650*time.Millisecond || got.IRQ != 50*time.Millisecond || got.Total != 9900*time.Millisecond {
		t.Errorf("got %+v, want busy 1.65s and IRQ 0.05s of 9.9s", got)
	}
	if _, err := parseProcStat([]byte("intr 1\n"), 100); err == nil {
		t.Error("a /proc/stat without the cpu line gave no error")
	}
	if _, err := ReadMachineCPU(); err != nil {
		t.Error(err)
	}
}
