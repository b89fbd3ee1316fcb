package snapshot

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/offheap"
)

// Store publishes successive versions of a value of type T (a configuration
// reloaded while serving, say): Publish takes a snapshot and makes it
// current; Read runs a function on the current version. A version that has
// been replaced is released only after its last reader has left, and its
// memory then goes into quarantine like any closed snapshot.
//
// The zero value is ready to use (with default options); Configure sets
// the options of later versions. (A nil *Store is not one: its methods
// panic with a nil dereference, as a nil *sync.Mutex's do.) All methods
// are safe for concurrent use. Readers take no lock and allocate nothing:
// each Read marks itself in one of several padded counters of the version
// it reads, so readers on different cores rarely touch the same cache
// line. (The one exception is the last reader of a replaced version:
// leaving, it releases the version, which takes the version's own locks
// and a lock of the store's that Publish, Close and the end of an Update
// take to retry releases that failed, and unmaps its memory.)
// A Store must not be copied (go vet reports a copy): a copy made after
// the first method call panics, at its own first call, with an error
// wrapping ErrStoreCopied, instead of sharing versions with the original
// and releasing them under its readers.
type Store[T any] struct {
	_         noCopy
	mu        sync.Mutex // serialises Publish, Configure and Close
	cur       atomic.Pointer[version[T]]
	opts      []Option
	closed    bool
	published atomic.Int64
	released  atomic.Int64
	// retiring counts the Publish calls between replacing a version and
	// retiring it, so that Close sees what their releases leave in
	// unreleased.
	retiring sync.WaitGroup
	// unreleased holds the replaced versions whose release failed (the
	// kernel refused to unmap, say, or an Update of the version was
	// running) or was left by a last reader whose callback panicked;
	// Publish and Close release them, and the end of an Update those it
	// held back (afterUpdate).
	failMu     sync.Mutex
	unreleased []*version[T]
	// self is the Store's address, recorded by its first method call: a
	// copy made after that holds the original's (see checkCopy).
	self atomic.Pointer[Store[T]]
}

// ErrStoreCopied is wrapped by the error that the methods of a Store
// copied after its first use panic with.
var ErrStoreCopied = errors.New("snapshot: Store copied after first use")

// checkCopy records st's address at its first method call, and panics
// with an error wrapping ErrStoreCopied in a copy of a Store made after
// that: the copy would share the original's current version and release
// it, on its next Publish or Close, while the original's readers still
// read it (a fault that kills the process). A load and a compare in Read.
func (st *Store[T]) checkCopy() {
	if st.self.Load() != st {
		st.firstUseOrCopy()
	}
}

// firstUseOrCopy is checkCopy's slow path: it records st's address if
// none is yet, and panics if another is.
func (st *Store[T]) firstUseOrCopy() {
	if st.self.CompareAndSwap(nil, st) {
		return
	}
	if p := st.self.Load(); p != st {
		panic(fmt.Errorf("%w: a Store must not be copied (share a *Store); this one is a copy of the Store at %p", ErrStoreCopied, p))
	}
}

// stripeCount is the number of reader counters per version: a power of
// two, at least four per core.
var stripeCount = func() int {
	n := 4
	for n < 4*runtime.GOMAXPROCS(0) && n < 256 {
		n *= 2
	}
	return n
}()

// ErrOwnedByStore is wrapped by the error that closing a version published
// by a Store returns (Snapshot.Close, or its Region's), and making one
// permanent (its Region's Permanent): the Store releases its versions
// itself, once they are replaced and their last reader has left, and
// closing one under it would make its readers fault.
var ErrOwnedByStore = errors.New("snapshot: owned by a Store")

var (
	errStoreClosed    = fmt.Errorf("%w: store closed", arena.ErrClosed)
	errStorePermanent = fmt.Errorf("%w: a Store cannot publish permanent versions (WithPermanent): it releases the versions it replaces", freeze.ErrModeUnsupported)
)

type stripe struct {
	n atomic.Int64
	_ [120]byte // one counter per 128 bytes: no two share a cache line (or its prefetch pair)
}

