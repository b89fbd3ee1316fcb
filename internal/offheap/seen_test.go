package offheap

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seenSet against a Go map: keys at heap-like addresses, many sharing an
// address with another count or type (an array and its first element),
// each added twice; the first add of a key returns the index given, every
// later one the index of the first, across growth, resets and reuse.
func TestSeenSetMatchesAMap(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	var s seenSet
	for _, n := range []int{0, 1, 31, 32, 33, 1000, 50_000, 10} {
		want := map[rangeKey]int32{}
		for i := range 2 * n {
			k := rangeKey{addr: heapBase + uintptr(r.IntN(n+1))*8, n: uintptr(1 + r.IntN(2)), id: uint32(r.IntN(3))}
			idx := int32(i)
			got, found := s.add(k, idx)
			if w, ok := want[k]; ok {
				require.True(t, found, "key %+v added before", k)
				require.Equal(t, w, got)
				continue
			}
			require.False(t, found, "key %+v not added before", k)
			require.Equal(t, idx, got)
			want[k] = idx
		}
		assert.Equal(t, len(want), s.n)
		assert.LessOrEqual(t, 2*s.n, len(s.slots), "more than half full")
		s.reset()
		assert.Zero(t, s.n)
		for _, sl := range s.slots {
			require.Zero(t, sl.idx, "a slot survived reset")
		}
	}
}

// A set grown large for one clone is dropped by the reset after a small
// one, so that a pooled cloner does not clear a large table for every
// small clone; one of moderate size is kept.
func TestSeenSetShrinksAfterASmallClone(t *testing.T) {
	var s seenSet
	for i := range 100_000 {
		s.add(rangeKey{addr: heapBase + uintptr(i)*16, n: 1}, int32(i))
	}
	s.reset()
	assert.NotEmpty(t, s.slots, "kept after the clone that needed it")
	s.add(rangeKey{addr: heapBase, n: 1}, 0)
	s.reset()
	assert.Empty(t, s.slots)

	for i := range 1000 {
		s.add(rangeKey{addr: heapBase + uintptr(i)*16, n: 1}, int32(i))
	}
	s.reset()
	s.add(rangeKey{addr: heapBase, n: 1}, 0)
	s.reset()
	assert.Len(t, s.slots, 2048)
}

// Ranges of one address and count that differ only in their type (a
// struct and its first field of the same size, a value seen through
// two types) are different keys, even where their probes meet: enough of
// them in a table of 64 slots that some start their probe at a slot
// another holds, and each is added once, under its own index, and found
// again under it.
func TestSeenSetTellsTypesOfOneAddressApart(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	var s seenSet
	const types = 31 // the most a table of 64 slots holds before it grows
	keys := make([]rangeKey, types)
	for i := range keys {
		keys[i] = rangeKey{addr: heapBase, n: 1, id: r.Uint32()}
		got, found := s.add(keys[i], int32(i))
		require.False(t, found, "type %d taken for another type", i)
		require.Equal(t, int32(i), got)
	}
	require.Len(t, s.slots, 64)
	met := false // some key's probe passed another's slot
	for _, k := range keys {
		met = met || s.slots[s.home(k)].k != k
	}
	require.True(t, met, "no probes met: the test shows nothing")
	for i, k := range keys {
		got, found := s.add(k, -1)
		require.True(t, found, "type %d", i)
		require.Equal(t, int32(i), got, "type %d", i)
	}
}
