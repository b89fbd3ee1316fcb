//go:build unix && !aix

package offheap

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reserve sizes the first chunk in one allocation, up to a full chunk,
// and keeps the records already there; appending past it goes on into
// new chunks as before, every record where it was put.
func TestRecordsReserve(t *testing.T) {
	var r records
	r.reserve(100)
	require.Len(t, r.chunks, 1)
	assert.Equal(t, 100, cap(r.chunks[0]))
	for i := range 20 {
		r.add(Record{Off: uint64(i)})
	}
	r.reserve(10) // room enough already
	assert.Equal(t, 100, cap(r.chunks[0]))
	r.reserve(5000)
	assert.Equal(t, recChunk, cap(r.chunks[0]), "at most one full chunk")
	for i := 20; i < recChunk+50; i++ {
		r.add(Record{Off: uint64(i)})
	}
	r.reserve(100) // past the first chunk: nothing to do
	require.Equal(t, recChunk+50, r.len())
	assert.Len(t, r.chunks, 2)
	for i := range r.len() {
		require.Equal(t, uint64(i), r.at(i).Off, "record %d", i)
	}
}

// search finds the last record starting at or before an offset, across
// chunks and among equal offsets; searchFrom only among the records from
// its first index on, answering one before it when none of them does.
func TestRecordsSearch(t *testing.T) {
	var r records
	for i := range recChunk + 10 {
		r.add(Record{Off: uint64(10 * (i / 2))}) // two records at each offset
	}
	last := r.len() - 1
	for _, tc := range []struct {
		from int
		off  uint64
		want int
	}{
		{0, 0, 1},
		{0, 9, 1},
		{0, 10, 3},
		{0, 5 * recChunk, recChunk + 1}, // first records of the second chunk
		{0, 1 << 40, last},
		{2, 9, 1},
		{2, 10, 3},
		{3, 10, 3},
		{4, 10, 3},
		{recChunk, 5*recChunk - 1, recChunk - 1},
		{recChunk, 5*recChunk + 25, recChunk + 5},
		{last + 1, 1 << 40, last},
	} {
		assert.Equal(t, tc.want, r.searchFrom(tc.from, tc.off), "searchFrom(%d, %d)", tc.from, tc.off)
		if tc.from == 0 {
			assert.Equal(t, tc.want, r.search(tc.off), "search(%d)", tc.off)
		}
	}
	var empty records
	assert.Equal(t, -1, empty.search(0))
}

// Cloning into a fresh arena allocates its record table once: a config of
// 10,000 objects adds a few thousand records, which grew the table by
// doubling, nine allocations, before Clone reserved them.
func TestCloneReservesItsRecords(t *testing.T) {
	a, err := NewArena("reserve", 64<<20)
	require.NoError(t, err)
	defer a.Close()
	type node struct {
		Name string
		Next *node
	}
	var head *node
	for i := range 3000 {
		head = &node{Name: string(rune('a' + i%26)), Next: head}
	}
	_, err = Clone(a, head)
	require.NoError(t, err)
	require.Greater(t, a.recs.len(), 1000)
	assert.Equal(t, a.recs.len(), cap(a.recs.chunks[0]), "the table was sized once, exactly")
}
