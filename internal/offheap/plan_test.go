//go:build unix && !aix

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

type twoAny struct{ X, Y any }

// An interface whose type changes between PlanValue and ApplyValue (as one
// written by another goroutine while Take clones it would) is not copied
// with its new type word over a copy of its old value, which readers
// would read as the new type: the clone is refused, and the interface
// written into the arena is nil. One that changed only its value is
// copied as planned.
func TestApplyRefusesAnInterfaceWhoseTypeChanged(t *testing.T) {
	for _, tc := range []struct {
		name string
		now  any
	}{
		{"to a type never met", [4]int64{1, 2, 3, 4}},
		{"to a type of the same size met elsewhere in the value", "sixteen bytes!!"},
		{"to nil", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &twoAny{X: [2]int64{1, 2}, Y: "a string"}
			p, err := PlanValue(&v)
			require.NoError(t, err)
			defer p.Release()
			v.X = tc.now
			a, err := NewArena("changed", 1<<20)
			require.NoError(t, err)
			defer a.Close()
			_, err = ApplyValue[*twoAny](a, p)
			var ce *CloneError
			require.ErrorAs(t, err, &ce)
			require.ErrorIs(t, err, errChanged)
			assert.Contains(t, err.Error(), "twoAny.X")
			require.NoError(t, a.Validate())
		})
	}

	v := &twoAny{X: [2]int64{1, 2}}
	p, err := PlanValue(&v)
	require.NoError(t, err)
	defer p.Release()
	v.X = [2]int64{3, 4} // a new box of the same type
	a, err := NewArena("changed-value", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	root, err := ApplyValue[*twoAny](a, p)
	require.NoError(t, err)
	assert.Equal(t, [2]int64{1, 2}, (*root).X, "the box discover found, copied")
}

// A plan released before it is applied no longer knows the graph it
// planned: Apply refuses it, rather than copy the root's bytes as they are,
// which would put the Go-heap pointers they hold into arena memory, where
// the garbage collector does not see them (invariant 1).
func TestApplyRefusesAReleasedPlan(t *testing.T) {
	one := 1
	v := &planned{S: []*int{&one}, Name: "ab"}
	p, err := PlanValue(&v)
	require.NoError(t, err)
	p.Release()

	a, err := NewArena("released-plan", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	root, err := ApplyValue[*planned](a, p)
	require.ErrorIs(t, err, errPlanReleased)
	assert.Nil(t, root)
	assert.Zero(t, a.Len(), "nothing was allocated")
	require.NoError(t, a.Validate())
}

// A plan applied twice gives two copies, each with its own records, as
// two plans would: the second Apply does not reuse what the first left in
// the plan's scratch space.
func TestApplyTwice(t *testing.T) {
	one, two := 1, 2
	v := &planned{S: []*int{&one, &two, &one}, Name: "ab"}
	p, err := PlanValue(&v)
	require.NoError(t, err)
	defer p.Release()

	a, err := NewArena("twice", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	for range 2 {
		root, err := ApplyValue[*planned](a, p)
		require.NoError(t, err)
		c := *root
		require.Len(t, c.S, 3)
		assert.Equal(t, 1, *c.S[0])
		assert.Equal(t, 2, *c.S[1])
		assert.Same(t, c.S[0], c.S[2])
		assert.Equal(t, "ab", c.Name)
	}
	require.NoError(t, a.Validate())
	// The second copy's records are the first's, moved on by as many.
	require.Zero(t, a.recs.len()%2)
	n := a.recs.len() / 2
	for j := range n {
		first, second := a.recs.at(j), a.recs.at(n+j)
		want := first.Parent
		if want < RunOfStrings {
			want += uint32(n)
		}
		assert.Equal(t, want, second.Parent, "record %d's parent", n+j)
		assert.Equal(t, first.N, second.N)
		assert.Equal(t, first.Type, second.Type)
	}
}
