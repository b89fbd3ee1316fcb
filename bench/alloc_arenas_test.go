//go:build goexperiment.arenas

package bench

import (
	"arena"
	"testing"
)

func init() {
	allocPeers["go-arena"] = func(b *testing.B) { goArena(b, false) }
	allocPeers["go-arena+write"] = func(b *testing.B) { goArena(b, true) }
	allocSlicePeers["go-arena"] = func(b *testing.B, n int) { goArenaSlices(b, n, false) }
	allocSlicePeers["go-arena+write"] = func(b *testing.B, n int) { goArenaSlices(b, n, true) }
}

// goArena allocates from Go's experimental arenas, writing a field of each
// struct if write is set (see BenchmarkAlloc).
func goArena(b *testing.B, write bool) {
	a := arena.NewArena()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if n++; n == 1<<20 { // a fresh arena now and then, as a program would
			b.StopTimer()
			a.Free()
			a, n = arena.NewArena(), 0
			b.StartTimer()
		}
		p := arena.New[point](a)
		if write {
			p.X = 1
		}
		sinkPoint = p
	}
	sinkPoint = nil
	a.Free()
}

// goArenaSlices is goArena for BenchmarkAllocSlice.
func goArenaSlices(b *testing.B, n int, write bool) {
	a := arena.NewArena()
	b.ReportAllocs()
	made := 0
	for b.Loop() {
		if made += n; made >= 1<<20 {
			b.StopTimer()
			a.Free()
			a, made = arena.NewArena(), 0
			b.StartTimer()
		}
		s := arena.MakeSlice[point](a, n, n)
		if write {
			writeAll(s)
		}
		sinkPoints = s
	}
	sinkPoints = nil
	a.Free()
}
