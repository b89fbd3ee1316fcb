//go:build unix && !aix

package offheap

import (
	"math"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/internal/vm"
)

// TestScratchSlices: scratch slices are zeroed, aligned for their type,
// inside the scratch memory and apart from each other; types with
// pointers, negative lengths and sizes past the end are refused with
// typed errors; LiveScratchBytes counts the memory until Release, after
// which it is unmapped and nothing more is handed out.
func TestScratchSlices(t *testing.T) {
	live := LiveScratchBytes()
	s, err := NewScratch(1 << 20)
	require.NoError(t, err)
	assert.Equal(t, live+int64(s.m.Len()), LiveScratchBytes(), "scratch memory not counted")
	b, err := ScratchSlice[byte](s, 3)
	require.NoError(t, err)
	w, err := ScratchSlice[[2]uint64](s, 1000)
	require.NoError(t, err)
	assert.Len(t, w, 1000)
	assert.Equal(t, 1000, cap(w))
	assert.Zero(t, uintptr(unsafe.Pointer(&w[0]))%unsafe.Alignof(w[0]), "misaligned")
	assert.True(t, s.Contains(uintptr(unsafe.Pointer(&b[0]))))
	assert.True(t, s.Contains(uintptr(unsafe.Pointer(&w[999][1]))))
	assert.Greater(t, uintptr(unsafe.Pointer(&w[0])), uintptr(unsafe.Pointer(&b[2])), "slices overlap")
	for i := range w {
		require.Equal(t, [2]uint64{}, w[i])
	}
	w[999][1] = 42

	_, err = ScratchSlice[*int](s, 1)
	assert.ErrorIs(t, err, ErrUnsupported)
	_, err = ScratchSlice[string](s, 1)
	assert.ErrorIs(t, err, ErrUnsupported)
	_, err = ScratchSlice[byte](s, -1)
	assert.ErrorIs(t, err, ErrInvalidSize)
	_, err = ScratchSlice[byte](s, 1<<20)
	assert.ErrorIs(t, err, ErrExhausted)
	_, err = ScratchSlice[[1 << 20]byte](s, math.MaxInt>>10)
	assert.ErrorIs(t, err, ErrExhausted, "an overflowing size")
	rest, err := ScratchSlice[byte](s, int(s.m.Len()-s.used))
	require.NoError(t, err, "the last byte")
	assert.Equal(t, uintptr(s.m.Addr())+s.m.Len(), uintptr(unsafe.Pointer(&rest[len(rest)-1]))+1, "not up to the end")

	addr := uintptr(unsafe.Pointer(&w[0]))
	// The scratch's own mapping, as /proc/self/maps shows it (qemu-user's
	// emulation of that file does not show the guest's mappings: there,
	// as where there is no such file, the check after Release is skipped).
	var mine vm.MapsEntry
	seen := false
	if maps, err := vm.ReadMaps(); err == nil {
		mine, seen = maps.Find(addr)
		seen = seen && mine.Writable()
	}
	require.NoError(t, s.Release())
	require.NoError(t, s.Release(), "Release is idempotent")
	assert.Equal(t, live, LiveScratchBytes(), "released scratch memory still counted, or counted off twice")
	assert.False(t, s.Contains(addr))
	_, err = ScratchSlice[byte](s, 1)
	assert.ErrorIs(t, err, ErrClosed)
	if seen {
		// Once unmapped, the hole may at once hold a mapping of the Go
		// runtime's (it maps where the kernel finds room): only the
		// scratch's own mapping, the same bounds, must be gone.
		maps, err := vm.ReadMaps()
		require.NoError(t, err)
		if e, ok := maps.Find(addr); ok && e.Writable() && e.Start == mine.Start && e.End == mine.End {
			t.Errorf("released scratch memory still mapped writable: %+v", e)
		}
	}
}
