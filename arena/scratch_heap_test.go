//go:build unix && !aix

package arena_test

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
)

// The scratch of a clone of many objects, a few hundred bytes of Go heap
// each, is garbage once Clone returns: one collection later the heap
// holds little more than the arena's records of them (24 bytes a node of
// this list). When every clone's scratch went back to a pool, it stayed
// live through the next two collections, about 400 bytes a node, and
// raised the goal of each.
func TestLargeCloneLeavesItsScratchToTheCollector(t *testing.T) {
	const n = 200_000
	type node struct {
		V    int
		Next *node
	}
	var head *node
	for i := range n {
		head = &node{i, head}
	}
	a, err := arena.NewArena(arena.WithName("large-clone"))
	require.NoError(t, err)
	defer a.Close()
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	c, err := arena.Clone(a, head)
	require.NoError(t, err)
	runtime.GC()
	runtime.ReadMemStats(&m1)
	kept := (float64(m1.HeapAlloc) - float64(m0.HeapAlloc)) / n
	assert.Less(t, kept, 100.0, "bytes of Go heap kept a node, one collection after the clone")
	assert.Equal(t, n-1, c.V)
	runtime.KeepAlive(head)
}
