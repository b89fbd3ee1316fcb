//go:build linux && !frozen_fallback && !race

// Not under the race detector, which maps shadow memory of its own as the
// process runs, and could not over the mapping limit.

package vm

import (
	"errors"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/frozen-go/frozen/internal/childtest"
	"github.com/frozen-go/frozen/internal/proc"
)

// Over vm.max_map_count the kernel refuses the mmap that decommit makes,
// although it would only replace whole mappings (what decommit relies on
// to release at the limit at all), and Release still releases: the
// mapping is unmapped and its range reserved again, PROT_NONE, with the
// file's pages no longer reachable from it. In a child process, since the
// limit is the whole process's.
func TestReleaseAtTheMappingLimit(t *testing.T) {
	if !childtest.InChild(t) {
		return
	}
	fx := newFixture(t, 4)
	probe := newFixture(t, 1)
	fx.m.Bytes()[1] = 7
	n := fx.m.Len()

	restore := childtest.OverMappingLimit(t)
	_, refused := unix.MmapPtr(-1, 0, probe.m.Addr(), PageSize, unix.PROT_NONE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED|unix.MAP_NORESERVE)
	err := fx.m.Release()
	restore()

	require.ErrorIs(t, refused, unix.ENOMEM, "the kernel refuses mmap over the limit, even over a whole mapping")
	require.NoError(t, err)
	assert.True(t, fx.m.Released())
	assert.False(t, fx.m.Lost())
	assert.True(t, reservedAt(t, fx.m.Addr(), n), "the range is reserved again")
	assert.True(t, faults(func() { readSink = *(*byte)(unsafe.Add(fx.m.Addr(), 1)) }), "reading the range faults")
	buf := make([]byte, 2)
	_, err = unix.Pread(fx.file.rw, buf, 0)
	require.NoError(t, err)
	assert.Equal(t, byte(7), buf[1], "the file keeps its bytes")
}

// With RLIMIT_AS lowered below what the process maps already, the kernel
// refuses every mmap, even one that only replaces whole mappings, and the
// reservation after an munmap too: Release must fail with ENOMEM and
// leave the mapping as it was (mapped, its range not lost), and release
// it once the limit allows. (Unmapping first, as at the mapping limit,
// left a hole that anything could be mapped into.)
func TestReleaseOverTheAddressSpaceLimitLeavesTheMapping(t *testing.T) {
	if !childtest.InChild(t) {
		return
	}
	fx := newFixture(t, 4)
	fx.m.Bytes()[1] = 7
	n := uintptr(fx.m.Len())

	restore := childtest.TightAddressSpace(t)
	err := fx.m.Release()
	restore()

	require.ErrorIs(t, err, unix.ENOMEM)
	require.NotErrorIs(t, err, ErrRangeLost)
	assert.False(t, fx.m.Released())
	assert.False(t, fx.m.Lost())
	assert.Equal(t, byte(7), fx.m.Bytes()[1], "still mapped")
	require.NoError(t, fx.m.Release())
	assert.True(t, reservedAt(t, fx.m.Addr(), n), "released once the limit allows")
}

// So does a Release at ENOMEM where RLIMIT_AS is set and what the process
// maps cannot be read (no /proc): the munmap might leave a hole that no
// reservation could fill, where it unmapped the range and then lost it.
func TestReleaseUnderALimitItCannotMeasureLeavesTheMapping(t *testing.T) {
	if !childtest.InChild(t) {
		return
	}
	fx := newFixture(t, 4)
	fx.m.Bytes()[1] = 7
	vmSize = func() (uint64, error) { return 0, errors.New("no /proc here") }
	defer func() { vmSize = proc.VmSize }()

	restore := childtest.TightAddressSpace(t)
	err := fx.m.Release()
	restore()

	require.ErrorIs(t, err, unix.ENOMEM)
	require.ErrorContains(t, err, "cannot be read")
	require.NotErrorIs(t, err, ErrRangeLost)
	assert.False(t, fx.m.Released())
	assert.False(t, fx.m.Lost())
	assert.Equal(t, byte(7), fx.m.Bytes()[1], "still mapped")
	require.NoError(t, fx.m.Release())
}

// readSink keeps a read that should fault from being compiled away.
var readSink byte

// If another thread maps into the hole between decommit's munmap and its
// new reservation, Release says the range is lost, marks the mapping
// released and lost, and leaves the other mapping alone; a second Release
// does nothing.
func TestReleaseAtTheMappingLimitLosesARangeAnotherThreadTook(t *testing.T) {
	if !childtest.InChild(t) {
		return
	}
	fx := newFixture(t, 4)
	other := releaseAsAnotherThreadMaps(t, fx, func(at unsafe.Pointer, _ uintptr) (unsafe.Pointer, error) {
		p, err := unix.MmapPtr(-1, 0, at, PageSize, unix.PROT_READ|unix.PROT_WRITE,
			unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED_NOREPLACE)
		if err == nil {
			*(*byte)(p) = 0x5a
		}
		return p, err
	})
	require.NoError(t, fx.m.Release(), "released already")
	assert.Equal(t, byte(0x5a), *(*byte)(other), "the other mapping is untouched")
}

