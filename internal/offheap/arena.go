// Package offheap is the engine behind packages arena, freeze and snapshot:
// arenas in memfd-backed memory outside the Go heap, the graph-preserving
// deep copy that fills them, the transitions that freeze them, their
// checksums, and the address-to-field resolution used in fault reports.
//
// Memory-safety contract (README, "The safety contract"): arena memory never holds
// a pointer into the Go heap; every pointer stored in it is written by Clone
// (or relocated by Freeze) and points into the same arena; Freeze
// re-validates that graph first (as Update does for what its function
// wrote); released ranges stay PROT_NONE in quarantine.
//
// Unsafe (in this file): an arena's range is held as an unsafe.Pointer,
// the base space reserved, and every pointer the arena hands out is made
// from that base with unsafe.Add (allocTyped), never from an integer;
// runRT, lastRT and prevRT are runtime type words (typeWord), compared
// and never followed. The files named *_unsafe.go say what their casts
// rely on.
package offheap

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/frozen-go/frozen/internal/layout"
	"github.com/frozen-go/frozen/internal/space"
	"github.com/frozen-go/frozen/internal/vm"
)

// Errors, re-exported by package arena.
var (
	ErrFrozen = errors.New("arena: frozen")
	ErrClosed = errors.New("arena: closed")
	// ErrNoArena is the error for a nil or zero-value *arena.Arena.
	ErrNoArena     = fmt.Errorf("%w: a nil or zero-value *Arena is not an arena (create one with NewArena)", ErrClosed)
	ErrExhausted   = errors.New("arena: exhausted")
	ErrInvalidSize = errors.New("arena: invalid size")
	ErrUnsupported = layout.ErrUnsupported
)

// Defaults.
const (
	// DefaultMaxBytes is the address space an arena reserves when
	// WithMaxBytes is not given: 1 GiB on 64-bit systems, 64 MiB on 32-bit
	// ones, whose whole address space holds only three or so contiguous
	// GiB. Only what is used is backed by memory.
	DefaultMaxBytes = 1 << (26 + 4*(^uintptr(0)>>63))
	// minGrow is the smallest step the mapping grows by.
	minGrow = 64 << 10
)

// State is an arena's life-cycle state.
type State uint32

// States.
const (
	Open State = iota
	Frozen
	Closed
)

// NoParent marks a record that no other record points to (a root, or a
// typed allocation).
const NoParent = ^uint32(0)

// RunOfTyped marks a record that describes a run of typed allocations
// (New, MakeSlice, String, Bytes) of one type laid out back to back: a
// million New calls cost one record. Fault reports name an element of a
// run "Point#3", by its index among the elements of every run of its type
// (namer.typedIndex).
const RunOfTyped = ^uint32(0) - 1

// RunOfStrings marks the record of the string bytes one Clone packed
// together.
const RunOfStrings = ^uint32(0) - 2

// Record describes one allocation. Records are pointer-free, so a table of
// millions costs the garbage collector nothing to scan.
type Record struct {
	Off    uint64 // offset of the first element in the arena
	N      uint64 // number of elements
	Type   uint32 // layout ID of the element type
	Parent uint32 // record whose pointer led Clone here, NoParent or RunOfTyped
}

