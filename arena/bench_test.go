//go:build unix && !aix

package arena_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/internal/fixture"
)

// sinkPoint keeps allocations from being optimised away.
var sinkPoint *Point

var sinkSlice []Point

func BenchmarkNew(b *testing.B) {
	b.Run("arena.New", func(b *testing.B) {
		a := newArena(b, arena.WithMaxBytes(16<<30))
		b.ReportAllocs()
		for b.Loop() {
			sinkPoint = arena.New[Point](a)
		}
	})
	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkPoint = new(Point)
		}
	})
}

func BenchmarkMakeSlice(b *testing.B) {
	for _, n := range []int{16, 1024} {
		b.Run(fmt.Sprintf("arena.MakeSlice/n=%d", n), func(b *testing.B) {
			const max = 1 << 30
			a, err := arena.NewArena(arena.WithMaxBytes(max))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(n) * 8)
			b.ReportAllocs()
			for b.Loop() {
				if a.Len()+n*8 > max {
					// A fresh arena when this one is full: not timed.
					b.StopTimer()
					a.Close()
					a, _ = arena.NewArena(arena.WithMaxBytes(max))
					b.StartTimer()
				}
				sinkSlice = arena.MakeSlice[Point](a, n)
			}
			a.Close()
		})
		b.Run(fmt.Sprintf("make/n=%d", n), func(b *testing.B) {
			b.SetBytes(int64(n) * 8)
			b.ReportAllocs()
			for b.Loop() {
				sinkSlice = make([]Point, n)
			}
		})
	}
}

var sinkConfig *fixture.Config

// BenchmarkClone clones a config-like graph of about 10,000 objects
// (strings, slices, pointers, interfaces, a few cycles). The arena is
// replaced, untimed, every 64 clones.
func BenchmarkClone(b *testing.B) {
	c := fixture.NewConfig(10_000)
	var a *arena.Arena
	fresh := func() {
		b.StopTimer()
		if a != nil {
			a.Close()
		}
		var err error
		if a, err = arena.NewArena(arena.WithMaxBytes(64 << 20)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	fresh()
	defer func() { a.Close() }()
	b.ReportAllocs()
	i, used := 0, 0
	for b.Loop() {
		if i%64 == 63 {
			used += a.Len()
			fresh()
		}
		i++
		var err error
		if sinkConfig, err = arena.Clone(a, c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(used+a.Len())/float64(i), "arena-B/op")
}

var sinkStrings []string

// BenchmarkCloneStrings clones a slice of n distinct 12-byte strings, the
// shape of a word list or of a table's string column, each clone into a
// fresh arena (made and closed untimed), against copying the slice and
// every string's bytes on the Go heap. Every string is a range of its own
// for Clone to sort, merge and place: this is Clone's cost per object
// with nearly nothing else to do. The strings are allocated in the order
// the slice lists them; in the -shuffled rows the slice lists them in
// another order, as a table's values or a graph reached other than as it
// was built do, so that Clone meets them in an order their addresses do
// not follow.
func BenchmarkCloneStrings(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		r := rand.New(rand.NewPCG(1, uint64(n)))
		words := make([]string, n)
		buf := make([]byte, 12)
		for i := range words {
			for j := range buf {
				buf[j] = byte('a' + r.IntN(26))
			}
			words[i] = string(buf)
		}
		benchCloneEach(b, words, r, &sinkStrings, "ns/string")
		b.Run(fmt.Sprintf("n=%d/impl=heap", n), func(b *testing.B) {
			for b.Loop() {
				out := make([]string, n)
				for i, s := range words {
					out[i] = strings.Clone(s)
				}
				sinkStrings = out
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/string")
		})
	}
}

// BenchmarkReadStats: the accounting with one arena live, what a monitor
// calls now and then. Most of it is reading /proc/self/maps for Mappings.
func BenchmarkReadStats(b *testing.B) {
	a := newArena(b)
	sinkPoint = arena.New[Point](a)
	b.ReportAllocs()
	for b.Loop() {
		sinkStats = arena.ReadStats()
	}
}

var sinkStats arena.Stats

type point struct {
	X, Y int64
	Z    [2]int32
}

var sinkPoints []*point

// BenchmarkClonePointers clones a slice of n pointers to distinct 24-byte
// structs, each clone into a fresh arena (made and closed untimed): in
// the order they were allocated in, and (-shuffled) in another, as a
// graph reached otherwise than as it was built is, so that Clone meets
// them in an order their addresses do not follow.
func BenchmarkClonePointers(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		points := make([]*point, n)
		for i := range points {
			points[i] = &point{X: int64(i), Y: -int64(i)}
		}
		benchCloneEach(b, points, rand.New(rand.NewPCG(2, uint64(n))), &sinkPoints, "ns/pointer")
	}
}

// benchCloneEach runs two benchmarks, impl=arena.Clone and
// impl=arena.Clone-shuffled, that clone in, and a copy of it shuffled by
// r, each clone into a fresh arena (made and closed untimed), and report
// the time per element in unit. The clone goes to *sink until the arena
// is closed.
func benchCloneEach[T any](b *testing.B, in []T, r *rand.Rand, sink *[]T, unit string) {
	shuffled := slices.Clone(in)
	r.Shuffle(len(in), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for _, tc := range []struct {
		impl string
		in   []T
	}{{"arena.Clone", in}, {"arena.Clone-shuffled", shuffled}} {
		b.Run(fmt.Sprintf("n=%d/impl=%s", len(in), tc.impl), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				a, err := arena.NewArena()
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if *sink, err = arena.Clone(a, tc.in); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				*sink = nil
				a.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(in)), unit)
		})
	}
}
