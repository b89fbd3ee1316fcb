package bench

import (
	"testing"

	"github.com/frozen-go/frozen/arena"
)

// point is the small pointer-free struct the allocation benchmarks make.
type point struct{ X, Y, Z, W int64 }

var sinkPoint *point

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
		const max = 16 << 30
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
		// loop above, which then would time a branch besides New.)
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
	b.Run("impl=new", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkPoint = new(point)
		}
	})
	b.Run("impl=new+write", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p := new(point)
			p.X = 1
			sinkPoint = p
		}
	})
	for name, f := range allocPeers {
		b.Run("impl="+name, f)
	}
}
