// Freeze transitions: Protect, Alias and Seal, each a sequence of named
// steps. A step that fails rolls back every earlier one, so the arena is
// left exactly as it was (invariant 6); steps that cannot be undone (file
// seals) come last.
//
// Unsafe: this file does address arithmetic between an arena's writable
// mapping and its read-only alias (same file offsets, different base), and
// nothing else.

package offheap

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/frozen-go/frozen/internal/space"
	"github.com/frozen-go/frozen/internal/vm"
)

// Mode is how a region is frozen.
type Mode int

// Modes.
const (
	Protect Mode = iota + 1 // mprotect(PROT_READ) in place
	Alias                   // a second, read-only mapping; the owner keeps write access
	Seal                    // remapped read-only in place from an O_RDONLY descriptor, file sealed
)

// Valid reports whether m is one of Protect, Alias and Seal.
func (m Mode) Valid() bool { return m >= Protect && m <= Seal }

// String returns "Protect", "Alias" or "Seal" (or "Mode(n)").
func (m Mode) String() string {
	switch m {
	case Protect:
		return "Protect"
	case Alias:
		return "Alias"
	case Seal:
		return "Seal"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Errors, re-exported by package freeze.
var (
	ErrModeUnsupported = errors.New("freeze: mode not supported here")
	ErrPermanent       = errors.New("freeze: region is permanent (msealed)")
	ErrNotAlias        = errors.New("freeze: region is not in Alias mode")
	ErrNotInRegion     = errors.New("freeze: pointer is not in the region")
	ErrInsideUpdate    = errors.New("freeze: called from inside the function of an Update of the region")
	ErrBusy            = errors.New("freeze: region busy: an Update or another Close of it is running")
)

// StepError reports the step of a freeze transition that failed. The arena
// was rolled back; Rollback holds any error the rollback itself returned.
type StepError struct {
	Arena    string
	Mode     Mode
	Step     string
	Err      error
	Rollback error
}

// Error names the arena, the mode, the step and why it failed.
func (e *StepError) Error() string { return StepMessage(e.Arena, e.Mode, e.Step, e.Err, e.Rollback) }

// StepMessage formats a failed freeze step (for StepError and its public
// twin in package freeze).
func StepMessage(arena string, mode Mode, step string, err, rollback error) string {
	s := fmt.Sprintf("freeze: arena %q: %s: step %q failed: %v", arena, mode, step, err)
	if rollback != nil {
		s += fmt.Sprintf(" (and rolling back failed: %v)", rollback)
	}
	return s
}

// Unwrap returns the step's error and the rollback's (StepErrors).
func (e *StepError) Unwrap() []error { return StepErrors(e.Err, e.Rollback) }

// StepErrors returns what a StepError unwraps to: the step's error and the
// rollback's, leaving out either that is nil (the errors package does
// not allow a nil in the slice).
func StepErrors(err, rollback error) []error {
	errs := make([]error, 0, 2)
	for _, e := range [...]error{err, rollback} {
		if e != nil {
			errs = append(errs, e)
		}
	}
	return errs
}

// asideMin is the smallest mapping that Seal freezes by moving its page
// tables aside (mremap) rather than remapping in place: below it, tearing
// down the page-table entries is as cheap as moving them.
var asideMin uintptr = 2 << 20

// failpoint injects errors into named steps, for tests.
var failpoint atomic.Pointer[func(step string) error]

// bgFailpoint is failpoint for the steps the background of Seal and Alias
// modes runs after Freeze has returned, kept apart: a test that records or
// fails Freeze's own steps must not see them, on a goroutine it does not
// wait for.
var bgFailpoint atomic.Pointer[func(step string) error]

// SetFailpoint makes every step named by f's non-nil answers fail (nil f
// clears it). For tests of rollback.
func SetFailpoint(f func(step string) error) { setHook(&failpoint, f) }

// SetBackgroundFailpoint is SetFailpoint for the steps that the
// background runs after Freeze has returned ("release-aside" in Seal
// mode, "writable" in Alias mode), and "start", where it starts, before
// anything else.
func SetBackgroundFailpoint(f func(step string) error) { setHook(&bgFailpoint, f) }

func setHook(p *atomic.Pointer[func(step string) error], f func(step string) error) {
	if f == nil {
		p.Store(nil)
		return
	}
	p.Store(&f)
}

// SetAsideMin changes the Seal aside threshold and returns the old one, for
// tests that exercise both paths.
func SetAsideMin(n uintptr) uintptr { old := asideMin; asideMin = n; return old }

// reached lets a test act at the named point (a failpoint's answer there
// is ignored: nothing can fail); bgReached likewise in the background.
func reached(name string) { _ = step(name, func() error { return nil }) }

func bgReached(name string) { _ = bgStep(name, func() error { return nil }) }

func step(name string, f func() error) error { return hooked(&failpoint, name, f) }

// bgStep is step for Seal's background (bgFailpoint).
func bgStep(name string, f func() error) error { return hooked(&bgFailpoint, name, f) }

func hooked(p *atomic.Pointer[func(step string) error], name string, f func() error) error {
	if fp := p.Load(); fp != nil {
		if err := (*fp)(name); err != nil {
			return err
		}
	}
	return f()
}

// Region is a frozen arena.
type Region struct {
	a     *Arena
	mode  Mode
	size  uintptr
	alias *vm.Mapping // Alias mode: the read-only view
	arng  space.Range // its address range
	delta int         // alias address minus writable address

	// What vm.Features said of seals and the read-only reopen when Freeze
	// began, read once so that every step of it goes by the same answer.
	seals, reopen error

	sums  []uint64
	root  uint64
	ready chan struct{} // closed once the baseline (and in Seal mode the seals) are in place
	bgErr error         // a background step's failure, read after ready
	bg    sync.WaitGroup

	mu sync.RWMutex // Update (write) against Verify (read) and release
	// updating is held by an Update from before it takes mu until after
	// it lets go of it, and by a release that must not wait for an Update
	// (CloseUnlessBusy), which tries it instead of waiting for mu: only
	// an Update holds mu while running code of the caller's, which may
	// wait for whoever is releasing (a snapshot.Store's Publish, say).
	updating sync.Mutex
	// updater is the id of the goroutine running an Update's function
	// (0 when none does), so that what that function calls on the region
	// does not wait for the lock its own goroutine holds (see readLock).
	updater atomic.Uint64
	closeMu sync.Mutex // one Arena.Close at a time
	closed  bool
	// permanent is set, under mu, once the region is msealed; an atomic,
	// so that Permanent finds it set without the lock.
	permanent atomic.Bool

	// beforeRelease, if set, runs when the region is about to be released
	// by any route (see SetBeforeRelease).
	beforeRelease func()
	// keeper, if set, refuses release and Permanent while another owner
	// decides the region's lifetime (see SetKeeper).
	keeper func(permanent bool) error
	// afterUpdate, if set, runs when an Update has let go of the region
	// (see SetAfterUpdate).
	afterUpdate func()
}

// SetAfterUpdate makes every Update of the region that took its locks
// call f once it has let go of them, however it ends (the Update's
// function returned or panicked, or the Update failed before running
// it): a snapshot.Store, whose release of a version failed because an
// Update of it was running (ErrBusy, ErrInsideUpdate), retries it there.
// Set it before the region is shared.
func (r *Region) SetAfterUpdate(f func()) { r.afterUpdate = f }

// SetKeeper makes a release (Arena.Close, by whatever route, but not
// CloseUnlessBusy, which is how the keeper itself releases the region)
// and Permanent of a region not yet permanent call f first (permanent
// says which) and refuse with its error, changing nothing, when it
// returns one: a snapshot published by a Store says there that the
// Store, which releases it once replaced, decides its lifetime. Both call
// it before any other check and without a lock, so that its refusal is
// the one given in every mode and state, before the release and after,
// and a refused Close returns at once (neither waiting for an Update nor
// holding closeMu): f must be safe to call concurrently. Set it before
// the region is shared.
func (r *Region) SetKeeper(f func(permanent bool) error) { r.keeper = f }

// kept returns the keeper's refusal, if any, of a release or (permanent)
// of Permanent.
func (r *Region) kept(permanent bool) error {
	if r.keeper == nil {
		return nil
	}
	return r.keeper(permanent)
}

// SetBeforeRelease makes every release of r (Arena.Close, by whatever
// route it is reached) call f first, after the checks that could refuse
// the release without changing anything (a permanent region, a keeper's
// refusal: see SetKeeper) and before any memory goes: an owner such as a
// snapshot marks itself closed there, so that its readers panic with
// ErrClosed instead of faulting. f runs once: a release that fails after
// it is retried by a later Close without calling it again. Set it before
// the region is shared.
func (r *Region) SetBeforeRelease(f func()) { r.beforeRelease = f }

// Freeze makes the arena read-only in the given mode.
func (a *Arena) Freeze(mode Mode) (*Region, error) {
	a.enter()
	defer a.leave()
	switch a.state {
	case Frozen:
		return nil, fmt.Errorf("%w: arena %q is already frozen", ErrFrozen, a.name)
	case Closed:
		return nil, fmt.Errorf("%w: arena %q", ErrClosed, a.name)
	}
	if err := a.usable(); err != nil {
		return nil, err // broken by an earlier Freeze
	}
	defer func() {
		if a.state != Frozen {
			// Freeze failed, at whatever step, and the arena is its
			// owner's again, who may write before freezing it again:
			// hashes its copy took (Take) and no mode adopted yet (Alias
			// adopts them only after "reserve" and "map") may no longer
			// hold. The next Freeze hashes afresh.
			a.copied.reset()
		}
	}()
	r := &Region{a: a, mode: mode, size: a.used, ready: make(chan struct{})}
	// A probe that failed for want of descriptors or memory says nothing
	// of the kernel: Freeze fails, rather than go without seals (Protect,
	// Alias) or call the mode unsupported. Protect has no use for the
	// read-only reopen, and does not fail for its probe.
	r.seals, _, _, r.reopen = vm.Features()
	needed := []error{r.seals}
	if mode != Protect {
		needed = append(needed, r.reopen)
	}
	for _, err := range needed {
		if vm.Transient(err) {
			return nil, &StepError{Arena: a.name, Mode: mode, Step: "probe", Err: err}
		}
	}
	if len(a.leftovers) > 0 {
		// Mappings an earlier failed Freeze could not release: a writable
		// one of the file would keep Seal from sealing it.
		if err := a.releaseLeftovers(space.Release); err != nil {
			return nil, &StepError{Arena: a.name, Mode: mode, Step: "release-leftover", Err: err}
		}
	}
	var cut []savedCap
	if err := step("validate", func() (err error) { cut, err = a.validateForFreeze(); return err }); err != nil {
		return nil, &StepError{Arena: a.name, Mode: mode, Step: "validate", Err: err}
	}
	if mode != Alias {
		// Hashes the copy took (Take) are the baseline now, before the
		// memory turns read-only: exact from the moment Freeze returns,
		// with no background window. Alias adopts them once it has moved
		// the pointers into its view.
		r.adoptCopied(a.rng.Addr())
	}
	var err error
	// Published before the memory turns read-only, so that a stray write
	// from another goroutine that faults the moment it does is named
	// (Resolve), and withdrawn if freezing fails. Of what Resolve reads,
	// no mode changes the mode or the arena's records, and the mappings
	// it compares with (the Alias view, the arena's own after a failed
	// Seal) are set under r.mu, which Resolve holds.
	a.frozen.Store(r)
	_, ro := a.file.FDs()
	switch mode {
	case Protect:
		err = r.freezeProtect()
	case Alias:
		err = r.freezeAlias()
	case Seal:
		err = r.freezeSeal()
	default:
		err = fmt.Errorf("%w: unknown mode %d", ErrModeUnsupported, int(mode))
	}
	if err != nil {
		a.frozen.Store(nil)
		if ro < 0 {
			// The read-only descriptor Alias and Seal opened goes too:
			// the arena keeps the descriptors it had. (The mappings made
			// from it, if a rollback left any, do not need it.)
			_ = a.file.CloseReadOnly()
		}
		// A fault being named meanwhile (Resolve) holds r.mu and reads
		// the records and mappings, which the owner may change again once
		// Freeze returns: wait for it. One that takes r.mu after this
		// finds r withdrawn and reads nothing more.
		r.mu.Lock()
		//lint:ignore SA2001 an empty critical section, as a barrier
		r.mu.Unlock()
		// The capacities go back where the arena's own mapping is
		// writable again: unless the rollback could not make it so.
		if a.broken == nil {
			restoreCaps(cut)
		} else {
			a.limit = 0 // allocations take the slow path, which refuses them
		}
		return nil, err
	}
	a.state, a.limit = Frozen, 0
	if mode != Seal {
		// The mappings keep the file alive; only Seal's File needs a
		// descriptor. One per live snapshot would run into RLIMIT_NOFILE
		// long before vm.max_map_count.
		_ = a.file.Close()
	}
	counters.mu.Lock() // one change, for ReadStats (see counters.mu)
	counters.frozen.Add(1)
	counters.frozenBytes.Add(int64(r.size))
	counters.mu.Unlock()
	return r, nil
}

func (r *Region) fail(stepName string, err, rollback error) error {
	return &StepError{Arena: r.a.name, Mode: r.mode, Step: stepName, Err: err, Rollback: rollback}
}

// writableAgain makes the arena's own mapping read-write again, in a
// rollback, with undo (mprotect, or a fresh mapping of the file); if that
// fails the arena is broken.
func (r *Region) writableAgain(undo func() error) error {
	err := step("writable-again", undo)
	if err != nil {
		r.a.broken = err
	}
	return err
}

func (r *Region) reprotect() error {
	return r.writableAgain(func() error { return r.a.w.Protect(vm.ProtReadWrite) })
}

func (r *Region) remapWritable() error {
	return r.writableAgain(func() error { return r.a.w.Remap(vm.FromReadWrite, vm.ProtReadWrite) })
}

// probe fails, with ErrModeUnsupported, when a feature the mode needs (Alias
// and Seal map the file from a read-only reopen; Seal seals it) is missing
// here as vm.Features found, before anything changes.
func (r *Region) probe(features ...error) error {
	for _, err := range features {
		if err != nil {
			return r.fail("probe", fmt.Errorf("%w: %w", ErrModeUnsupported, err), nil)
		}
	}
	return nil
}

// noDescriptorWrites are the seals after which no descriptor can write
// the file or change its size (truncating it would zero the frozen bytes
// without a write), while mappings made before them keep their access:
// Protect and Alias add them, and Seal adds them before F_SEAL_WRITE.
const noDescriptorWrites = vm.SealFutureWrite | vm.SealGrow | vm.SealShrink

// freezeProtect: mprotect(PROT_READ), then noDescriptorWrites. Once both
// hold, only another mprotect could change the bytes, so the baseline is
// hashed in the background. Without seals (non-Linux) it is hashed before
// returning.
func (r *Region) freezeProtect() error {
	a := r.a
	if a.w != nil {
		if err := step("protect", func() error { return a.w.Protect(vm.ProtRead) }); err != nil {
			// mprotect can fail part way (ENOMEM splitting mappings),
			// having changed some pages: make them all writable again.
			return r.fail("protect", err, r.reprotect())
		}
	}
	if r.seals != nil {
		r.baseline()
		close(r.ready)
		return nil
	}
	if err := step("seal", func() error { return a.file.AddSeals(noDescriptorWrites) }); err != nil {
		var rb error
		if a.w != nil {
			rb = r.reprotect()
		}
		return r.fail("seal", err, rb)
	}
	r.background(nil, nil)
	return nil
}

// freezeAlias maps a read-only alias from an O_RDONLY reopen and relocates
// the pointer graph to it. Where the file can be sealed, the owner's
// mapping then turns read-only too and noDescriptorWrites are added: from
// then on only another mprotect could change the bytes, as in Protect
// mode, so the baseline is hashed in the background, and the owner's
// mapping turns writable again once it is taken (Wait, Update and Verify
// wait for both). Hashing every byte cost 0.87 of a copy of them even on
// both cores, where making the mapping read-only costs a quarter (bench
// REPORT). Without seals a descriptor could write the file meanwhile, so
// the baseline is hashed before Freeze returns.
func (r *Region) freezeAlias() error {
	a := r.a
	if err := r.probe(r.reopen); err != nil {
		return err
	}
	if err := step("reopen", a.file.OpenReadOnly); err != nil {
		return r.fail("reopen", err, nil)
	}
	if a.w != nil {
		n := a.w.Len()
		if err := step("reserve", func() error { return r.reserveView(n) }); err != nil {
			return r.fail("reserve", err, nil)
		}
		if err := step("map", func() error {
			m, err := vm.Map(a.file, 0, r.arng.Addr(), n, vm.ProtRead, vm.FromReadOnly)
			if err == nil {
				r.setAlias(m)
			}
			return err
		}); err != nil {
			return r.fail("map", err, r.dropView(space.Discard)) // never seen by a reader
		}
		// The difference of two addresses, as an int: on a 32-bit system
		// it may wrap (a view more than 2 GiB above the arena), and
		// unsafe.Add(p, r.delta) wraps back the same way, so that it
		// gives the address at the same offset in the other mapping.
		r.delta = int(uintptr(r.alias.Addr()) - uintptr(a.rng.Addr()))
		a.relocate(a.writable(), r.delta)
	}
	if r.seals != nil || a.w == nil || r.adoptCopied(a.rng.Addr()) {
		// The baseline now: without seals, or where the copy's hashes
		// (Take) leave only the pages relocate changed to hash again.
		r.baseline()
		close(r.ready)
		if r.seals == nil {
			if err := step("seal", func() error { return a.file.AddSeals(noDescriptorWrites) }); err != nil {
				return r.fail("seal", err, r.undoAlias())
			}
		}
		return nil
	}
	if err := step("protect", func() error { return a.w.Protect(vm.ProtRead) }); err != nil {
		return r.fail("protect", err, r.undoProtectedAlias())
	}
	if err := step("seal", func() error { return a.file.AddSeals(noDescriptorWrites) }); err != nil {
		return r.fail("seal", err, r.undoProtectedAlias())
	}
	r.background(nil, func() error {
		if err := bgStep("writable", func() error { return a.w.Protect(vm.ProtReadWrite) }); err != nil {
			return fmt.Errorf("freeze: arena %q: making the owner's mapping writable again in the background: %w", a.name, err)
		}
		return nil
	})
	return nil
}

// undoProtectedAlias undoes an Alias freeze whose owner's mapping may be
// read-only (a step after protect failed): the mapping turns writable
// again, then the view goes (undoAlias). If the mapping stays read-only
// the arena is broken, left for Close, and its pointers stay in the view,
// which stays mapped, as readable as the arena, until Close releases it.
func (r *Region) undoProtectedAlias() error {
	if err := r.reprotect(); err != nil {
		r.a.keepLeftover(r.alias, r.arng, true, true)
		r.arng = space.Range{}
		r.setAlias(nil)
		return err
	}
	return r.undoAlias()
}

func (r *Region) undoAlias() error {
	if r.alias == nil {
		return nil
	}
	lo := uintptr(r.alias.Addr())
	r.a.relocate(window{lo, lo + max(r.a.used, 1)}, -r.delta)
	err := step("release-view", r.alias.Release)
	if err == nil {
		err = r.dropView(space.Discard) // Freeze failed: no reader ever had the view
	} else {
		r.a.keepLeftover(r.alias, r.arng, true, false) // for the next Freeze or Close
		r.arng = space.Range{}
	}
	r.setAlias(nil)
	return err
}

// reserveView reserves n bytes of address space for an Alias region's
// read-only view. Stats count the range as reserved, like an arena's,
// until dropView gives it back.
func (r *Region) reserveView(n uintptr) (err error) {
	r.arng, err = allocAligned(n, r, r.a.name)
	if err == nil {
		counters.reserved.Add(int64(r.arng.Len()))
	}
	return err
}

// dropView gives the view's range back to space with give: space.Discard
// if no reader ever had the view, space.Release (into quarantine) if
// readers may have kept pointers into it.
func (r *Region) dropView(give func(space.Range) error) error {
	counters.reserved.Add(-int64(r.arng.Len()))
	err := give(r.arng)
	r.arng = space.Range{}
	return err
}

// setAlias sets r.alias under r.mu, which Resolve holds to read it: a
// stale pointer into the range the view takes can fault on any goroutine
// while Freeze maps it.
func (r *Region) setAlias(m *vm.Mapping) {
	r.mu.Lock()
	r.alias = m
	r.mu.Unlock()
}

// freezeSeal remaps the arena read-only in place from the O_RDONLY
// descriptor and seals the file. Large mappings first move their page
// tables aside (O(1) per GiB when 1 GiB-aligned), so the remap has nothing
// to tear down; F_SEAL_FUTURE_WRITE, F_SEAL_GROW and F_SEAL_SHRINK hold at
// once, and F_SEAL_WRITE and F_SEAL_SEAL follow in the background once the
// moved-aside mapping is gone.
func (r *Region) freezeSeal() error {
	a := r.a
	if err := r.probe(r.seals, r.reopen); err != nil {
		return err
	}
	if err := step("reopen", a.file.OpenReadOnly); err != nil {
		return r.fail("reopen", err, nil)
	}
	_, _, mremapErr, _ := vm.Features()
	if a.w == nil || a.w.Len() < asideMin || mremapErr != nil {
		if a.w != nil {
			if err := step("remap", func() error { return a.w.Remap(vm.FromReadOnly, vm.ProtRead) }); err != nil {
				return r.fail("remap", err, r.remapWritable())
			}
		}
		if err := step("seal", func() error {
			return a.file.AddSeals(vm.SealWrite | vm.SealGrow | vm.SealShrink | vm.SealSeal)
		}); err != nil {
			var rb error
			if a.w != nil {
				rb = r.remapWritable()
			}
			return r.fail("seal", err, rb)
		}
		// The seals hold whatever close says: a memfd has nothing to write
		// back, and Linux frees the descriptor even when close fails.
		_ = a.file.CloseWritable()
		r.background(nil, nil)
		return nil
	}

	n := a.w.Len()
	var arng space.Range
	if err := step("reserve", func() (err error) {
		// Only this function ever knows the range's addresses, so it goes
		// back with space.Discard, not through quarantine. Aligned as the
		// n bytes moved need (as the Alias view is), not as the arena's
		// whole reservation: a few MiB of an arena of 1 GiB need no 1 GiB
		// alignment, which took 2 GiB of address space; and less where
		// even that is refused (allocAligned).
		arng, err = allocAligned(n, nil, a.name+" (moved aside)")
		return err
	}); err != nil {
		return r.fail("reserve", err, nil)
	}
	var aside *vm.Mapping
	if err := step("move-aside", func() (err error) {
		aside, err = a.w.MoveAside(arng.Addr())
		return err
	}); err != nil {
		if errors.Is(err, vm.ErrRangeLost) {
			// The move unmapped the range and no reservation could go
			// back: it is never handed out again.
			return r.fail("move-aside", err, space.Lose(arng))
		}
		return r.fail("move-aside", err, space.Discard(arng))
	}
	undo := func() error {
		var left *vm.Mapping
		err := step("move-back", func() (err error) {
			left, err = aside.MoveOnto(a.w)
			return err
		})
		if aside.Addr() == a.w.Addr() {
			// Moved back: aside now maps the arena's range. Its old range
			// goes back to space only once PROT_NONE again, now or, if
			// that failed, at the next Freeze or Close. (Under r.mu,
			// which Resolve holds to read a.w.)
			r.mu.Lock()
			a.w = aside
			r.mu.Unlock()
			if left != nil {
				a.keepLeftover(left, arng, false, false)
				return err
			}
			return space.Discard(arng)
		}
		// Not moved: the pages are still aside, the file still holds every
		// byte. Map the arena's own range read-write from the file again
		// (its page tables fill on first touch), unless the failed move
		// lost the range (a.w is then released, untouched), and drop the
		// moved-aside mapping, whose range goes back to space only once
		// PROT_NONE.
		if errors.Is(err, vm.ErrRangeLost) {
			a.broken = err // and a.w is lost
		} else {
			err = errors.Join(err, r.remapWritable())
		}
		if rerr := step("release-aside", aside.Release); rerr != nil {
			a.keepLeftover(aside, arng, false, false) // for the next Freeze or Close
			return errors.Join(err, rerr)
		}
		return errors.Join(err, space.Discard(arng))
	}
	if err := step("remap", func() error { return a.w.Remap(vm.FromReadOnly, vm.ProtRead) }); err != nil {
		return r.fail("remap", err, undo())
	}
	if err := step("seal", func() error {
		return a.file.AddSeals(noDescriptorWrites)
	}); err != nil {
		return r.fail("seal", err, undo())
	}
	r.background(func() error {
		// Hash through the moved-aside mapping while it still holds every
		// page-table entry: the same file pages, and no fault per page as
		// reading the fresh read-only mapping would take.
		r.baselineAt(aside.Addr())
		err := bgStep("release-aside", aside.Release)
		if err == nil {
			err = space.Discard(arng)
		} else {
			a.keepLeftover(aside, arng, false, false) // for Close
		}
		if err == nil {
			err = a.file.AddSeals(vm.SealWrite | vm.SealSeal)
		}
		if err != nil {
			return fmt.Errorf("freeze: arena %q: sealing in the background: %w", a.name, err)
		}
		return a.file.CloseWritable()
	}, nil)
	return nil
}

// background finishes a freeze off the caller's goroutine: first (if given)
// the rest of the sealing (Seal), then the baseline unless first took it,
// then last (if given, and first did not fail: Alias's owner's mapping
// made writable again); Verify waits for all of it.
func (r *Region) background(first, last func() error) {
	r.bg.Add(1)
	go func() {
		defer r.bg.Done()
		bgReached("start")
		if first != nil {
			r.bgErr = first()
		}
		if r.sums == nil {
			r.baseline()
		}
		if last != nil && r.bgErr == nil {
			r.bgErr = last()
		}
		close(r.ready)
	}()
}

// baseline hashes the frozen bytes.
func (r *Region) baseline() { r.baselineAt(r.a.rng.Addr()) }

// baselineAt hashes the frozen bytes as seen at base (the arena's own
// mapping, or another mapping of the same file offsets).
// A baseline already adopted from the copy's hashes stands.
func (r *Region) baselineAt(base unsafe.Pointer) {
	if r.sums != nil || r.adoptCopied(base) {
		return
	}
	r.sums = make([]uint64, Pages(r.size))
	if r.size > 0 {
		hashPages(base, r.size, r.sums, nil)
	}
	r.root = rootChecksum(r.sums, r.size)
}

// adoptCopied makes the hashes Clone took while it copied the baseline,
// where they still describe the arena's bytes as seen at base
// (HashWhileCopying), and reports whether it did.
func (r *Region) adoptCopied(base unsafe.Pointer) bool {
	sums := r.a.copied.adopt(base, r.size)
	if sums == nil {
		return false
	}
	r.sums, r.root = sums, rootChecksum(sums, r.size)
	return true
}

// Wait blocks until the background part of the freeze is done (baseline
// and remaining seals) and returns its error, if any.
func (r *Region) Wait() error {
	<-r.ready
	return r.bgErr
}

// Arena returns the frozen arena.
func (r *Region) Arena() *Arena { return r.a }

// Name returns the arena's name.
func (r *Region) Name() string { return r.a.name }

// Mode returns the freeze mode.
func (r *Region) Mode() Mode { return r.mode }

// Size returns the number of frozen bytes.
func (r *Region) Size() int { return int(r.size) }

// Checksum returns the root checksum, waiting for the baseline. Update
// changes it, under the lock this takes.
func (r *Region) Checksum() uint64 {
	<-r.ready
	if r.readLock() {
		defer r.mu.RUnlock()
	}
	return r.root
}

// Closed reports whether the region was released.
func (r *Region) Closed() bool {
	if r.readLock() {
		defer r.mu.RUnlock()
	}
	return r.closed
}

// Reading runs f under the region's lock, so that Close cannot release
// the memory f reads while it runs, or returns an error wrapping ErrClosed
// without running it once Close has.
func (r *Region) Reading(f func()) error {
	if r.readLock() {
		defer r.mu.RUnlock()
	}
	if r.closed {
		return fmt.Errorf("%w: region %q", ErrClosed, r.a.name)
	}
	f()
	return nil
}

// readLock read-locks r.mu and returns true, or returns false without
// locking when the calling goroutine is running an Update's function and
// so holds the write lock already: the region can then neither change
// under it (but by that function's own writes) nor be released.
func (r *Region) readLock() bool {
	if r.inOwnUpdate() {
		return false
	}
	r.mu.RLock()
	return true
}

// ChangedPage is a page whose bytes no longer match the baseline, with
// the allocations overlapping it.
type ChangedPage struct {
	Index      int
	Start, End uintptr // arena offsets
	Allocs     []Allocation
}

// Verify recomputes the page hashes and describes the pages that changed
// (nil when none did), listing at most limit allocations for each. It does
// not allocate when nothing changed. The description is made under the
// region's lock, like the check: Close cannot release the memory and the
// allocation records it reads meanwhile.
func (r *Region) Verify(limit int) ([]ChangedPage, error) {
	<-r.ready
	if r.readLock() {
		defer r.mu.RUnlock()
	}
	if r.closed {
		return nil, fmt.Errorf("%w: region %q", ErrClosed, r.a.name)
	}
	if r.bgErr != nil {
		return nil, r.bgErr
	}
	if r.size == 0 || hashPages(r.a.rng.Addr(), r.size, nil, r.sums) == 0 {
		return nil, nil
	}
	var out []ChangedPage
	n := r.a.newNamer(true)
	for _, i := range changedPages(r.a.rng.Addr(), r.size, r.sums) {
		lo, hi := r.pageSpan(uintptr(i))
		out = append(out, ChangedPage{Index: i, Start: lo, End: hi, Allocs: r.a.allocationsIn(lo, hi, limit, n)})
	}
	return out, nil
}

// Allocations lists every allocation overlapping the arena offsets
// [lo, hi), clipped to the frozen bytes, in address order.
func (r *Region) Allocations(lo, hi uintptr) ([]Allocation, error) {
	if r.readLock() {
		defer r.mu.RUnlock()
	}
	if r.closed {
		return nil, fmt.Errorf("%w: region %q", ErrClosed, r.a.name)
	}
	if hi = min(hi, r.size); lo >= hi {
		return nil, nil
	}
	return r.a.allocationsIn(lo, hi, math.MaxInt, r.a.newNamer(true)), nil
}

// ReadOnly translates p, a pointer to n bytes in the arena, into the
// address readers must use: itself in Protect and Seal modes, its alias
// in Alias mode. All n bytes must lie in the region, as Update requires:
// a pointer starting in it but reaching past its end (made with unsafe)
// would have readers read past the frozen bytes. A nil p gives nil, as a
// nil pointer in the frozen graph stays nil.
func (r *Region) ReadOnly(p unsafe.Pointer, n uintptr) (unsafe.Pointer, error) {
	if r.Closed() {
		return nil, fmt.Errorf("%w: region %q", ErrClosed, r.a.name)
	}
	if p == nil {
		return nil, nil
	}
	_, inView, ok := r.offsetOf(uintptr(p), n)
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: %p (%d bytes) is not in %q", ErrNotInRegion, p, n, r.a.name)
	case inView:
		return p, nil
	}
	return unsafe.Add(p, r.delta), nil
}

// offsetOf returns the offset in the region of the n bytes at u, an
// address in the owner's mapping or (inView) in the alias view, and
// whether all of them lie in the region. A zero-size value may lie
// anywhere in it, and at its start when it is empty, as the arena hands
// out its first address for them.
func (r *Region) offsetOf(u, n uintptr) (off uintptr, inView, ok bool) {
	within := func(lo uintptr) bool {
		if u < lo {
			return false
		}
		if off = u - lo; n == 0 {
			return off < max(r.size, 1)
		}
		return off < r.size && n <= r.size-off
	}
	if within(uintptr(r.a.rng.Addr())) {
		return off, false, true
	}
	if r.alias != nil && within(uintptr(r.alias.Addr())) {
		return off, true, true
	}
	return 0, false, false
}

// Alias returns the read-only mapping (Alias mode), or nil.
func (r *Region) Alias() *vm.Mapping { return r.alias }

// Permanent mseals the region (Seal mode only): its memory can then never
// be unmapped or re-protected, for the life of the process, and Close
// returns ErrPermanent.
func (r *Region) Permanent() error {
	if r.permanent.Load() {
		return nil
	}
	if err := r.kept(true); err != nil {
		return err
	}
	if r.mode != Seal {
		// Before the lock: an Alias region's Update holds it, and its
		// function may call this.
		return fmt.Errorf("%w: Permanent needs Seal mode, region %q is %s", ErrModeUnsupported, r.a.name, r.mode)
	}
	if err := r.Wait(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.closed:
		return fmt.Errorf("%w: region %q", ErrClosed, r.a.name)
	case r.permanent.Load():
		return nil // made permanent by another call meanwhile
	}
	// Asked even of an arena that maps nothing, which mseal never sees.
	err := MsealMissing()
	if err == nil && r.a.w != nil {
		err = step("mseal", r.a.w.Mseal)
	}
	switch {
	case errors.Is(err, vm.ErrUnsupported):
		return fmt.Errorf("%w: Permanent of region %q: %w", ErrModeUnsupported, r.a.name, err)
	case err != nil:
		return fmt.Errorf("freeze: region %q: mseal: %w", r.a.name, err)
	}
	r.permanent.Store(true)
	return nil
}

// ModeMissing returns the probe's *vm.FeatureError for a feature that
// freezing in mode m needs and that does not work here (Alias maps the
// file from a read-only reopen; Seal does and seals it), and nil if none
// is missing or if the probe could not tell (a transient failure: Freeze
// then fails at its probe step, or tries). An invalid mode needs nothing.
func ModeMissing(m Mode) error {
	seals, _, _, reopen := vm.Features()
	var needed []error
	switch m {
	case Alias:
		needed = []error{reopen}
	case Seal:
		needed = []error{seals, reopen}
	}
	for _, err := range needed {
		if err != nil && !vm.Transient(err) {
			return err
		}
	}
	return nil
}

// MsealMissing returns the probe's *vm.FeatureError if mseal does not
// work here, and nil if it does or if the probe could not tell (a
// transient failure, such as running out of descriptors: the mseal call
// itself then decides).
func MsealMissing() error {
	if _, mseal, _, _ := vm.Features(); mseal != nil && !vm.Transient(mseal) {
		return mseal
	}
	return nil
}

// release waits for background work, marks the region closed (after
// beforeRelease), and then unmaps the owner's mapping (releaseOwner, the
// arena's) before the alias, so that readers of an Alias region keep
// their view until nothing else is left. A mapping that cannot be released
// stays mapped, and another call takes up where this one stopped; the
// region stays closed meanwhile (Verify and Update refuse), while what is
// still mapped stays readable and its range is not handed out again.
func (r *Region) release(releaseOwner func() error, unlessBusy bool) error {
	if unlessBusy {
		if !r.updating.TryLock() {
			return fmt.Errorf("%w: an Update of region %q is running", ErrBusy, r.a.name)
		}
		defer r.updating.Unlock()
	}
	r.bg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.permanent.Load() {
		return fmt.Errorf("%w: region %q cannot be released", ErrPermanent, r.a.name)
	}
	if !r.closed {
		// The keeper was asked first, by Arena.close (unless it is the
		// one releasing: CloseUnlessBusy).
		if r.beforeRelease != nil {
			r.beforeRelease()
		}
		r.closed = true
	}
	if err := releaseOwner(); err != nil {
		return err
	}
	if r.alias == nil || r.alias.Released() {
		return nil
	}
	// The view's range goes into quarantine after the owner's (Arena.Close):
	// the newer of the two is evicted last, and readers hold the view.
	return r.a.keepLost(r.alias, step("release-alias", r.alias.Release))
}

// File returns a read-only *os.File of the sealed memfd (Seal mode), for
// handing to another process; the caller closes it. It waits until the
// file is fully sealed, so the receiver can check F_GET_SEALS.
func (r *Region) File() (*os.File, error) {
	if r.mode != Seal {
		return nil, fmt.Errorf("%w: File needs Seal mode (region %q is %s: its bytes could still change)",
			ErrModeUnsupported, r.a.name, r.mode)
	}
	if err := r.Wait(); err != nil {
		return nil, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return nil, fmt.Errorf("%w: region %q", ErrClosed, r.a.name)
	}
	return r.a.file.ReadOnlyFile()
}
