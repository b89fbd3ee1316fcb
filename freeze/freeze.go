package freeze

import (
	"errors"
	"fmt"
	"os"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/internal/offheap"
)

// Mode is how Freeze makes an arena read-only.
type Mode int

// Modes. See the package documentation for what each protects against.
const (
	// Protect makes the arena read-only in place with mprotect, and (on
	// Linux) seals the file against writes through any descriptor. Only
	// another mprotect can make it writable again.
	Protect = Mode(offheap.Protect)
	// Alias maps the arena a second time, read-only, from a read-only
	// descriptor, and relocates its pointer graph to that view. Readers
	// use ReadOnly; the owner keeps its writable mapping and changes data
	// only through Update, which re-baselines the checksums. Any other
	// change is caught by Verify. Until the baseline is taken (Wait) the
	// owner's mapping is read-only too (on Linux; see Freeze).
	Alias = Mode(offheap.Alias)
	// Seal remaps the arena read-only in place from a read-only descriptor
	// and seals the memfd (F_SEAL_WRITE, GROW, SHRINK, SEAL): once its
	// background step is done (Wait), nothing in or out of the process can
	// change the bytes, and the file can be handed to other processes
	// (Region.File). Before that an arena of 2 MiB or more still has a
	// writable mapping aside (the package's Caveats). Linux only.
	Seal = Mode(offheap.Seal)
)

// String returns "Protect", "Alias" or "Seal" (or "Mode(n)").
func (m Mode) String() string { return offheap.Mode(m).String() }

// Errors.
var (
	// ErrModeUnsupported: the platform or kernel cannot do the mode (Seal
	// without memfd seals), the mode is none of Protect, Alias and Seal,
	// or the call needs another mode.
	ErrModeUnsupported = offheap.ErrModeUnsupported
	// ErrPermanent: the region was made permanent and cannot be released.
	ErrPermanent = offheap.ErrPermanent
	// ErrNotAlias: Update needs a region frozen in Alias mode.
	ErrNotAlias = offheap.ErrNotAlias
	// ErrNotInRegion: a pointer handed to ReadOnly or Update is not inside
	// the region.
	ErrNotInRegion = offheap.ErrNotInRegion
	// ErrInsideUpdate: Update or Close of a region was called from inside
	// the function of an Update of that region.
	ErrInsideUpdate = offheap.ErrInsideUpdate
	// ErrBusy: a snapshot.Store could not release a version it replaced
	// because an Update of it (or another Close) was running on another
	// goroutine; the Store releases it when the Update ends, or at its
	// next Publish or Close (see snapshot.Store.Close).
	ErrBusy = offheap.ErrBusy
)

// StepError reports which step of a freeze failed. The arena was rolled
// back and is exactly as it was, open and writable, unless Rollback is
// non-nil: then what could not be undone stays, and an arena left
// read-only can only be closed (see Freeze).
type StepError struct {
	Arena    string // the arena's name
	Mode     Mode   // the mode asked for
	Step     string // e.g. "protect", "map", "move-aside", "remap", "seal"
	Err      error  // why the step failed
	Rollback error  // non-nil if rolling back failed too
}

// Error names the arena, the mode, the step and why it failed.
func (e *StepError) Error() string {
	return offheap.StepMessage(e.Arena, offheap.Mode(e.Mode), e.Step, e.Err, e.Rollback)
}

// Unwrap returns the step's error and the rollback's, leaving out either
// that is nil (the errors package does not allow a nil in the slice).
func (e *StepError) Unwrap() []error { return offheap.StepErrors(e.Err, e.Rollback) }

// Region is a frozen arena. Its methods are safe for concurrent use.
// A Region must not be copied. Obtain one from Freeze: the zero value is
// not a region, and counts as closed, as does a nil *Region: its methods,
// and ReadOnly, panic with an error wrapping arena.ErrClosed, and those
// that return an error, and Update, return one; Arena returns nil.
type Region struct {
	_ noCopy
	r *offheap.Region
	a *arena.Arena
}

// errNoRegion is the error for a nil or zero-value *Region, which only a
// declaration makes (Freeze never returns one).
var errNoRegion = fmt.Errorf("%w: a nil or zero-value *Region is not a region (obtain one from Freeze)", arena.ErrClosed)

// missing reports whether r is nil or a zero-value Region: no region,
// which counts as closed (errNoRegion).
func (r *Region) missing() bool { return r == nil || r.r == nil }

