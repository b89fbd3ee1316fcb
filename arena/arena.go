package arena

import (
	"fmt"
	"math"

	"github.com/frozen-go/frozen/internal/offheap"
	"github.com/frozen-go/frozen/internal/space"
	"github.com/frozen-go/frozen/internal/vm"
)

// Errors. Each is wrapped (errors.Is) by a more detailed error that names
// the arena where there is one and, for types and values, the offending
// field path.
var (
	// ErrFrozen: the arena was frozen and accepts no more allocations (or
	// a failed freeze.Freeze could not make it writable again).
	ErrFrozen = offheap.ErrFrozen
	// ErrClosed: the arena was closed.
	ErrClosed = offheap.ErrClosed
	// ErrExhausted: the allocation does not fit in WithMaxBytes, or its
	// size overflows; or the kernel would not grow the arena's memory
	// (its file or mapping: ENOMEM, ENOSPC, RLIMIT_FSIZE), the kernel's
	// error wrapped too; or NewArena could not reserve WithMaxBytes of
	// address space.
	ErrExhausted = offheap.ErrExhausted
	// ErrInvalidSize: a negative length; or WithMaxBytes(n) with n <= 0,
	// or so large that, rounded up to a page, it is half the address
	// space or more (no kernel gives a process that much).
	ErrInvalidSize = offheap.ErrInvalidSize
	// ErrUnsupported: the type cannot be stored (maps, channels, funcs,
	// unsafe.Pointer, unique.Handle and so netip.Addr; or pointers where
	// a pointer-free type is required);
	// snapshot.NewMap wraps it too for a key type it cannot compare by
	// its bytes (floats, pointers, interfaces, channels, strings inside
	// array or struct keys).
	ErrUnsupported = offheap.ErrUnsupported
	// ErrForeignPointer: a pointer that leads outside the arena, stored
	// into arena memory before Freeze (a plain assignment into a clone
	// does it: see Caveats; Freeze refuses the arena), or by the function
	// of a freeze.Update into its copy (Update then writes nothing).
	ErrForeignPointer = offheap.ErrForeignPointer
	// ErrUnsupportedPlatform: the platform has no backend yet (Windows,
	// AIX, wasm, Plan 9: every target but the Unix systems other than
	// AIX), or a Linux kernel gives no memfd_create (before Linux 3.17,
	// or a seccomp filter refuses it with ENOSYS or EPERM), so NewArena
	// fails; the packages still compile there.
	ErrUnsupportedPlatform = vm.ErrUnsupportedPlatform
)

// DefaultMaxBytes is the address space an arena reserves when WithMaxBytes
// is not given: 1 GiB on 64-bit systems, 64 MiB on 32-bit ones. Only the
// bytes allocated are backed by memory.
const DefaultMaxBytes = offheap.DefaultMaxBytes

// Arena is a region of memory outside the Go heap that Go values are copied
// into. Create one with NewArena and release it with Close. A zero-value
// Arena is not an arena: its methods and the allocation functions panic
// with an error wrapping ErrClosed, and Clone and Close return one (so do
// they for a nil *Arena, but New, which must stay small, then panics with
// the runtime's nil dereference).
//
// An Arena is not safe for concurrent use: allocate from one goroutine at a
// time (the invariants build, on under -race, panics on concurrent calls;
// closing the Arena, or the freeze.Region it was frozen into, counts as a
// call). Once frozen (package freeze), its contents may be read from any
// number of goroutines. An Arena must not be copied.
type Arena struct {
	_ noCopy
	a *offheap.Arena
}

// noCopy makes go vet report copies of an Arena.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

type options struct {
	name     string
	maxBytes int64
}

// Option configures NewArena. Options apply in order, a later one
// overriding an earlier; a nil Option is ignored.
type Option func(*options)

// WithName names the arena in errors, fault reports, Name and
// /proc/self/maps ("/memfd:name"). The default is "arena". Any string is
// accepted: the kernel takes at most 249 bytes and no NUL in a memfd's
// name, so /proc/self/maps shows the name cut before the first UTF-8
// sequence that would cross that limit, with each NUL replaced by '_'
// (on other Unix systems, the temporary file's name also has '/', and
// each byte that is not part of valid UTF-8, replaced, and is cut at 237
// bytes); everything else keeps the name whole.
func WithName(name string) Option { return func(o *options) { o.name = name } }

// WithMaxBytes sets how many bytes the arena may hold: exactly n, whatever
// the page size. The arena reserves that much address space up front
// (rounded up to whole pages), so that allocations never move; memory is
// only used as bytes are allocated.
// Without this option the limit is DefaultMaxBytes; allocations past the
// limit fail with ErrExhausted. n must be at least 1: NewArena refuses
// n <= 0 with an error wrapping ErrInvalidSize (0 does not mean the
// default).
func WithMaxBytes(n int64) Option { return func(o *options) { o.maxBytes = n } }