// Arena is an off-heap bump allocator over one memfd. It is not safe for
// concurrent use; the invariants build detects concurrent calls.
type Arena struct {
	name    string
	ceiling uintptr     // bytes that may be allocated (WithMaxBytes)
	rng     space.Range // the reservation: the ceiling rounded up to whole pages
	file    *vm.File
	w       *vm.Mapping // the writable mapping at the start of rng; nil until first use
	used    uintptr
	// limit is the mapped length, or the ceiling if that is less, while
	// the arena is open, else 0: the typed fast path checks room and state
	// with one comparison.
	limit uintptr
	// runType and runEnd describe the last record while it is a run of
	// typed allocations that a new one may extend (runEnd 0: none); run
	// points at that record.
	runType uint32
	runEnd  uintptr
	run     *Record
	// runRT is the type word of New's fast path: non-nil only while the
	// last record is a run of that type, which New may extend by one
	// element of runSize bytes when it still ends at used.
	runRT   unsafe.Pointer
	runSize uintptr
	base    unsafe.Pointer // rng.Addr(), for the fast path
	recs    records
	state   State
	// frozen is set by Freeze. Atomic: Resolve reads it on whatever
	// goroutine faulted, while Freeze may be running on the owner's.
	frozen atomic.Pointer[Region]
	busy   atomic.Int32

	// copied holds the page hashes Apply took while it copied into a
	// fresh arena, after HashWhileCopying (see hashcopy_unsafe.go).
	copied copyHashes

	// Two-entry cache of the types of typed allocations, the last one
	// used first: a program that allocates two types in turn finds both.
	lastRT, prevRT unsafe.Pointer
	lastT, prevT   *layout.Type

	// leftovers are mappings the library meant to release and could not
	// (see keepLeftover).
	leftovers []leftover
	// broken is why a failed Freeze could not make the arena's mapping
	// read-write again: the arena then accepts no allocation, nor another
	// Freeze, and can only be closed. Where the arena's range was
	// unmapped and could not be reserved again, its mapping says so
	// (a.w.Lost): it is released without touching the range, which Close
	// never gives back to space.
	broken error
	// lostErr gathers the errors of releases that unmapped a mapping but
	// lost its range (vm.Mapping.Lost), for Close to report: the mapping
	// is gone, and its range stays out of space for good.
	lostErr error

	// valueName, when set (SetValueName), names an offset that lies in a
	// value of a frozen lookup table's entry, for paths (see path). It is
	// set after Freeze has published the region, and a fault on another
	// goroutine (through a pointer kept past a Close, into the range this
	// arena took) names a path as soon as Freeze has: hence atomic, so
	// that a path reading it also sees everything the function reads.
	valueName atomic.Pointer[func(off uintptr) (string, bool)]
	// rootName, when set (SetRootName), names a root record in paths;
	// atomic for the same reason as valueName.
	rootName atomic.Pointer[rootName]
}

// rootName is the name SetRootName gives the root record at offset off.
type rootName struct {
	off  uintptr
	name string
}

// SetValueName makes paths through the arena, in fault reports and
// Verify's descriptions, name an offset for which f says true by what f
// returns instead of by the types of its records: snapshot.Map names a
// byte in the value of one of its entries by the entry's key
// (`Map[string,*Route]["api"]`, not `Table[string,*Route].sslots[12].Val`).
// It is set once, after Freeze, and may be while another goroutine names
// a path through the arena (a stray write through a pointer kept past the
// Close of a range the arena took faults as soon as Freeze returns): what
// f reads must be written before SetValueName is called, which orders
// those writes before any path's call of f. f runs while a path is named,
// under the lock that keeps Close from releasing the memory, and may read
// the arena's memory but must not allocate in it.
func (a *Arena) SetValueName(f func(off uintptr) (string, bool)) { a.valueName.Store(&f) }

// SetRootName makes paths through the arena, in fault reports, Verify's
// descriptions and Allocations, name the root whose record begins at
// offset off by name instead of by its type: snapshot.Map names its
// table's own bytes, and the arrays it points to, `Map[string,*Route].tags[3]`,
// not `Table[string,*Route].tags[3]`. It is set once, after Freeze, as
// SetValueName is.
func (a *Arena) SetRootName(off uintptr, name string) {
	a.rootName.Store(&rootName{off: off, name: name})
}

// leftover is a mapping of the arena's file outside its range that the
// library failed to release when it meant to: a rollback's (a failed
// Freeze's Alias view, Seal's moved-aside mapping) or Seal's background
// step's. Kept, it is released by the next Freeze or by Close instead of
// staying mapped, unseen, for the life of the process; its range goes back
// to space only once it is PROT_NONE.
type leftover struct {
	m       *vm.Mapping
	rng     space.Range
	counted bool // rng counts as reserved in ReadStats (an Alias view's)
	// shared is set where the arena's pointers were left in the mapping
	// (the view of an Alias freeze whose rollback could not make the
	// owner's mapping writable again): the owner may have read them, so
	// the range is released as any range readers had, into quarantine
	// (invariant 4), not handed out again at once.
	shared bool
}

