//go:build unix && !aix

package freeze_test

import (
	"errors"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/offheap"
)

// A read through a pointer kept past Close, once the quarantine has handed
// the range to a new, smaller frozen arena, faults in the new arena's
// reservation but past its mapped pages: Guard must not call it a write to
// the new region (it passes the fault through, as any fault it cannot
// explain).
func TestReadPastAReusedRangeIsNotAWriteFault(t *testing.T) {
	pb, pr := arena.SetQuarantine(0, 0)
	defer arena.SetQuarantine(pb, pr)
	a, err := arena.NewArena(arena.WithName("old"))
	require.NoError(t, err)
	big := arena.MakeSlice[byte](a, 1<<20)
	r, err := freeze.Freeze(a, freeze.Protect)
	require.NoError(t, err)
	tail := unsafe.Add(unsafe.Pointer(freeze.ReadOnly(r, &big[0])), 1<<20-1)
	require.NoError(t, r.Close())

	b, err := arena.NewArena(arena.WithName("new"))
	require.NoError(t, err)
	defer b.Close()
	_ = arena.MakeSlice[byte](b, 16)
	rb, err := freeze.Freeze(b, freeze.Protect)
	require.NoError(t, err)
	require.NoError(t, rb.Wait())
	if !offheap.Unwrap(b).Range().Contains(uintptr(tail)) {
		t.Skip("the new arena did not reuse the closed one's range")
	}
	var passed any
	func() {
		defer func() { passed = recover() }()
		err = freeze.Guard(func() { _ = *(*byte)(tail) })
	}()
	var wf *freeze.WriteFault
	assert.False(t, errors.As(err, &wf), "a read past the new arena's pages is reported as a write: %v", err)
	assert.NotNil(t, passed, "the fault passes through Guard")
}
