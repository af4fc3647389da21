package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestParseInts(t *testing.T) {
	got, err := parseInts("1, 32,,4")
	if err != nil || len(got) != 3 || got[0] != 1 || got[1] != 32 || got[2] != 4 {
		t.Errorf("parseInts = %v, %v", got, err)
	}
	for _, bad := range []string{"", "0", "x", "1,-2"} {
		if _, err := parseInts(bad); err == nil {
			t.Errorf("parseInts(%q) succeeded", bad)
		}
	}
}

func TestCommandLineNamesTheGoRunInvocation(t *testing.T) {
	got := commandLine([]string{"-conns", "1,32", "-out", "results/a b"})
	if want := `go run ./cmd/loadcompare -conns 1,32 -out "results/a b"`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestRunRejectsBadFlagsBeforeBuildingAnything(t *testing.T) {
	for _, args := range [][]string{
		{"-variants", "bare,nope"},
		{"-conns", "0"},
		{"extra"},
		{"-no-such-flag"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"loadcompare"}, args...), &stdout, &stderr)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, stderr.String())
		}
		if !strings.Contains(stderr.String(), "loadcompare") && !strings.Contains(stderr.String(), "flag") {
			t.Errorf("%v: stderr says %q", args, stderr.String())
		}
	}
}
