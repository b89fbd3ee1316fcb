//go:build unix && !aix

package space

import (
	"fmt"
	"strconv"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/frozen-go/frozen/internal/childtest"
	"github.com/frozen-go/frozen/internal/vm"
)

// withQuarantine runs the test with a given budget and restores the old one.
// unlimited is a quarantine budget in bytes that no test spends.
const unlimited = ^uintptr(0) >> 1

func withQuarantine(t *testing.T, bytes uintptr, ranges int) {
	pb, pr := SetQuarantine(bytes, ranges)
	t.Cleanup(func() { SetQuarantine(pb, pr) })
}

// The largest range is as large, and as aligned, as a chunk's alignment:
// 1 GiB on 64-bit systems, 256 MiB on 32-bit ones. There, with 1 GiB
// aligned to 1 GiB, the second run of the test in one process
// (-count=2) failed with ErrAddressSpace: released ranges stay reserved,
// and 4 GiB held no room for another such range next to what the first
// run left.
func TestAllocAlignedAndDisjoint(t *testing.T) {
	var got []Range
	for _, tc := range []struct{ n, align uintptr }{
		{vm.PageSize, 0}, {3 * vm.PageSize, vm.PageSize}, {2 << 20, 2 << 20}, {chunkAlign, chunkAlign}, {vm.PageSize, 64 << 10},
	} {
		r, err := Alloc(tc.n, tc.align, t.Name(), fmt.Sprint(tc))
		require.NoError(t, err)
		assert.Equal(t, tc.n, r.Len())
		if tc.align > 0 {
			assert.Zero(t, r.Start()%tc.align, "aligned to %d", tc.align)
		}
		for _, o := range got {
			assert.False(t, r.Start() < o.End() && o.Start() < r.End(), "ranges overlap")
		}
		got = append(got, r)
	}
	for _, r := range got {
		require.NoError(t, Release(r))
	}
}

func TestAllocRejectsBadSizes(t *testing.T) {
	_, err := Alloc(0, 0, nil, "")
	assert.Error(t, err)
	_, err = Alloc(vm.PageSize+1, 0, nil, "")
	assert.Error(t, err)
	_, err = Alloc(vm.PageSize, 3*vm.PageSize, nil, "")
	assert.Error(t, err)
}

// A size that, aligned, overflows the address space fails at once with
// ErrAddressSpace, reserving nothing: it used to reserve a whole chunk
// that no range could be carved from, and under an address-space limit
// halve the chunk down to zero bytes (see the limit's test).
func TestAllocRefusesASizeThatOverflowsAligned(t *testing.T) {
	n := ^uintptr(0) &^ (vm.PageSize - 1) // the largest multiple of a page
	before := ReadStats()
	for _, align := range []uintptr{0, 2 * vm.PageSize, 1 << 30} {
		_, err := Alloc(n, align, nil, "overflow")
		require.ErrorIs(t, err, ErrAddressSpace, "aligned to %d", align)
	}
	after := ReadStats()
	assert.Equal(t, before.Chunks, after.Chunks, "no chunk reserved")
	assert.Equal(t, before.ReservedBytes, after.ReservedBytes)
}

func TestLookupNamesLiveAndQuarantinedRanges(t *testing.T) {
	withQuarantine(t, unlimited, 1<<20)
	owner := new(int)
	r, err := Alloc(2*vm.PageSize, 0, owner, "config")
	require.NoError(t, err)
	e, ok := Lookup(r.Start() + vm.PageSize + 5)
	require.True(t, ok)
	assert.Equal(t, "config", e.Name)
	assert.Same(t, owner, e.Owner)
	assert.False(t, e.Released)

	require.NoError(t, Release(r))
	e, ok = Lookup(r.Start())
	require.True(t, ok, "a quarantined range is still known")
	assert.Equal(t, "config", e.Name)
	assert.True(t, e.Released)
	assert.Nil(t, e.Owner, "the owner is dropped at release")
	_, ok = Lookup(r.End())
	if ok {
		e, _ := Lookup(r.End())
		assert.NotEqual(t, "config", e.Name)
	}
	assert.Error(t, Release(r), "double release is refused")
}

