//go:build unix && !aix

// This test turns pointers into arena offsets (uintptr arithmetic on
// pointers the arena handed out, never turned back into pointers).

package offheap

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type small struct{ A, B int64 }

type other struct{ X int32 }

// New's fast path extends the last record in place; every interleaving of
// allocations must still leave one record per run, with the right offset,
// count and type.
func TestNewFastPathKeepsRecordsExact(t *testing.T) {
	a, err := NewArena("records", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	off := func(p unsafe.Pointer) uintptr { return uintptr(p) - uintptr(a.Base()) }
	newSmall := func() uintptr { return off(unsafe.Pointer(New[small](a))) }
	newOther := func() uintptr { return off(unsafe.Pointer(New[other](a))) }

	type want struct {
		off, size uintptr
		typ       string
	}
	var wants []want
	s0 := newSmall()
	newSmall()
	newSmall()
	wants = append(wants, want{s0, 48, "[3]small"})
	o0 := newOther()
	newOther()
	wants = append(wants, want{o0, 8, "[2]other"})
	// After a run of another type, small starts a new run, 8-aligned.
	s1 := newSmall()
	assert.Equal(t, uintptr(0), s1%8)
	wants = append(wants, want{s1, 16, "small"})
	str, err := String(a, "hello")
	require.NoError(t, err)
	wants = append(wants, want{off(unsafe.Pointer(unsafe.StringData(str))), 5, "[5]uint8"})
	// After a string, New must not extend the earlier run of small.
	s2 := newSmall()
	s3 := newSmall()
	assert.Equal(t, s2+16, s3)
	wants = append(wants, want{s2, 32, "[2]small"})
	sl, err := MakeSlice[small](a, 2)
	require.NoError(t, err)
	// MakeSlice extends the run too; the next New continues after it.
	s4 := newSmall()
	assert.Equal(t, off(unsafe.Pointer(&sl[0])), s3+16)
	assert.Equal(t, s3+48, s4)
	wants[len(wants)-1] = want{s2, 80, "[5]small"}
	assert.Equal(t, int(s4+16), a.Len())

	got := a.AllocationsIn(0, uintptr(a.Len()), 100)
	require.Len(t, got, len(wants))
	for i, w := range wants {
		assert.Equal(t, w.off, got[i].Offset, "record %d", i)
		assert.Equal(t, w.size, got[i].Size, "record %d", i)
		assert.Equal(t, w.typ, got[i].Type, "record %d", i)
	}

	// Frozen or closed, the fast path must not hand out memory.
	_, err = a.Freeze(Protect)
	require.NoError(t, err)
	assert.ErrorIs(t, newPanic[small](a), ErrFrozen)
	require.NoError(t, a.Close())
	assert.ErrorIs(t, newPanic[small](a), ErrClosed)
}

// The type cache holds the last two types allocated: allocating three in
// turn, each New finds its own type's analysis (the record says which),
// never a neighbour's, and a type with pointers is refused whatever the
// cache holds.
func TestTypeCacheGivesEachTypeItsOwn(t *testing.T) {
	a, err := NewArena("types", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	type third struct{ C [3]int16 }
	for range 4 {
		New[small](a)
		New[other](a)
		assert.ErrorIs(t, newPanic[*small](a), ErrUnsupported)
		New[small](a)
		New[third](a)
	}
	var types []string
	for _, al := range a.AllocationsIn(0, uintptr(a.Len()), 100) {
		types = append(types, al.Type)
	}
	want := []string{}
	for range 4 {
		want = append(want, "small", "other", "small", "third")
	}
	assert.Equal(t, want, types)
}

// newPanic returns the error New panics with (nil if it returns).
func newPanic[T any](a *Arena) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = r.(error)
		}
	}()
	New[T](a)
	return nil
}

