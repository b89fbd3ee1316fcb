//go:build linux && !race && !frozen_fallback

// Not under the race detector, like maplimit_linux_test.go: the test runs a
// child at vm.max_map_count.

package freeze_test

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/childtest"
	"github.com/frozen-go/frozen/internal/space"
	"github.com/frozen-go/frozen/internal/vm"
)

// When Close of a frozen region loses its range (at the mapping limit,
// another thread maps into the hole between munmap and the new
// reservation), the range is no longer the library's: Close says so, and
// a fault there belongs to whoever mapped it. Guard passes it through
// instead of naming the closed region (*UseAfterClose): space no longer
// lists the lost range (space.Lose), under its old owner or at all.
func TestGuardPassesThroughAFaultInAnotherMappingInALostRange(t *testing.T) {
	if !childtest.InChild(t) {
		return
	}
	defer space.SetQuarantine(space.SetQuarantine(0, 0))
	a, _, _, _ := clonedConfig(t)
	r, err := freeze.Freeze(a, freeze.Protect)
	require.NoError(t, err)
	require.NoError(t, r.Verify())
	var other unsafe.Pointer
	var otherErr error
	var restore func()
	restoreHook := vm.SetAfterUnmap(func(at unsafe.Pointer, _ uintptr) {
		if other == nil && otherErr == nil {
			other, otherErr = unix.MmapPtr(-1, 0, at, vm.PageSize, unix.PROT_READ,
				unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED_NOREPLACE)
			restore()
		}
	})
	restore = childtest.OverMappingLimit(t)
	err = r.Close()
	restore()
	restoreHook()
	require.NoError(t, otherErr)
	require.ErrorIs(t, err, vm.ErrRangeLost)
	defer unix.MunmapPtr(other, vm.PageSize)

	// Someone else's read-only page; its owner writes it by mistake.
	var rec any
	func() {
		defer func() { rec = recover() }()
		err = freeze.Guard(func() { *(*byte)(other) = 1 })
	}()
	require.NotNil(t, rec, "a fault in another mapping, in a range the library lost, was claimed by Guard: %v", err)
}
