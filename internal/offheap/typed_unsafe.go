// This file is where typed pointers into arena memory are made.
//
// Unsafe: every *T, []T and string returned here points into the arena's
// writable mapping, at an offset the arena allocated for exactly that many
// elements of T with allocAlign's alignment (T's, or 8 on 32-bit systems
// for a T of 8 bytes or more). A zero-size T is given no bytes: its
// pointer is the arena's first address, which is mapped before it is
// handed out and never written through. Empty slices and strings are not
// in the arena at all. T is pointer-free (checked through package layout),
// so whatever the caller stores through the pointer cannot hide a Go
// pointer from the garbage collector (invariant 1). Slices have
// cap == len (invariant 5).

package offheap

import (
	"fmt"
	"reflect"
	"unsafe"

	"github.com/frozen-go/frozen/internal/layout"
)

// typeWord returns the runtime type descriptor of *T: a constant per
// instantiation, used as a cheap cache key.
func typeWord[T any]() unsafe.Pointer {
	var e any = (*T)(nil)
	// An interface{} is (type word, data word).
	return (*[2]unsafe.Pointer)(unsafe.Pointer(&e))[0]
}

// ptrFree returns the analysis of T, or an error if T holds pointers. It
// reads and fills the arena's type cache, and so counts as a use
// of the arena in the invariants build's check for concurrent use: two
// goroutines filling the cache at once could otherwise give one of them
// the other's type, without their Allocs ever overlapping.
func ptrFree[T any](a *Arena) (*layout.Type, error) {
	if Invariants {
		a.enter()
		t, err := cachedType[T](a)
		a.leave()
		return t, err
	}
	return cachedType[T](a)
}

// cachedType is ptrFree without the check for concurrent use.
func cachedType[T any](a *Arena) (*layout.Type, error) {
	w := typeWord[T]()
	if a.lastRT == w {
		return a.lastT, nil
	}
	t := a.prevT
	if a.prevRT != w {
		if t = layout.For[T](); !t.PtrFree {
			return nil, fmt.Errorf("arena: %w (typed allocation needs a pointer-free type)", t.PtrFreeErr)
		}
	}
	a.prevRT, a.prevT, a.lastRT, a.lastT = a.lastRT, a.lastT, w, t
	return t, nil
}

// New allocates a zeroed T. It panics where it cannot, with an error
// wrapping ErrUnsupported, ErrFrozen, ErrClosed or ErrExhausted, as
// arena.New does: so that arena.New is a single call that the compiler
// inlines, and a New in a loop costs one call, not two.
func New[T any](a *Arena) *T {
	if a == nil {
		panic(ErrNoArena)
	}
	// Fast path: one more T at the end of a run of T's that ends at used.
	// Element sizes are multiples of their alignment (of allocAlign's
	// too, or New starts no run), so the end is aligned; a closed or
	// frozen arena has limit 0, so it falls through.
	// Written without calls: calls inside a generic body instantiated in
	// another package are not inlined. Not in the invariants build, which
	// reads no field of the arena before entering it (so that under -race
	// concurrent use panics saying so, before the detector reports these
	// reads as a race).
	if !Invariants {
		if off := a.runEnd; a.runRT == typeWord[T]() && a.used == off {
			if end := off + a.runSize; end <= a.limit && end >= off {
				a.used, a.runEnd = end, end
				a.run.N++
				return (*T)(unsafe.Add(a.base, off))
			}
		}
	}
	t, err := ptrFree[T](a)
	if err != nil {
		panic(err)
	}
	p, err := a.Alloc(t, 1)
	if err != nil {
		panic(err)
	}
	if !Invariants && t.Size > 0 && t.Size%allocAlign(t) == 0 {
		// Alloc's record is now a run of T ending at used, and the next
		// T may follow it directly (not so for a 12-byte T holding an
		// int64 on a 32-bit system, which allocAlign puts at multiples
		// of 8).
		a.runRT, a.runSize = a.lastRT, t.Size
	}
	return (*T)(p)
}

// MakeSlice allocates n zeroed elements of T, with cap == len == n. n == 0
// gives a non-nil empty slice that is not in the arena (appending to it
// allocates on the heap, as with any full slice).
func MakeSlice[T any](a *Arena, n int) ([]T, error) {
	// Entered once for the whole call: the arena's state is read in
	// between the type's lookup and the allocation, and under -race a
	// Close or Freeze on another goroutine must meet the check for
	// concurrent use, not be reported as a race with that read.
	a.enter()
	defer a.leave()
	t, err := cachedType[T](a)
	if err != nil {
		return nil, err
	}
	if err := a.usable(); err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("%w: arena %q: MakeSlice[%s](%d): negative length", ErrInvalidSize, a.name, t.Name(), n)
	}
	if n == 0 {
		return []T{}, nil
	}
	p, err := a.allocTyped(t, uintptr(n))
	if err != nil {
		return nil, err
	}
	return unsafe.Slice((*T)(p), n), nil
}

var byteType = layout.Of(reflect.TypeFor[byte]())

// String copies s into the arena. The empty string needs no memory.
func String(a *Arena, s string) (string, error) {
	// Entered until the bytes are copied (see allocTyped).
	a.enter()
	defer a.leave()
	if err := a.usable(); err != nil {
		return "", err
	}
	if len(s) == 0 {
		return "", nil
	}
	p, err := a.allocTyped(byteType, uintptr(len(s)))
	if err != nil {
		return "", err
	}
	dst := unsafe.Slice((*byte)(p), len(s))
	copy(dst, s)
	return unsafe.String((*byte)(p), len(s)), nil
}

// Bytes copies b into the arena, with cap == len. A nil slice stays nil and
// an empty one stays empty (and is not in the arena).
func Bytes(a *Arena, b []byte) ([]byte, error) {
	a.enter()
	defer a.leave()
	if err := a.usable(); err != nil {
		return nil, err
	}
	if b == nil {
		return nil, nil
	}
	if len(b) == 0 {
		return []byte{}, nil
	}
	p, err := a.allocTyped(byteType, uintptr(len(b)))
	if err != nil {
		return nil, err
	}
	dst := unsafe.Slice((*byte)(p), len(b))
	copy(dst, b)
	return dst, nil
}