type version[T any] struct {
	store   *Store[T]
	snap    *Snapshot[T]
	readers []stripe
	retired atomic.Bool // no longer current: released once no reader is left
	// unwound is set, under the store's failMu, on a version kept by a
	// last reader whose callback panicked: only Publish and Close
	// release it (see leaveUnwinding). Once one of them has tried and
	// failed, it is cleared, and the end of an Update may retry too.
	unwound  bool
	released atomic.Bool
}

// Configure sets the options used by later calls to Publish: WithMode and
// WithName (the default name is "store"). Each call replaces the options
// of the one before: Configure(WithName("flags")) followed by
// Configure(WithMode(freeze.Protect)) publishes versions named "store".
// With WithPermanent every Publish fails with an error wrapping
// freeze.ErrModeUnsupported, since a Store releases the versions it
// replaces.
func (st *Store[T]) Configure(opts ...Option) {
	st.checkCopy()
	st.mu.Lock()
	defer st.mu.Unlock()
	st.opts = append([]Option(nil), opts...)
}

// Publish takes a snapshot of v (see Take) and makes it the current
// version; the version it replaces is released once its last reader has
// left. The returned snapshot belongs to the store: its Close (or its
// Region's, or its arena's) and its Region's Permanent return an error
// wrapping ErrOwnedByStore and change nothing, in every mode, before and
// after the store has released it. Its value must not be read after a
// later Publish or Close, which may release it; where other goroutines
// publish or close, that may happen before this Publish returns, so read
// through Read instead (its Name and Size stay valid). It first tries
// again to release the replaced versions whose release failed (see
// Close).
// Publish after Close fails with an error wrapping arena.ErrClosed, after
// that retry.
func (st *Store[T]) Publish(v T) (*Snapshot[T], error) {
	st.checkCopy()
	st.mu.Lock()
	opts := st.opts
	closed := st.closed
	st.mu.Unlock()
	// Even after Close: a version left by a panicking reader waits for
	// the next Publish or Close (see Read).
	_ = st.retryReleases(true) // what still fails is for Close to report
	if closed {
		return nil, errStoreClosed
	}
	o := makeOptions("store", opts)
	if o.permanent {
		return nil, errStorePermanent
	}
	snap, err := take(v, o)
	if err != nil {
		return nil, err
	}
	nv := &version[T]{store: st, snap: snap, readers: make([]stripe, stripeCount)}
	offheap.Unwrap(snap.region.Arena()).Region().SetAfterUpdate(st.afterUpdate)
	st.mu.Lock()
	if st.closed {
		// Close came while the snapshot was taken: no reader ever had it.
		// If it cannot be released it waits, counted, for Close to retry
		// it, like a replaced version.
		st.mu.Unlock()
		err := snap.Close()
		if err != nil {
			st.published.Add(1)
			st.keep(nv, false)
		}
		return nil, errors.Join(errStoreClosed, err)
	}
	snap.stored.Store(true)
	old := st.cur.Swap(nv)
	st.published.Add(1)
	if old != nil {
		st.retiring.Add(1)
	}
	st.mu.Unlock()
	if old != nil {
		if testHookBeforeRetire != nil {
			testHookBeforeRetire()
		}
		old.retire()
		st.retiring.Done()
	}
	return snap, nil
}

// testHookBeforeRetire, when set (by tests in this package only), runs in
// Publish between replacing the current version and retiring the one it
// replaced, holding no lock: a Close that comes then must wait for that
// retirement (retiring), and a test stops Publish there to see that it
// does. It is nil otherwise. Set it only while no other goroutine
// publishes: it is a plain variable, read without synchronisation.
var testHookBeforeRetire func()