// Locate says, of an address no range holds, whether it is free reserved
// space: a range gone from quarantine is, until it is handed out again;
// a lost range, and addresses outside every chunk, are not.
func TestLocateTellsFreeReservedSpace(t *testing.T) {
	withQuarantine(t, 0, 0)
	r, err := Alloc(2*vm.PageSize, 0, nil, "gone")
	require.NoError(t, err)
	_, held, unheld := Locate(r.Start() + vm.PageSize)
	assert.True(t, held, "a live range is held")
	assert.False(t, unheld)

	require.NoError(t, Release(r)) // no quarantine: free at once
	for _, addr := range []uintptr{r.Start(), r.Start() + vm.PageSize + 7, r.End() - 1} {
		_, held, unheld = Locate(addr)
		assert.False(t, held, "%#x", addr)
		assert.True(t, unheld, "%#x: a released range out of quarantine is free reserved space", addr)
	}

	again, err := Alloc(2*vm.PageSize, 0, nil, "again")
	require.NoError(t, err)
	require.Equal(t, r.Start(), again.Start(), "first fit takes the freed range back")
	_, held, unheld = Locate(r.Start())
	assert.True(t, held, "handed out again")
	assert.False(t, unheld)

	require.NoError(t, Lose(again))
	_, held, unheld = Locate(again.Start())
	assert.False(t, held, "a lost range is not listed")
	assert.False(t, unheld, "nor free: another mapping may lie there")

	var outside int
	_, held, unheld = Locate(uintptr(unsafe.Pointer(&outside)))
	assert.False(t, held)
	assert.False(t, unheld, "the Go heap is not reserved space")
}

func TestQuarantineReusesOldestOnlyAfterBudget(t *testing.T) {
	const n = 8
	withQuarantine(t, unlimited, n)
	var released []Range
	for i := 0; i < n; i++ {
		r, err := Alloc(vm.PageSize, 0, nil, fmt.Sprint("q", i))
		require.NoError(t, err)
		released = append(released, r)
	}
	for _, r := range released {
		require.NoError(t, Release(r))
	}
	inQuarantine := func(r Range) bool {
		e, ok := Lookup(r.Start())
		return ok && e.Released && e.Name == fmt.Sprint("q", indexOf(released, r))
	}
	for _, r := range released {
		assert.True(t, inQuarantine(r))
	}
	// While the quarantine holds them, new ranges never reuse them.
	var fresh []Range
	for i := 0; i < 3*n; i++ {
		r, err := Alloc(vm.PageSize, 0, nil, "fresh")
		require.NoError(t, err)
		for _, q := range released {
			assert.NotEqual(t, q.Start(), r.Start(), "reused a quarantined range")
		}
		fresh = append(fresh, r)
	}
	// One more release pushes the oldest out, and only the oldest.
	require.NoError(t, Release(fresh[0]))
	assert.False(t, inQuarantine(released[0]), "oldest left quarantine")
	for _, r := range released[1:] {
		assert.True(t, inQuarantine(r))
	}
	for _, r := range fresh[1:] {
		require.NoError(t, Release(r))
	}
}

func TestQuarantineDisabledReusesAtOnce(t *testing.T) {
	withQuarantine(t, 0, 0)
	r1, err := Alloc(vm.PageSize, 0, nil, "a")
	require.NoError(t, err)
	require.NoError(t, Release(r1))
	_, ok := Lookup(r1.Start())
	assert.False(t, ok)
	r2, err := Alloc(vm.PageSize, 0, nil, "b")
	require.NoError(t, err)
	assert.Equal(t, r1.Start(), r2.Start(), "first fit takes the freed range back")
	require.NoError(t, Release(r2))
}

