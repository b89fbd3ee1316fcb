//go:build linux && !frozen_fallback && !race

// Not under the race detector, whose shadow memory counts against
// RLIMIT_AS as it grows.

package vm

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/frozen-go/frozen/internal/childtest"
)

// reservedAt reports whether [at, at+n) is wholly mapped PROT_NONE.
func reservedAt(t *testing.T, at unsafe.Pointer, n uintptr) bool {
	t.Helper()
	maps, err := ReadMaps()
	require.NoError(t, err)
	in := maps.Within(uintptr(at), uintptr(at)+n)
	for _, e := range in {
		if e.Perms != "---p" {
			return false
		}
	}
	return maps.Covers(uintptr(at), uintptr(at)+n)
}

// reReserve leaves a reservation alone, fills a hole with a new one, and
// says the range is lost, touching nothing, where another mapping took
// part of the hole.
func TestReReserveFillsHolesAndNeverReplaces(t *testing.T) {
	fx := newFixture(t, 4)
	n := 4 * PageSize
	dst := fx.at(8 * PageSize)
	require.NoError(t, reReserve(dst, n, false), "the reservation is whole")
	assert.True(t, reservedAt(t, dst, n))

	require.NoError(t, unix.MunmapPtr(dst, n))
	require.False(t, reservedAt(t, dst, n))
	require.NoError(t, reReserve(dst, n, false), "a hole is reserved again")
	assert.True(t, reservedAt(t, dst, n))

	require.NoError(t, unix.MunmapPtr(dst, n))
	other, err := unix.MmapPtr(-1, 0, unsafe.Add(dst, PageSize), PageSize, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED_NOREPLACE)
	require.NoError(t, err)
	*(*byte)(other) = 0x5a
	err = reReserve(dst, n, false)
	require.ErrorIs(t, err, ErrRangeLost)
	assert.Equal(t, byte(0x5a), *(*byte)(other), "the other mapping is untouched")

	// Another mapping over the whole hole: the range is covered, but not
	// by this package's mappings.
	require.NoError(t, unix.MunmapPtr(dst, n))
	other, err = unix.MmapPtr(-1, 0, dst, n, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED_NOREPLACE)
	require.NoError(t, err)
	*(*byte)(other) = 0x5b
	require.ErrorIs(t, reReserve(dst, n, false), ErrRangeLost)
	assert.Equal(t, byte(0x5b), *(*byte)(other), "the other mapping is untouched")
	// The fixture's reservation unmaps the whole range, the other mapping
	// with it.
}

// A move that fails after the kernel unmapped its destination (here for
// want of address space: RLIMIT_AS just below what the process maps, so
// that neither the move nor a new reservation fits) says the destination
// is lost, and leaves the mapping that was to move as it was. MoveOnto
// marks its destination released, so that its owner never maps over the
// range again. In a child process, since the limit is the whole process's.
func TestFailedMoveSaysItsDestinationIsLost(t *testing.T) {
	if !childtest.InChild(t) {
		return
	}
	fx := newFixture(t, 4)
	fx.m.Bytes()[1] = 7
	loose := childtest.TightAddressSpace(t)
	_, err := fx.m.MoveAside(fx.at(8 * PageSize))
	loose()
	require.ErrorIs(t, err, ErrRangeLost)
	assert.Equal(t, byte(7), fx.m.Bytes()[1], "the mapping stayed where it was, pages and all")
	fx.m.Bytes()[2] = 8

	aside, err := fx.m.MoveAside(fx.at(12 * PageSize))
	require.NoError(t, err)
	defer aside.Release()
	require.NoError(t, fx.file.OpenReadOnly())
	require.NoError(t, fx.m.Remap(FromReadOnly, ProtRead)) // as Seal does
	loose = childtest.TightAddressSpace(t)
	_, err = aside.MoveOnto(fx.m)
	loose()
	require.ErrorIs(t, err, ErrRangeLost)
	assert.True(t, fx.m.Released(), "the destination is never touched again")
	assert.False(t, aside.Released())
	assert.Equal(t, byte(8), aside.Bytes()[2], "the moved-aside mapping keeps the pages")
}
