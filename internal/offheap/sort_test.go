package offheap

import (
	"math/bits"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/internal/fixture"
	"github.com/frozen-go/frozen/internal/layout"
)

// heapBase is an address like those of Go's heap: 0xc000000000 on 64-bit
// systems, 0xc0000000 on 32-bit ones.
const heapBase = uintptr(uint64(0xc000000000) >> ((64 - bits.UintSize) / 4))

func TestSortKeysMatchesComparisonSort(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 5, 63, 64, 1000, 20000} {
		keys := make([]key, n)
		for i := range keys {
			// Heap-like addresses with shared high bits, duplicates, and
			// equal starts of different sizes.
			keys[i] = key{start: heapBase + uintptr(r.IntN(1<<20))*8, size: uintptr(r.IntN(4)) * 8, idx: int32(i)}
			if i > 0 && r.IntN(10) == 0 {
				keys[i].start = keys[i-1].start
			}
		}
		want := sortedStably(keys)
		got := sortKeys(slices.Clone(keys), make([]key, n))
		for i := range got {
			assert.Equal(t, want[i].start, got[i].start)
			assert.Equal(t, want[i].size, got[i].size)
		}
	}
}

// Keys of one 8 KiB span, 16-byte aligned (nine varying bits: one radix
// pass from bit 4), with runs of one start whose sizes are in order, out
// of order, and equal: sorted like a stable comparison sort.
func TestSortKeysOfOneSpan(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	keys := make([]key, 3000)
	for i := range keys {
		keys[i] = key{start: heapBase + uintptr(r.IntN(512))*16, size: 16 * uintptr(1+r.IntN(3)), idx: int32(i)}
	}
	for i := range 100 { // a literal met 100 times, and 100 prefixes of one string
		keys[i] = key{start: heapBase + 0x800, size: 5, idx: int32(i)}
		keys[100+i] = key{start: heapBase + 0x1000, size: uintptr(1 + r.IntN(50)), idx: int32(100 + i)}
	}
	want := sortedStably(keys)
	assert.Equal(t, want, sortKeys(slices.Clone(keys), make([]key, len(keys))))
}

// BenchmarkSortKeysOfAConfig sorts the ranges Clone meets in the bench
// module's config of 10,000 objects: string literals in the binary's data
// and objects on the heap.
func BenchmarkSortKeysOfAConfig(b *testing.B) {
	cfg := fixture.NewConfig(10_000)
	p, err := PlanClone(layout.For[*fixture.Config](), unsafe.Pointer(&cfg))
	require.NoError(b, err)
	defer p.Release()
	keys := make([]key, 0, len(p.c.ranges))
	for i := range p.c.ranges {
		r := &p.c.ranges[i]
		keys = append(keys, key{r.start(), r.size(), int32(i), r.via == viaString})
	}
	in, tmp := make([]key, len(keys)), make([]key, len(keys))
	for b.Loop() {
		copy(in, keys)
		sortKeys(in, tmp)
	}
	runtime.KeepAlive(cfg)
}

// Keys from regions far apart (a binary's data, the heap, a mapping near
// the top of the address space), which sortKeys splits by their top digit
// before sorting each region on its own bits: the same order as a stable
// comparison sort, equal keys in the order met, for sizes that leave some
// regions with a key or none and others with many, and one region whose
// own bits still span more than two digits (split again). The result is
// in keys or in tmp, as sortKeys says.
func TestSortKeysAcrossRegions(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	top := ^uintptr(0) &^ (1<<24 - 1)
	for _, n := range []int{64, 65, 200, 5000, 20000} {
		keys := make([]key, n)
		for i := range keys {
			var start uintptr
			switch r.IntN(7) {
			case 0:
				start = 0x400000 + uintptr(r.IntN(1<<16)) // odd addresses: string data
			case 1:
				start = top + uintptr(r.IntN(1<<10))*16
			case 2:
				start = heapBase + uintptr(r.IntN(1<<28)) // a large heap: split twice
			default:
				start = heapBase + uintptr(r.IntN(1<<19))*8
			}
			keys[i] = key{start: start, size: uintptr(r.IntN(3)) * 8, idx: int32(i)}
			if i > 0 && r.IntN(8) == 0 {
				keys[i].start = keys[i-1].start
			}
		}
		want := sortedStably(keys)
		in, tmp := slices.Clone(keys), make([]key, n)
		got := sortKeys(in, tmp)
		require.Len(t, got, n)
		assert.True(t, &got[0] == &in[0] || &got[0] == &tmp[0], "the result is in neither keys nor tmp")
		assert.Equal(t, want, got, "n=%d", n)
	}
}

