package snapshot

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/offheap"
)

// Snapshot is an immutable, frozen copy of a value of type T, outside the Go
// heap. Its methods are safe for concurrent use. A Snapshot must not be
// copied; share the pointer. Obtain one from Take or Store.Publish: the
// zero value is not a snapshot: Value panics (a nil dereference), Pointer
// and Region return nil, and the others act as those of a nil
// *freeze.Region do (Verify and Close return an error wrapping
// arena.ErrClosed, Name and Size panic with one). A nil *Snapshot acts
// as the zero value, so that `defer s.Close()` written before checking
// Take's error returns that error instead of panicking.
// A snapshot is released only by Close (or its Store): one that is
// dropped without it keeps its memory, which no finalizer reclaims, for
// the life of the process.
type Snapshot[T any] struct {
	_      noCopy
	root   *T // the read-only copy of the value
	region *freeze.Region
	closed atomic.Bool
	// stored is set, for good, once a Store publishes the snapshot as a
	// version: closing it or making it permanent is then refused, by any
	// route, before and after the Store releases it (releaseForStore).
	stored atomic.Bool
	// onClose, if set (by NewMap, before the snapshot is shared), runs
	// when the snapshot is marked closed.
	onClose func()
}

type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// Take deep-copies v (see arena.Clone for what can be copied and how the
// shape of the pointer graph is kept) into a fresh arena sized for it (the
// copy's bytes and room to align them), freezes it (WithMode; Seal by
// default on Linux) and takes its baseline checksum.
//
// Errors wrap arena.ErrUnsupported (with the field path) for values that
// cannot be copied, a *freeze.StepError if freezing failed, and
// freeze.ErrModeUnsupported for a mode the platform lacks (refused before
// anything is copied). Nothing is left allocated when Take fails, and the
// address range of a Take that failed skips the quarantine (see
// arena.SetQuarantine): no pointer into it was ever handed out.
func Take[T any](v T, opts ...Option) (*Snapshot[T], error) {
	return take(v, makeOptions("snapshot", opts))
}

// testHookBeforeApply, when set (by tests in this package only), runs in
// Take between planning the copy and applying it, once the arena is made:
// a test changes the value there, as a caller's goroutine racing with
// Take could, to make the copy fail and see the arena discarded. It is
// nil otherwise. Set it only while no other goroutine takes a snapshot:
// it is a plain variable, read without synchronisation.
var testHookBeforeApply func()

func take[T any](v T, o options) (*Snapshot[T], error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	plan, err := offheap.PlanValue(&v)
	if err != nil {
		return nil, err
	}
	defer plan.Release()
	a, err := arena.NewArena(arena.WithName(o.name), arena.WithMaxBytes(int64(plan.Size())))
	if err != nil {
		return nil, err
	}
	// Nobody else has the arena before it is frozen: the copy can hash
	// the pages it writes, for Freeze's baseline.
	offheap.Unwrap(a).HashWhileCopying()
	if testHookBeforeApply != nil {
		testHookBeforeApply()
	}
	// Until Take returns, nobody but this function has an address in the
	// arena: if it fails, the arena's ranges skip the quarantine. The copy
	// may also panic rather than fail: a fault reading what v reaches (the
	// bytes of a string in a closed snapshot, under freeze.Guard) unwinds
	// through here, and the arena, which nothing else refers to, must not
	// stay allocated for good.
	copied := false
	defer func() {
		if !copied {
			_ = offheap.Unwrap(a).Discard()
		}
	}()
	root, err := offheap.ApplyValue[T](offheap.Unwrap(a), plan)
	copied = true
	if err != nil {
		return nil, errors.Join(err, offheap.Unwrap(a).Discard())
	}
	r, err := freeze.Freeze(a, o.mode)
	if err != nil {
		return nil, errors.Join(err, offheap.Unwrap(a).Discard())
	}
	if o.permanent {
		if err := r.Permanent(); err != nil {
			return nil, errors.Join(err, offheap.Unwrap(a).Discard())
		}
	}
	s := &Snapshot[T]{root: freeze.ReadOnly(r, root), region: r}
	offheap.Unwrap(a).Region().SetKeeper(s.keeper)
	offheap.Unwrap(a).Region().SetBeforeRelease(s.beforeRelease)
	return s, nil
}