// Read calls f with the current version. v, and everything it points to,
// is valid only until f returns: f must not keep it (copy what it needs).
// If nothing has been published yet, or the store was closed, f is called
// with the zero value of T; Read panics if f is nil. Read does not
// allocate and takes no lock, unless it is the last reader of a replaced
// version, which it then releases. f receives v as Value gives it, a copy of the frozen T
// (only what T points to is shared, and read-only), made by every Read:
// for a large T, such as a struct holding a big array, publish a pointer
// instead (a Store[*Config] of a *Config), whose Read copies one word.
//
// If f panics (or calls runtime.Goexit) and Read was the last reader of a
// version that has been replaced, or retired by Close, Read leaves that
// version mapped, and the next Publish or Close releases it: the panic
// may be a stray write into the version, which freeze.Guard around the
// Read can name only while the version is still there (released first,
// the write would be reported as a use after Close).
func (st *Store[T]) Read(f func(v T)) {
	if f == nil {
		panic("snapshot: Store.Read with a nil func")
	}
	st.checkCopy()
	v, s := st.enter()
	if v == nil {
		var zero T
		f(zero)
		return
	}
	returned := false
	defer func() {
		if !returned {
			v.leaveUnwinding(s)
		}
	}()
	f(*v.snap.root)
	returned = true
	v.leave(s)
}

// testHookAfterLoad, when set (by tests in this package only), runs in
// enter between loading the current version and announcing the reader on
// it: the gap the re-check after announcing exists for. A test publishes
// or closes there to make the race deterministic. It is nil otherwise, and
// the nil check (a load of a global and a predicted branch) costs nothing
// measurable: BenchmarkStoreRead took 26-29 ns/op with and without it, on
// a shared 2-core machine. Set it only while no other goroutine reads any
// Store: it is a plain variable, read without synchronisation.
var testHookAfterLoad func()

// enter announces a reader on the current version and returns it with the
// reader's stripe (nil if there is no current version).
func (st *Store[T]) enter() (*version[T], int) {
	s := int(rand.Uint32()) & (stripeCount - 1)
	for {
		v := st.cur.Load()
		if v == nil {
			return nil, 0
		}
		if testHookAfterLoad != nil {
			testHookAfterLoad()
		}
		v.readers[s].n.Add(1)
		// Re-check after announcing ourselves: if v was replaced in the
		// meantime its releaser may not have seen us, so leave it alone.
		// (Publish swaps the pointer before marking the old version
		// retired, so one of the two sides always sees the other.)
		if st.cur.Load() == v {
			return v, s
		}
		v.leave(s)
	}
}

// leave ends a read of the version; the last reader of a retired version
// releases it.
func (v *version[T]) leave(s int) {
	v.readers[s].n.Add(-1)
	if v.retired.Load() {
		v.tryRelease()
	}
}

// retire marks a replaced version and releases it if nobody reads it.
func (v *version[T]) retire() {
	v.retired.Store(true)
	v.tryRelease()
}

// leaveUnwinding ends a read whose callback did not return (a panic, or
// runtime.Goexit). The last reader of a retired version claims its release
// as leave does, but hands it to Publish and Close instead of closing it:
// the stack is still unwinding, and a Guard further up, recovering a fault
// in the version, must find it mapped to name the field written. (A
// Publish on another goroutine in the moment between may still release it
// first; the fault is then reported as a use after Close.)
func (v *version[T]) leaveUnwinding(s int) {
	v.readers[s].n.Add(-1)
	if v.retired.Load() && v.claimRelease() {
		v.store.keep(v, true)
	}
}

func (v *version[T]) tryRelease() {
	if !v.claimRelease() {
		return
	}
	// Under failMu, which retryReleases holds too: a release refused
	// because an Update is running is among the kept versions before the
	// Update's afterUpdate can look for it there.
	st := v.store
	st.failMu.Lock()
	defer st.failMu.Unlock()
	if err := v.snap.releaseForStore(); err != nil {
		st.unreleased = append(st.unreleased, v)
		return
	}
	st.released.Add(1)
}

// claimRelease reports whether the caller is the one to release the
// version: no reader is left and no one else has claimed it.
func (v *version[T]) claimRelease() bool {
	for i := range v.readers {
		if v.readers[i].n.Load() != 0 {
			return false
		}
	}
	return v.released.CompareAndSwap(false, true)
}

