package fakeagent

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Faults describes misbehaviour injected into RPC calls, to test how a
// module copes with a slow or broken agent. The zero value injects
// nothing.
//
// Every affected call first waits Latency plus a random extra below
// LatencyJitter, then one draw decides whether it fails: with probability
// ErrorRate it is answered with an RPC error, with DropRate its connection
// is closed without a reply, with HangRate it is never answered (it waits
// until the module closes the connection or the server shuts down, and
// then the connection is closed). The three rates must add up to at most 1.
type Faults struct {
	Latency       time.Duration `json:"latency_ns"`
	LatencyJitter time.Duration `json:"latency_jitter_ns"`
	ErrorRate     float64       `json:"error_rate"`
	DropRate      float64       `json:"drop_rate"`
	HangRate      float64       `json:"hang_rate"`
	// Methods restricts the faults to these methods, named with or
	// without the "RPC." prefix (e.g. "PreRequest"); empty means all.
	Methods []string `json:"methods,omitempty"`
}

// blocksCalls reports whether a call may wait (latency) or hang, in which
// case calls on one connection must be served concurrently.
func (f Faults) blocksCalls() bool {
	return f.Latency > 0 || f.LatencyJitter > 0 || f.HangRate > 0
}

// InjectedError is the RPC error string of a call failed by ErrorRate.
const InjectedError = "fakeagent: injected error"

func (f Faults) validate() error {
	if f.Latency < 0 || f.LatencyJitter < 0 {
		return errors.New("latency and jitter must not be negative")
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"ErrorRate", f.ErrorRate}, {"DropRate", f.DropRate}, {"HangRate", f.HangRate}} {
		if !(r.v >= 0 && r.v <= 1) { // also rejects NaN
			return fmt.Errorf("%s %v is outside [0, 1]", r.name, r.v)
		}
	}
	if sum := f.ErrorRate + f.DropRate + f.HangRate; sum > 1+1e-9 {
		return fmt.Errorf("ErrorRate + DropRate + HangRate = %v, more than 1", sum)
	}
	for _, m := range f.Methods {
		if !isMethodName(shortMethod(m)) {
			return fmt.Errorf("unknown method %q in Methods", m)
		}
	}
	return nil
}

// fault is what happens to one call.
type fault int

const (
	faultNone fault = iota
	faultError
	faultDrop
	faultHang
)

func (f fault) String() string {
	switch f {
	case faultError:
		return "error"
	case faultDrop:
		return "drop"
	case faultHang:
		return "hang"
	}
	return ""
}

// faulter draws the faults for each call from a seeded generator.
type faulter struct {
	f       Faults
	methods map[string]bool // short names; nil: all
	active  bool

	mu  sync.Mutex
	rng *rand.Rand
}

func newFaulter(f Faults, seed uint64) *faulter {
	if seed == 0 {
		seed = rand.Uint64()
	}
	fz := &faulter{
		f:      f,
		active: f.Latency > 0 || f.LatencyJitter > 0 || f.ErrorRate > 0 || f.DropRate > 0 || f.HangRate > 0,
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
	if len(f.Methods) > 0 {
		fz.methods = make(map[string]bool)
		for _, m := range f.Methods {
			fz.methods[shortMethod(m)] = true
		}
	}
	return fz
}

// plan returns the latency to add to a call of method and what then
// happens to it.
func (fz *faulter) plan(method string) (time.Duration, fault) {
	if !fz.active || (fz.methods != nil && !fz.methods[method]) {
		return 0, faultNone
	}
	fz.mu.Lock()
	defer fz.mu.Unlock()
	delay := fz.f.Latency
	if fz.f.LatencyJitter > 0 {
		delay += time.Duration(fz.rng.Int64N(int64(fz.f.LatencyJitter)))
	}
	if fz.f.ErrorRate+fz.f.DropRate+fz.f.HangRate == 0 {
		return delay, faultNone
	}
	switch r := fz.rng.Float64(); {
	case r < fz.f.ErrorRate:
		return delay, faultError
	case r < fz.f.ErrorRate+fz.f.DropRate:
		return delay, faultDrop
	case r < fz.f.ErrorRate+fz.f.DropRate+fz.f.HangRate:
		return delay, faultHang
	}
	return delay, faultNone
}