// keepLeftover keeps m, whose release failed, for releaseLeftovers. The
// caller is the owner's goroutine, or Seal's background step, which Close
// and the next Freeze wait for.
func (a *Arena) keepLeftover(m *vm.Mapping, rng space.Range, counted, shared bool) {
	a.leftovers = append(a.leftovers, leftover{m, rng, counted, shared})
}

// releaseLeftovers releases the leftovers, stopping at the first that
// fails again (it stays, for the next call). A leftover whose range was
// lost (now or when it was kept) is dropped without giving its range back;
// a shared one's range goes back through give (space.Release, which
// quarantines it, unless the arena is discarded), the others' through
// space.Discard.
func (a *Arena) releaseLeftovers(give func(space.Range) error) error {
	for len(a.leftovers) > 0 {
		l := a.leftovers[0]
		if err := a.keepLost(l.m, step("release-leftover", l.m.Release)); err != nil {
			return err
		}
		if l.counted {
			counters.reserved.Add(-int64(l.rng.Len()))
		}
		a.leftovers = a.leftovers[1:]
		if l.m.Lost() {
			if err := space.Lose(l.rng); err != nil {
				return err
			}
			continue
		}
		back := space.Discard
		if l.shared {
			back = give
		}
		if err := back(l.rng); err != nil {
			return err
		}
	}
	a.leftovers = nil
	return nil
}

// keepLost returns err, the error of m's Release, unless the release
// unmapped m and lost its range (m.Lost): then the error goes to
// a.lostErr, for Close to report, and keepLost returns nil, since there
// is nothing left to release. The caller gives m's range to space.Lose,
// never back to space.
func (a *Arena) keepLost(m *vm.Mapping, err error) error {
	if err != nil && m.Lost() {
		a.lostErr = errors.Join(a.lostErr, err)
		return nil
	}
	return err
}

// NewArena reserves maxBytes of address space (rounded up to whole pages;
// 0 means DefaultMaxBytes) and creates the memfd behind it. Allocations
// may use exactly maxBytes, whatever the page size.
func NewArena(name string, maxBytes int64) (*Arena, error) {
	if maxBytes < 0 {
		return nil, fmt.Errorf("%w: arena %q: WithMaxBytes(%d) is negative", ErrInvalidSize, name, maxBytes)
	}
	if maxBytes == 0 {
		maxBytes = DefaultMaxBytes
	}
	// Half the address space, rounded down to a page so that rounding up
	// cannot overflow: no kernel gives a process more.
	if uint64(maxBytes) > uint64(^uintptr(0)>>1&^(vm.PageSize-1)) {
		return nil, fmt.Errorf("%w: arena %q: WithMaxBytes(%d) exceeds the address space", ErrInvalidSize, name, maxBytes)
	}
	n := alignUp(uintptr(maxBytes), vm.PageSize)
	a := &Arena{name: name, ceiling: uintptr(maxBytes)}
	f, err := vm.NewFile(name)
	if err != nil {
		return nil, fmt.Errorf("arena %q: %w", name, err)
	}
	rng, err := allocAligned(n, a, name)
	if errors.Is(err, space.ErrAddressSpace) {
		// Named as every other ErrExhausted is: the sentinel, then the
		// arena, then what the kernel said (the layers below only repeat
		// the size, in the names of packages the caller never sees).
		err = fmt.Errorf("%w: arena %q: WithMaxBytes(%d): the kernel would not reserve that much address space (reserve less)%s", ErrExhausted, name, maxBytes, kernelSaid(err))
		return nil, errors.Join(err, f.Close())
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("arena %q: %w", name, err), f.Close())
	}
	a.file, a.rng, a.base = f, rng, rng.Addr()
	counters.mu.Lock() // one change, for ReadStats (see counters.mu)
	counters.arenas.Add(1)
	counters.reserved.Add(int64(n))
	counters.mu.Unlock()
	return a, nil
}

