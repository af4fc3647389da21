// Package check is a small stand-in for the testify assertions the
// module's tests use. The module is a Go module of its own whose go.mod
// requires msgp and nothing else, so that an application importing it gets
// nothing else either; its tests therefore use the standard library only.
// The methods take their arguments in testify's order (expected first) and
// mean the same; Require stops the test, Assert goes on.
package check

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The two checkers.
var (
	Assert  = Checker{}
	Require = Checker{fatal: true}
)

// Checker reports failed checks: with t.Error (Assert) or t.Fatal (Require).
type Checker struct{ fatal bool }

func (c Checker) fail(t testing.TB, msgAndArgs []any, format string, args ...any) bool {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if len(msgAndArgs) > 0 {
		if f, ok := msgAndArgs[0].(string); ok {
			msg = fmt.Sprintf(f, msgAndArgs[1:]...) + ": " + msg
		} else {
			msg = fmt.Sprint(msgAndArgs...) + ": " + msg
		}
	}
	if c.fatal {
		t.Fatal(msg)
	}
	t.Error(msg)
	return false
}

func objectsEqual(want, got any) bool {
	if w, ok := want.([]byte); ok {
		g, ok := got.([]byte)
		return ok && bytes.Equal(w, g)
	}
	return reflect.DeepEqual(want, got)
}

// Equal checks that got deep-equals want.
func (c Checker) Equal(t testing.TB, want, got any, msgAndArgs ...any) bool {
	t.Helper()
	if objectsEqual(want, got) {
		return true
	}
	return c.fail(t, msgAndArgs, "not equal:\nwant: %#v\n got: %#v", want, got)
}

// NoError checks that err is nil.
func (c Checker) NoError(t testing.TB, err error, msgAndArgs ...any) bool {
	t.Helper()
	if err == nil {
		return true
	}
	return c.fail(t, msgAndArgs, "unexpected error: %v", err)
}

// Error checks that err is not nil.
func (c Checker) Error(t testing.TB, err error, msgAndArgs ...any) bool {
	t.Helper()
	if err != nil {
		return true
	}
	return c.fail(t, msgAndArgs, "an error was expected")
}

// ErrorIs checks that errors.Is(err, target).
func (c Checker) ErrorIs(t testing.TB, err, target error, msgAndArgs ...any) bool {
	t.Helper()
	if errors.Is(err, target) {
		return true
	}
	return c.fail(t, msgAndArgs, "error %v is not %v", err, target)
}

// ErrorContains checks that err is not nil and its text contains substr.
func (c Checker) ErrorContains(t testing.TB, err error, substr string, msgAndArgs ...any) bool {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), substr) {
		return true
	}
	return c.fail(t, msgAndArgs, "error %v does not contain %q", err, substr)
}

// True checks that v is true.
func (c Checker) True(t testing.TB, v bool, msgAndArgs ...any) bool {
	t.Helper()
	if v {
		return true
	}
	return c.fail(t, msgAndArgs, "should be true")
}

// False checks that v is false.
func (c Checker) False(t testing.TB, v bool, msgAndArgs ...any) bool {
	t.Helper()
	if !v {
		return true
	}
	return c.fail(t, msgAndArgs, "should be false")
}

func isEmpty(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Map, reflect.Chan, reflect.String, reflect.Array:
		return rv.Len() == 0
	case reflect.Pointer:
		return rv.IsNil() || isEmpty(rv.Elem().Interface())
	}
	return rv.IsZero()
}

// Empty checks that v is nil, zero, or of length 0.
func (c Checker) Empty(t testing.TB, v any, msgAndArgs ...any) bool {
	t.Helper()
	if isEmpty(v) {
		return true
	}
	return c.fail(t, msgAndArgs, "should be empty: %#v", v)
}

// NotEmpty checks the opposite of Empty.
func (c Checker) NotEmpty(t testing.TB, v any, msgAndArgs ...any) bool {
	t.Helper()
	if !isEmpty(v) {
		return true
	}
	return c.fail(t, msgAndArgs, "should not be empty")
}

// Zero checks that v is its type's zero value.
func (c Checker) Zero(t testing.TB, v any, msgAndArgs ...any) bool {
	t.Helper()
	if v == nil || reflect.ValueOf(v).IsZero() {
		return true
	}
	return c.fail(t, msgAndArgs, "should be zero: %#v", v)
}

// NotZero checks that v is not its type's zero value.
func (c Checker) NotZero(t testing.TB, v any, msgAndArgs ...any) bool {
	t.Helper()
	if v != nil && !reflect.ValueOf(v).IsZero() {
		return true
	}
	return c.fail(t, msgAndArgs, "should not be zero")
}