// keeper refuses the release of the snapshot's region, whether through
// Close, Region().Close or the arena's Close, and Region().Permanent, of a
// snapshot a Store published: the Store releases it once replaced and
// unread (releaseForStore, which does not ask the keeper), and could
// never release a permanent one. The refusal is the same once the Store
// has released it, so that a misplaced Close fails whenever it runs. The
// error says which of the two was refused.
func (s *Snapshot[T]) keeper(permanent bool) error {
	if !s.stored.Load() {
		return nil
	}
	what := "closed"
	if permanent {
		what = "made permanent"
	}
	return fmt.Errorf("%w: snapshot %q is a version published by a Store, which releases it once replaced and unread; it cannot be %s",
		ErrOwnedByStore, s.region.Name(), what)
}

// beforeRelease runs whenever the snapshot's region is about to be
// released, by any route: it marks the snapshot closed, so that Value and
// Pointer (and a Map's Get) panic with ErrClosed instead of reading
// unmapped memory. A permanent region, or one a Store owns, is refused
// before this runs, so it stays open.
func (s *Snapshot[T]) beforeRelease() {
	s.closed.Store(true)
	if s.onClose != nil {
		s.onClose()
	}
}

// Value returns the frozen value. Whatever it points to is read-only (a
// write faults; freeze.Guard names the field) and valid until Close. It
// does not allocate. It panics with an error wrapping arena.ErrClosed
// after Close. Like Map.Get, it must not race with Close: a Value still
// copying T when the memory is released faults, which kills the process
// outside freeze.Guard (to replace a value that goroutines read, use a
// Store, whose Read keeps its version mapped until the reader leaves).
func (s *Snapshot[T]) Value() T {
	if s.closed.Load() {
		panic(fmt.Errorf("%w: Value of snapshot %q after Close", arena.ErrClosed, s.region.Name()))
	}
	return *s.root
}

// Pointer returns a pointer to the frozen value itself: no copy of T, so
// it suits large values, and a write through it faults (freeze.Guard
// names the field). It is valid until Close and panics, like Value, with
// an error wrapping arena.ErrClosed after Close.
func (s *Snapshot[T]) Pointer() *T {
	if s == nil {
		return nil
	}
	if s.closed.Load() {
		panic(fmt.Errorf("%w: Pointer of snapshot %q after Close", arena.ErrClosed, s.region.Name()))
	}
	return s.root
}

// Verify checks that no frozen byte changed since Take (see
// freeze.Region.Verify). It does not allocate when nothing changed. After
// Close it returns an error wrapping arena.ErrClosed.
func (s *Snapshot[T]) Verify() error { return s.reg().Verify() }

// Region returns the frozen region behind the snapshot: its mode, size,
// checksum and, in Seal mode, a read-only file of the sealed memory.
// Closing the region closes the snapshot.
func (s *Snapshot[T]) Region() *freeze.Region { return s.reg() }

// Name returns the snapshot's name: the one given with WithName, or the
// default, "snapshot" from Take and "store" from Store.Publish. Fault
// reports, Verify errors and /proc/self/maps use it.
func (s *Snapshot[T]) Name() string { return s.reg().Name() }

// Size returns the snapshot's size in bytes. Name and Size may be called
// after Close, and give what they gave before it.
func (s *Snapshot[T]) Size() int { return s.reg().Size() }

// Close releases the snapshot's memory. Its address range stays reserved
// and inaccessible (quarantined), so that a pointer kept past Close faults
// instead of reading reused memory (freeze.Guard reports such an access as
// a *freeze.UseAfterClose naming the snapshot). It is idempotent. A
// permanent snapshot returns freeze.ErrPermanent and stays readable; a
// version published by a Store, whether or not the Store has released it
// yet, returns an error wrapping ErrOwnedByStore at once (without waiting
// for a freeze.Update of it) and changes nothing (the Store releases it).
// Closing the snapshot's Region, or its arena, is the same as calling
// Close.
//
// Close must not race with readers of the snapshot; Store releases
// versions only once their last reader has left.
func (s *Snapshot[T]) Close() error { return s.reg().Close() }

// reg returns the snapshot's region: nil for a nil *Snapshot, as for a
// zero-value one, whose methods then act as a nil *freeze.Region's.
func (s *Snapshot[T]) reg() *freeze.Region {
	if s == nil {
		return nil
	}
	return s.region
}

// releaseForStore is Close for a Store releasing a version, past the
// keeper's refusal: instead of waiting for an Update of the version
// running on another goroutine (or for another Close of it), which may be
// waiting for the Store, it fails with an error wrapping freeze.ErrBusy,
// and the Store tries again later.
func (s *Snapshot[T]) releaseForStore() error {
	return offheap.Unwrap(s.region.Arena()).CloseUnlessBusy()
}