// NewArena creates an arena backed by a fresh memfd (an unlinked temporary
// file on the other Unix systems but AIX). It fails with an error wrapping
// ErrInvalidSize for WithMaxBytes(n) with n <= 0 or so large that,
// rounded up to a page, it is half of what a pointer can address or more
// (2^63 bytes on 64-bit systems, 2 GiB on 32-bit ones), and with one
// wrapping ErrExhausted when the kernel will not reserve n bytes of
// address space, of which a process has less: 128 TiB on most
// Linux/amd64 hosts, so that WithMaxBytes(1<<46) is reserved and
// WithMaxBytes(1<<62) fails with ErrExhausted; where the platform has
// no backend (Windows, AIX, wasm, Plan 9) or the Linux kernel no
// memfd_create, with one wrapping ErrUnsupportedPlatform.
func NewArena(opts ...Option) (*Arena, error) {
	o := options{name: "arena", maxBytes: DefaultMaxBytes}
	for _, opt := range opts {
		if opt != nil { // a nil Option is skipped, as if not given
			opt(&o)
		}
	}
	if o.maxBytes <= 0 {
		return nil, fmt.Errorf("%w: arena %q: WithMaxBytes(%d): an arena holds at least 1 byte (omit the option for DefaultMaxBytes)",
			ErrInvalidSize, o.name, o.maxBytes)
	}
	a, err := offheap.NewArena(o.name, o.maxBytes)
	if err != nil {
		return nil, err
	}
	return &Arena{a: a}, nil
}

// Name returns the arena's name. Name, Len and Cap may be called after
// Close, and give what they gave before it.
func (a *Arena) Name() string { return a.core().Name() }

// Len returns the number of bytes allocated, padding included.
func (a *Arena) Len() int { return a.core().Len() }

// Cap returns the number of bytes the arena may hold (WithMaxBytes).
func (a *Arena) Cap() int { return a.core().Cap() }

// Close releases the arena's memory. The address range stays reserved and
// inaccessible (quarantined), so that a pointer kept past Close faults
// rather than reading reused memory, until later releases push it out of
// the bounded quarantine (SetQuarantine); the range of an arena whose
// WithMaxBytes exceeds the whole quarantine budget is not quarantined at
// all, and may be handed to the next arena at once. Close is idempotent. In the rare case
// that the kernel refuses to release the memory (out of memory), Close
// returns its error, the memory stays as it was (and its addresses are
// not reused), and Close may be called again. Over the kernel's mapping
// limit, where it refuses to replace a mapping, Close unmaps the memory
// and reserves its range again; should another thread map into the range
// in between, Close finishes but returns an error saying the range was
// lost: it is never reused, and a pointer kept into it no longer faults
// (or faults in whatever the other thread mapped there, which
// freeze.Guard then leaves alone).
func (a *Arena) Close() error {
	if a == nil || a.a == nil {
		return errNoArena
	}
	return a.a.Close()
}

// errNoArena is the error for a nil or zero-value *Arena.
var errNoArena = offheap.ErrNoArena

// core returns the engine behind a; for a nil or zero-value *Arena (one
// not made by NewArena) it panics with an error wrapping ErrClosed.
func (a *Arena) core() *offheap.Arena {
	if a == nil || a.a == nil {
		panic(errNoArena)
	}
	return a.a
}

// SetQuarantine sets how much released address space is kept inaccessible
// before any of it is handed out again: at most maxBytes of address space
// and maxRanges ranges; exceeding either budget lets the oldest ranges go,
// so zero for either disables the quarantine. A range larger than maxBytes
// (an arena closed with WithMaxBytes above it) is not quarantined, rather
// than push every other out. Under an address-space limit (RLIMIT_AS) too
// small for the reservations arenas are carved from (64 GiB each; 256 MiB
// on 32-bit systems), the oldest ranges leave before the budget is spent,
// as many as a new arena needs, before more address space is reserved, and
// then only a quarter of what the limit leaves: the Go heap keeps room to
// grow, and NewArena does not fail while nothing is live. Ranges out of
// quarantine are handed out again lowest address first. Address space once
// reserved is kept for the life of the process (inaccessible and holding no
// memory when no arena uses it), and so counts against RLIMIT_AS even after
// every arena is closed. In Alias mode a region's read-only view is a range
// of its own, quarantined after the owner's, so it is the later of the two
// to go. The defaults are 64 GiB (256 MiB on 32-bit systems) and 16384
// ranges (address space only: quarantined ranges hold no memory). It
// returns the previous budget. It panics with an error wrapping
// ErrInvalidSize if either is negative.
func SetQuarantine(maxBytes int64, maxRanges int) (prevBytes int64, prevRanges int) {
	if maxBytes < 0 || maxRanges < 0 {
		panic(fmt.Errorf("%w: SetQuarantine(%d, %d)", ErrInvalidSize, maxBytes, maxRanges))
	}
	// A budget beyond the address space is all of it (on 32-bit systems a
	// plain conversion would cut 1<<40 to 0, no quarantine at all).
	b, r := space.SetQuarantine(uintptr(min(uint64(maxBytes), uint64(^uintptr(0)))), maxRanges)
	return int64(min(uint64(b), math.MaxInt64)), r
}

func init() {
	offheap.RegisterUnwrap(func(x any) *offheap.Arena {
		if a, ok := x.(*Arena); ok && a != nil {
			return a.a
		}
		return nil
	})
}
