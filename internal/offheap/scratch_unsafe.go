// This file is where scratch memory is handed out as typed slices.
//
// Unsafe: ScratchSlice returns a []T over private anonymous memory that
// Scratch mapped (vm.Anon), at an offset aligned for T and bounds-checked
// against the mapping, for exactly n elements. T is pointer-free (checked
// through package layout), so nothing stored in it can hide a Go pointer
// from the garbage collector (invariant 1 holds for scratch memory as for
// arenas). The slices are valid until Release, which the owner calls only
// after copying what it built.

package offheap

import (
	"fmt"
	"unsafe"

	"github.com/frozen-go/frozen/internal/layout"
	"github.com/frozen-go/frozen/internal/vm"
)

// Scratch is a bump allocator over private anonymous memory, for arrays of
// pointer-free elements that are built outside the Go heap and then copied
// into an arena (snapshot.NewMap builds large tables in one), so that
// building leaves no garbage for the collector and returns its memory to
// the kernel at once. It is not safe for concurrent use.
type Scratch struct {
	m    *vm.Anon
	used uintptr
}

// NewScratch maps n bytes of scratch memory; pages are allocated only as
// slices are handed out.
func NewScratch(n uintptr) (*Scratch, error) {
	m, err := vm.NewAnon(n)
	if err != nil {
		return nil, fmt.Errorf("arena: scratch memory: %w", err)
	}
	counters.scratch.Add(int64(m.Len()))
	return &Scratch{m: m}, nil
}

// LiveScratchBytes returns the bytes of scratch memory mapped and not yet
// released, process-wide (ReadStats does not count them: they live only
// while a table is built).
func LiveScratchBytes() int64 { return counters.scratch.Load() }

// ScratchSlice returns n zeroed elements of the pointer-free type T, with
// len == cap == n, their pages allocated in one call (the caller is about
// to fill them). It fails with ErrUnsupported for a T that holds
// pointers, ErrInvalidSize for a negative n, ErrExhausted past the
// scratch's size, and ErrClosed after Release.
func ScratchSlice[T any](s *Scratch, n int) ([]T, error) {
	t := layout.For[T]()
	if !t.PtrFree {
		return nil, fmt.Errorf("arena: scratch: %w", t.PtrFreeErr)
	}
	if n < 0 {
		return nil, fmt.Errorf("%w: scratch slice of %d %s", ErrInvalidSize, n, t.Name())
	}
	if s.m.Addr() == nil {
		return nil, fmt.Errorf("%w: scratch memory used after Release", ErrClosed)
	}
	size, fits := bytesOf(t, uintptr(n))
	off, end, ok := bump(s.used, size, t.Align)
	if !fits || !ok || end > s.m.Len() {
		return nil, fmt.Errorf("%w: scratch of %d bytes: %d %s from offset %d", ErrExhausted, s.m.Len(), n, t.Name(), off)
	}
	if size == 0 {
		return make([]T, n), nil
	}
	s.used = end
	_ = s.m.Populate(off, size) // advice: pages fault in otherwise
	// off+size lies inside the mapping (checked above), and off is aligned
	// for T.
	return unsafe.Slice((*T)(unsafe.Add(s.m.Addr(), off)), n), nil
}

// Contains reports whether p lies in the scratch memory.
func (s *Scratch) Contains(p uintptr) bool {
	base := uintptr(s.m.Addr())
	return base != 0 && p >= base && p-base < s.m.Len()
}

// Release unmaps the scratch memory; every slice handed out becomes
// invalid. It is idempotent.
func (s *Scratch) Release() error {
	if s.m.Addr() == nil {
		return nil
	}
	if err := s.m.Release(); err != nil {
		return err // still mapped, and counted
	}
	counters.scratch.Add(-int64(s.m.Len()))
	return nil
}
