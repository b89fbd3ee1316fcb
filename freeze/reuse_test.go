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
	"github.com/frozen-go/frozen/internal/vm"
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

// A read through a pointer kept past Close, once the range has left
// quarantine and before any arena takes it, still faults (the space is
// reserved, PROT_NONE), and Guard reports it as a use after Close it
// cannot name, not as the runtime's "nil pointer dereference".
func TestGuardCatchesAReadPastQuarantine(t *testing.T) {
	pb, pr := arena.SetQuarantine(0, 0) // a closed range leaves quarantine at once
	defer arena.SetQuarantine(pb, pr)
	a, err := arena.NewArena(arena.WithName("gone"))
	require.NoError(t, err)
	p := arena.New[int64](a)
	*p = 7
	r, err := freeze.Freeze(a, freeze.Protect)
	require.NoError(t, err)
	require.NoError(t, r.Close())

	var x int64
	err = freeze.Guard(func() { x = *p })
	var uac *freeze.UseAfterClose
	require.ErrorAs(t, err, &uac)
	assert.Zero(t, x)
	assert.Empty(t, uac.Region, "the range's name left with it")
	assert.Zero(t, uac.Offset)
	want := uintptr(unsafe.Pointer(p))
	if vm.FaultPageOnly {
		want &^= vm.PageSize - 1 // the kernel gives the page
	}
	assert.Equal(t, want, uac.Addr)
	assert.ErrorIs(t, err, arena.ErrClosed)
	assert.Contains(t, err.Error(), "no arena holds")
	assert.Contains(t, err.Error(), "left quarantine")
}