// core returns the region behind r, and panics with errNoRegion for a
// nil or zero-value *Region.
func (r *Region) core() *offheap.Region {
	if r.missing() {
		panic(errNoRegion)
	}
	return r.r
}

type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// Freeze makes the arena read-only in the given mode and takes a baseline
// checksum of its bytes. The arena accepts no more allocations
// (arena.ErrFrozen). Before anything changes, the pointer graph stored in
// the arena is validated (arena.ErrForeignPointer). Values that hold no
// memory pass wherever their data words point, as in Update: empty strings
// and slices, and zero-size values in interfaces ([]T{}, any(struct{}{})
// and a "" cut from a heap string, stored into a clone before Freeze).
// Freeze gives them the data words a clone has (nil for the string, the
// region's first byte for the others, a slice's capacity cut to 0). It
// also cuts the capacity of every slice in the arena to its length, as
// in a clone (a re-slice stored in place, c.Hosts = c.Hosts[:1], may have
// kept more), so that a reader's append copies instead of writing frozen
// memory.
//
// Freezing twice fails with an error wrapping arena.ErrFrozen, a closed
// arena with arena.ErrClosed, a mode the platform lacks (or no mode at
// all, such as Mode(0)) with ErrModeUnsupported. Where the probe of the
// kernel's features failed for want of descriptors or memory (EMFILE,
// ENOMEM), Freeze fails at step "probe" with that error, and can be tried
// again, rather than freeze without seals. A failure at any step
// returns a *StepError naming the step, and leaves the arena exactly as it
// was (capacities included; but for those data words, which Go code
// without unsafe cannot tell apart), unless rolling back failed too
// (StepError.Rollback): then what could not be undone stays. An arena
// whose memory could not be made writable again (in Alias mode, where
// its owner's mapping was made read-only for the baseline: see below)
// keeps its slices' capacities cut and can only be closed: allocating in
// it, cloning into it and freezing it fail with errors wrapping
// arena.ErrFrozen, naming the rollback's failure; where the kernel took
// its address range away (a move of Seal's that failed after unmapping
// its destination), Close leaves the range alone and never hands it out
// again. In Alias mode such an arena keeps its pointers in the view,
// which stays mapped and readable until Close; otherwise the arena is
// writable again, and a view that could not be unmapped stays mapped, its
// address range handed out to no one, until the next Freeze or Close
// releases it.
//
// The baseline is finished in the background, once only code in this
// process that goes around the protection (an mprotect back to writable,
// the moved-aside mapping of a large Seal arena) could change the bytes:
// a change made that way before the baseline is taken goes into it, and
// Verify never reports it (the package's Caveats). Verify, Checksum and
// Update wait for it. In Alias mode the owner's mapping is read-only, as
// in Protect mode, until the baseline is taken: a write through it before
// Wait returns faults (Guard names it), and one after is caught by
// Verify. (Update waits; a caller that wants the owner's mapping writable
// before it goes on calls Wait after Freeze.) Where the arena's copy
// hashed its pages (snapshot.Take) the baseline is ready when Freeze
// returns and the owner's mapping is never made read-only; on platforms
// without seals it is taken before Freeze returns, in every mode.
func Freeze(a *arena.Arena, m Mode) (*Region, error) {
	core := offheap.Unwrap(a)
	if core == nil {
		return nil, fmt.Errorf("freeze: %w", offheap.ErrNoArena)
	}
	r, err := core.Freeze(offheap.Mode(m))
	if err != nil {
		var se *offheap.StepError
		if errors.As(err, &se) {
			return nil, &StepError{Arena: se.Arena, Mode: Mode(se.Mode), Step: se.Step, Err: se.Err, Rollback: se.Rollback}
		}
		return nil, err
	}
	return &Region{r: r, a: a}, nil
}

// Name returns the arena's name.
func (r *Region) Name() string { return r.core().Name() }

// Mode returns the freeze mode.
func (r *Region) Mode() Mode { return Mode(r.core().Mode()) }

// Size returns the number of frozen bytes. Name, Mode and Size may be
// called after Close, and give what they gave before it.
func (r *Region) Size() int { return r.core().Size() }

// Checksum returns the root checksum of the frozen bytes (xxhash of the
// per-page hashes and the size). It waits for the baseline. Update changes
// it; after Close it is the last one taken.
func (r *Region) Checksum() uint64 { return r.core().Checksum() }

