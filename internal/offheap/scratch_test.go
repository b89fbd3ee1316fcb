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

// Contains holds exactly the scratch's bytes: its first and last, not
// the one before it nor the one just past its end (where another mapping
// may lie), and after Release no address at all, not even the small ones
// that an unmapped scratch's base of 0 would otherwise take in. A table
// built in scratch memory is told from one already in an arena by it.
func TestScratchContainsOnlyItsBytes(t *testing.T) {
	s, err := NewScratch(1 << 16)
	require.NoError(t, err)
	base, n := uintptr(s.m.Addr()), s.m.Len()
	assert.True(t, s.Contains(base), "the first byte")
	assert.True(t, s.Contains(base+n-1), "the last byte")
	assert.False(t, s.Contains(base-1), "the byte before")
	assert.False(t, s.Contains(base+n), "the byte past the end")
	require.NoError(t, s.Release())
	for _, p := range []uintptr{0, 1, n - 1, base, base + n - 1} {
		assert.False(t, s.Contains(p), "%#x after Release", p)
	}
}

// A scratch slice of no elements (a table built for no entries) is
// given, empty and not nil, and takes no scratch memory: only a negative
// length is refused. Zero-size elements likewise take none, however many.
func TestScratchSliceOfNothing(t *testing.T) {
	s, err := NewScratch(1 << 16)
	require.NoError(t, err)
	defer s.Release()
	_, err = ScratchSlice[byte](s, 1)
	require.NoError(t, err)
	used := s.used
	w, err := ScratchSlice[uint64](s, 0)
	require.NoError(t, err)
	assert.NotNil(t, w)
	assert.Empty(t, w)
	e, err := ScratchSlice[struct{}](s, 1000)
	require.NoError(t, err)
	assert.Len(t, e, 1000)
	assert.Equal(t, used, s.used, "scratch memory taken for nothing")
}
