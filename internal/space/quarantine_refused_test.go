//go:build unix && !aix

package space

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/internal/vm"
)

// An Alloc the kernel refuses for its size alone (more than the address
// space holds, with no limit lowered) leaves the quarantine as it was:
// the ranges in it could never have made room for a range larger than
// every chunk they lie in, yet grow let them all out before failing, so
// that one oversized request (an arena WithMaxBytes beyond the address
// space) gave every quarantined range out for reuse, and a pointer kept
// past a Close read the next arena's memory instead of faulting.
func TestARefusedHugeAllocKeepsTheQuarantine(t *testing.T) {
	withQuarantine(t, unlimited, 1<<20)
	var released []Range
	for range 3 {
		r, err := Alloc(4*vm.PageSize, 0, nil, t.Name())
		require.NoError(t, err)
		require.NoError(t, Release(r))
		released = append(released, r)
	}
	before := ReadStats()
	require.GreaterOrEqual(t, before.QuarantineRanges, 3)
	// Nearly the whole address space: no kernel reserves it, on any
	// platform, yet aligned to a page it does not overflow.
	huge := ^uintptr(0)&^(vm.PageSize-1) - vm.PageSize
	_, err := Alloc(huge, 0, nil, t.Name())
	require.ErrorIs(t, err, ErrAddressSpace)
	after := ReadStats()
	assert.Equal(t, before.QuarantineRanges, after.QuarantineRanges, "no range left the quarantine")
	assert.Equal(t, before.QuarantineBytes, after.QuarantineBytes)
	for _, r := range released {
		e, ok := Lookup(r.Start())
		assert.True(t, ok && e.Released, "%#x is still quarantined", r.Start())
	}
}