// allocAligned reserves n bytes of address space at alignFor(n) for
// owner, as space.Alloc does. The kernel reserves an aligned range by
// reserving the alignment's worth more and giving the slack back, which
// an address-space limit (RLIMIT_AS, or a 32-bit process's whole space)
// may not leave room for where it leaves room for the range: 1 GiB
// aligned to 1 GiB takes 2. The alignment only speeds up Seal's move of
// page tables and lets the kernel use huge pages, so where space refuses
// the range with ErrAddressSpace allocAligned asks again with the next
// smaller alignment (2 MiB, then a page), and fails only when the range
// fits with none of them.
func allocAligned(n uintptr, owner any, name string) (space.Range, error) {
	align := alignFor(n)
	rng, err := space.Alloc(n, align, owner, name)
	for errors.Is(err, space.ErrAddressSpace) && align > vm.PageSize {
		align = alignFor(align - 1)
		rng, err = space.Alloc(n, align, owner, name)
	}
	return rng, err
}

// alignFor picks the alignment of a range of n bytes: 1 GiB and 2 MiB
// alignment let the kernel move page tables a directory at a time when a
// range is frozen in Seal mode.
func alignFor(n uintptr) uintptr {
	switch {
	case n >= 1<<30:
		return 1 << 30
	case n >= 2<<20:
		return 2 << 20
	}
	return vm.PageSize
}

// Name returns the arena's name.
func (a *Arena) Name() string { return a.name }

// Len returns the number of bytes allocated.
func (a *Arena) Len() int { return int(a.used) }

// Cap returns the most bytes the arena can hold.
func (a *Arena) Cap() int { return int(a.ceiling) }

// Mapped returns how many bytes are mapped (backed by the file).
func (a *Arena) Mapped() int {
	if a.w == nil {
		return 0
	}
	return int(a.w.Len())
}

// Base returns the start of the arena's address range.
func (a *Arena) Base() unsafe.Pointer { return a.rng.Addr() }

// Range returns the arena's reserved address range.
func (a *Arena) Range() space.Range { return a.rng }

// File returns the arena's memfd.
func (a *Arena) File() *vm.File { return a.file }

// Region returns the frozen region, or nil before Freeze.
func (a *Arena) Region() *Region { return a.frozen.Load() }

// enter and leave bracket every method that changes the arena; in the
// invariants build they detect concurrent use.
func (a *Arena) enter() {
	if Invariants && !a.busy.CompareAndSwap(0, 1) {
		panic("arena: concurrent use of an Arena (an Arena is not safe for concurrent use)")
	}
}

func (a *Arena) leave() {
	if Invariants {
		a.busy.Store(0)
	}
}

// usable returns the error for allocating in a frozen or closed arena, or
// one a failed Freeze left broken.
func (a *Arena) usable() error {
	switch a.state {
	case Frozen:
		return fmt.Errorf("%w: arena %q no longer accepts allocations", ErrFrozen, a.name)
	case Closed:
		return fmt.Errorf("%w: arena %q", ErrClosed, a.name)
	}
	if a.broken != nil {
		return fmt.Errorf("%w: arena %q stayed read-only or unmapped when undoing a failed Freeze failed (%v); it can only be closed",
			ErrFrozen, a.name, a.broken)
	}
	return nil
}

// alloc reserves size bytes aligned to align and returns their offset. The
// bytes are zero: arena memory is fresh from the file and never reused.
func (a *Arena) alloc(size, align uintptr) (uintptr, error) {
	if err := a.usable(); err != nil {
		return 0, err
	}
	off, end, ok := bump(a.used, size, align)
	if !ok {
		return 0, fmt.Errorf("%w: arena %q: %d bytes overflow the address space", ErrExhausted, a.name, size)
	}
	if a.w == nil || end > a.limit {
		if err := a.grow(end); err != nil {
			return 0, err
		}
	}
	a.used = end
	return off, nil
}

