package freeze_test

import (
	"fmt"
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
)

var sinkSum uint64

// BenchmarkVerify measures Verify's throughput against hashing the same
// bytes with xxhash on one core, side by side.
func BenchmarkVerify(b *testing.B) {
	for _, size := range []int{1 << 20, 64 << 20, 256 << 20} {
		a, err := arena.NewArena(arena.WithMaxBytes(int64(size)))
		if err != nil {
			b.Fatal(err)
		}
		data := arena.MakeSlice[byte](a, size)
		for i := range data {
			data[i] = byte(i)
		}
		r, err := freeze.Freeze(a, freeze.Protect)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Wait(); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("size=%dMiB/impl=verify", size>>20), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if err := r.Verify(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("size=%dMiB/impl=xxhash-1core", size>>20), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				sinkSum = xxhash.Sum64(data)
			}
		})
		r.Close()
	}
}
