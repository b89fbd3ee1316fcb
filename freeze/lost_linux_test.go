//go:build linux && !race

// Not under the race detector, whose shadow memory counts against
// RLIMIT_AS as it grows.

package freeze_test

import (
	"errors"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/childtest"
	"github.com/frozen-go/frozen/internal/offheap"
	"github.com/frozen-go/frozen/internal/space"
	"github.com/frozen-go/frozen/internal/vm"
)

// overlaps reports whether the range r and [lo, hi) share a byte.
func overlaps(r space.Range, lo, hi uintptr) bool { return r.Start() < hi && lo < r.End() }

// lostRange maps one page of someone else's at the start of a range the
// library lost, which only works if nothing is mapped there, and returns
// it with a byte written, for the test to check that the library never
// maps over it.
func lostRange(t *testing.T, at unsafe.Pointer) *byte {
	p, err := unix.MmapPtr(-1, 0, at, vm.PageSize, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED_NOREPLACE)
	require.NoError(t, err, "the range is a hole")
	t.Cleanup(func() { _ = unix.MunmapPtr(p, vm.PageSize) })
	*(*byte)(p) = 0x5a
	return (*byte)(p)
}

// Seal's move aside that fails after the kernel unmapped the range it was
// moving to (for want of address space, in a child process) fails Freeze
// at step "move-aside" with the arena as it was, and the lost range is
// never handed out again: it went back to space as if reserved still, and
// the next arena mapped its file over whatever had been mapped there.
func TestAFailedMoveAsideNeverHandsOutTheLostRange(t *testing.T) {
	needSealsAndMremap(t)
	childtest.NeedAddressSpace(t, 8<<30) // up to seven arenas of 1 GiB live, one range lost
	if !childtest.InChild(t) {
		return
	}
	defer offheap.SetAsideMin(offheap.SetAsideMin(vm.PageSize))
	defer space.SetQuarantine(space.SetQuarantine(0, 0)) // a range given back is reused at once
	a, _, c, _ := clonedConfig(t)
	var restore func()
	offheap.SetFailpoint(func(s string) error {
		if s == "move-aside" {
			restore = childtest.TightAddressSpace(t)
		}
		return nil
	})
	_, err := freeze.Freeze(a, freeze.Seal)
	offheap.SetFailpoint(nil)
	restore()
	var se *freeze.StepError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "move-aside", se.Step)
	require.ErrorIs(t, err, vm.ErrRangeLost)
	assert.NoError(t, se.Rollback)

	require.NoError(t, freeze.Guard(func() { c.Version = 2 }), "the arena is as it was")
	var holes [][2]uintptr
	for _, ch := range space.Chunks() {
		maps, err := vm.ReadMaps()
		require.NoError(t, err)
		at := ch[0]
		for _, e := range append(maps.Within(ch[0], ch[1]), vm.MapsEntry{Start: ch[1]}) {
			if e.Start > at {
				holes = append(holes, [2]uintptr{at, e.Start})
			}
			at = max(at, e.End)
		}
	}
	require.Len(t, holes, 1, "the lost range is the one hole in the library's reservations")
	// The hole's address, as an offset from the arena's own range (both
	// lie in the library's reservations).
	own := offheap.Unwrap(a).Range()
	other := lostRange(t, unsafe.Add(own.Addr(), holes[0][0]-own.Start()))
	for range 4 {
		b := newArena(t)
		arena.New[[64]byte](b)
		assert.False(t, overlaps(offheap.Unwrap(b).Range(), holes[0][0], holes[0][1]), "a new arena was given the lost range")
	}
	assert.Equal(t, byte(0x5a), *other)

	r, err := freeze.Freeze(a, freeze.Seal)
	require.NoError(t, err, "the arena freezes afterwards")
	assert.Equal(t, 2, freeze.ReadOnly(r, c).Version)
}

// Seal's rollback that cannot move the page tables back because the move
// lost the arena's own range (it was unmapped, and not even a reservation
// could go back) leaves the arena for Close alone, which neither maps
// over the range nor gives it back to be handed out: an arena that stayed
// open wrote into whatever was mapped there next.
func TestAFailedMoveBackLeavesTheLostArenaToClose(t *testing.T) {
	needSealsAndMremap(t)
	if !childtest.InChild(t) {
		return
	}
	defer offheap.SetAsideMin(offheap.SetAsideMin(vm.PageSize))
	defer space.SetQuarantine(space.SetQuarantine(0, 0))
	a, _, _, _ := clonedConfig(t)
	rng := offheap.Unwrap(a).Range()
	injected := errors.New("injected failure")
	var restore func()
	offheap.SetFailpoint(func(s string) error {
		switch s {
		case "seal":
			restore = childtest.TightAddressSpace(t)
			return injected
		case "release-aside":
			restore()
		}
		return nil
	})
	_, err := freeze.Freeze(a, freeze.Seal)
	offheap.SetFailpoint(nil)
	var se *freeze.StepError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "seal", se.Step)
	require.ErrorIs(t, se.Rollback, vm.ErrRangeLost)

	other := lostRange(t, rng.Addr())
	requireLeftToClose(t, a)
	require.NoError(t, a.Close())
	for range 4 {
		b := newArena(t)
		arena.New[[64]byte](b)
		assert.False(t, overlaps(offheap.Unwrap(b).Range(), rng.Start(), rng.End()), "a new arena was given the lost range")
	}
	assert.Equal(t, byte(0x5a), *other, "nothing mapped over the page mapped where the arena was")
}

// A Close while the process maps more than RLIMIT_AS allows (a limit
// lowered below what it maps already) fails with the region's memory
// still mapped and its range its own, as Close's doc says of a release
// the kernel refuses, and a Close once the limit allows releases it into
// quarantine, where a read faults as a use after Close. (Unmapped first,
// its range was a hole that the next mmap could take.)
func TestCloseOverTheAddressSpaceLimitLeavesTheRegionToCloseAgain(t *testing.T) {
	if !childtest.InChild(t) {
		return
	}
	for _, m := range modes(t) {
		r, _, ro := frozenConfig(t, m)
		rng := offheap.Unwrap(r.Arena()).Range()
		restore := childtest.TightAddressSpace(t)
		err := r.Close()
		restore()
		require.ErrorIs(t, err, unix.ENOMEM, m)
		require.NotErrorIs(t, err, vm.ErrRangeLost, m)
		maps, err := vm.ReadMapsWithin(rng.Start(), rng.End())
		require.NoError(t, err)
		assert.True(t, maps.Covers(rng.Start(), rng.End()), "%s: the range is mapped still", m)
		assert.Equal(t, 1, ro.Version, "%s: the memory is readable still", m)

		require.NoError(t, r.Close(), m)
		var uac *freeze.UseAfterClose
		require.ErrorAs(t, freeze.Guard(func() { _ = ro.Version }), &uac, m)
	}
}
