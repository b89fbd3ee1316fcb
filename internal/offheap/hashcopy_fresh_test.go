//go:build unix && !aix

package offheap

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCopyHashesNeedTheCloneAtTheArenasStart: an arena asked to hash its
// copy while fresh, but given an allocation before the Clone, does not
// hash the Clone: the pages it would hash hold the earlier allocation's
// bytes too, which its owner may still write (it is no part of what
// Apply copies). Freeze then hashes the bytes as they are, and Verify
// finds nothing changed; hashes taken at the Clone would be stale, and
// Verify would report the owner's own write before Freeze as a change.
func TestCopyHashesNeedTheCloneAtTheArenasStart(t *testing.T) {
	a, err := NewArena("allocated-between", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	a.HashWhileCopying()
	p := New[uint64](a)
	_, err = ApplyValue[*hashedNode](a, planOnce(t, hashedGraph(3, 10)))
	require.NoError(t, err)
	assert.False(t, a.copied.ready(a.used), "not copied from the arena's start: nothing hashed")
	*p = 7 // before Freeze: the owner's to write
	r, err := a.Freeze(Protect)
	require.NoError(t, err)
	require.NoError(t, r.Wait())
	assert.Equal(t, pageHashes(a.Base(), r.size), r.sums)
	changed, err := r.Verify(1)
	require.NoError(t, err)
	assert.Empty(t, changed)
}

// TestHashWhileCopyingOnAnArenaNoLongerFreshDoesNothing: asked again once
// the copy is hashed, HashWhileCopying keeps the hashes Freeze is to
// adopt (a Freeze right after the copy then reads no byte of the arena
// again for its baseline) rather than dropping them for a copy that could
// not be hashed anyway.
func TestHashWhileCopyingOnAnArenaNoLongerFreshDoesNothing(t *testing.T) {
	a := clonedHashing(t, hashedGraph(3, 10))
	require.True(t, a.copied.ready(a.used))
	sums := a.copied.sums
	a.HashWhileCopying()
	assert.True(t, a.copied.ready(a.used), "the copy's hashes were dropped")
	r, err := a.Freeze(Protect)
	require.NoError(t, err)
	require.NoError(t, r.Wait())
	assert.Same(t, unsafe.SliceData(sums), unsafe.SliceData(r.sums), "adopted")
	assert.Equal(t, pageHashes(a.Base(), r.size), r.sums)
}