// Wait blocks until the baseline is taken and, in Seal mode, every seal is
// in place; it returns an error if the background part of the freeze
// failed (Verify returns the same error, and Update too). Only Seal mode
// of an arena of 2 MiB or more has such a part that can fail (the kernel
// refusing to release the moved-aside mapping or to add F_SEAL_WRITE, an
// error naming the arena and wrapping the system call's, or to close the
// writable descriptor), and Alias mode: the kernel refusing to make the
// owner's mapping writable again, which then stays read-only.
// Close waits for that part too, and Wait after Close returns what it
// would have returned before.
func (r *Region) Wait() error {
	if r.missing() {
		return errNoRegion
	}
	return r.r.Wait()
}

// Arena returns the frozen arena (nil for a nil or zero-value *Region).
// Its Name and Len still answer; New, MakeSlice, String, Bytes and Clone
// panic or fail with arena.ErrFrozen; its Close is the region's Close.
func (r *Region) Arena() *arena.Arena {
	if r == nil {
		return nil
	}
	return r.a
}

// File returns a read-only *os.File of the sealed memfd, for handing to
// another process (Seal mode only); the caller closes it. The file can
// be longer than the region: the memfd grows in whole pages, and in larger
// steps as an arena fills, so that a 3 MiB region's file can hold 4 MiB.
// The region's bytes are the file's first Size bytes, and the rest are
// zeros: send Size with the descriptor. It waits until every seal is in
// place. It fails with an error wrapping ErrModeUnsupported in the other
// modes (closed or not: the mode is checked first), with one wrapping
// arena.ErrClosed after Close, and with Wait's error if the background
// part of the freeze failed.
func (r *Region) File() (*os.File, error) {
	if r.missing() {
		return nil, errNoRegion
	}
	return r.r.File()
}

// Permanent mseals the region's mapping (Seal mode, Linux 6.10+): it can
// then never be unmapped, remapped or made writable, for the life of the
// process, and Close returns ErrPermanent. Use it only for data that lives
// as long as the process. It fails with an error wrapping
// ErrModeUnsupported in the other modes (closed or not: the mode is
// checked first) and where the kernel has no mseal, with one wrapping
// arena.ErrClosed after Close, and with Wait's
// error if the background part of the freeze failed; a second call
// returns nil. A version published by a snapshot.Store refuses, in every
// mode and before and after the Store releases it, with an error wrapping
// snapshot.ErrOwnedByStore: it is released by the Store, which a
// permanent mapping would defeat.
func (r *Region) Permanent() error {
	if r.missing() {
		return errNoRegion
	}
	return r.r.Permanent()
}

// Close releases the region and its arena (the same as closing the arena):
// memory is unmapped and the address range stays reserved and inaccessible
// (quarantined), so a pointer kept past Close faults instead of reading
// reused memory. It is idempotent, and several goroutines may call it at
// once (one releases, the others wait); a permanent region returns
// ErrPermanent. A snapshot's or map's region may be closed here or through
// the snapshot or map; either way they are marked closed first, so their
// readers panic with arena.ErrClosed rather than fault. A version
// published by a snapshot.Store refuses at once, without waiting for an
// Update of it, with an error wrapping snapshot.ErrOwnedByStore (the
// Store releases it; once it has, the refusal stays), and a Close from
// inside an Update's function with one wrapping ErrInsideUpdate. If the
// kernel refuses to release the memory, Close returns its error and may be
// called again.
func (r *Region) Close() error {
	if r.missing() {
		return errNoRegion
	}
	return r.a.Close()
}

// ReadOnly returns the pointer readers must use for p, a pointer into the
// frozen arena: p itself in Protect and Seal modes, its twin in the
// read-only view in Alias mode. Every pointer reachable from the result
// points into read-only memory. A nil p gives nil, as a nil pointer in
// the frozen graph stays nil. It panics with an error wrapping
// ErrNotInRegion if *p does not lie wholly in the region, and with one
// wrapping arena.ErrClosed after Close, a nil p included. Called on
// another goroutine while an Update of the region runs, it waits for the
// Update to finish.
func ReadOnly[T any](r *Region, p *T) *T {
	q, err := offheap.ReadOnlyPtr(r.core(), p)
	if err != nil {
		panic(err)
	}
	return q
}

