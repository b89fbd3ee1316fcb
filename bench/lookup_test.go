package bench

import (
	"encoding/binary"
	"fmt"
	"iter"
	"maps"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/snapshot"
)

// Benchmarks of snapshot.Map against Go's map, side by side in one run:
//
//	BenchmarkMapGet/key=string16|uint64/n=…/op=hit|miss/impl=frozen|gomap|loop|oneread
//	BenchmarkMapGet/key=string32/n=…/op=hit|miss/impl=frozen|gomap
//	BenchmarkMapBuild/key=…/n=…/impl=frozen|gomap     (build-ns/key, bytes/entry)
//	BenchmarkGCWithTable/n=…/impl=frozen|gomap|gomap-uint64|empty (gc-ms: median forced runtime.GC)

var (
	sinkInt int
	sinkU64 uint64
	sinkOK  bool
)

func string16Keys(n int, seed uint64) []string { return stringKeys(n, seed, 16) }

// stringKeys returns n distinct random keys of size bytes (a multiple of
// 8), the same for the same seed and size.
func stringKeys(n int, seed uint64, size int) []string {
	r := rand.New(rand.NewPCG(seed, uint64(size)))
	seen := make(map[string]bool, n)
	out := make([]string, 0, n)
	b := make([]byte, size)
	for len(out) < n {
		for i := 0; i < size; i += 8 {
			binary.LittleEndian.PutUint64(b[i:], r.Uint64())
		}
		if s := string(b); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func uint64Keys(n int, seed uint64) []uint64 {
	r := rand.New(rand.NewPCG(seed, 64))
	seen := make(map[uint64]bool, n)
	out := make([]uint64, 0, n)
	for len(out) < n {
		if k := r.Uint64(); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// probes returns 1<<16 keys to look up in random order: the table's own
// keys for hits, others for misses.
func probes[K any](keys, others []K, hit bool, seed uint64) []K {
	r := rand.New(rand.NewPCG(seed, 7))
	src := keys
	if !hit {
		src = others
	}
	out := make([]K, 1<<16)
	for i := range out {
		out[i] = src[r.IntN(len(src))]
	}
	return out
}

// copied returns the strings of ps with their bytes copied, one after
// another, into one new string. Probes that are the table's own key
// strings would favour Go's map, which holds those very strings and
// compares a probe's data pointer before its bytes, so never reads them,
// while the frozen table compares against its own copy of each key; and
// their bytes, scattered over the heap, would cost each lookup a cache
// miss before hashing. A program looking up keys it read from a request
// has copies, laid out together.
func copied(ps []string) []string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p)
	}
	all := b.String()
	out := make([]string, len(ps))
	off := 0
	for i, p := range ps {
		out[i] = all[off : off+len(p)]
		off += len(p)
	}
	return out
}

// mapSizes are the table sizes of the lookup benchmarks; -short stops at
// a million.
func mapSizes() []int {
	if testing.Short() {
		return []int{1_000, 100_000, 1_000_000}
	}
	return []int{1_000, 100_000, 1_000_000, 10_000_000}
}

func BenchmarkMapGet(b *testing.B) {
	for _, n := range mapSizes() {
		keys := string16Keys(n, 1)
		others := string16Keys(1<<16, 2)
		gm := make(map[string]int, n)
		for i, k := range keys {
			gm[k] = i
		}
		fm, err := snapshot.NewMap(maps.All(gm))
		if err != nil {
			b.Fatal(err)
		}
		for _, op := range []string{"hit", "miss"} {
			ps := copied(probes(keys, others, op == "hit", uint64(n)))
			b.Run(fmt.Sprintf("key=string16/n=%d/op=%s/impl=frozen", n, op), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					v, ok := fm.Get(ps[i&(1<<16-1)])
					sinkInt += v
					sinkOK = ok
				}
			})
			b.Run(fmt.Sprintf("key=string16/n=%d/op=%s/impl=gomap", n, op), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					v, ok := gm[ps[i&(1<<16-1)]]
					sinkInt += v
					sinkOK = ok
				}
			})
			// The loop around each lookup, with one call: the floor of
			// both rows above.
			b.Run(fmt.Sprintf("key=string16/n=%d/op=%s/impl=loop", n, op), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					v, ok := loopGetString(ps[i&(1<<16-1)])
					sinkInt += v
					sinkOK = ok
				}
			})
			// The loop and one read of a random cache line in frozen
			// memory as large as the table: the floor of any lookup that
			// reads the table at all.
			b.Run(fmt.Sprintf("key=string16/n=%d/op=%s/impl=oneread", n, op), func(b *testing.B) {
				lines := frozenLines(b, fm.Size())
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					v, ok := lines.read(first8(ps[i&(1<<16-1)]))
					sinkInt += v
					sinkOK = ok
				}
			})
		}
		fm.Close()

		// Keys longer than the 16 bytes a slot holds: the table keeps
		// their bytes apart from the slots, so that a hit reads them from
		// a second place, as Go's map reads every string key's.
		lkeys := stringKeys(n, 5, 32)
		lothers := stringKeys(1<<16, 6, 32)
		gl := make(map[string]int, n)
		for i, k := range lkeys {
			gl[k] = i
		}
		fl, err := snapshot.NewMap(maps.All(gl))
		if err != nil {
			b.Fatal(err)
		}
		for _, op := range []string{"hit", "miss"} {
			ps := copied(probes(lkeys, lothers, op == "hit", uint64(n)))
			b.Run(fmt.Sprintf("key=string32/n=%d/op=%s/impl=frozen", n, op), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					v, ok := fl.Get(ps[i&(1<<16-1)])
					sinkInt += v
					sinkOK = ok
				}
			})
			b.Run(fmt.Sprintf("key=string32/n=%d/op=%s/impl=gomap", n, op), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					v, ok := gl[ps[i&(1<<16-1)]]
					sinkInt += v
					sinkOK = ok
				}
			})
		}
		fl.Close()
		gl = nil

		ukeys := uint64Keys(n, 3)
		uothers := uint64Keys(1<<16, 4)
		gu := make(map[uint64]uint64, n)
		for i, k := range ukeys {
			gu[k] = uint64(i)
		}
		fu, err := snapshot.NewMap(maps.All(gu))
		if err != nil {
			b.Fatal(err)
		}
		for _, op := range []string{"hit", "miss"} {
			ps := probes(ukeys, uothers, op == "hit", uint64(n))
			b.Run(fmt.Sprintf("key=uint64/n=%d/op=%s/impl=frozen", n, op), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					v, ok := fu.Get(ps[i&(1<<16-1)])
					sinkU64 += v
					sinkOK = ok
				}
			})
			b.Run(fmt.Sprintf("key=uint64/n=%d/op=%s/impl=gomap", n, op), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					v, ok := gu[ps[i&(1<<16-1)]]
					sinkU64 += v
					sinkOK = ok
				}
			})
			b.Run(fmt.Sprintf("key=uint64/n=%d/op=%s/impl=loop", n, op), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					v, ok := loopGetUint64(ps[i&(1<<16-1)])
					sinkU64 += uint64(v)
					sinkOK = ok
				}
			})
			b.Run(fmt.Sprintf("key=uint64/n=%d/op=%s/impl=oneread", n, op), func(b *testing.B) {
				lines := frozenLines(b, fu.Size())
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					v, ok := lines.read(ps[i&(1<<16-1)])
					sinkU64 += uint64(v)
					sinkOK = ok
				}
			})
		}
		fu.Close()
	}
}

