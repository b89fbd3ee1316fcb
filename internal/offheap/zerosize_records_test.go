//go:build unix && !aix

package offheap

import (
	"reflect"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type markedPair struct {
	A    int64
	Mark struct{}
	B    int64
}

type markRefs struct {
	P    *markedPair
	Mark *struct{}
}

// A pointer to a zero-size field between two others points at the next
// field's first byte. Inside a value Clone copies anyway, it leads into
// that value's copy and adds no record: a record of its own there, of no
// bytes, would be the one found for the next field's first byte, which
// would then be named as outside any allocation.
func TestPointerToAZeroSizeFieldInsideACopiedValue(t *testing.T) {
	m := &markedPair{A: 1, B: 2}
	a, err := NewArena("zero-size-field", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	cl, err := Clone(a, markRefs{P: m, Mark: &m.Mark})
	require.NoError(t, err)
	require.Same(t, &cl.P.Mark, cl.Mark)
	require.Equal(t, int64(2), cl.P.B)
	at := func(p unsafe.Pointer) uintptr { return uintptr(p) - uintptr(a.Base()) }
	assert.Equal(t, "markRefs.P.A", a.PathAt(at(unsafe.Pointer(&cl.P.A))))
	assert.Equal(t, "markRefs.P.B", a.PathAt(at(unsafe.Pointer(&cl.P.B))))
	require.NoError(t, a.Validate())
}

type twoMarks struct{ X, Y *struct{} }

// Two pointers to one zero-size field of a value Clone does not copy
// lead to one copy, which is one allocation, of no bytes: the second
// pointer's range starts where the first ends, at the end of all the
// block holds so far, and adds nothing.
func TestTwoPointersToOneZeroSizeFieldAreOneAllocation(t *testing.T) {
	m := &markedPair{A: 1, B: 2}
	a, err := NewArena("zero-size-twice", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	cl, err := Clone(a, &twoMarks{X: &m.Mark, Y: &m.Mark})
	require.NoError(t, err)
	require.Same(t, cl.X, cl.Y)
	off := uintptr(unsafe.Pointer(cl.X)) - uintptr(a.Base())
	var at []Allocation
	for _, al := range a.AllocationsIn(0, uintptr(a.Len()), 100) {
		if al.Offset == off {
			at = append(at, al)
		}
	}
	require.Len(t, at, 1, "allocations at the copy")
	assert.Zero(t, at[0].Size)
	assert.Equal(t, "*twoMarks.X", at[0].Path)
}

type pairPtrs struct{ X, Y *int }

type pairAt16 struct {
	Pad [16]byte
	F   pairPtrs
}

// reflect's zero values boxed apart can straddle: here a 16-byte pair at
// byte 16 of the 24-byte value boxed before it. The straddling pair has
// only the element that straddles, so nothing of it lies past the earlier
// value's record in whole elements: it adds no record, not even one of
// no elements (the bytes past the earlier value, all zero, are copied in
// none, as TestCloneRecordsDoNotOverlap's zero boxes are).
func TestStraddlingZeroBoxOfOneElementAddsNoRecord(t *testing.T) {
	zeros := []any{
		reflect.Zero(reflect.TypeFor[zeroPtrs3]()).Interface(),
		reflect.Zero(reflect.TypeFor[pairAt16]()).Field(1).Interface(),
	}
	box := func(v *any) uintptr { return uintptr((*[2]unsafe.Pointer)(unsafe.Pointer(v))[1]) }
	require.Equal(t, box(&zeros[0])+16, box(&zeros[1]), "the test needs reflect's shared zero value")

	a, err := NewArena("straddling-box", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	cl, err := Clone(a, zeros)
	require.NoError(t, err)
	require.Equal(t, zeroPtrs3{}, cl[0])
	require.Equal(t, pairPtrs{}, cl[1])
	require.Equal(t, box(&cl[0])+16, box(&cl[1]), "the boxes' copies overlap as the boxes do")
	for j := range a.recs.len() {
		_, size := a.recSpan(j)
		assert.NotZero(t, size, "record %d holds no bytes", j)
	}
}