// NotNil checks that v is neither nil nor a nil pointer, map, slice, channel, func or interface.
func (c Checker) NotNil(t testing.TB, v any, msgAndArgs ...any) bool {
	t.Helper()
	if v != nil {
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Chan, reflect.Func, reflect.Interface:
			if !rv.IsNil() {
				return true
			}
		default:
			return true
		}
	}
	return c.fail(t, msgAndArgs, "should not be nil")
}

// Len checks that v (a slice, map, channel, array or string) has n elements.
func (c Checker) Len(t testing.TB, v any, n int, msgAndArgs ...any) bool {
	t.Helper()
	if l := reflect.ValueOf(v).Len(); l != n {
		return c.fail(t, msgAndArgs, "length %d, want %d", l, n)
	}
	return true
}

// contains reports whether s (a string, slice, array or map) holds elem (a
// substring, an element, a key).
func contains(s, elem any) bool {
	if str, ok := s.(string); ok {
		sub, ok := elem.(string)
		return ok && strings.Contains(str, sub)
	}
	rv := reflect.ValueOf(s)
	switch rv.Kind() {
	case reflect.Map:
		for _, k := range rv.MapKeys() {
			if objectsEqual(k.Interface(), elem) {
				return true
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range rv.Len() {
			if objectsEqual(rv.Index(i).Interface(), elem) {
				return true
			}
		}
	}
	return false
}

// Contains checks that s (a string, slice, array or map) holds elem (a substring, an element, a key).
func (c Checker) Contains(t testing.TB, s, elem any, msgAndArgs ...any) bool {
	t.Helper()
	if contains(s, elem) {
		return true
	}
	return c.fail(t, msgAndArgs, "%#v does not contain %#v", s, elem)
}

// NotContains checks the opposite of Contains.
func (c Checker) NotContains(t testing.TB, s, elem any, msgAndArgs ...any) bool {
	t.Helper()
	if !contains(s, elem) {
		return true
	}
	return c.fail(t, msgAndArgs, "%#v contains %#v", s, elem)
}

// compare orders two numbers (or durations) of the same kind.
func compare(a, b any) (int, bool) {
	ra, rb := reflect.ValueOf(a), reflect.ValueOf(b)
	if ra.Kind() != rb.Kind() {
		return 0, false
	}
	switch {
	case ra.CanInt():
		x, y := ra.Int(), rb.Int()
		return cmpOrdered(x, y), true
	case ra.CanUint():
		return cmpOrdered(ra.Uint(), rb.Uint()), true
	case ra.CanFloat():
		return cmpOrdered(ra.Float(), rb.Float()), true
	}
	return 0, false
}

func cmpOrdered[T int64 | uint64 | float64](x, y T) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// Less checks a < b for two numbers (or durations) of the same kind.
func (c Checker) Less(t testing.TB, a, b any, msgAndArgs ...any) bool {
	t.Helper()
	if r, ok := compare(a, b); ok && r < 0 {
		return true
	}
	return c.fail(t, msgAndArgs, "%v is not less than %v", a, b)
}

// LessOrEqual checks a <= b for two numbers of the same kind.
func (c Checker) LessOrEqual(t testing.TB, a, b any, msgAndArgs ...any) bool {
	t.Helper()
	if r, ok := compare(a, b); ok && r <= 0 {
		return true
	}
	return c.fail(t, msgAndArgs, "%v is not less than or equal to %v", a, b)
}

// Positive checks v > 0.
func (c Checker) Positive(t testing.TB, v any, msgAndArgs ...any) bool {
	t.Helper()
	zero := reflect.Zero(reflect.TypeOf(v)).Interface()
	if r, ok := compare(v, zero); ok && r > 0 {
		return true
	}
	return c.fail(t, msgAndArgs, "%v is not positive", v)
}

// VerifyNoLeaks runs the tests, then fails the run when goroutines
// started by them are still running once they are done. Goroutines that are ending are given
// until a deadline to go.
func VerifyNoLeaks(m *testing.M) int {
	code := m.Run()
	if code != 0 {
		return code
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		leaked := leakedGoroutines()
		if len(leaked) == 0 {
			return 0
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "goroutines leaked by the tests:\n\n%s\n", strings.Join(leaked, "\n\n"))
			return 1
		}
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond)
	}
}

// leakedGoroutines returns the stacks of the goroutines, other than this
// one, that run code of this module, net/http or net/rpc: what the tests
// start, directly or through the code under test.
func leakedGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var leaked []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 { // the calling goroutine
			continue
		}
		if strings.Contains(g, "ngwaf-helloworld/module") || strings.Contains(g, "net/http.") || strings.Contains(g, "net/rpc.") {
			leaked = append(leaked, g)
		}
	}
	return leaked
}