// grow makes the mapping at least need bytes long, doubling it.
func (a *Arena) grow(need uintptr) error {
	if need > a.ceiling {
		return fmt.Errorf("%w: arena %q: %d bytes needed, %d allowed (raise WithMaxBytes)",
			ErrExhausted, a.name, need, a.ceiling)
	}
	cur := uintptr(0)
	if a.w != nil {
		cur = a.w.Len()
	}
	n := max(alignUp(need, vm.PageSize), 2*cur, minGrow)
	n = min(n, a.rng.Len())
	// The file must be long enough before any byte of a new mapping is
	// touched: touching past the end of a shared object raises SIGBUS.
	if err := a.file.Resize(int64(n)); err != nil {
		return fmt.Errorf("%w: arena %q: the kernel would not grow it to %d bytes: %w", ErrExhausted, a.name, n, err)
	}
	if a.w == nil {
		w, err := vm.Map(a.file, 0, a.rng.Addr(), n, vm.ProtReadWrite, vm.FromReadWrite)
		if err != nil {
			return errors.Join(fmt.Errorf("%w: arena %q: the kernel would not map %d bytes: %w", ErrExhausted, a.name, n, err), a.file.Resize(0))
		}
		a.w, a.limit = w, min(n, a.ceiling)
		counters.mapped.Add(int64(n))
		return nil
	}
	if err := a.w.Extend(n - cur); err != nil {
		return errors.Join(fmt.Errorf("%w: arena %q: the kernel would not map it grown to %d bytes: %w", ErrExhausted, a.name, n, err), a.file.Resize(int64(cur)))
	}
	counters.mapped.Add(int64(n - cur))
	a.limit = min(n, a.ceiling)
	return nil
}

// record appends an allocation record.
func (a *Arena) record(off, n uintptr, t *layout.Type, parent uint32) {
	a.runEnd, a.run, a.runRT = 0, nil, nil
	a.recs.add(Record{Off: uint64(off), N: uint64(n), Type: t.ID, Parent: parent})
}

// recordTyped records n elements of t allocated at off by a typed
// allocation, extending the last record when it is a run of the same type
// ending exactly at off.
func (a *Arena) recordTyped(off, n uintptr, t *layout.Type) {
	end := off + n*t.Size
	if a.runEnd == off && a.runType == t.ID && off != 0 {
		a.run.N += uint64(n)
	} else {
		a.recs.add(Record{Off: uint64(off), N: uint64(n), Type: t.ID, Parent: RunOfTyped})
		// add may have moved the records: take the pointer afresh.
		a.run, a.runType = a.recs.at(a.recs.len()-1), t.ID
	}
	a.runEnd, a.runRT = end, nil
}

// allocAlign returns the alignment of an allocation of t: t's own, but on
// 32-bit systems at least 8 for a t of 8 bytes or more. Go's allocator
// places every such object at a multiple of 8 there, and sync/atomic's
// 64-bit functions rely on it ("the first word in an allocated struct,
// array, or slice ... can be relied upon to be 64-bit aligned"); an
// arena gives its allocations the same guarantee.
func allocAlign(t *layout.Type) uintptr {
	if unsafe.Sizeof(uintptr(0)) == 4 && t.Size >= 8 {
		return max(t.Align, 8)
	}
	return t.Align
}

// Alloc allocates n elements of t (zeroed) and records them as a typed
// allocation. It does not check that t is pointer-free; the typed helpers
// do.
func (a *Arena) Alloc(t *layout.Type, n uintptr) (unsafe.Pointer, error) {
	a.enter()
	defer a.leave()
	return a.allocTyped(t, n)
}

// allocTyped is Alloc for a caller that has entered the arena itself, as
// one that then writes what it allocated must, so that a Close or Freeze
// on another goroutine cannot come between (the invariants build's check).
func (a *Arena) allocTyped(t *layout.Type, n uintptr) (unsafe.Pointer, error) {
	size, ok := bytesOf(t, n)
	if !ok {
		return nil, fmt.Errorf("%w: arena %q: %d × %d bytes overflows", ErrExhausted, a.name, n, t.Size)
	}
	if size == 0 {
		// Zero-size values point at the region's first byte, as Clone's
		// do (tidy): never written through, and inside what Freeze and
		// Update accept, where the end of the used bytes (the next
		// offset) would not be when nothing follows. That byte is mapped
		// before the pointer is handed out: dereferencing a pointer to a
		// zero-size value reads a byte through it (Go's nil check).
		if err := a.usable(); err != nil {
			return nil, err
		}
		if a.w == nil {
			if err := a.grow(0); err != nil {
				return nil, err
			}
		}
		return a.rng.Addr(), nil
	}
	off, err := a.alloc(size, allocAlign(t))
	if err != nil {
		return nil, err
	}
	a.recordTyped(off, n, t)
	// Sound: [off, off+size) lies in the arena's range, mapped and sized
	// by alloc (grow maps the memfd over it before alloc returns), and
	// stays mapped until Close, after which the range is PROT_NONE in
	// quarantine, never memory that was reused.
	return unsafe.Add(a.rng.Addr(), off), nil
}

