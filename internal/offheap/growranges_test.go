//go:build unix && !aix

package offheap

import (
	"strconv"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/internal/layout"
)

// TestGrowRangesAtTheRateMet: growRanges makes room for the rest of a
// range's elements at the rate of ranges its scanned elements added, and
// none for a rate of zero.
func TestGrowRangesAtTheRateMet(t *testing.T) {
	c := &cloner{ranges: make([]crange, 100)}
	c.growRanges(50, 100, 10_000) // half a range an element: 5,000 more
	assert.GreaterOrEqual(t, cap(c.ranges), 100+5_000)
	assert.Less(t, cap(c.ranges), 2*(100+5_000), "room for far more than the rate asks")
	assert.Equal(t, 100, len(c.ranges), "growing keeps the ranges")

	c = &cloner{ranges: make([]crange, 100)}
	c.growRanges(0, 100, 1<<30) // nil pointers or repeats: nothing ahead
	assert.Equal(t, 100, cap(c.ranges))
}

// TestPlanOfALongSliceGrowsItsRangesOnce: the plan of a slice of 100,000
// distinct strings, a range each, ends with room for little more than
// them, grown ahead once the first elements set the rate (by doubling,
// the room left over was up to as much again); that of a slice of as many
// nil pointers holds no room for ranges it never met.
func TestPlanOfALongSliceGrowsItsRangesOnce(t *testing.T) {
	const n = 100_000
	words := make([]string, n)
	for i := range words {
		words[i] = "w" + strconv.Itoa(i)
	}
	p, err := PlanClone(layout.For[[]string](), unsafe.Pointer(&words))
	require.NoError(t, err)
	assert.Equal(t, n+2, len(p.c.ranges), "the root, its backing array and each string")
	assert.Less(t, cap(p.c.ranges), n+n/8, "room left over: grown by doubling, not ahead at the rate met")
	p.Release()

	nils := make([]*int, n)
	p, err = PlanClone(layout.For[[]*int](), unsafe.Pointer(&nils))
	require.NoError(t, err)
	assert.Equal(t, 2, len(p.c.ranges), "the root and its backing array")
	assert.Less(t, cap(p.c.ranges), 1024, "room made for ranges nil pointers never add")
	p.Release()
}