// Update changes frozen data deliberately, in Alias mode: f receives a
// copy of *p on the Go heap (p may be the read-only pointer or the owner's
// own) and may change its fields; when f returns, the copy is checked,
// written to *p, and the checksums of those bytes are taken again, so
// Verify accepts the change. It fails, without running f, with an error
// wrapping ErrNotAlias for a region of another mode, arena.ErrUnsupported
// for a T that Clone refuses, ErrNotInRegion if *p does not lie in the
// region, or arena.ErrClosed after Close, whatever the region's mode and
// T; a nil f is a mistake it panics on. Pointers stored into the copy
// must be nil or point into the region (or into the copy itself, as to
// *p); otherwise nothing is written and the error wraps
// arena.ErrForeignPointer. (An empty string or slice, or a zero-size value
// in an interface, holds no memory and is accepted whatever its data
// pointer: the string's is cleared, and the others are pointed into the
// region.) A slice stored into *p keeps its length but has its capacity
// cut to it, as every slice in frozen memory does, so that a reader's
// append copies instead of writing frozen memory. If f panics, nothing is
// written and the panic goes on.
//
// Because f works on a copy, what it stores is seen by the garbage
// collector while it runs (a Go-heap pointer written into arena memory
// would not be, and its object could be freed under f), and readers see
// none of f's writes, nor pointers not yet checked, before f returns.
// Then they see the copy written into *p, which is not atomic: a reader
// of *p while Update writes it races with it, as with any Go write, and
// may see a string or slice whose data pointer and length come from
// different values, and fault (fatally) reading it. Readers that run
// while data changes need a new version instead: snapshot.Store. The
// copy is valid only inside f: do not keep it.
//
// Checksums are per 4 KiB page, and Update takes those of the pages *p
// lies on again; it never lets them take in a change made by another
// route. If those pages changed since their checksums were taken (a
// stray write through the owner's mapping, /proc/self/mem), f is not run;
// if bytes of those pages outside *p change while f runs (f writing
// through another pointer, another goroutine), the Update is undone.
// Either way the error says so and wraps a *CorruptionError naming the
// pages, and the checksums stay as they were, so Verify goes on
// reporting the change. Update reads *p once, checks those bytes, and
// takes the new checksums from the bytes it writes, never from memory
// after writing: a write into *p by another goroutine while Update runs
// is either refused with the others above, or overwritten, or not in the
// new checksums, and Verify reports it. Likewise it reads the bytes
// beside *p on its first and last page once after writing, and takes
// from that one reading both the new checksums and the check that those
// bytes did not change: a write beside *p is either seen by the check or
// in neither, and Verify reports it. If a pointer word of *p changes,
// after Update wrote the checked copy, to one that is neither nil nor
// into the region (another goroutine writing *p through the owner's
// mapping), the error wraps arena.ErrForeignPointer and *p's old bytes
// are put back, so the checksums, which stay as they were, match again.
//
// Updates of one region run one at a time, and Verify, Checksum, Close,
// ReadOnly and Allocations on other goroutines wait for them, as does Guard
// naming a fault in the region: f must not wait for a goroutine that calls
// one of them on the region. (A snapshot.Store does not wait: f may publish
// to, or close, the Store whose version it updates.) f itself may call
// ReadOnly, Checksum (which gives the checksum from before the Update) and
// Verify (which sees the region as it was before the Update) on the region,
// and a Guard inside f reports f's faults as usual; Update and Close of the
// region from inside f fail with an error wrapping ErrInsideUpdate, and
// Permanent (an Alias region cannot be permanent) with ErrModeUnsupported.
// An Update of another region from inside f holds both regions, as nested
// locks do: two goroutines nesting Updates of the same two regions in
// opposite orders wait for each other for ever, so nest them in one order.
//
// Cost: besides f, Update copies *p to the Go heap and back, hashes the
// pages *p lies on before and after f (the first and last of them a
// second time, from one copy taken after f, to check the bytes outside
// *p), walks the pointer words of *p twice, then the root checksum over
// every page's sum (8 bytes per 4 KiB page), and reads the calling
// goroutine's id from its stack header (about a microsecond) to tell
// calls from inside f from calls on other goroutines. Changing one
// element of a frozen slice of a million 24-byte structs took 7.0-9.2 µs,
// of a thousand 4.1-5.3 µs, on the hosts measured (go test -bench
// UpdateOneElement ./freeze/); the copy to the Go heap and back added 2-3%
// and one allocation, the check of the bytes read once another allocation
// and no time that could be measured, and the copy of the first and last
// page 3-5%.
func Update[T any](r *Region, p *T, f func(w *T)) error {
	if r.missing() {
		return errNoRegion
	}
	err := offheap.Update(r.r, p, f)
	if c, ok := err.(*offheap.PageConflict); ok {
		return fmt.Errorf("%s: %w", c.Error(), r.corruption(c.Changed))
	}
	return err
}
