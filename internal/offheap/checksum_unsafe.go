// This file is where arena bytes are hashed, in parallel.
//
// Unsafe: the hashers read [base, base+n) as []byte made with unsafe.Slice.
// That is arena memory, which the caller keeps mapped while hashPages runs
// (Close waits for background hashing; Verify holds the region's read
// lock, Update its write lock), or, for Update, the Go-heap bytes of its
// copies of *p, which the job's base pointer (an unsafe.Pointer, seen by
// the garbage collector) and the caller's runtime.KeepAlive keep alive
// until every hasher is done. Nothing is written through base.

package offheap

import (
	"encoding/binary"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// PageSize is the unit of checksumming: every 4 KiB page has its own
// 64-bit xxhash (2 MiB of sums per GiB), so Verify names the pages that
// changed. Hashers take work 1 MiB at a time (chunkSize): measured on two
// cores, interleaving 64 KiB chunks between them gave no speed-up at all
// over one core, while 1 MiB chunks match two halves hashed apart (1.9×).
const (
	PageSize  = 4 << 10
	chunkSize = 1 << 20
	perChunk  = chunkSize / PageSize
)

// Pages returns the number of checksum pages covering n bytes.
func Pages(n uintptr) int { return int((n + PageSize - 1) / PageSize) }

type hashJob struct {
	base    unsafe.Pointer
	n       uintptr
	chunks  int64
	out     []uint64 // baseline mode: hashes are written here
	want    []uint64 // compare mode: hashes are compared with these
	next    atomic.Int64
	changed atomic.Int64
	wg      sync.WaitGroup
}

func (j *hashJob) run() {
	for {
		c := j.next.Add(1) - 1
		if c >= j.chunks {
			return
		}
		changed := int64(0)
		first := int(c) * perChunk
		for i := first; i < first+perChunk; i++ {
			lo := uintptr(i) * PageSize
			if lo >= j.n {
				break
			}
			hi := min(lo+PageSize, j.n)
			h := xxhash.Sum64(unsafe.Slice((*byte)(unsafe.Add(j.base, lo)), hi-lo))
			if j.out != nil {
				j.out[i] = h
			} else if h != j.want[i] {
				changed++
			}
		}
		if changed != 0 {
			j.changed.Add(changed)
		}
	}
}

var hashers struct {
	once sync.Once
	jobs chan *hashJob
	n    int // worker goroutines: one per P
	pool sync.Pool
}

func startHashers() {
	hashers.n = runtime.GOMAXPROCS(0)
	hashers.jobs = make(chan *hashJob, hashers.n)
	hashers.pool.New = func() any { return new(hashJob) }
	for i := 0; i < hashers.n; i++ {
		go func() {
			for j := range hashers.jobs {
				j.run()
				j.wg.Done()
			}
		}()
	}
}

// hashPages hashes [base, base+n) page by page on all cores: into out when
// want is nil, else comparing with want. It returns how many pages differ.
// It does not allocate.
//
// The caller only waits: if it hashed too, a worker it had just woken would
// sit in its own P's run-next slot, which idle Ps steal from only
// reluctantly, and start late (measured: 1.2× instead of 1.9× on 2 cores).
func hashPages(base unsafe.Pointer, n uintptr, out, want []uint64) int {
	hashers.once.Do(startHashers)
	j := hashers.pool.Get().(*hashJob)
	j.base, j.n, j.chunks, j.out, j.want = base, n, int64((n+chunkSize-1)/chunkSize), out, want
	j.next.Store(0)
	j.changed.Store(0)
	if workers := min(hashers.n, int(j.chunks)); workers <= 1 || j.chunks <= 2 {
		j.run() // small: not worth a hand-off
	} else {
		j.wg.Add(workers)
		for i := 0; i < workers; i++ {
			hashers.jobs <- j
		}
		j.wg.Wait()
	}
	changed := int(j.changed.Load())
	j.base, j.out, j.want = nil, nil, nil
	hashers.pool.Put(j)
	return changed
}

// changedPages lists the pages of [base, base+n) whose hash differs from
// want (single-threaded; only called once a difference is known).
func changedPages(base unsafe.Pointer, n uintptr, want []uint64) []int {
	var out []int
	for i := range want {
		lo := uintptr(i) * PageSize
		hi := min(lo+PageSize, n)
		if xxhash.Sum64(unsafe.Slice((*byte)(unsafe.Add(base, lo)), hi-lo)) != want[i] {
			out = append(out, i)
		}
	}
	return out
}

// rootChecksum combines the page hashes and the length into one value:
// the xxhash of n and then every sum, each as eight little-endian bytes.
// Feeding the digest one Write per sum cost 7 ns a sum, 40 µs for the
// 6,000 pages of a 24 MB arena, which every Update paid however little it
// changed (BenchmarkUpdateOneElement); on a little-endian machine the
// sums' own memory is that byte stream, hashed in one Write.
func rootChecksum(sums []uint64, n uintptr) uint64 {
	if !littleEndian {
		return rootChecksumCopying(sums, n)
	}
	d := xxhash.New()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(n))
	d.Write(b[:])
	// A read-only byte view of exactly the len(sums)*8 bytes of the
	// slice's backing array, which sums keeps alive until Write returns.
	d.Write(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(sums))), len(sums)*8))
	return d.Sum64()
}

// rootChecksumCopying is rootChecksum for any byte order: it encodes the
// sums into a buffer, a buffer at a time.
func rootChecksumCopying(sums []uint64, n uintptr) uint64 {
	d := xxhash.New()
	var buf [512]byte
	b := binary.LittleEndian.AppendUint64(buf[:0], uint64(n))
	for _, s := range sums {
		if len(b) == len(buf) {
			d.Write(b)
			b = buf[:0]
		}
		b = binary.LittleEndian.AppendUint64(b, s)
	}
	d.Write(b)
	return d.Sum64()
}

// littleEndian: a uint64's memory holds its little-endian encoding.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1
