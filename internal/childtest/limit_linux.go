// Address-space and mapping limits for child processes.
//
// Unsafe: OverMappingLimit does address arithmetic (unsafe.Add) inside one
// PROT_NONE mapping it made itself, to mprotect every other page of it,
// and unmaps it before it returns the limit to the test; nothing is read
// or written through those addresses.

package childtest

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/frozen-go/frozen/internal/proc"
)

// NeedAddressSpace skips t where RLIMIT_AS leaves less than n bytes of
// address space above what the process maps now: a test that reserves or
// keeps that much at once cannot run under such a limit (ulimit -v), and
// fails with ErrExhausted or ErrAddressSpace instead. Call it before
// InChild: a child inherits the limit, and a skip in the child fails the
// parent.
func NeedAddressSpace(t testing.TB, n uint64) {
	t.Helper()
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_AS, &lim); err != nil || lim.Cur == unix.RLIM_INFINITY {
		return
	}
	size, err := proc.VmSize()
	if err != nil {
		t.Skipf("RLIMIT_AS is %d bytes and what the process maps cannot be read (%v); the test needs %d bytes more", lim.Cur, err, n)
	}
	if size > lim.Cur || lim.Cur-size < n {
		t.Skipf("RLIMIT_AS (%d MiB) leaves %d MiB above what the process maps (%d MiB); the test needs %d MiB",
			lim.Cur>>20, (lim.Cur-min(size, lim.Cur))>>20, size>>20, n>>20)
	}
}

// TightAddressSpace lowers RLIMIT_AS just below what the process maps, so
// that any system call that needs more address space fails with ENOMEM,
// and returns the function that restores it. Only for a child process
// (InChild): while the limit holds, the Go runtime cannot map memory
// either, so TightAddressSpace first turns off what maps memory behind the
// test's back (the garbage collector, the memory profiler, extra
// threads), and it checks that a one-page mapping does fail before it
// returns, trying again if the process unmapped memory meanwhile. Nor can
// the Go heap grow under the limit: the first allocation that finds no
// free page in it would stop the process ("fatal error: runtime: out of
// memory"), as reading /proc/self/status to tell ENOMEM's cause did, in
// runs where no collection had freed pages shortly before. So, as
// OverMappingLimit does, TightAddressSpace first leaves the heap 64 MiB
// of free pages, for what the library and the test allocate under it.
func TightAddressSpace(t *testing.T) (restore func()) {
	t.Helper()
	spareHeap()
	gc := debug.SetGCPercent(-1)
	procs := runtime.GOMAXPROCS(1)
	spareThreads()
	sparePersistent()
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_AS, &old); err != nil {
		t.Fatal(err)
	}
	restore = func() {
		if err := unix.Setrlimit(unix.RLIMIT_AS, &old); err != nil {
			t.Fatal(err)
		}
		runtime.GOMAXPROCS(procs)
		debug.SetGCPercent(gc)
	}
	page := uint64(unix.Getpagesize())
	for range 100 {
		size, err := proc.VmSize()
		if err != nil {
			restore()
			t.Fatal(err)
		}
		if err := unix.Setrlimit(unix.RLIMIT_AS, &unix.Rlimit{Cur: size - page, Max: old.Max}); err != nil {
			restore()
			t.Fatal(err)
		}
		p, err := unix.MmapPtr(-1, 0, nil, uintptr(page), unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			return restore // tight: not a page more
		}
		_ = unix.MunmapPtr(p, uintptr(page))
	}
	restore()
	t.Fatal("childtest: the address space kept shrinking under the limit")
	return nil
}

