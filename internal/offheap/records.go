package offheap

// recChunk is the number of records per chunk of the record table.
const (
	recChunkBits = 12
	recChunk     = 1 << recChunkBits
)

// records is an arena's allocation table: pointer-free Records in chunks of
// 4096, so that appending never copies the table and a million records are
// a few hundred small, unscanned allocations. The first chunk grows like a
// slice, so a small arena's table stays small.
type records struct {
	chunks [][]Record
	n      int
}

func (r *records) len() int { return r.n }

// at returns the i'th record.
func (r *records) at(i int) *Record { return &r.chunks[i>>recChunkBits][i&(recChunk-1)] }

func (r *records) add(rec Record) {
	switch {
	case r.n < recChunk:
		if len(r.chunks) == 0 {
			r.chunks = append(r.chunks, make([]Record, 0, 16))
		}
		r.chunks[0] = append(r.chunks[0], rec)
	case r.n&(recChunk-1) == 0:
		c := make([]Record, 1, recChunk)
		c[0] = rec
		r.chunks = append(r.chunks, c)
	default:
		c := &r.chunks[len(r.chunks)-1]
		*c = append(*c, rec)
	}
	r.n++
}

// reserve makes room for n more records in the first chunk (up to its
// full size) in one allocation, where appending one by one would double
// it again and again: Clone knows how many records it is about to add.
func (r *records) reserve(n int) {
	if r.n >= recChunk || n <= 0 {
		return
	}
	want := min(r.n+n, recChunk)
	if len(r.chunks) == 0 {
		r.chunks = append(r.chunks, make([]Record, 0, max(want, 16)))
	} else if cap(r.chunks[0]) < want {
		r.chunks[0] = append(make([]Record, 0, want), r.chunks[0]...)
	}
}

// search returns the index of the last record whose offset is at most off,
// or -1. Records are in offset order (the arena is a bump allocator).
func (r *records) search(off uint64) int { return r.searchFrom(0, off) }

// searchFrom is search among the records from index lo on: it returns
// lo-1 if none of them starts at or before off.
func (r *records) searchFrom(lo int, off uint64) int {
	hi := r.n
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if r.at(mid).Off <= off {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo - 1
}

// reset drops every record.
func (r *records) reset() { *r = records{} }
