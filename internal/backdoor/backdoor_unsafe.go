//go:build unix

// Package backdoor writes to frozen memory behind the library's back, the
// way a bug in C code or a hostile thread could, for tests and
// demonstrations of what each freeze mode refuses and what Verify catches.
//
// Unsafe: it re-protects the pages holding a Go value and stores through a
// typed pointer the caller obtained from the library; the page address is
// derived with unsafe.Add from that pointer, never from an integer.
package backdoor

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/frozen-go/frozen/internal/layout"
)

// checkPointerFree panics unless T holds no pointers.
func checkPointerFree[T any]() {
	if t := layout.For[T](); !t.PtrFree {
		panic(fmt.Sprintf("backdoor: %s holds pointers: it would store Go-heap pointers in arena memory", t.Name()))
	}
}

// pagesOf returns the pages holding *p (two when it straddles a page
// boundary), as a byte slice.
func pagesOf[T any](p *T) []byte {
	size := uintptr(os.Getpagesize())
	off := uintptr(unsafe.Pointer(p)) & (size - 1)
	n := (off + unsafe.Sizeof(*p) + size - 1) &^ (size - 1)
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(p), -int(off))), n)
}

// Reprotect makes the pages holding *p writable with mprotect, stores v,
// and makes them read-only again: what any code in the process could do to a
// region frozen in Protect mode. It fails (EACCES) on Alias views and
// sealed regions, and (EPERM) on permanent ones. T must be pointer-free: a
// pointer in v would be a Go-heap pointer stored in arena memory, which
// the garbage collector does not scan (checkPointerFree panics otherwise).
func Reprotect[T any](p *T, v T) error {
	checkPointerFree[T]()
	pages := pagesOf(p)
	if err := unix.Mprotect(pages, unix.PROT_READ|unix.PROT_WRITE); err != nil {
		return fmt.Errorf("mprotect(PROT_WRITE): %w", err)
	}
	*p = v
	return unix.Mprotect(pages, unix.PROT_READ)
}

// ProcMem writes v over *p through /proc/self/mem, which bypasses page
// protections of private mappings but not of read-only shared ones. T
// must be pointer-free, as for Reprotect.
func ProcMem[T any](p *T, v T) error {
	checkPointerFree[T]()
	f, err := os.OpenFile("/proc/self/mem", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	b := unsafe.Slice((*byte)(unsafe.Pointer(&v)), unsafe.Sizeof(v))
	_, err = f.WriteAt(b, int64(uintptr(unsafe.Pointer(p))))
	return err
}

// Pwrite reopens the file behind fd read-write through /proc/self/fd and
// writes b at off: the route around page protections that file seals close.
func Pwrite(fd uintptr, off int64, b []byte) error {
	f, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", fd), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteAt(b, off)
	return err
}

// Truncate reopens the file behind fd read-write and truncates it.
func Truncate(fd uintptr, size int64) error {
	f, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", fd), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Truncate(size)
}
