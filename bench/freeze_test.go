//go:build linux

package bench

import (
	"fmt"
	"testing"
	"time"
	"unsafe"

	"github.com/huandu/go-clone"
	"golang.org/x/sys/unix"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
)

// BenchmarkFreeze measures, for resident sizes from 4 KiB to 1 GiB, what
// it costs to make data read-only for readers: Freeze in each mode, against
// the two ways of handing readers their own copy (copy() into a buffer
// already faulted in, the physical limit; and a deep copy with go-clone,
// which allocates), and a bare mprotect(PROT_READ) of anonymous memory
// (the kernel's floor for Protect).
//
// ns/op is the time until Freeze returns. The baseline checksum, in Seal
// mode F_SEAL_WRITE, and in Alias mode the mprotect that makes the owner's
// mapping writable again, finish in the background; wait-ns is the time
// from Freeze returning until Wait does.
// read-ns is what readers pay afterwards to read one byte of every page
// through the read-only view: a range that Freeze mapped afresh (Alias's
// view, Seal's remapped range) faults each page in once. Each arena is
// filled before it is frozen and closed after; only ns/op is timed by the
// benchmark itself.
func BenchmarkFreeze(b *testing.B) {
	sizes := []int{4 << 10, 64 << 10, 1 << 20, 16 << 20, 256 << 20, 1 << 30}
	if testing.Short() {
		sizes = sizes[:5]
	}
	for _, size := range sizes {
		for _, m := range []freeze.Mode{freeze.Protect, freeze.Alias, freeze.Seal} {
			b.Run(fmt.Sprintf("size=%s/impl=%s", sizeName(size), m), func(b *testing.B) {
				benchFreeze(b, size, m)
			})
		}
		b.Run(fmt.Sprintf("size=%s/impl=copy", sizeName(size)), func(b *testing.B) {
			src, dst := touched(size), touched(size)
			b.SetBytes(int64(size))
			for b.Loop() {
				copy(dst, src)
			}
		})
		b.Run(fmt.Sprintf("size=%s/impl=go-clone", sizeName(size)), func(b *testing.B) {
			src := touched(size)
			b.SetBytes(int64(size))
			for b.Loop() {
				sinkBytes = clone.Clone(src).([]byte)
			}
			sinkBytes = nil
		})
		b.Run(fmt.Sprintf("size=%s/impl=mprotect", sizeName(size)), func(b *testing.B) {
			mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
			if err != nil {
				b.Fatal(err)
			}
			defer unix.Munmap(mem)
			touch(mem)
			b.SetBytes(int64(size))
			for b.Loop() {
				if err := unix.Mprotect(mem, unix.PROT_READ); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := unix.Mprotect(mem, unix.PROT_READ|unix.PROT_WRITE); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

func benchFreeze(b *testing.B, size int, m freeze.Mode) {
	var wait, read time.Duration
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		// WithMaxBytes(size) reserves exactly the size, so a 1 GiB arena
		// is 1 GiB-aligned: Seal moves its page tables aside whole.
		a, err := arena.NewArena(arena.WithName("bench"), arena.WithMaxBytes(int64(size)))
		if err != nil {
			b.Fatal(err)
		}
		data := arena.MakeSlice[byte](a, size)
		touch(data)
		b.StartTimer()
		r, err := freeze.Freeze(a, m)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		t := time.Now()
		if err := r.Wait(); err != nil {
			b.Fatal(err)
		}
		wait += time.Since(t)
		ro := unsafe.Slice(freeze.ReadOnly(r, &data[0]), size)
		t = time.Now()
		sinkByte = readPages(ro)
		read += time.Since(t)
		if err := r.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(wait.Nanoseconds())/float64(b.N), "wait-ns")
	b.ReportMetric(float64(read.Nanoseconds())/float64(b.N), "read-ns")
}

var sinkByte byte

// readPages reads one byte of every 4 KiB of p.
func readPages(p []byte) byte {
	var x byte
	for i := 0; i < len(p); i += 4096 {
		x += p[i]
	}
	return x
}

var sinkBytes []byte

// touched returns size bytes of heap memory, every page written.
func touched(size int) []byte {
	p := make([]byte, size)
	touch(p)
	return p
}

// touch writes every byte of p (a varying pattern, so no page is all
// zeros).
func touch(p []byte) {
	for i := range p {
		p[i] = byte(i*7 + i>>12)
	}
}

func sizeName(n int) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}

// node is the element of the pointer graph BenchmarkFreezePointers freezes.
type node struct {
	Next *node
	V    int64
}

// BenchmarkFreezePointers freezes a graph of pointers, where BenchmarkFreeze
// freezes bytes, whose figures hold only for data without pointers: before
// any mode's own work, Freeze checks that every pointer in the arena leads
// into it (and Alias points each into the readers' view), so its time
// grows with the number of pointers, which a copy of the same bytes does
// not pay. A list of 1<<20 nodes, cloned into a fresh arena for each
// freeze (untimed), against copy() of as many bytes as the arena holds;
// ns/pointer is ns/op per pointer.
func BenchmarkFreezePointers(b *testing.B) {
	const n = 1 << 20
	nodes := make([]node, n)
	for i := range n - 1 {
		nodes[i].Next = &nodes[i+1]
	}
	cloned := func(b *testing.B) *arena.Arena {
		a, err := arena.NewArena(arena.WithName("bench"))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := arena.Clone(a, &nodes[0]); err != nil {
			b.Fatal(err)
		}
		return a
	}
	a := cloned(b)
	used := a.Len()
	a.Close()
	for _, m := range []freeze.Mode{freeze.Protect, freeze.Alias, freeze.Seal} {
		b.Run(fmt.Sprintf("pointers=%d/impl=%s", n, m), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				a := cloned(b)
				b.StartTimer()
				r, err := freeze.Freeze(a, m)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := r.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/pointer")
		})
	}
	b.Run(fmt.Sprintf("pointers=%d/impl=copy", n), func(b *testing.B) {
		src, dst := touched(used), touched(used)
		b.SetBytes(int64(used))
		for b.Loop() {
			copy(dst, src)
		}
	})
}
