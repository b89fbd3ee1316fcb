package bench

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"unsafe"

	"github.com/frozen-go/frozen/arena"
)

// point is the small pointer-free struct the allocation benchmarks make.
type point struct{ X, Y, Z, W int64 }

var sinkPoint *point

// otherPoint is a second type of the same size, for the -mixed rows.
type otherPoint point

var sinkOther *otherPoint

// allocPeers are extra BenchmarkAlloc rows registered by files built only
// under some GOEXPERIMENT (see alloc_arenas_test.go).
var allocPeers = map[string]func(b *testing.B){}

// BenchmarkAlloc allocates one small struct: arena.New against new(T) and,
// when built with GOEXPERIMENT=arenas, Go's experimental arena package.
//
// The plain rows only allocate: an arena's fresh memory is not touched, so
// they leave out the page fault that the first write to each 4 KiB page
// costs (one in 128 of these structs), while new(T) mostly reuses memory
// the collector freed, long faulted in. The +write rows also write a field
// of every struct, and so pay that fault where it is due: about 3.3 µs a
// page of shared memory on the 2-core VMs measured, which asking the
// kernel to populate pages ahead (MADV_POPULATE_WRITE, 256 KiB at a time)
// did not lower (3.4 µs a page), so the arena faults pages in as they are
// first written.
func BenchmarkAlloc(b *testing.B) {
	b.Run("impl=arena.New", func(b *testing.B) {
		// 16 GiB on 64-bit systems (DefaultMaxBytes on 32-bit ones, whose
		// int cannot hold it), so that replacing a full arena is rare.
		const max = arena.DefaultMaxBytes << (4 * (^uint(0) >> 63))
		a, err := arena.NewArena(arena.WithMaxBytes(max))
		if err != nil {
			b.Fatal(err)
		}
		defer func() { a.Close() }()
		b.ReportAllocs()
		for b.Loop() {
			if a.Len() > max-64 {
				b.StopTimer()
				a.Close()
				if a, err = arena.NewArena(arena.WithMaxBytes(max)); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			sinkPoint = arena.New[point](a)
		}
		sinkPoint = nil
	})
	b.Run("impl=arena.New+write", func(b *testing.B) {
		// Written memory stays resident until Close: a fresh arena every
		// GiB, untimed, bounds it. (A loop of its own, not a flag in the
		// loop above, which then would time a branch besides New, an
		// operation of 2-5 ns.)
		const max = 1 << 30
		a, err := arena.NewArena(arena.WithMaxBytes(max))
		if err != nil {
			b.Fatal(err)
		}
		defer func() { a.Close() }()
		b.ReportAllocs()
		for b.Loop() {
			if a.Len() > max-64 {
				b.StopTimer()
				a.Close()
				if a, err = arena.NewArena(arena.WithMaxBytes(max)); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			p := arena.New[point](a)
			p.X = 1
			sinkPoint = p
		}
		sinkPoint = nil
	})
	// The rows above allocate one type back to back, each New extending
	// the arena's run of points; the -mixed rows alternate two types, so
	// that each New starts a run of its own, whose record (24 bytes on
	// the Go heap, which B/op shows, kept to name faults and Verify's
	// pages) a program allocating values of several types in turn pays.
	b.Run("impl=arena.New-mixed", func(b *testing.B) {
		a, err := arena.NewArena(arena.WithMaxBytes(16 << 30))
		if err != nil {
			b.Fatal(err)
		}
		defer a.Close()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if i&1 == 0 {
				sinkPoint = arena.New[point](a)
			} else {
				sinkOther = arena.New[otherPoint](a)
			}
		}
		sinkPoint, sinkOther = nil, nil
	})
	b.Run("impl=new", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkPoint = new(point)
		}
	})
	b.Run("impl=new-mixed", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if i&1 == 0 {
				sinkPoint = new(point)
			} else {
				sinkOther = new(otherPoint)
			}
		}
		sinkPoint, sinkOther = nil, nil
	})
	b.Run("impl=new+write", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p := new(point)
			p.X = 1
			sinkPoint = p
		}
	})
	for _, name := range slices.Sorted(maps.Keys(allocPeers)) {
		b.Run("impl="+name, allocPeers[name])
	}
}

var sinkPoints []point

// allocSlicePeers are extra BenchmarkAllocSlice rows, like allocPeers.
var allocSlicePeers = map[string]func(b *testing.B, n int){}

// BenchmarkAllocSlice allocates a slice of n small structs: arena.MakeSlice
// against make and, with GOEXPERIMENT=arenas, Go's arena.MakeSlice. As in
// BenchmarkAlloc, the plain rows only allocate (make zeroes what it
// allocates; an arena's fresh memory is zero without being touched), and
// the +write rows write a field of every element, paying an arena's
// first-write page faults.
func BenchmarkAllocSlice(b *testing.B) {
	for _, n := range []int{16, 1024} {
		b.Run(fmt.Sprintf("n=%d/impl=arena.MakeSlice", n), func(b *testing.B) { arenaSlices(b, n, false) })
		b.Run(fmt.Sprintf("n=%d/impl=arena.MakeSlice+write", n), func(b *testing.B) { arenaSlices(b, n, true) })
		b.Run(fmt.Sprintf("n=%d/impl=make", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkPoints = make([]point, n)
			}
		})
		b.Run(fmt.Sprintf("n=%d/impl=make+write", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s := make([]point, n)
				writeAll(s)
				sinkPoints = s
			}
		})
		for _, name := range slices.Sorted(maps.Keys(allocSlicePeers)) {
			f := allocSlicePeers[name]
			b.Run(fmt.Sprintf("n=%d/impl=%s", n, name), func(b *testing.B) { f(b, n) })
		}
	}
	sinkPoints = nil
}

// arenaSlices is BenchmarkAllocSlice's arena.MakeSlice rows. Written
// memory stays resident until Close, so a fresh arena, untimed, follows
// every GiB. Unlike BenchmarkAlloc's, the rows share a loop with a flag:
// its branch, always taken the same way, is nothing beside a MakeSlice
// (13 ns or more), let alone beside the writes of the +write rows.
func arenaSlices(b *testing.B, n int, write bool) {
	max := int64(16 << 30)
	if write {
		max = 1 << 30
	}
	a, err := arena.NewArena(arena.WithMaxBytes(max))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { a.Close() }()
	size := n * int(unsafe.Sizeof(point{}))
	b.ReportAllocs()
	for b.Loop() {
		if int64(a.Len()+size) > max {
			b.StopTimer()
			a.Close()
			if a, err = arena.NewArena(arena.WithMaxBytes(max)); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		s := arena.MakeSlice[point](a, n)
		if write {
			writeAll(s)
		}
		sinkPoints = s
	}
}

// writeAll writes a field of every element of s.
func writeAll(s []point) {
	for i := range s {
		s[i].X = 1
	}
}
