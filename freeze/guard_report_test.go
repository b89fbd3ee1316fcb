//go:build unix && !aix

package freeze_test

import (
	"fmt"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/vm"
)

// writeAtDepth writes *p from n calls down: the write faults in the
// innermost call.
//
//go:noinline
func writeAtDepth(p *int64, n int) {
	if n == 0 {
		*p = 1
		return
	}
	writeAtDepth(p, n-1)
}

// readAtDepth reads *p from n calls down.
//
//go:noinline
func readAtDepth(p *int64, n int) int64 {
	if n == 0 {
		return *p
	}
	return readAtDepth(p, n-1)
}

// frameFormat is one frame of a fault report: the full function name,
// then the file path and line in parentheses.
var frameFormat = regexp.MustCompile(`^\S+ \(/\S+\.go:\d+\)$`)

// A fault report's stack runs from the function whose instruction
// faulted out to the function Guard ran, one frame a call, and no further
// (neither Guard nor its callers), each frame named as "function
// (file:line)"; a deep one keeps its sixteen innermost frames. That is
// what the reader of a report sees of where the write came from: a frame
// missing, or Guard's own callers, would send them elsewhere.
func TestFaultStackRunsFromTheFaultToTheFunctionGuardRan(t *testing.T) {
	const depthFn = "github.com/frozen-go/frozen/freeze_test.writeAtDepth"
	const closure = "github.com/frozen-go/frozen/freeze_test.TestFaultStackRunsFromTheFaultToTheFunctionGuardRan.func"
	r, c := frozenPoint(t, freeze.Protect)
	ro := freeze.ReadOnly(r, c)
	for _, tc := range []struct {
		depth, frames int
	}{{0, 2}, {3, 5}, {14, 16}, {15, 16}, {40, 16}} {
		err := freeze.Guard(func() { writeAtDepth(&ro.Y, tc.depth) })
		var wf *freeze.WriteFault
		require.ErrorAs(t, err, &wf, "depth %d", tc.depth)
		require.Len(t, wf.Stack, tc.frames, "depth %d: %q", tc.depth, wf.Stack)
		for i, f := range wf.Stack {
			assert.Regexp(t, frameFormat, f, "depth %d frame %d", tc.depth, i)
			assert.NotContains(t, f, "freeze.Guard", "depth %d frame %d", tc.depth, i)
			assert.NotContains(t, f, "testing.tRunner", "depth %d frame %d", tc.depth, i)
			if i <= tc.depth {
				assert.True(t, strings.HasPrefix(f, depthFn+" ("), "depth %d frame %d: %s", tc.depth, i, f)
			}
		}
		if tc.frames == tc.depth+2 {
			assert.True(t, strings.HasPrefix(wf.Stack[len(wf.Stack)-1], closure),
				"depth %d: the outermost frame is the function Guard ran: %s", tc.depth, wf.Stack[len(wf.Stack)-1])
		}
	}
}

// A use after Close is reported with the stack of the access, as a write
// fault is, and its message names what was closed, the offset and the
// address, in that order: the report is all a reader gets of a dangling
// pointer.
func TestUseAfterCloseReportsItsStackAndWhere(t *testing.T) {
	const depthFn = "github.com/frozen-go/frozen/freeze_test.readAtDepth"
	for _, m := range modes(t) {
		t.Run(m.String(), func(t *testing.T) {
			r, c := frozenPoint(t, m)
			ro := freeze.ReadOnly(r, c)
			var x *freeze.WriteFault
			require.ErrorAs(t, freeze.Guard(func() { ro.X = 0 }), &x)
			y := &ro.Y // taken before Close: &ro.Y after it touches *ro
			require.NoError(t, r.Close())
			var v int64
			err := freeze.Guard(func() { v = readAtDepth(y, 2) })
			var uac *freeze.UseAfterClose
			require.ErrorAs(t, err, &uac, "read %d after Close", v)
			require.Len(t, uac.Stack, 4, "%q", uac.Stack)
			for i, f := range uac.Stack[:3] {
				assert.True(t, strings.HasPrefix(f, depthFn+" ("), "frame %d: %s", i, f)
				assert.Regexp(t, frameFormat, f)
			}
			assert.Equal(t, pageOnly(uintptr(unsafe.Pointer(y))), uac.Addr)
			assert.Equal(t, fmt.Sprintf("freeze: access to %q after it was closed (offset %#x, address %#x)", r.Name(), uac.Offset, uac.Addr), err.Error())
			assert.Equal(t, pageOnly(x.Offset+8), uac.Offset)
		})
	}
}

// A write into frozen memory that no allocation holds (the rest of the
// last page, past the used bytes) is reported as such: the message says
// "(no allocation)" where it would name a field, rather than an empty
// field that reads as a missing word.
func TestWriteFaultOutsideEveryAllocationSaysSo(t *testing.T) {
	if vm.FaultPageOnly {
		t.Skip("the kernel reports only the page: no field is named")
	}
	r, c := frozenPoint(t, freeze.Protect)
	ro := freeze.ReadOnly(r, c)
	var x *freeze.WriteFault
	require.ErrorAs(t, freeze.Guard(func() { ro.X = 0 }), &x)
	past := (*byte)(unsafe.Add(unsafe.Pointer(ro), 100))
	err := freeze.Guard(func() { *past = 1 })
	var wf *freeze.WriteFault
	require.ErrorAs(t, err, &wf)
	assert.Equal(t, x.Offset+100, wf.Offset)
	assert.Empty(t, wf.Path)
	assert.Equal(t, fmt.Sprintf("freeze: write to frozen region %q at offset %#x, field (no allocation) (address %#x, Protect mode)",
		r.Name(), x.Offset+100, uintptr(unsafe.Pointer(past))), err.Error())
	require.NoError(t, r.Verify())
}

// frozenPoint clones a Point, the arena's first and only allocation, and
// freezes it.
func frozenPoint(t *testing.T, m freeze.Mode) (*freeze.Region, *Point) {
	t.Helper()
	a := newArena(t)
	c, err := arena.Clone(a, &Point{X: 1, Y: 2})
	require.NoError(t, err)
	r, err := freeze.Freeze(a, m)
	require.NoError(t, err)
	require.NoError(t, r.Wait())
	return r, c
}

// Guard gives the calling goroutine back its own SetPanicOnFault setting
// however f ends: a write fault it reports, a use after Close, a panic or
// a fault elsewhere that it passes through. Left on, a later fault
// anywhere in the goroutine would panic (and could be recovered) where
// the program asked for the process to die; left off, a caller's own
// recovery of faults would stop working.
func TestGuardRestoresPanicOnFaultHoweverFEnds(t *testing.T) {
	r, c := frozenPoint(t, freeze.Protect)
	ro := freeze.ReadOnly(r, c)
	closed, cc := frozenPoint(t, freeze.Protect)
	y := &freeze.ReadOnly(closed, cc).Y
	require.NoError(t, closed.Close())
	var np *Point
	ends := map[string]func(){
		"write fault":     func() { ro.Y = 3 },
		"use after Close": func() { _ = *y },
		"panic":           func() { panic("boom") },
		"nil dereference": func() { np.Y = 1 },
	}
	for _, caller := range []bool{false, true} {
		for name, f := range ends {
			old := debug.SetPanicOnFault(caller)
			func() {
				defer func() { _ = recover() }()
				_ = freeze.Guard(f)
			}()
			assert.Equal(t, caller, debug.SetPanicOnFault(old), "%s, the caller's setting %v", name, caller)
		}
	}
}