// A mapping another thread puts into the hole that looks just like a
// reservation of this package (anonymous, private, PROT_NONE, no
// reserve, over the whole range) is still another thread's: decommit
// unmapped the range itself, so Release says the range is lost rather
// than take the lookalike for its own and let the range be mapped over.
func TestReleaseAtTheMappingLimitLosesARangeToALookalike(t *testing.T) {
	if !childtest.InChild(t) {
		return
	}
	fx := newFixture(t, 4)
	other := releaseAsAnotherThreadMaps(t, fx, func(at unsafe.Pointer, n uintptr) (unsafe.Pointer, error) {
		return unix.MmapPtr(-1, 0, at, n, unix.PROT_NONE,
			unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE|unix.MAP_FIXED_NOREPLACE)
	})
	require.Equal(t, fx.m.Addr(), other)
	assert.True(t, reservedAt(t, fx.m.Addr(), uintptr(fx.m.Len())), "the lookalike covers the range")
}

// releaseAsAnotherThreadMaps releases fx's mapping over the mapping limit,
// with mapInto mapping into the hole between decommit's munmap and its new
// reservation, as another thread could, and checks that the range is lost
// and the mapping released and lost. It returns what mapInto mapped. (The
// hook first frees the limit's mappings, so that the other mapping does
// not keep the process over the limit, where the Go runtime could not get
// memory for its own use.)
func releaseAsAnotherThreadMaps(t *testing.T, fx *fixture, mapInto func(at unsafe.Pointer, n uintptr) (unsafe.Pointer, error)) unsafe.Pointer {
	t.Helper()
	var other unsafe.Pointer
	var otherErr error
	var restore func()
	defer SetAfterUnmap(func(at unsafe.Pointer, n uintptr) {
		restore()
		other, otherErr = mapInto(at, n)
	})()

	restore = childtest.OverMappingLimit(t)
	err := fx.m.Release()
	restore() // if the hook did not run

	require.NoError(t, otherErr, "the range was a hole")
	require.ErrorIs(t, err, ErrRangeLost)
	assert.True(t, fx.m.Released())
	assert.True(t, fx.m.Lost())
	return other
}

// Over the limit the kernel counts mappings before it looks at the range,
// so MAP_FIXED_NOREPLACE over a whole reservation fails with ENOMEM, not
// EEXIST; reReserve still finds the range whole and says nothing is lost
// (a failed move whose destination the kernel left in place). In a child
// process, since the limit is the whole process's.
func TestReReserveAtTheMappingLimitKeepsAWholeRange(t *testing.T) {
	if !childtest.InChild(t) {
		return
	}
	fx := newFixture(t, 4)
	n := 4 * PageSize
	dst := fx.at(8 * PageSize)

	restore := childtest.OverMappingLimit(t)
	_, refused := unix.MmapPtr(-1, 0, dst, n, unix.PROT_NONE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE|unix.MAP_FIXED_NOREPLACE)
	err := reReserve(dst, n, false)
	restore()

	require.ErrorIs(t, refused, unix.ENOMEM, "over the limit the kernel refuses before it looks at the range")
	require.NoError(t, err, "the range is whole")
	assert.True(t, reservedAt(t, dst, n))
}

// A reservation in the middle of a larger PROT_NONE mapping (a quarantine
// merges neighbours so) cannot be unmapped over the mapping limit: the
// kernel would have to split the mapping in two. Release then fails and
// leaves the reservation as it was, reserved at its address, and a later
// Release, under the limit, releases it. In a child process, since the
// limit is the whole process's.
func TestReservationReleaseRefusedKeepsTheReservation(t *testing.T) {
	if !childtest.InChild(t) {
		return
	}
	outer, err := Reserve(6*PageSize, PageSize)
	require.NoError(t, err)
	defer outer.Release()
	at := unsafe.Add(outer.Addr(), PageSize)
	r := &Reservation{addr: at, len: 4 * PageSize} // as Reserve would have made it, merged with its neighbours

	restore := childtest.OverMappingLimit(t)
	err = r.Release()
	restore()

	require.ErrorIs(t, err, unix.ENOMEM, "unmapping the middle of a mapping over the limit")
	assert.Equal(t, at, r.Addr(), "the reservation keeps its address")
	assert.True(t, reservedAt(t, at, 4*PageSize))
	require.NoError(t, r.Release())
	assert.Nil(t, r.Addr())
	assert.NoError(t, r.Release(), "a second Release of a released reservation")
}
