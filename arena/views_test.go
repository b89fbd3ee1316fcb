//go:build unix && !aix

package arena_test

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
)

type twoWindows struct {
	A, B []ptrElem
	Raw  []byte
}

// A view is compared with the earlier view that reaches furthest, not with
// the first of its block: here a []byte view (made with unsafe) of the
// pointer of the last element overlaps only the second of two windows of
// one array, which agree with each other, and is refused all the same. If
// it were not, the clone would hold a []byte over a translated pointer,
// bytes that a write through the []byte would turn into a Go-heap address
// in the arena.
func TestCloneRefusesAByteViewOverlappingOnlyALaterWindow(t *testing.T) {
	a := newArena(t)
	obj := new([64]byte)
	s := []ptrElem{{P: obj, N: 1}, {P: obj, N: 2}, {P: obj, N: 3}, {P: obj, N: 4}}
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&s[3].P)), unsafe.Sizeof(s[3].P))
	_, err := arena.Clone(a, twoWindows{A: s[0:2], B: s[1:4], Raw: raw})
	require.ErrorIs(t, err, arena.ErrUnsupported)
	assert.Contains(t, err.Error(), "overlaps other memory of the value as a type with other pointer words there")
	assert.Equal(t, 0, a.Len(), "a refused clone allocates nothing")

	// Without the byte view, the windows are cloned.
	got, err := arena.Clone(a, twoWindows{A: s[0:2], B: s[1:4]})
	require.NoError(t, err)
	assert.Same(t, &got.A[1], &got.B[0])
	assert.Same(t, got.A[0].P, got.B[2].P)
}

type offElem struct {
	S    []ptrElem
	Skew *ptrElem // an element's worth of bytes from the middle of one to the middle of the next
}

// A view of an array's element type that does not start on an element
// boundary (only unsafe code makes one) reads the array's pointer words
// as other fields: it is refused, though it has the array's element type
// and lies inside the array, so that no element of it straddles the end
// of the bytes before it.
func TestCloneRefusesAViewOfAnArrayOffItsElements(t *testing.T) {
	a := newArena(t)
	obj := new([64]byte)
	s := []ptrElem{{P: obj}, {P: obj, N: 2}, {P: obj, N: 3}}
	skew := (*ptrElem)(unsafe.Add(unsafe.Pointer(&s[0]), unsafe.Offsetof(s[0].N)))
	require.Nil(t, skew.P, "the view's pointer word is s[0].N, 0")
	_, err := arena.Clone(a, offElem{S: s, Skew: skew})
	require.ErrorIs(t, err, arena.ErrUnsupported)
	assert.Contains(t, err.Error(), "offElem.Skew")
	assert.Contains(t, err.Error(), "overlaps other memory of the value as a type with other pointer words there")
	assert.Equal(t, 0, a.Len(), "a refused clone allocates nothing")
}

type ptrs3 struct{ X, Y, Z *int }

type ptrs2 struct{ X, Y *int }

// Interface boxes whose elements straddle each other's are cloned only
// while every byte of them is zero (reflect's zero values): the part of a
// straddling element past the earlier boxes is copied as raw bytes, in
// no record. Boxes made with unsafe to straddle over memory that holds a
// pointer there are refused: copied raw, it would be a Go-heap address in
// the arena that the garbage collector does not see.
func TestCloneRefusesStraddlingBoxesThatAreNotZero(t *testing.T) {
	a := newArena(t)
	x := 7
	mem := &[4]*int{nil, nil, nil, &x}
	first, second := any(ptrs3{}), any(ptrs2{})
	(*[2]unsafe.Pointer)(unsafe.Pointer(&first))[1] = unsafe.Pointer(&mem[0])
	(*[2]unsafe.Pointer)(unsafe.Pointer(&second))[1] = unsafe.Pointer(&mem[2])
	require.Equal(t, ptrs2{Y: &x}, second, "the second box's pointer lies past the first box")
	_, err := arena.Clone(a, []any{first, second})
	require.ErrorIs(t, err, arena.ErrUnsupported)
	assert.Contains(t, err.Error(), "overlaps other memory of the value without lining up with its elements")
	assert.Equal(t, 0, a.Len(), "a refused clone allocates nothing")

	// The same boxes over zeroed memory are cloned.
	mem[3] = nil
	got, err := arena.Clone(a, []any{first, second})
	require.NoError(t, err)
	assert.Equal(t, []any{ptrs3{}, ptrs2{}}, got)
}
