package bench

import (
	"fmt"
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
)

var sinkSum uint64

// BenchmarkVerify measures Verify's throughput (all cores) against
// hashing the same bytes with xxhash on one core and against copy(), the
// memory bandwidth that bounds both, side by side.
func BenchmarkVerify(b *testing.B) {
	sizes := []int{1 << 20, 64 << 20, 256 << 20}
	if testing.Short() {
		sizes = sizes[:2]
	}
	for _, size := range sizes {
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
		b.Run(fmt.Sprintf("size=%dMiB/impl=copy", size>>20), func(b *testing.B) {
			dst := make([]byte, size)
			copy(dst, data) // fault the destination in, untimed
			b.SetBytes(int64(size))
			for b.Loop() {
				copy(dst, data)
			}
		})
		r.Close()
	}
}
