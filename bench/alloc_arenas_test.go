//go:build goexperiment.arenas

package bench

import (
	"arena"
	"testing"
)

func init() {
	allocPeers["go-arena"] = func(b *testing.B) {
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
			sinkPoint = arena.New[point](a)
		}
		sinkPoint = nil
		a.Free()
	}
}