// loopGetString and loopGetUint64 stand in for a lookup in the impl=loop
// rows: one call that is not inlined and reads the probe, as Map.Get's
// call of the table's Get does, and nothing else. A string probe's bytes
// are read too, its first and last (comparing it with "" would read only
// its length).
//
//go:noinline
func loopGetString(k string) (int, bool) { return 1, len(k) > 0 && k[0] == k[len(k)-1] }

//go:noinline
func loopGetUint64(k uint64) (int, bool) { return 1, k != 0 }

// lineReader reads one word of a cache line chosen by a probe, in frozen
// memory: the impl=oneread rows.
type lineReader struct {
	lines []cacheLine
	n     uint64
}

type cacheLine [8]uint64

// frozenLines returns a lineReader over size bytes of cache lines, each
// holding its index, frozen the way snapshot.NewMap freezes a table
// (snapshot.DefaultMode) and released when b ends.
func frozenLines(b *testing.B, size int) lineReader {
	n := max(size/64, 1)
	a, err := arena.NewArena(arena.WithName("oneread"), arena.WithMaxBytes(int64(n*64+64)))
	if err != nil {
		b.Fatal(err)
	}
	lines := arena.MakeSlice[cacheLine](a, n)
	for i := range lines {
		lines[i][0] = uint64(i)
	}
	r, err := freeze.Freeze(a, snapshot.DefaultMode())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	return lineReader{lines, uint64(n)}
}

// read reads the first word of the line that the probe's bits pick
// (their high bits, by multiply-shift: the probes are random), as
// Map.Get returns a value and whether it found one.
//
//go:noinline
func (l lineReader) read(probe uint64) (int, bool) {
	hi, _ := bits.Mul64(probe, l.n)
	v := l.lines[hi][0]
	return int(v), v != ^uint64(0)
}

// first8 returns a string's first eight bytes as a word (one load).
func first8(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// heapDelta runs f and returns how much the live Go heap grew.
func heapDelta(f func()) int64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.GC()
	runtime.ReadMemStats(&after)
	return int64(after.HeapAlloc) - int64(before.HeapAlloc)
}

