//go:build unix && !aix

package offheap

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVerifyListsTheAllocationOnAPagesLastByte: a changed page is
// described with every allocation overlapping any of its bytes, the last
// one included: a one-byte allocation at offset PageSize-1 is listed for
// page 0 when a write elsewhere on it changed that page, and not for page
// 1, where it has no byte. It is the page's last byte a stray write may
// have hit.
func TestVerifyListsTheAllocationOnAPagesLastByte(t *testing.T) {
	a, err := NewArena("last-byte", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	head, err := MakeSlice[byte](a, PageSize-1)
	require.NoError(t, err)
	last := New[int8](a)
	tail := New[uint64](a)
	require.Equal(t, uintptr(PageSize-1), uintptr(unsafe.Pointer(last))-uintptr(a.Base()))
	*tail = 1
	r, err := a.Freeze(Alias)
	require.NoError(t, err)
	require.NoError(t, r.Wait()) // the owner's mapping is writable again
	head[0] ^= 0xff
	*tail ^= 0xff
	changed, err := r.Verify(10)
	require.NoError(t, err)
	require.Len(t, changed, 2)
	assert.Equal(t, 0, changed[0].Index)
	assert.Equal(t, [2]uintptr{0, PageSize}, [2]uintptr{changed[0].Start, changed[0].End})
	assert.Equal(t, []Allocation{
		{Offset: 0, Size: PageSize - 1, Type: "[4095]uint8"},
		{Offset: PageSize - 1, Size: 1, Type: "int8"},
	}, withoutPaths(changed[0].Allocs))
	assert.Equal(t, 1, changed[1].Index)
	assert.Equal(t, [2]uintptr{PageSize, r.size}, [2]uintptr{changed[1].Start, changed[1].End})
	assert.Equal(t, []Allocation{{Offset: PageSize, Size: 8, Type: "uint64"}}, withoutPaths(changed[1].Allocs))
}

// withoutPaths returns as with their paths left out.
func withoutPaths(as []Allocation) []Allocation {
	out := make([]Allocation, len(as))
	for i, a := range as {
		out[i] = Allocation{Offset: a.Offset, Size: a.Size, Type: a.Type}
	}
	return out
}