func TestStatsCount(t *testing.T) {
	withQuarantine(t, unlimited, 1<<20)
	before := ReadStats()
	r, err := Alloc(4*vm.PageSize, 0, nil, "stats")
	require.NoError(t, err)
	mid := ReadStats()
	assert.Equal(t, before.LiveBytes+4*vm.PageSize, mid.LiveBytes)
	assert.Equal(t, before.LiveRanges+1, mid.LiveRanges)
	require.NoError(t, Release(r))
	after := ReadStats()
	assert.Equal(t, before.LiveBytes, after.LiveBytes)
	assert.Equal(t, before.QuarantineBytes+4*vm.PageSize, after.QuarantineBytes)
	assert.GreaterOrEqual(t, after.ReservedBytes, after.LiveBytes+after.QuarantineBytes)
}

func indexOf(rs []Range, r Range) int {
	for i, x := range rs {
		if x == r {
			return i
		}
	}
	return -1
}

func TestDiscardSkipsTheQuarantine(t *testing.T) {
	withQuarantine(t, unlimited, 1<<20)
	before := ReadStats()
	r1, err := Alloc(4*vm.PageSize, 0, nil, "moved aside")
	require.NoError(t, err)
	require.NoError(t, Discard(r1))
	after := ReadStats()
	assert.Equal(t, before.QuarantineBytes, after.QuarantineBytes)
	assert.Equal(t, before.QuarantineRanges, after.QuarantineRanges)
	assert.Equal(t, before.LiveBytes, after.LiveBytes)
	_, ok := Lookup(r1.Start())
	assert.False(t, ok, "a discarded range is forgotten")
	assert.Error(t, Discard(r1), "discarded twice")
	assert.Error(t, Release(r1), "released after Discard")
	r2, err := Alloc(4*vm.PageSize, 0, nil, "next")
	require.NoError(t, err)
	assert.Equal(t, r1.Start(), r2.Start(), "first fit takes the discarded range back at once")
	require.NoError(t, Release(r2))
}

// A lost range (its addresses may be another mapping's now) is no longer
// listed, so that Lookup does not name its old owner for a fault there,
// and is never handed out again, not even with the quarantine off.
func TestLoseForgetsTheRangeAndNeverReusesIt(t *testing.T) {
	withQuarantine(t, 0, 0)
	before := ReadStats()
	r1, err := Alloc(4*vm.PageSize, 0, new(int), "lost")
	require.NoError(t, err)
	e, ok := Lookup(r1.Start())
	require.True(t, ok)
	require.NotNil(t, e.Owner)
	require.NoError(t, Lose(r1))
	after := ReadStats()
	assert.Equal(t, before.LiveBytes, after.LiveBytes)
	assert.Equal(t, before.LiveRanges, after.LiveRanges)
	assert.Equal(t, before.QuarantineRanges, after.QuarantineRanges)
	assert.Equal(t, before.LostBytes+r1.Len(), after.LostBytes)
	assert.Equal(t, before.LostRanges+1, after.LostRanges)
	for _, addr := range []uintptr{r1.Start(), r1.End() - 1} {
		_, ok = Lookup(addr)
		assert.False(t, ok, "a lost range is still listed at %#x", addr)
	}
	assert.Error(t, Lose(r1), "lost twice")
	assert.Error(t, Release(r1), "released after Lose")
	assert.Error(t, Discard(r1), "discarded after Lose")
	var got []Range
	for range 4 {
		r, err := Alloc(4*vm.PageSize, 0, nil, "next")
		require.NoError(t, err)
		assert.False(t, r.Start() < r1.End() && r1.Start() < r.End(), "a lost range was handed out again")
		got = append(got, r)
	}
	for _, r := range got {
		require.NoError(t, Discard(r))
	}
}

