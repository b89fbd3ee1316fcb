//go:build unix && !aix

package offheap

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

type tnode struct {
	ID   int64
	Next *tnode
	Name string
	Arr  [4]int64
}

type shuffledGraph struct {
	Nodes []*tnode  // every node, some twice, in shuffled order
	Ints  []*int64  // pointers into the nodes' arrays
	Owner []int     // Ints[k] points into Arr[2] of the node first listed at Owner[k]
	Names []*string // pointers to the nodes' names
}

// newShuffledGraph returns n nodes linked at random (cycles included),
// listed in an order their addresses do not follow, with pointers into
// them: a clone of more ranges than touchMin, met out of address order.
func newShuffledGraph(n int) (*shuffledGraph, map[*tnode]int) {
	r := rand.New(rand.NewPCG(3, uint64(n)))
	nodes := make([]*tnode, n)
	for i := range nodes {
		nodes[i] = &tnode{ID: int64(i), Name: fmt.Sprint("node-", i), Arr: [4]int64{int64(i), 1, 2, 3}}
	}
	for _, nd := range nodes {
		nd.Next = nodes[r.IntN(n)]
	}
	g := &shuffledGraph{Nodes: append(nodes, nodes[:n/10]...)}
	r.Shuffle(len(g.Nodes), func(i, j int) { g.Nodes[i], g.Nodes[j] = g.Nodes[j], g.Nodes[i] })
	first := make(map[*tnode]int, n)
	for i, nd := range g.Nodes {
		if _, ok := first[nd]; !ok {
			first[nd] = i
		}
	}
	for k := range n / 4 {
		i := r.IntN(len(g.Nodes))
		g.Ints = append(g.Ints, &g.Nodes[i].Arr[2])
		g.Owner = append(g.Owner, first[g.Nodes[i]])
		g.Names = append(g.Names, &g.Nodes[(i+k)%len(g.Nodes)].Name)
	}
	return g, first
}

// TestCloneOfManyRangesMetOutOfOrder clones a graph large enough that
// Clone reads its ranges ahead of visiting them (touchBlocks,
// touchOwners), met in an order their addresses do not follow: the
// clone must hold the same values with the same sharing, cycles and
// interior pointers, all in the arena.
func TestCloneOfManyRangesMetOutOfOrder(t *testing.T) {
	const n = 3 * touchMin
	g, first := newShuffledGraph(n)
	a, err := NewArena("touch", 256<<20)
	require.NoError(t, err)
	defer a.Close()
	p := planOnce(t, g)
	require.GreaterOrEqual(t, len(p.c.ranges), touchMin, "the clone touches its ranges")
	clp, err := ApplyValue[*shuffledGraph](a, p)
	require.NoError(t, err)
	cl := *clp

	lo, hi := uintptr(a.Base()), uintptr(a.Base())+a.used
	in := func(p unsafe.Pointer) bool { return uintptr(p) >= lo && uintptr(p) < hi }
	require.Equal(t, len(g.Nodes), len(cl.Nodes))
	for i, nd := range g.Nodes {
		c := cl.Nodes[i]
		require.True(t, in(unsafe.Pointer(c)), "node %d lies in the arena", i)
		require.Same(t, cl.Nodes[first[nd]], c, "node %d is the copy of its first listing", i)
		require.Equal(t, nd.ID, c.ID)
		require.Equal(t, nd.Name, c.Name)
		require.True(t, in(unsafe.Pointer(unsafe.StringData(c.Name))), "node %d's name lies in the arena", i)
		require.Equal(t, nd.Arr, c.Arr)
		require.Same(t, cl.Nodes[first[nd.Next]], c.Next, "node %d's link", i)
	}
	require.Equal(t, len(g.Ints), len(cl.Ints))
	for k := range g.Ints {
		require.Same(t, &cl.Nodes[g.Owner[k]].Arr[2], cl.Ints[k], "interior pointer %d", k)
	}
	for k, s := range g.Names {
		require.Equal(t, *s, *cl.Names[k])
		require.True(t, in(unsafe.Pointer(cl.Names[k])), "name pointer %d lies in the arena", k)
	}
}