// Close releases the arena: its mappings become PROT_NONE and its range
// goes into quarantine; the file is closed. It is idempotent. A permanent
// (msealed) region cannot be released: Close then returns ErrPermanent and
// keeps the memory mapped. If the kernel refuses to release a mapping,
// Close returns its error with that mapping still in place (readable,
// never reused) and may be called again. If a release unmapped a mapping
// but could not reserve its range again (at the kernel's mapping limit,
// with another thread mapping into the hole meanwhile), the range is
// never reused and, not quarantined, may no longer fault for a pointer
// kept into it (space.Lose: nor is a fault there resolved to the arena):
// Close finishes and returns an error wrapping vm.ErrRangeLost that says
// so.
func (a *Arena) Close() error { return a.close(space.Release, false) }

// CloseUnlessBusy is Close for the keeper of the arena's region (see
// Region.SetKeeper), which it does not ask: the keeper releases the
// region it keeps this way. It must not wait for an Update of the region
// running on another goroutine (whose function may be waiting for the
// keeper's owner), nor for another Close of it: it then returns an error
// wrapping ErrBusy and changes nothing, and may be called again. It
// waits, as Close does, for Verify and for a fault being named, which
// run no code of the caller's.
func (a *Arena) CloseUnlessBusy() error { return a.close(space.Release, true) }

// Discard is Close for an arena whose addresses nobody outside the library
// was ever given (a Take that failed): its ranges go back to space at
// once, instead of spending the quarantine budget that keeps the ranges
// of closed snapshots inaccessible (space.Discard).
func (a *Arena) Discard() error { return a.close(space.Discard, false) }

// close is Close, CloseUnlessBusy and Discard, which give the arena's
// ranges back to space with give.
func (a *Arena) close(give func(space.Range) error, unlessBusy bool) error {
	r := a.frozen.Load()
	if r != nil {
		// A release the keeper refuses (of a version a Store published)
		// is refused first, before closeMu: a Close that is to fail
		// neither waits for an Update running on another goroutine nor,
		// holding closeMu, makes the keeper's own release
		// (CloseUnlessBusy, which does not ask it) fail.
		if !unlessBusy {
			if err := r.kept(false); err != nil {
				return err
			}
		}
		if r.inOwnUpdate() {
			// Releasing the memory the Update's function is writing, with
			// the lock its goroutine holds: refuse instead of waiting
			// forever.
			return fmt.Errorf("%w: Close of region %q", ErrInsideUpdate, a.name)
		}
		// A frozen arena is closed through its Region, which several
		// goroutines may hold: one Close runs, the others wait and then
		// find it closed.
		if !unlessBusy {
			r.closeMu.Lock()
		} else if !r.closeMu.TryLock() {
			// The other Close may be waiting for an Update.
			return fmt.Errorf("%w: another Close of region %q is running", ErrBusy, a.name)
		}
		defer r.closeMu.Unlock()
	}
	a.enter()
	defer a.leave()
	if a.state == Closed {
		return nil
	}
	// A mapping that cannot be released (mmap fails only when the kernel
	// runs out of memory or of mappings, or the process is over its
	// RLIMIT_AS) stays mapped and counted, and the arena open, so that
	// another Close takes up where this one stopped; until then no range
	// of it is handed out again.
	releaseOwner := func() error {
		if err := a.releaseLeftovers(give); err != nil {
			return err
		}
		if a.w == nil || a.w.Released() {
			return nil
		}
		return a.keepLost(a.w, step("release", a.w.Release))
	}
	if r != nil {
		if err := r.release(releaseOwner, unlessBusy); err != nil {
			return err
		}
	} else if err := releaseOwner(); err != nil {
		return err
	}
	var err error
	if a.w == nil || !a.w.Lost() {
		if Invariants {
			// Before the range goes back to space: once there, it may be
			// handed to another arena (at once, with the quarantine off)
			// and mapped again before the check reads /proc/self/maps.
			if n := closes.Add(1); n <= 1000 || n%64 == 0 {
				checkReleased(a.rng)
			}
		}
		err = give(a.rng)
	} else {
		err = space.Lose(a.rng)
	}
	if r != nil && r.alias != nil && !r.arng.IsZero() {
		// After the owner's range, so that the readers' view, quarantined
		// last, is the last of the two to be reused. A view whose range
		// was lost is never handed out again, nor taken for the region's.
		giveView := give
		if r.alias.Lost() {
			giveView = space.Lose
		}
		err = errors.Join(err, r.dropView(giveView))
	}
	counters.mu.Lock() // one change, for ReadStats (see counters.mu)
	if a.w != nil {
		counters.mapped.Add(-int64(a.w.Len()))
	}
	counters.arenas.Add(-1)
	counters.reserved.Add(-int64(a.rng.Len()))
	if r != nil {
		counters.frozen.Add(-1)
		counters.frozenBytes.Add(-int64(r.size))
	}
	counters.mu.Unlock()
	a.state, a.limit = Closed, 0
	a.recs.reset()
	a.lastRT, a.lastT, a.prevRT, a.prevT, a.runRT = nil, nil, nil, nil, nil
	return errors.Join(err, a.lostErr, a.file.Close())
}