// A range larger than the whole byte budget is not quarantined: it would
// push every quarantined range out, and then itself (one arena closed
// with WithMaxBytes above 64 GiB ended the quarantine of all the others).
func TestARangeLargerThanTheBudgetIsNotQuarantined(t *testing.T) {
	withQuarantine(t, 0, 0) // empties it of earlier tests' ranges
	withQuarantine(t, 64*vm.PageSize, 1000)
	var small []Range
	for i := range 10 {
		r, err := Alloc(vm.PageSize, 0, nil, fmt.Sprint("small", i))
		require.NoError(t, err)
		small = append(small, r)
	}
	big, err := Alloc(128*vm.PageSize, 0, nil, "big")
	require.NoError(t, err)
	for _, r := range small {
		require.NoError(t, Release(r))
	}
	require.NoError(t, Release(big))
	assert.Equal(t, 10, ReadStats().QuarantineRanges)
	for _, r := range small {
		e, ok := Lookup(r.Start())
		assert.True(t, ok && e.Released, "%#x still quarantined", r.Start())
	}
	_, ok := Lookup(big.Start())
	assert.False(t, ok, "the big range went straight back to the free space")

	// A range of exactly the budget is not larger than it: quarantined.
	withQuarantine(t, 4*vm.PageSize, 100)
	r, err := Alloc(4*vm.PageSize, 0, nil, "the budget")
	require.NoError(t, err)
	require.NoError(t, Release(r))
	e, ok := Lookup(r.Start())
	assert.True(t, ok && e.Released, "a range of exactly the budget is quarantined")
}

// MapsLines, which parses only the lines between the lowest chunk and the
// highest, counts what the whole maps file holds within the chunks: here
// a small range with a page made readable in its middle (three lines
// where there was one), and a range larger than every chunk, which takes
// a chunk of its own; the kernel puts that chunk right below the one
// before, and one line of the maps file, which spans both, counts once.
// (A range of one chunk's size fitted into the chunk of twice that size
// that TestAllocOfAHugeRangeAlignedBeyondAChunk leaves free, when that
// test ran first, and there was one chunk.)
func TestMapsLinesCountsTheChunksLines(t *testing.T) {
	if _, err := vm.ReadMaps(); err != nil {
		t.Skip("no /proc/self/maps here:", err)
	}
	small, err := Alloc(4*vm.PageSize, 0, nil, "small")
	require.NoError(t, err)
	defer func() { require.NoError(t, Release(small)) }()
	mid := unsafe.Slice((*byte)(unsafe.Add(small.base, vm.PageSize)), vm.PageSize)
	require.NoError(t, unix.Mprotect(mid, unix.PROT_READ))
	defer func() { require.NoError(t, unix.Mprotect(mid, unix.PROT_NONE)) }()
	n := uintptr(chunkSize)
	for _, c := range Chunks() {
		n = max(n, c[1]-c[0]+vm.PageSize)
	}
	// A whole number of chunkAligns, so that the new chunk, whose start
	// the kernel aligns, ends where the chunk above it starts, if it is
	// put right below (the usual placement), and the two PROT_NONE ends
	// merge into one line.
	n = alignUp(n, chunkAlign)
	childtest.NeedAddressSpace(t, uint64(n)+uint64(chunkAlign))
	large, err := Alloc(n, 0, nil, "large")
	require.NoError(t, err)
	defer func() { require.NoError(t, Release(large)) }()
	require.GreaterOrEqual(t, len(Chunks()), 2)

	got, err := MapsLines()
	require.NoError(t, err)
	maps, err := vm.ReadMaps()
	require.NoError(t, err)
	chunks := Chunks()
	want, spanning := 0, 0 // lines in the chunks; those that span two
	for _, e := range maps {
		in := 0
		for _, c := range chunks {
			if e.Overlaps(c[0], c[1]) {
				in++
			}
		}
		want += min(in, 1)
		spanning += max(in-1, 0)
	}
	assert.Equal(t, want, got, "each line counts once, however many chunks it spans")
	for _, c := range chunks {
		for _, d := range chunks {
			if c[1] == d[0] { // the kernel put them side by side: their PROT_NONE ends merge
				assert.Positive(t, spanning, "chunks [%#x, %#x) and [%#x, %#x) meet, and a line spans both", c[0], c[1], d[0], d[1])
			}
		}
	}
	assert.Equal(t, 3, len(maps.Within(small.Start(), small.End())), "the readable page splits the reservation")
}

