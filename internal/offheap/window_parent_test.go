//go:build unix && !aix

package offheap

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type deepElem struct {
	Next *deepNode
	N    int64
}

type deepNode struct {
	W [][]deepElem
	V int64
}

type deepRoot struct {
	Head *deepNode
	Pad  []*int64
}

// Each node is reached through the last element of a window met first,
// an element that lies past the record of the window it overlaps: the
// record holding the word that reached the node is the one the window
// added, and a path leaves the node's record by that word. In an arena
// of more than freeLooks records, where a path may look elsewhere than
// its parent only maxDetours times, a node four levels down is still
// named from the root.
func TestPathThroughWindowsInALargeArena(t *testing.T) {
	var head *deepNode
	for d := range 4 {
		back := make([]deepElem, 3)
		back[2].Next = head
		head = &deepNode{W: [][]deepElem{back[1:3], back[0:2]}, V: int64(d)}
	}
	r := deepRoot{Head: head}
	for range freeLooks + 1 {
		r.Pad = append(r.Pad, new(int64))
	}
	a, err := NewArena("deep-windows", 1<<24)
	require.NoError(t, err)
	defer a.Close()
	cl, err := Clone(a, r)
	require.NoError(t, err)
	n := cl.Head
	for n.W[0][1].Next != nil {
		n = n.W[0][1].Next
	}
	require.Equal(t, int64(0), n.V)
	path := a.PathAt(uintptr(unsafe.Pointer(&n.V)) - uintptr(a.Base()))
	assert.Equal(t, "deepRoot.Head"+strings.Repeat(".W[0][1].Next", 3)+".V", path)
}

type loopElem struct {
	Next *loopNode
	N    int64
}

type loopNode struct {
	W []loopElem
	V int64
}

type loopRoot struct {
	A []loopElem
	P []loopElem
}

// A record's parent holds the word that reached it only where that
// record's owner was discovered earlier. Here the root's windows A and P
// of one array reach a node through P's last element, which lies in the
// array's second record; that record was made by the node's own window
// W, discovered after the node. Taking it for the node's parent would
// make the node and that record each other's parent, a cycle that no
// path climbs out of to the root; the node takes the record holding P's
// first byte instead, and every record's parents lead to the root.
func TestRecordParentsNeverRoundACycle(t *testing.T) {
	back := make([]loopElem, 5)
	node := &loopNode{V: 7}
	back[3].Next = node
	node.W = back[1:5]
	a, err := NewArena("parent-cycle", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	cl, err := Clone(a, loopRoot{A: back[0:2], P: back[1:4]})
	require.NoError(t, err)
	require.Same(t, &cl.P[1], &cl.P[2].Next.W[1], "the node's window is a view of the same copy")

	n := a.recs.len()
	require.Equal(t, 4, n, "the root, the node and the array's two records")
	for j := range n {
		p, steps := a.recs.at(j).Parent, 0
		for ; p != NoParent && steps <= n; steps++ {
			p = a.recs.at(int(p)).Parent
		}
		assert.LessOrEqual(t, steps, n, "record %d: its parents go round a cycle", j)
	}
	at := func(p unsafe.Pointer) uintptr { return uintptr(p) - uintptr(a.Base()) }
	assert.Equal(t, "loopRoot.P[2].Next.V", a.PathAt(at(unsafe.Pointer(&cl.P[2].Next.V))))
}
