package bench

import (
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
)

var sinkSum uint64

// BenchmarkVerify measures Verify's throughput (all cores) against
// hashing the same bytes with xxhash on one core, with xxhash split evenly
// over all cores (what any parallel checksum can at best do here, with
// nothing to compare or report), and against copy(), side by side.
func BenchmarkVerify(b *testing.B) {
	// The goal for Verify is set at 1 GiB.
	sizes := []int{1 << 20, 64 << 20, 256 << 20, 1 << 30}
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
		b.Run(fmt.Sprintf("size=%dMiB/impl=xxhash-allcores", size>>20), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				sinkSum = hashAllCores(data)
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

// hashAllCores hashes data in 64 KiB blocks, one equal share per core,
// each share on its own goroutine, and combines the sums.
func hashAllCores(data []byte) uint64 {
	const block = 64 << 10
	n := runtime.GOMAXPROCS(0)
	share := (len(data)/n + block - 1) / block * block
	sums := make([]uint64, n)
	var wg sync.WaitGroup
	for w := range n {
		lo, hi := min(w*share, len(data)), min((w+1)*share, len(data))
		wg.Go(func() {
			for off := lo; off < hi; off += block {
				sums[w] += xxhash.Sum64(data[off:min(off+block, hi)])
			}
		})
	}
	wg.Wait()
	var s uint64
	for _, x := range sums {
		s ^= x
	}
	return s
}
