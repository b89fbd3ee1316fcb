//go:build unix && !aix

package arena_test

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/internal/graphtest"
)

// shortFirst and longFirst hold two slices of one backing array that start
// at the same element but have different lengths. Clone meets the fields
// in declaration order, so the two types make it meet the short view first
// or the long one first.
type shortFirst[E any] struct{ Short, Long []E }
type longFirst[E any] struct{ Long, Short []E }

func (v shortFirst[E]) views() (short, long []E) { return v.Short, v.Long }
func (v longFirst[E]) views() (short, long []E)  { return v.Short, v.Long }

// clonePrefix clones orig into a new arena and checks the clone's two
// views (requirePrefixKept).
func clonePrefix[S, E any](t *testing.T, orig S, views func(S) (short, long []E), want []any, view func(E) any) {
	t.Helper()
	a := newArena(t)
	got, err := arena.Clone(a, orig)
	require.NoError(t, err)
	short, long := views(got)
	requirePrefixKept(t, a, orig, got, short, long, want, view)
}

// cell is an element that carries a pointer, so a slice of cells is
// scanned (and deduplicated) like a slice of pointers.
type cell struct {
	N int
	P *int
}

// requirePrefixKept checks that short and long, cloned views of one
// backing array starting at the same element, still share their first
// element, that each has cap == len, that the clone has the original's
// shape and lies in the arena, and that long reads back want. view turns an
// element into something comparable; it must cope with a nil pointer, as a
// broken clone may hold one.
//
// The arena and shape checks run before view reads through the elements:
// if the clone copied only the short view, long's tail is whatever follows
// that copy, and following those words before knowing they point into the
// arena could fault the whole test binary instead of failing this test.
func requirePrefixKept[E any](t *testing.T, a *arena.Arena, orig, clone any, short, long []E, want []any, view func(E) any) {
	t.Helper()
	require.Len(t, long, len(want), "long view")
	require.Equal(t, len(short), cap(short), "short view: cap == len")
	require.Equal(t, len(long), cap(long), "long view: cap == len")
	require.Same(t, &short[0], &long[0], "the two views no longer share their first element")
	graphtest.RequireInArena(t, clone, a.Name())
	graphtest.RequireSameShape(t, orig, clone)
	got := make([]any, len(long))
	for i, e := range long {
		got[i] = view(e)
	}
	require.Equal(t, want, got, "long view")
	for i, e := range short {
		require.Equal(t, want[i], view(e), "short view [%d]", i)
	}
}

// Clone deduplicates pointer-bearing ranges so that sharing survives. Two
// slices with one start address but different lengths are different
// ranges: if they were taken for one, only the first-met length would be
// copied, and the longer view would read past its copy. Both orders are
// tried, and element types that are scanned (pointers, structs holding
// pointers) and that are not (bytes).
func TestCloneKeepsSharedPrefixOfDifferentLengths(t *testing.T) {
	derefInt := func(p *int) any {
		if p == nil {
			return nil
		}
		return *p
	}
	viewCell := func(c cell) any {
		if c.P == nil {
			return [2]any{c.N, nil}
		}
		return [2]any{c.N, *c.P}
	}
	viewByte := func(b byte) any { return b }
	wantInts := []any{1, 2, 3}
	wantCells := []any{[2]any{10, 1}, [2]any{20, 2}, [2]any{30, 3}}
	wantBytes := []any{byte('x'), byte('y'), byte('z')}

	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"pointers, short view first", func(t *testing.T) {
			x, y, z := 1, 2, 3
			s := []*int{&x, &y, &z}
			clonePrefix(t, shortFirst[*int]{Short: s[:1], Long: s[:3]}, shortFirst[*int].views, wantInts, derefInt)
		}},
		{"pointers, long view first", func(t *testing.T) {
			x, y, z := 1, 2, 3
			s := []*int{&x, &y, &z}
			clonePrefix(t, longFirst[*int]{Long: s[:3], Short: s[:1]}, longFirst[*int].views, wantInts, derefInt)
		}},
		{"pointers, views starting mid-array", func(t *testing.T) {
			w, x, y, z := 0, 1, 2, 3
			s := []*int{&w, &x, &y, &z}
			clonePrefix(t, shortFirst[*int]{Short: s[1:2], Long: s[1:4]}, shortFirst[*int].views, wantInts, derefInt)
		}},
		{"structs holding pointers, short view first", func(t *testing.T) {
			x, y, z := 1, 2, 3
			s := []cell{{10, &x}, {20, &y}, {30, &z}}
			clonePrefix(t, shortFirst[cell]{Short: s[:1], Long: s[:3]}, shortFirst[cell].views, wantCells, viewCell)
		}},
		{"structs holding pointers, long view first", func(t *testing.T) {
			x, y, z := 1, 2, 3
			s := []cell{{10, &x}, {20, &y}, {30, &z}}
			clonePrefix(t, longFirst[cell]{Long: s[:3], Short: s[:1]}, longFirst[cell].views, wantCells, viewCell)
		}},
		// Pointer-free ranges are not deduplicated but merged as
		// overlapping memory; the shape must come out the same.
		{"bytes, short view first", func(t *testing.T) {
			s := []byte("xyz")
			clonePrefix(t, shortFirst[byte]{Short: s[:1], Long: s[:3]}, shortFirst[byte].views, wantBytes, viewByte)
		}},
		{"bytes, long view first", func(t *testing.T) {
			s := []byte("xyz")
			clonePrefix(t, longFirst[byte]{Long: s[:3], Short: s[:1]}, longFirst[byte].views, wantBytes, viewByte)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.run)
	}
}

// constBox is boxed from a constant: the compiler puts its bytes in a
// read-only symbol, which the linker shares with a string literal of the
// same bytes.
type constBox struct {
	P *int
	_ [8 - unsafe.Sizeof(uintptr(0))]byte // so that A starts at 8 everywhere
	A [8]byte
}

// Clone meets fields in declaration order: the string first, or the box.
type stringThenBox struct {
	S string
	I any
}

type boxThenString struct {
	I any
	S string
}

// A constant struct boxed into an interface and a string literal of the
// same bytes share one address, with no unsafe code: the box's pointer
// word is nil, and lies over zero bytes of the string. Clone copies both
// (it refused them, as overlapping views only unsafe code makes), met in
// either order, and the clone keeps the original's shape.
func TestCloneConstantBoxOverAStringLiteral(t *testing.T) {
	t.Run("string first", func(t *testing.T) {
		v := &stringThenBox{S: "\x00\x00\x00\x00\x00\x00\x00\x00abcdefgh", I: constBox{A: [8]byte{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'}}}
		cloneBoxOverString(t, v, v.S, v.I)
	})
	t.Run("box first", func(t *testing.T) {
		v := &boxThenString{I: constBox{A: [8]byte{'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'}}, S: "\x00\x00\x00\x00\x00\x00\x00\x00ABCDEFGH"}
		cloneBoxOverString(t, v, v.S, v.I)
	})
}

// cloneBoxOverString checks that s and i, fields of v, share one address,
// and clones v.
func cloneBoxOverString[V any](t *testing.T, v *V, s string, i any) {
	t.Helper()
	box := (*[2]unsafe.Pointer)(unsafe.Pointer(&i))[1]
	require.Equal(t, unsafe.Pointer(unsafe.StringData(s)), box,
		"the toolchain no longer gives the box and the string one address: this test would test nothing")
	a := newArena(t)
	got, err := arena.Clone(a, v)
	require.NoError(t, err)
	require.Equal(t, v, got)
	graphtest.RequireInArena(t, got, a.Name())
	graphtest.RequireSameShape(t, v, got)
}