// In the invariants build, the type cache that New and MakeSlice read
// first is part of the check for concurrent use: a goroutine reaching it
// while another is inside an operation of the arena (held here with
// enter) panics, rather than maybe reading the other's half-written entry.
func TestTypeCacheCountsAsAUseOfTheArena(t *testing.T) {
	if !Invariants {
		t.Skip("needs -race or -tags invariants")
	}
	a, err := NewArena("busy", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	a.enter() // another goroutine's operation, in progress
	assert.PanicsWithValue(t, "arena: concurrent use of an Arena (an Arena is not safe for concurrent use)",
		func() { _, _ = ptrFree[other](a) })
	a.leave()
	p := New[other](a) // and the arena is usable once that operation ends
	assert.Equal(t, other{}, *p)
}

// An arena smaller than the step its mapping grows by maps no more than
// its own reserved range: the mapping is made at a fixed address, so one
// reaching past the range would map over whatever the next range holds
// (another arena's memory, or a quarantined range, which must fault).
// The arena just after it, if it is there, keeps its bytes.
func TestSmallArenaMapsOnlyItsOwnRange(t *testing.T) {
	for _, limit := range []int64{1, 100, 4096, 5000, minGrow - 1} {
		a, err := NewArena("small", limit)
		require.NoError(t, err)
		b, err := NewArena("neighbour", limit)
		require.NoError(t, err)
		*New[byte](b) = 7
		*New[byte](a) = 1
		assert.LessOrEqual(t, a.Mapped(), int(a.Range().Len()), "WithMaxBytes(%d)", limit)
		assert.Equal(t, byte(7), *(*byte)(b.Base()), "WithMaxBytes(%d): the neighbour's byte", limit)
		require.NoError(t, a.Close())
		require.NoError(t, b.Close())
	}
}

// A zero-size T from New points at the arena's first byte every time,
// however many are allocated in a row, and is given no bytes: it starts
// no run that New's fast path could then extend, so the run of another
// type it follows keeps its count (a record counting one element too
// many would have Verify and Freeze cover bytes never allocated) and the
// next allocation still goes where that run ends.
func TestNewOfAZeroSizeTypeStartsNoRun(t *testing.T) {
	a, err := NewArena("zero-size", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	type empty struct{}
	off := func(p unsafe.Pointer) uintptr { return uintptr(p) - uintptr(a.Base()) }
	s0 := off(unsafe.Pointer(New[small](a)))
	for i := range 3 {
		assert.Zero(t, off(unsafe.Pointer(New[empty](a))), "zero-size value %d", i)
	}
	s1 := off(unsafe.Pointer(New[small](a)))
	assert.Equal(t, s0+16, s1)
	assert.Equal(t, int(s1+16), a.Len())

	got := a.AllocationsIn(0, uintptr(a.Len()), 100)
	require.Len(t, got, 1)
	assert.Equal(t, s0, got[0].Offset)
	assert.Equal(t, uintptr(32), got[0].Size)
	assert.Equal(t, "[2]small", got[0].Type)
}

// Empty slices and strings are not in the arena: MakeSlice of no
// elements, String of "" and Bytes of an empty slice point elsewhere (a
// zero-size allocation would point at the arena's first byte) and map
// nothing, so that an arena given only empty values has no memory to
// account for, and such values stay usable once it is closed.
func TestEmptyValuesAreNotInTheArena(t *testing.T) {
	a, err := NewArena("empty", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	base := uintptr(a.Base())
	in := func(p unsafe.Pointer) bool { return uintptr(p) == base }

	sl, err := MakeSlice[small](a, 0)
	require.NoError(t, err)
	assert.NotNil(t, sl)
	assert.Empty(t, sl)
	assert.False(t, in(unsafe.Pointer(unsafe.SliceData(sl))), "MakeSlice of no elements")
	s, err := String(a, "")
	require.NoError(t, err)
	assert.Empty(t, s)
	assert.False(t, in(unsafe.Pointer(unsafe.StringData(s))), `String("")`)
	b, err := Bytes(a, []byte{})
	require.NoError(t, err)
	assert.NotNil(t, b)
	assert.Empty(t, b)
	assert.False(t, in(unsafe.Pointer(unsafe.SliceData(b))), "Bytes of an empty slice")
	assert.Nil(t, a.w, "an arena given only empty values mapped memory")
	assert.Zero(t, a.Len())
}