// keep holds on to a version whose release failed, or was put off by a
// reader unwinding from a panic (unwound): it stays mapped (and readable:
// nobody reads it any more), not counted as released, until a retry
// releases it.
func (st *Store[T]) keep(v *version[T], unwound bool) {
	st.failMu.Lock()
	v.unwound = unwound
	st.unreleased = append(st.unreleased, v)
	st.failMu.Unlock()
}

// afterUpdate runs when an Update of one of the store's versions has
// ended: a release that failed because the Update was running is tried
// again at once, rather than left to a Publish or Close that may never
// come (after Close, the last reader of the version may have left while
// the Update ran). The versions kept by unwinding readers stay for
// Publish and Close, as Read says: the Update may itself be unwinding
// from that panic, to a Guard that names the write only while the
// version is mapped. (One that a Publish or Close has already tried to
// release, and that failed because of the Update, is retried here.)
func (st *Store[T]) afterUpdate() { _ = st.retryReleases(false) }

// retryReleases tries again to release the versions whose release failed,
// and those kept by unwinding readers if unwound is set, and returns the
// errors of those that still fail.
func (st *Store[T]) retryReleases(unwound bool) error {
	st.failMu.Lock()
	defer st.failMu.Unlock()
	var errs []error
	kept := st.unreleased[:0]
	for _, v := range st.unreleased {
		if v.unwound && !unwound {
			kept = append(kept, v)
			continue
		}
		if err := v.snap.releaseForStore(); err != nil {
			errs = append(errs, err)
			// Publish or Close has let go of it: the end of the Update
			// that made it fail may release it, as ErrBusy says.
			v.unwound = false
			kept = append(kept, v)
			continue
		}
		st.released.Add(1)
	}
	clear(st.unreleased[len(kept):])
	st.unreleased = kept
	return errors.Join(errs...)
}

// Close retires the current version (released once its readers have left)
// and makes later Publish calls fail. Reads after Close see the zero value.
//
// A replaced version whose release failed stays mapped and is tried
// again by every later Publish and Close: one the kernel refused to unmap
// (none is expected), and one replaced, or left by its last reader,
// inside the function of a freeze.Update of it (whose release fails with
// freeze.ErrInsideUpdate) or while an Update of it runs on another
// goroutine (freeze.ErrBusy: the Store does not wait for the Update,
// whose function may be waiting for the Store). The latter is also tried
// again as soon as the Update ends. Close returns the errors of the versions that
// still cannot be released; called again, it tries them again. Otherwise
// it returns nil, and is idempotent. It waits for the Publish calls that
// replaced a version before it to finish releasing it (not for readers),
// so a release of theirs that fails is among the errors. The current
// version, if a reader is still inside Read when Close returns, is
// released by its last reader; should that release fail, only a later
// Close reports it (Stats shows it as published and not released).
func (st *Store[T]) Close() error {
	st.checkCopy()
	st.mu.Lock()
	st.closed = true
	old := st.cur.Swap(nil)
	st.mu.Unlock()
	if old != nil {
		old.retire()
	}
	// A Publish that replaced a version before Close locked may still be
	// releasing it; a release that fails is then Close's to report. No
	// Publish adds to retiring once closed is set, and retire never waits
	// for readers, so this wait is short.
	st.retiring.Wait()
	return st.retryReleases(true)
}

// StoreStats counts a store's versions.
type StoreStats struct {
	Published int64 // versions published
	Released  int64 // versions released (replaced, or retired by Close, and left by their last reader)
}

// Stats returns the store's counts. Both only grow; Published − Released
// is the number of versions not yet released: the current one, the
// replaced ones that a reader is still inside, and any whose release
// failed or was put off by a panicking reader and waits for a retry (see
// Read and Close). It may be called from any
// goroutine, inside Read too.
func (st *Store[T]) Stats() StoreStats {
	st.checkCopy()
	// Released first: a version is counted released only after it was
	// counted published, so Released never comes out above Published.
	released := st.released.Load()
	return StoreStats{Published: st.published.Load(), Released: released}
}
