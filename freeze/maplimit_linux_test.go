//go:build linux && !race && !frozen_fallback

// Not under the race detector, which maps shadow memory of its own as the
// process runs, and could not over the mapping limit; not on the portable
// backend, which is for systems without that limit's behaviour.

package freeze_test

import (
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

// A process that has reached vm.max_map_count can still close what it
// froze, in every mode: over the limit the kernel refuses every mmap,
// the one that releases a mapping included, and Close failed for good
// (the Go runtime, unable to map memory either, soon stopped the
// process). Released, the range is PROT_NONE and a read of it is named
// as a use after Close. In a child process, since the limit is the whole
// process's.
func TestCloseAtTheMappingLimit(t *testing.T) {
	if !childtest.InChild(t) {
		return
	}
	defer offheap.SetAsideMin(offheap.SetAsideMin(vm.PageSize)) // Seal moves its page tables aside
	for _, mode := range []freeze.Mode{freeze.Protect, freeze.Alias, freeze.Seal} {
		if mode != freeze.Protect && !modeWorks(mode) {
			continue
		}
		a, _, c, _ := clonedConfig(t)
		r, err := freeze.Freeze(a, mode)
		require.NoError(t, err, "%s", mode)
		require.NoError(t, r.Verify(), "%s: the background work is done", mode) // it maps too
		ro := freeze.ReadOnly(r, c)

		restore := childtest.OverMappingLimit(t)
		err = r.Close()
		restore()

		require.NoError(t, err, "%s", mode)
		for _, e := range arenaMaps(t, a) {
			assert.Equal(t, "---p", e.Perms, "%s: %#x-%#x", mode, e.Start, e.End)
		}
		err = freeze.Guard(func() { readSink = ro.Version })
		var uac *freeze.UseAfterClose
		require.ErrorAs(t, err, &uac, "%s", mode)
		assert.Equal(t, a.Name(), uac.Region, "%s", mode)
	}
}

// readSink keeps a read that should fault from being compiled away.
var readSink int

// modeWorks reports whether the kernel here can freeze in mode m.
func modeWorks(m freeze.Mode) bool {
	seals, _, _, reopen := vm.Features()
	return seals == nil && reopen == nil || m == freeze.Protect
}

// If, at the limit, another thread maps into a range between the
// release's munmap and its new reservation, Close still closes the arena
// (a second Close has nothing to do), says that the range was lost, and
// never hands the range out again nor maps over what the other thread
// mapped there, nor does Guard take a fault there for the region's. (The
// owner's range, released first; an Alias view's,
// released second, does not go through the munmap: the first release's
// new reservation merges with its neighbours and brings the process back
// under the limit. The hook frees the limit's mappings once it has mapped
// into the hole, which would keep the process over the limit, where the
// Go runtime cannot get memory for its own use.)
func TestCloseAtTheMappingLimitNeverHandsOutALostRange(t *testing.T) {
	childtest.NeedAddressSpace(t, 16<<30) // per mode, five arenas of 1 GiB and their views live
	if !childtest.InChild(t) {
		return
	}
	defer space.SetQuarantine(space.SetQuarantine(0, 0)) // a range given back is reused at once
	for _, mode := range []freeze.Mode{freeze.Protect, freeze.Alias} {
		if !modeWorks(mode) {
			continue
		}
		a, _, _, _ := clonedConfig(t)
		r, err := freeze.Freeze(a, mode)
		require.NoError(t, err)
		require.NoError(t, r.Verify())
		var other unsafe.Pointer
		var otherErr error
		var restore func()
		restoreHook := vm.SetAfterUnmap(func(at unsafe.Pointer, _ uintptr) {
			if other == nil && otherErr == nil {
				other, otherErr = unix.MmapPtr(-1, 0, at, vm.PageSize, unix.PROT_READ|unix.PROT_WRITE,
					unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED_NOREPLACE)
				if otherErr == nil {
					*(*byte)(other) = 0x5a
				}
				restore()
			}
		})

		restore = childtest.OverMappingLimit(t)
		err = r.Close()
		restore()
		restoreHook()

		require.NoError(t, otherErr, "%s: the range was a hole", mode)
		require.ErrorIs(t, err, vm.ErrRangeLost, "%s", mode)
		assert.ErrorContains(t, err, "release mapping")
		assert.NoError(t, r.Close(), "closed already")
		assert.NoError(t, a.Close(), "closed already")
		lo, hi := uintptr(other), uintptr(other)+vm.PageSize
		for range 4 {
			// Neither a new arena nor its Alias view takes the lost page.
			b := newArena(t)
			p := arena.New[[64]byte](b)
			assert.False(t, overlaps(offheap.Unwrap(b).Range(), lo, hi), "%s: a new arena was given the lost range", mode)
			if modeWorks(freeze.Alias) {
				bv, err := freeze.Freeze(b, freeze.Alias)
				require.NoError(t, err)
				v := uintptr(unsafe.Pointer(freeze.ReadOnly(bv, p)))
				assert.False(t, lo <= v && v < hi, "%s: a new view was given the lost range", mode)
			}
		}
		assert.Equal(t, byte(0x5a), *(*byte)(other), "%s: the other mapping is untouched", mode)

		// A fault there is the other mapping's owner's: Guard passes it
		// through, instead of naming the closed region (space no longer
		// lists the lost range, under its old owner or at all).
		require.NoError(t, unix.Mprotect(unsafe.Slice((*byte)(other), vm.PageSize), unix.PROT_READ))
		var rec any
		func() {
			defer func() { rec = recover() }()
			err = freeze.Guard(func() { *(*byte)(other) = 1 })
		}()
		assert.NotNil(t, rec, "%s: a fault in another mapping, in a range the library lost, was claimed by Guard: %v", mode, err)
		require.NoError(t, unix.MunmapPtr(other, vm.PageSize))
	}
}