// disjoint fails the test if any two ranges listed (live or quarantined)
// overlap.
func disjoint(t *testing.T) {
	t.Helper()
	m.mu.RLock()
	defer m.mu.RUnlock()
	for i := 1; i < len(m.entries); i++ {
		a, b := m.entries[i-1], m.entries[i]
		assert.LessOrEqual(t, a.End, b.Start, "%q [%#x, %#x) overlaps %q [%#x, %#x)", a.Name, a.Start, a.End, b.Name, b.Start, b.End)
	}
}

// A free extent too small for a range is passed over, however it lies:
// a page freed between two live ranges does not take a range of two, which
// would reach over the next live range.
func TestAllocPassesOverAFreeExtentTooSmall(t *testing.T) {
	withQuarantine(t, 0, 0)
	var rs []Range
	for i := range 3 {
		r, err := Alloc(vm.PageSize, 0, nil, fmt.Sprint("neighbour", i))
		require.NoError(t, err)
		rs = append(rs, r)
	}
	require.Equal(t, rs[0].End(), rs[1].Start())
	require.Equal(t, rs[1].End(), rs[2].Start())
	require.NoError(t, Release(rs[1]))
	two, err := Alloc(2*vm.PageSize, 0, nil, "two")
	require.NoError(t, err)
	assert.NotEqual(t, rs[1].Start(), two.Start(), "a range of two pages in a hole of one")
	disjoint(t)
	for _, r := range []Range{rs[0], rs[2], two} {
		require.NoError(t, Release(r))
	}
}

// Released neighbours merge back into one free extent, whichever is
// released first: two adjacent pages released one after the other are
// handed out again as one range of two (with the quarantine off).
func TestReleasedNeighboursMerge(t *testing.T) {
	withQuarantine(t, 0, 0)
	for _, order := range [][2]int{{0, 1}, {1, 0}} {
		var rs []Range
		for i := range 3 {
			r, err := Alloc(vm.PageSize, 0, nil, fmt.Sprint("merge", i))
			require.NoError(t, err)
			rs = append(rs, r)
		}
		require.NoError(t, Release(rs[order[0]]))
		require.NoError(t, Release(rs[order[1]]))
		two, err := Alloc(2*vm.PageSize, 0, nil, "merged")
		require.NoError(t, err)
		assert.Equal(t, rs[0].Start(), two.Start(), "released in order %v", order)
		require.NoError(t, Release(two))
		require.NoError(t, Release(rs[2]))
	}
}

// A Range kept after its release is no handle on the range handed out
// again at the same address: releasing it again fails, and the new
// owner's range stays live.
func TestAStaleRangeCannotReleaseItsSuccessor(t *testing.T) {
	withQuarantine(t, 0, 0)
	owner := new(int)
	r1, err := Alloc(vm.PageSize, 0, nil, "first")
	require.NoError(t, err)
	require.NoError(t, Release(r1))
	r2, err := Alloc(vm.PageSize, 0, owner, "second")
	require.NoError(t, err)
	require.Equal(t, r1.Start(), r2.Start())
	assert.Error(t, Release(r1))
	assert.Error(t, Discard(r1))
	assert.Error(t, Lose(r1))
	e, ok := Lookup(r2.Start())
	require.True(t, ok)
	assert.Same(t, owner, e.Owner)
	assert.False(t, e.Released)
	require.NoError(t, Release(r2))
}

// A range too large for any chunk, aligned to more than chunks are (1
// GiB), gets a chunk of its own, reserved with the range's alignment: one
// reserved with a chunk's held no range so aligned, and Alloc failed
// with ErrAddressSpace.
func TestAllocOfAHugeRangeAlignedBeyondAChunk(t *testing.T) {
	if strconv.IntSize < 64 {
		t.Skip("a 32-bit address space has no room for it")
	}
	n, align := uintptr(2*chunkSize), uintptr(chunkSize)
	childtest.NeedAddressSpace(t, uint64(n)+uint64(align))
	r, err := Alloc(n, align, nil, "huge")
	require.NoError(t, err)
	defer func() { require.NoError(t, Discard(r)) }()
	assert.Zero(t, r.Start()%align)
	assert.Equal(t, n, r.Len())
}

