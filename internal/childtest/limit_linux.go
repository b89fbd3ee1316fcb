package childtest

import (
	"runtime"
	"runtime/debug"
	"testing"

	"golang.org/x/sys/unix"
)

// TightAddressSpace lowers RLIMIT_AS just below what the process maps, so
// that any system call that needs more address space fails with ENOMEM,
// and returns the function that restores it. Only for a child process
// (InChild): while the limit holds, the Go runtime cannot map memory
// either, so TightAddressSpace first turns off what maps memory behind the
// test's back (the garbage collector, the memory profiler, extra
// threads), and it checks that a one-page mapping does fail before it
// returns, trying again if the process unmapped memory meanwhile.
func TightAddressSpace(t *testing.T) (restore func()) {
	t.Helper()
	runtime.MemProfileRate = 0
	gc := debug.SetGCPercent(-1)
	procs := runtime.GOMAXPROCS(1)
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
		size, err := VmSize()
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
