package lookup

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkBuild measures Build alone (on the Go heap, before any arena),
// for 16-byte string keys and uint64 keys with int64 values.
func BenchmarkBuild(b *testing.B) {
	for _, n := range []int{1000, 100_000, 1_000_000} {
		r := rand.New(rand.NewPCG(1, uint64(n)))
		strs := make([]string, n)
		ints := make([]uint64, n)
		for i := range strs {
			strs[i] = randString(r, 16)
			ints[i] = r.Uint64()
		}
		b.Run(fmt.Sprintf("key=string16/n=%d", n), func(b *testing.B) {
			benchBuild(b, strs)
		})
		b.Run(fmt.Sprintf("key=uint64/n=%d", n), func(b *testing.B) {
			benchBuild(b, ints)
		})
	}
}

func benchBuild[K comparable](b *testing.B, keys []K) {
	b.ReportAllocs()
	src := func(yield func(K, int64) bool) {
		for i, k := range keys {
			if !yield(k, int64(i)) {
				return
			}
		}
	}
	for b.Loop() {
		if _, err := Build(src); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(keys)), "ns/key")
}
