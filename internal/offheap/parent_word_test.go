//go:build unix && !aix

package offheap

import (
	"testing"
	"unsafe"

	"github.com/frozen-go/frozen/internal/layout"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parentHolds reports whether the record holding the byte at p has for
// parent the record that holds the word at slot.
func parentHolds(t *testing.T, a *Arena, p, slot unsafe.Pointer) bool {
	t.Helper()
	at := func(p unsafe.Pointer) uintptr { return uintptr(p) - uintptr(a.Base()) }
	j := a.recordAt(at(p))
	require.GreaterOrEqual(t, j, 0)
	parent := a.recs.at(j).Parent
	require.Less(t, parent, uint32(a.recs.len()), "record %d has no parent record", j)
	lo, size := a.recSpan(int(parent))
	return at(slot) >= lo && at(slot)-lo < size
}

// A record's parent holds the word by which Clone reached it first: for
// a leaf reached through a pointer to an element of an array that
// overlapping windows share, the record holding that element, which a
// range covered by the windows' records must find (containing), not the
// record written last; for a leaf reached first through a window whose
// first elements lie in an earlier window's record, the record holding
// them, not the one the window added past them. A path leaves a record
// by its parent's words first, and looks elsewhere, at a cost bounded in
// a large arena, only when none of them goes on to the root.
func TestRecordParentHoldsTheWordThatReachedIt(t *testing.T) {
	t.Run("pointers to window elements", func(t *testing.T) {
		const n, width = 12, 4
		a, err := NewArena("parent-word", 1<<20)
		require.NoError(t, err)
		defer a.Close()
		cl, err := Clone(a, newWindows(n, width))
		require.NoError(t, err)
		for i, p := range cl.P {
			assert.True(t, parentHolds(t, a, unsafe.Pointer(p.L), unsafe.Pointer(&p.L)), "leaf %d", i)
		}
	})
	t.Run("a window met before those it overlaps", func(t *testing.T) {
		back := make([]windowElem, 5)
		for i := range back {
			back[i] = windowElem{L: &windowLeaf{V: int64(i)}, N: int64(i)}
		}
		a, err := NewArena("parent-word", 1<<20)
		require.NoError(t, err)
		defer a.Close()
		// The window of back[2:5], scanned first, reaches the leaves of
		// back[2] to back[4]; back[0:3], recorded first as it starts
		// lowest, those of back[0] and back[1]. The record of back[0:3]
		// holds back[2], the one of back[1:4] (written last before
		// back[2:5] is met) holds only back[3].
		cl, err := Clone(a, [][]windowElem{back[2:5], back[0:3], back[1:4]})
		require.NoError(t, err)
		require.Same(t, &cl[0][0], &cl[1][2])
		require.Same(t, &cl[0][0], &cl[2][1])
		for i, e := range []*windowElem{&cl[1][0], &cl[1][1], &cl[0][0]} {
			assert.Equal(t, int64(i), e.L.V)
			assert.True(t, parentHolds(t, a, unsafe.Pointer(e.L), unsafe.Pointer(&e.L)), "leaf %d", i)
		}
	})
}

type firstRecRoot struct {
	P *int64
	N *firstRecNode
}

type firstRecNode struct{ Q *[2]int64 }

// firstRecAll keeps the array below the root in one allocation, so that
// its record is the clone's first.
type firstRecAll struct {
	Arr [2]int64
	R   firstRecRoot
	N   firstRecNode
}

// The parent of the clone's first record is that of the first-discovered
// range it holds, like any other record's: here the root's pointer to the
// array's second element, met one step before the pointer to the whole
// array that makes the record. The second element is then named by the
// root's own field, not through the node.
func TestParentOfTheClonesFirstRecord(t *testing.T) {
	all := &firstRecAll{Arr: [2]int64{1, 2}}
	all.R = firstRecRoot{P: &all.Arr[1], N: &all.N}
	all.N.Q = &all.Arr

	a, err := NewArena("first-record", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	root, err := a.cloneRoot(layout.For[firstRecRoot](), unsafe.Pointer(&all.R))
	require.NoError(t, err)
	cl := (*firstRecRoot)(root)
	require.Same(t, &cl.N.Q[1], cl.P)
	at := func(p unsafe.Pointer) uintptr { return uintptr(p) - uintptr(a.Base()) }
	require.Zero(t, a.recordAt(at(unsafe.Pointer(cl.N.Q))), "the array's record comes first")
	assert.Equal(t, "(*firstRecRoot.P)", a.PathAt(at(unsafe.Pointer(cl.P))))
	assert.Equal(t, "firstRecRoot.N.Q[0]", a.PathAt(at(unsafe.Pointer(&cl.N.Q[0]))))
	assert.True(t, parentHolds(t, a, unsafe.Pointer(cl.P), unsafe.Pointer(&cl.P)))
}
