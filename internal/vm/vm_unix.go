//go:build unix && !aix

// The system calls that both Unix backends (vm_linux.go, vm_fallback.go)
// make the same way.
//
// Unsafe: raw addresses cross into system calls here. Each address passed to
// the kernel lies in a range this package reserved or mapped; the kernel,
// not Go, owns the memory behind it.

package vm

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

func dupCloexec(fd int) (int, error) { return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0) }

func closeFD(fd int) error { return unix.Close(fd) }

func ftruncate(fd int, n int64) error { return unix.Ftruncate(fd, n) }

func unixProt(p Prot) int {
	switch p {
	case ProtRead:
		return unix.PROT_READ
	case ProtReadWrite:
		return unix.PROT_READ | unix.PROT_WRITE
	}
	return unix.PROT_NONE
}

// mapFixed maps n bytes of f from offset off at exactly [at, at+n), from the
// read-write descriptor or the read-only one as src says.
//
// A failed MAP_FIXED mmap leaves the range as it was on Linux 6.12 and
// later. Before 6.12 the kernel unmaps the old range first and checks
// some things after, so a failure there can leave a hole that another
// thread's mmap could take, which no caller here looks for (unlike a
// failed mremap: see moveAside). What fails after that unmap is a kernel
// allocation (of the small kind the kernel retries rather than fails) or
// the seal checks: for a memfd, a shared mapping from the writable
// descriptor once F_SEAL_WRITE holds, or a writable one once
// F_SEAL_FUTURE_WRITE does. This package asks for neither: its callers map
// writable only before sealing or after a seal failed and added nothing,
// and Seal mode closes the writable descriptor once F_SEAL_WRITE is on.
// The checks a caller could trip (RLIMIT_AS, the mapping count) come
// before the unmap.
func mapFixed(f *File, off int64, at unsafe.Pointer, n uintptr, prot Prot, src Source) error {
	fd := f.rw
	if src == FromReadOnly {
		fd = f.ro
	}
	if fd < 0 {
		return fmt.Errorf("vm: map %q: descriptor not open", f.name)
	}
	got, err := unix.MmapPtr(fd, off, at, n, unixProt(prot), unix.MAP_SHARED|unix.MAP_FIXED)
	if err != nil {
		return fmt.Errorf("vm: map %q [%d, +%d) %s: %w", f.name, off, n, prot, err)
	}
	if got != at {
		return fmt.Errorf("vm: map %q: kernel placed it at %p, not %p", f.name, got, at)
	}
	return nil
}

// mapAnon maps private anonymous read-write memory at [at, at+n).
func mapAnon(at unsafe.Pointer, n uintptr) error {
	_, err := unix.MmapPtr(-1, 0, at, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON|unix.MAP_FIXED)
	return err
}

func unmap(at unsafe.Pointer, n uintptr) error { return unix.MunmapPtr(at, n) }

func protect(at unsafe.Pointer, n uintptr, p Prot) error {
	// The slice only carries (address, length) to the system call.
	return unix.Mprotect(unsafe.Slice((*byte)(at), n), unixProt(p))
}