// Many ranges with one start (prefixes of one string: s[:1], s[:2], …)
// in every order come out larger first and, among equal sizes, in the
// order met. BenchmarkSortKeysOneStart times them (an insertion sort of
// such a run was quadratic: 9 s for 60,000 keys).
func TestSortKeysLongRunOfOneStart(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const n = 5000
	keys := make([]key, n)
	for i := range keys {
		keys[i] = key{start: heapBase, size: uintptr(r.IntN(n / 4)), idx: int32(i)}
	}
	keys = append(keys, key{start: heapBase + 8, size: 1, idx: n}, key{start: heapBase - heapBase/0xc0, size: 1, idx: n + 1})
	want := sortedStably(keys)
	assert.Equal(t, want, sortKeys(keys, make([]key, len(keys))))
}

func BenchmarkSortKeysOneStart(b *testing.B) {
	const n = 60_000
	keys := make([]key, n)
	for b.Loop() {
		for i := range keys {
			keys[i] = key{start: heapBase, size: uintptr(i + 1), idx: int32(i)}
		}
		sortKeys(keys, make([]key, n))
	}
}

// sortedStably returns keys in sortKeys's order, equal keys in their
// order in keys, by a comparison sort.
func sortedStably(keys []key) []key {
	want := slices.Clone(keys)
	slices.SortStableFunc(want, func(a, b key) int {
		switch {
		case keyLess(a, b):
			return -1
		case keyLess(b, a):
			return 1
		}
		return 0
	})
	return want
}

// Keys whose addresses vary only in high bits (mappings placed at
// multiples of 1 GiB, far from the low bits every key shares): the radix
// passes start at the lowest varying bit and must go on past bit 32 to
// the highest, or keys differing only there are left in the order met.
func TestSortKeysVaryingOnlyInHighBits(t *testing.T) {
	if bits.UintSize < 64 {
		t.Skip("addresses of 32 bits")
	}
	r := rand.New(rand.NewPCG(13, 14))
	var high uint64 = 0x7f0000000000 // a variable: the constant overflows a 32-bit uintptr
	base := uintptr(high)
	for _, n := range []int{64, 3000} {
		keys := make([]key, n)
		for i := range keys {
			// Bits 30 to 41 vary: two digits, the second starting at bit 41.
			keys[i] = key{start: base + uintptr(r.IntN(1<<12))<<30, size: uintptr(r.IntN(3)) * 8, idx: int32(i)}
		}
		want := sortedStably(keys)
		assert.Equal(t, want, sortKeys(slices.Clone(keys), make([]key, n)), "n=%d", n)
	}
}

// sortKeys is given tmp at least as long as keys, as a cloner's reused
// buffers are: a longer tmp still gives exactly the keys, sorted, whether
// the result ends up in keys or in tmp (radix passes over one region, or
// a split over several), and none of tmp's stale keys past them.
func TestSortKeysWithALongerTmp(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, spread := range []uint64{1 << 12, 1 << 20, 1 << 40} {
		if spread >= 1<<(bits.UintSize-8) {
			continue // addresses of 32 bits
		}
		for _, n := range []int{64, 1000} {
			keys := make([]key, n)
			for i := range keys {
				keys[i] = key{start: heapBase + uintptr(r.Int64N(int64(spread)))&^7, size: uintptr(r.IntN(3)) * 8, idx: int32(i)}
			}
			tmp := make([]key, 2*n+5)
			for i := range tmp {
				tmp[i] = key{start: ^uintptr(0) - uintptr(i), size: 1, idx: -1}
			}
			want := sortedStably(keys)
			got := sortKeys(slices.Clone(keys), tmp)
			assert.Equal(t, want, got, "n=%d, addresses over %#x", n, spread)
		}
	}
}