var keepGoMap map[string]int64

// BenchmarkMapBuild builds a table of 16-byte string keys and 8-byte values
// and reports build time and memory per entry.
func BenchmarkMapBuild(b *testing.B) {
	for _, n := range mapSizes() {
		keys := string16Keys(n, 5)
		src := func(yield func(string, int64) bool) {
			for i, k := range keys {
				if !yield(k, int64(i)) {
					return
				}
			}
		}
		b.Run(fmt.Sprintf("key=string16/n=%d/impl=frozen", n), func(b *testing.B) {
			var size int
			for b.Loop() {
				fm, err := snapshot.NewMap(src)
				if err != nil {
					b.Fatal(err)
				}
				size = fm.Size()
				// Built means frozen and baselined: NewMap returns while
				// the freeze's last steps (in Seal mode the seals and the
				// baseline checksum) finish in the background.
				if err := fm.Region().Wait(); err != nil {
					b.Fatal(err)
				}
				// Close releases the table rather than builds it, and is
				// not timed; nor is freeing the Go map's row's maps, which
				// become garbage (its collections mark the map being
				// built, and are timed).
				b.StopTimer()
				fm.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "build-ns/key")
			b.ReportMetric(float64(size)/float64(n), "bytes/entry")
		})
		// gomap grows as it fills, as NewMap, which is given no count
		// either, builds; gomap-sized is made for n entries first, as a
		// program that knows n would.
		b.Run(fmt.Sprintf("key=string16/n=%d/impl=gomap", n), func(b *testing.B) { benchGoMapBuild(b, src, n, 0) })
		b.Run(fmt.Sprintf("key=string16/n=%d/impl=gomap-sized", n), func(b *testing.B) { benchGoMapBuild(b, src, n, n) })
	}
	keepGoMap = nil
}

// benchGoMapBuild builds a Go map of the n entries of src, made with room
// for hint of them, for BenchmarkMapBuild.
func benchGoMapBuild(b *testing.B, src iter.Seq2[string, int64], n, hint int) {
	var grew int64
	for b.Loop() {
		var m map[string]int64
		b.StopTimer()
		keepGoMap = nil
		// Only the inserts are timed, not heapDelta's collections.
		d := heapDelta(func() {
			b.StartTimer()
			m = make(map[string]int64, hint)
			for k, v := range src {
				m[k] = v
			}
			b.StopTimer()
			keepGoMap = m
		})
		grew = d
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "build-ns/key")
	// The map holds string headers that point at the keys' bytes in the
	// caller's slice, outside the heap growth measured; the frozen table
	// holds the bytes themselves. Counted alike: a Go map that owns its
	// keys needs their 16 bytes too.
	b.ReportMetric(float64(grew+int64(16*n))/float64(n), "bytes/entry")
}

var keepTable any

// BenchmarkGCWithTable measures forced garbage collections with a large
// table of 16-byte string keys and int64 values live: frozen (off the
// heap), a Go map, or nothing. The key slice the table was built from is
// dropped first, so only the table is live. gomap-uint64 is a Go map of
// as many uint64 keys and int64 values: holding no pointers, it is never
// scanned, and shows what the collector's time with gomap is due to.
func BenchmarkGCWithTable(b *testing.B) {
	for _, n := range mapSizes() {
		for _, impl := range []string{"empty", "frozen", "gomap", "gomap-uint64"} {
			b.Run(fmt.Sprintf("n=%d/impl=%s", n, impl), func(b *testing.B) {
				switch keys := string16Keys(n, 9); impl {
				case "frozen":
					fm, err := snapshot.NewMap(func(yield func(string, int64) bool) {
						for i, k := range keys {
							yield(k, int64(i))
						}
					})
					if err != nil {
						b.Fatal(err)
					}
					defer fm.Close()
					keepTable = fm
				case "gomap":
					m := make(map[string]int64, n)
					for i, k := range keys {
						m[k] = int64(i)
					}
					keepTable = m
				case "gomap-uint64":
					m := make(map[uint64]int64, n)
					for i, k := range uint64Keys(n, 9) {
						m[k] = int64(i)
					}
					keepTable = m
				}
				// Every case built (and dropped) the same keys: return the
				// garbage's memory to the kernel, so that the empty heap is
				// as empty as it can be made and all three start alike.
				debug.FreeOSMemory()
				var took []time.Duration
				for b.Loop() {
					t := time.Now()
					runtime.GC()
					took = append(took, time.Since(t))
				}
				// The median: one slow collection (the machine is shared)
				// must not decide a comparison of about a millisecond.
				slices.Sort(took)
				b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "gc-ms")
				keepTable = nil
			})
		}
	}
}