// A range that, with its alignment, may need more than a quarter of a
// chunk gets a chunk of its own, the size of the aligned range, even where
// the range alone would fit in a quarter: it reserves no more address
// space (which counts against RLIMIT_AS) than it needs, not a whole chunk.
func TestGrowGivesARangeAlignedPastAQuarterItsOwnChunk(t *testing.T) {
	n, align := uintptr(chunkSize/4), uintptr(chunkSize/8)
	childtest.NeedAddressSpace(t, uint64(n)+uint64(max(align, chunkAlign)))
	m.mu.Lock()
	defer m.mu.Unlock()
	chunks, free := len(m.chunks), m.free
	m.free = nil // as if every chunk were full, as when Alloc grows
	f, err := m.grow(n, align)
	rest := m.free
	m.free = free
	if err == nil {
		rest = append(rest, f) // nothing was handed out
	}
	for _, r := range rest {
		m.insertFree(r)
	}
	require.NoError(t, err)
	require.Len(t, m.chunks, chunks+1)
	assert.Same(t, m.chunks[chunks], f.c)
	assert.Equal(t, n, f.c.res.Len())
	assert.Equal(t, n, f.end-f.off)
}

// An aligned range that starts past the beginning of a free extent leaves
// the bytes it skips free: the page below it is held by a range or is
// reserved space that no range holds (Locate: unheld), never lost.
func TestAlignedAllocLeavesTheSkippedSpaceFree(t *testing.T) {
	r1, err := Alloc(vm.PageSize, 0, nil, "before")
	require.NoError(t, err)
	defer Release(r1)
	r2, err := Alloc(vm.PageSize, 2<<20, nil, "aligned")
	require.NoError(t, err)
	defer Release(r2)
	if r2.Start()%chunkAlign == 0 {
		t.Skip("the aligned range starts a chunk: nothing below it is reserved")
	}
	_, held, unheld := Locate(r2.Start() - vm.PageSize)
	assert.True(t, held || unheld, "the space below the aligned range is lost")
}

// insertFree merges an extent only with free neighbours of its own chunk:
// an extent of a lower chunk whose end offset equals the new extent's
// start offset is no neighbour (chunks differ in size: a chunk of its own
// for a huge range, smaller ones under an address-space limit), and
// merging it would hand out live space of the other chunk.
func TestFreeExtentsMergeWithinTheirChunkOnly(t *testing.T) {
	p := vm.PageSize
	var cs [2]*chunk
	for i, pages := range []uintptr{16, 64} {
		res, err := vm.Reserve(pages*p, p)
		require.NoError(t, err)
		t.Cleanup(func() { res.Release() })
		cs[i] = &chunk{res: res}
	}
	if uintptr(cs[0].res.Addr()) > uintptr(cs[1].res.Addr()) {
		cs[0], cs[1] = cs[1], cs[0]
	}
	lo, hi := cs[0], cs[1]
	mm := &manager{}
	mm.insertFree(free{c: lo, off: 8 * p, end: 16 * p})
	mm.insertFree(free{c: hi, off: 16 * p, end: 17 * p}) // its end offset is lo's
	assert.Equal(t, []free{{c: lo, off: 8 * p, end: 16 * p}, {c: hi, off: 16 * p, end: 17 * p}}, mm.free)
	mm.insertFree(free{c: hi, off: 17 * p, end: 20 * p}) // a neighbour in hi
	assert.Equal(t, []free{{c: lo, off: 8 * p, end: 16 * p}, {c: hi, off: 16 * p, end: 20 * p}}, mm.free)
	// The same two extents inserted the other way round: hi's is then
	// the one after.
	mm = &manager{}
	mm.insertFree(free{c: hi, off: 16 * p, end: 17 * p})
	mm.insertFree(free{c: lo, off: 8 * p, end: 16 * p})
	assert.Equal(t, []free{{c: lo, off: 8 * p, end: 16 * p}, {c: hi, off: 16 * p, end: 17 * p}}, mm.free)
}
