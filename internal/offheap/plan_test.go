package offheap

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type planned struct {
	S    []*int
	Name string
}

// A value that changes between PlanValue and ApplyValue (as one changed by
// another goroutine while Take clones it would) is copied with the
// lengths the plan sized the copy for: a header that took the new, longer
// length from the source again would reach past what was copied, into
// other allocations or past the arena's used bytes.
func TestApplyWritesTheLengthsThatWereCopied(t *testing.T) {
	one, two := 1, 2
	backing := make([]*int, 1, 64)
	backing[0] = &one
	v := &planned{S: backing, Name: "ab"}
	p, err := PlanValue(&v)
	require.NoError(t, err)
	defer p.Release()
	v.S = backing[:64]
	v.S[63] = &two
	v.Name = "a string longer than the one planned"

	a, err := NewArena("planned", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	root, err := ApplyValue[*planned](a, p)
	require.NoError(t, err)
	c := *root
	require.Len(t, c.S, 1)
	assert.Equal(t, 1, cap(c.S))
	assert.Equal(t, 1, *c.S[0])
	assert.Equal(t, "ab", c.Name)
	end := uintptr(a.Len())
	for _, b := range []struct {
		data unsafe.Pointer
		n    uintptr
	}{
		{unsafe.Pointer(unsafe.SliceData(c.S)), uintptr(len(c.S)) * ptrSize},
		{unsafe.Pointer(unsafe.StringData(c.Name)), uintptr(len(c.Name))},
	} {
		off := uintptr(b.data) - uintptr(a.Base())
		assert.LessOrEqual(t, off+b.n, end, "a header reaches past the arena's used bytes")
	}
	require.NoError(t, a.Validate())
}
