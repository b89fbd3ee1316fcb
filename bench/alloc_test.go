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
	b.Run("impl=new", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkPoint = new(point)
		}
	})
	for name, f := range allocPeers {
		b.Run("impl="+name, f)
	}
}