// closes counts Close calls, to sample checkReleased.
var closes atomic.Int64

// checkReleased panics unless every byte of r is inaccessible (invariant
// 4), as /proc/self/maps shows it. Invariants build only, on the first
// thousand closes and one in 64 after that: it reads the maps file.
func checkReleased(r space.Range) {
	maps, err := vm.ReadMapsWithin(r.Start(), r.End())
	if err != nil {
		return // not Linux
	}
	for _, e := range maps {
		if e.Perms != "---p" {
			panic(fmt.Sprintf("arena: invariant broken: released range [%#x, %#x) still has a %s mapping %+v",
				r.Start(), r.End(), e.Perms, e))
		}
	}
}

// kernelSaid returns ": " and the text of the error at the end of err's
// wraps (following the last of several), where that is not
// space.ErrAddressSpace itself: the kernel's errno, "cannot allocate
// memory", when a reservation failed.
func kernelSaid(err error) string {
	for {
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			if next := u.Unwrap(); next != nil {
				err = next
				continue
			}
		case interface{ Unwrap() []error }:
			if next := u.Unwrap(); len(next) > 0 {
				err = next[len(next)-1]
				continue
			}
		}
		if err == space.ErrAddressSpace {
			return ""
		}
		return ": " + err.Error()
	}
}

// prefault asks the kernel to populate [off, off+n) for writing in one
// call, instead of one fault per page as the copy first touches them.
func (a *Arena) prefault(off, n uintptr) {
	if n >= 4*vm.PageSize {
		_ = a.w.PopulateWrite(off, n) // advice only
	}
}

func alignUp(x, a uintptr) uintptr { return (x + a - 1) &^ (a - 1) }

// bytesOf returns the size of n elements of t, and false if it overflows.
func bytesOf(t *layout.Type, n uintptr) (uintptr, bool) {
	size := t.Size * n
	return size, t.Size == 0 || size/t.Size == n
}

// bump places size bytes, aligned to align, after the used bytes of a bump
// allocator (an arena's or a scratch's): it returns their offset and end,
// and false if either overflows the address space.
func bump(used, size, align uintptr) (off, end uintptr, ok bool) {
	off = alignUp(used, align)
	end = off + size
	return off, end, off >= used && end >= off
}

var unwrap atomic.Pointer[func(any) *Arena]

// RegisterUnwrap is called by package arena to let the packages above it
// reach the engine behind an *arena.Arena without a public accessor.
func RegisterUnwrap(f func(any) *Arena) { unwrap.Store(&f) }

// Unwrap returns the engine behind an *arena.Arena, or nil.
func Unwrap(a any) *Arena {
	if f := unwrap.Load(); f != nil {
		return (*f)(a)
	}
	return nil
}