// OverMappingLimit fills the process's mappings up to vm.max_map_count
// and makes one more, which the kernel allows (it refuses an mmap only
// while the count is above the limit, and a split once it is at it), so
// that every mmap fails with ENOMEM until a mapping goes; it returns the
// function that frees them all, which does nothing when called again.
// Only for a child process (InChild), for
// the same reason as TightAddressSpace, whose precautions it takes: at
// the limit the Go heap cannot grow (the runtime maps memory for it in
// pieces of a reservation, each piece a split), so OverMappingLimit first
// leaves the heap 64 MiB of free pages, ample for what the library and
// the test allocate at the limit (reading the lines of /proc/self/maps in
// a range, as reReserve and the invariants build's Close do), and t's
// methods must wait until after restore.
//
// The mappings are the pages of one reservation, every other page made
// readable (mprotect splits it, one mapping per page), and one page of
// shared anonymous memory, which merges with nothing.
func OverMappingLimit(t *testing.T) (restore func()) {
	t.Helper()
	spareHeap()
	gc := debug.SetGCPercent(-1)
	procs := runtime.GOMAXPROCS(1)
	spareThreads()
	sparePersistent()
	page := uintptr(unix.Getpagesize())
	limit, err := os.ReadFile("/proc/sys/vm/max_map_count")
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(limit)))
	if err != nil {
		t.Fatal(err)
	}
	size := 2 * uintptr(n) * page
	fill, err := unix.MmapPtr(-1, 0, nil, size, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		t.Fatal(err)
	}
	var extra unsafe.Pointer
	done := false
	restore = func() {
		if done {
			return // once: the range may be another's by now
		}
		done = true
		if extra != nil {
			_ = unix.MunmapPtr(extra, page)
		}
		if err := unix.MunmapPtr(fill, size); err != nil {
			t.Fatal(err)
		}
		runtime.GOMAXPROCS(procs)
		debug.SetGCPercent(gc)
	}
	for i := uintptr(1); ; i += 2 {
		if i >= 2*uintptr(n) {
			restore()
			t.Fatal("childtest: the mapping limit was never reached")
		}
		if err := unix.Mprotect(unsafe.Slice((*byte)(unsafe.Add(fill, i*page)), page), unix.PROT_READ); err != nil {
			break // at the limit: the split is refused
		}
	}
	extra, err = unix.MmapPtr(-1, 0, nil, page, unix.PROT_READ, unix.MAP_SHARED|unix.MAP_ANONYMOUS)
	if err != nil {
		restore()
		t.Fatalf("childtest: one mapping at the limit: %v", err)
	}
	p, err := unix.MmapPtr(-1, 0, nil, page, unix.PROT_READ, unix.MAP_SHARED|unix.MAP_ANONYMOUS)
	if err == nil {
		_ = unix.MunmapPtr(p, page)
		restore()
		t.Fatal("childtest: an mmap over the limit was allowed")
	}
	return restore
}

// spareHeap leaves the Go heap room to allocate while a limit holds under
// which the runtime can map nothing more: 64 MiB of free pages, and the
// span structures that carving them into spans of small objects takes,
// which the runtime maps memory for too, a chunk at a time (with free
// pages left, a few thousand page-sized allocations under the limit still
// stopped the process: "fatal error: runtime: cannot allocate memory").
// The 64 MiB are allocated as page-sized objects, each a span of its own,
// and freed: the pages stay the heap's, and the spans' structures wait
// for reuse. The memory profiler, which maps its records, is turned off.
func spareHeap() {
	runtime.MemProfileRate = 0
	func() {
		pieces := make([][]byte, 0, 64<<20/8192)
		for range cap(pieces) {
			pieces = append(pieces, make([]byte, 8192))
		}
		runtime.KeepAlive(pieces)
	}()
	runtime.GC()
}

// spareThreads leaves the runtime idle threads to run goroutines on while
// a limit holds, under which it could not start one (pthread_create maps
// the thread's stack). With GOMAXPROCS at 1 a thread is still needed
// whenever a goroutine becomes runnable while the test's own goroutine is
// in a system call (the scavenger, woken by the pages a collection freed,
// while the library reads /proc/self/status): the runtime hands the P to
// an idle thread, and where none was left it started one, which failed,
// and the process aborted ("pthread_create failed"). The goroutines here
// each hold a thread at once, which makes the runtime start as many; once
// they return, the threads stay idle, for the runtime to take.
func spareThreads() {
	const n = 8
	var ready, done sync.WaitGroup
	release := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for range n {
		go func() {
			defer done.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			ready.Done()
			<-release
		}()
	}
	ready.Wait()
	close(release)
	done.Wait()
}

// sparePersistent leaves the runtime's persistent allocator a fresh chunk
// on the one P left (GOMAXPROCS(1)), for what it makes while a limit holds.
// What the runtime never frees (the itab made at the first conversion or
// assertion of a type to an interface, the blocks of its fixed-size
// allocators: finalizer and cleanup records, span structures) it carves
// from a chunk of 256 KiB per P, and it maps another once the chunk is
// spent, wherever in it the test began: under a limit that mmap failed
// and the process stopped ("fatal error: runtime: cannot allocate
// memory", from runtime.getitab under an fmt.Errorf under
// TightAddressSpace, in about 1 run in 260 of the space package's limit
// tests on linux/386). So sparePersistent has the runtime carve cleanup
// records, in blocks of 16 KiB, until VmSize shows that it mapped a new
// chunk, which then has nearly all of its 256 KiB left. The objects and
// their cleanups, which do nothing, go at the next collection.
func sparePersistent() {
	const chunk = 256 << 10
	before, err := proc.VmSize()
	if err != nil {
		return
	}
	for range 64 { // a few MiB of records: chunks many times over
		for range 1024 {
			runtime.AddCleanup(new([2]*byte), func(struct{}) {}, struct{}{})
		}
		if now, err := proc.VmSize(); err != nil || now >= before+chunk {
			return
		}
	}
}
