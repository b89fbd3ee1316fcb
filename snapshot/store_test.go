//go:build unix && !aix

package snapshot_test

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/offheap"
	"github.com/frozen-go/frozen/snapshot"
)

// Versioned carries its own consistency check: every field derives from
// Seq, so a read that mixes two versions (or reads freed memory) shows.
type Versioned struct {
	Seq    int
	Name   string
	Copies [8]int
	Tags   []string
}

func makeVersion(seq int) Versioned {
	v := Versioned{Seq: seq, Name: "v" + strconv.Itoa(seq), Tags: []string{strconv.Itoa(seq), "x"}}
	for i := range v.Copies {
		v.Copies[i] = seq * (i + 1)
	}
	return v
}

func consistent(v Versioned) error {
	if v.Name != "v"+strconv.Itoa(v.Seq) || len(v.Tags) != 2 || v.Tags[0] != strconv.Itoa(v.Seq) {
		return fmt.Errorf("torn read: %+v", v)
	}
	for i, c := range v.Copies {
		if c != v.Seq*(i+1) {
			return fmt.Errorf("torn read: %+v", v)
		}
	}
	return nil
}

func TestStoreZeroValueAndClose(t *testing.T) {
	var st snapshot.Store[Versioned]
	st.Read(func(v Versioned) { assert.Equal(t, Versioned{}, v) })
	_, err := st.Publish(makeVersion(1))
	require.NoError(t, err)
	st.Read(func(v Versioned) { assert.Equal(t, 1, v.Seq) })
	require.NoError(t, st.Close())
	require.NoError(t, st.Close())
	st.Read(func(v Versioned) { assert.Equal(t, Versioned{}, v) })
	_, err = st.Publish(makeVersion(2))
	assert.ErrorIs(t, err, arena.ErrClosed)
	assert.Equal(t, snapshot.StoreStats{Published: 1, Released: 1}, st.Stats())
}

// A copy of a Store made after its first use panics at each method call,
// with ErrStoreCopied, before it touches a version: a Publish through the
// copy would release the version the original's readers read. The
// original keeps working, and a copy of a Store not yet used is a Store
// of its own. (Copied with reflect, as go vet reports a plain copy.)
func TestStoreCopiedAfterUsePanics(t *testing.T) {
	copyOf := func(st *snapshot.Store[Versioned]) *snapshot.Store[Versioned] {
		cp := new(snapshot.Store[Versioned])
		reflect.ValueOf(cp).Elem().Set(reflect.ValueOf(st).Elem())
		return cp
	}
	var unused snapshot.Store[Versioned]
	fresh := copyOf(&unused)
	_, err := fresh.Publish(makeVersion(7))
	require.NoError(t, err, "a copy of a Store not yet used is a Store")
	require.NoError(t, fresh.Close())

	var st snapshot.Store[Versioned]
	_, err = st.Publish(makeVersion(1))
	require.NoError(t, err)
	cp := copyOf(&st)
	for name, use := range map[string]func(){
		"Publish":   func() { _, _ = cp.Publish(makeVersion(2)) },
		"Read":      func() { cp.Read(func(Versioned) { t.Error("Read ran its func on a copy") }) },
		"Close":     func() { _ = cp.Close() },
		"Configure": func() { cp.Configure(snapshot.WithName("copy")) },
		"Stats":     func() { cp.Stats() },
	} {
		p, _ := recovered(use).(error)
		require.ErrorIs(t, p, snapshot.ErrStoreCopied, name)
		assert.Contains(t, p.Error(), "must not be copied", name)
	}
	st.Read(func(v Versioned) { assert.Equal(t, 1, v.Seq, "the original's version is still current and mapped") })
	assert.Equal(t, snapshot.StoreStats{Published: 1, Released: 0}, st.Stats())
	require.NoError(t, st.Close())
	assert.Equal(t, snapshot.StoreStats{Published: 1, Released: 1}, st.Stats())
}

// A nil func panics saying so, before Read enters the current version:
// the version is not left counted as read, and Close releases it.
func TestStoreReadWithANilFuncPanicsPlainly(t *testing.T) {
	var st snapshot.Store[Versioned]
	assert.PanicsWithValue(t, "snapshot: Store.Read with a nil func", func() { st.Read(nil) })
	_, err := st.Publish(makeVersion(1))
	require.NoError(t, err)
	assert.PanicsWithValue(t, "snapshot: Store.Read with a nil func", func() { st.Read(nil) })
	_, err = st.Publish(makeVersion(2))
	require.NoError(t, err)
	assert.Equal(t, snapshot.StoreStats{Published: 2, Released: 1}, st.Stats(), "the replaced version was not left to a reader")
	require.NoError(t, st.Close())
	assert.Equal(t, snapshot.StoreStats{Published: 2, Released: 2}, st.Stats())
}

func TestStoreKeepsAVersionWhileItIsRead(t *testing.T) {
	var st snapshot.Store[Versioned]
	defer st.Close()
	_, err := st.Publish(makeVersion(1))
	require.NoError(t, err)
	inside := make(chan struct{})
	done := make(chan struct{})
	go st.Read(func(v Versioned) {
		close(inside)
		<-done
		// Still valid although two newer versions were published.
		assert.NoError(t, consistent(v))
		assert.Equal(t, 1, v.Seq)
	})
	<-inside
	for i := 2; i <= 3; i++ {
		_, err = st.Publish(makeVersion(i))
		require.NoError(t, err)
	}
	assert.Equal(t, int64(1), st.Stats().Released, "version 2 had no reader; version 1 does")
	close(done)
	require.Eventually(t, func() bool { return st.Stats().Released == 2 }, 5e9, 1e6)
}

// The snapshot Publish returns belongs to the store: closing it, by any
// route, or making it permanent (which would keep the store from ever
// releasing it), is refused and changes nothing, so readers keep reading
// it. The refusal is the same in every mode (Permanent's refusal comes
// before its need of Seal mode) and stays once the store has released
// the version, so that a misplaced Close fails whenever it runs.
func TestStoreVersionsCannotBeClosedUnderIt(t *testing.T) {
	for _, mode := range []freeze.Mode{freeze.Protect, freeze.Alias, freeze.Seal} {
		t.Run(mode.String(), func(t *testing.T) {
			var st snapshot.Store[Versioned]
			defer st.Close()
			st.Configure(snapshot.WithMode(mode))
			s, err := st.Publish(makeVersion(1))
			if errors.Is(err, freeze.ErrModeUnsupported) {
				t.Skip(err)
			}
			require.NoError(t, err)
			routes := map[string]func() error{
				"Snapshot.Close":   s.Close,
				"Region.Close":     s.Region().Close,
				"Arena.Close":      s.Region().Arena().Close,
				"Region.Permanent": s.Region().Permanent,
			}
			refused := func(when string) {
				t.Helper()
				for name, closeIt := range routes {
					err := closeIt()
					assert.ErrorIs(t, err, snapshot.ErrOwnedByStore, "%s %s", name, when)
					what := "closed"
					if name == "Region.Permanent" {
						what = "made permanent"
					}
					assert.EqualError(t, err, `snapshot: owned by a Store: snapshot "store" is a version published by a Store, which releases it once replaced and unread; it cannot be `+what, "%s %s", name, when)
				}
			}
			refused("while current")
			st.Read(func(v Versioned) { assert.NoError(t, consistent(v)); assert.Equal(t, 1, v.Seq) })
			assert.Equal(t, 1, s.Value().Seq, "still open")
			require.NoError(t, s.Verify())

			_, err = st.Publish(makeVersion(2))
			require.NoError(t, err)
			require.Equal(t, int64(1), st.Stats().Released)
			refused("once released by the store")
			assert.Panics(t, func() { s.Value() }, "released by the store")
			assert.ErrorIs(t, s.Verify(), arena.ErrClosed)
			st.Read(func(v Versioned) { assert.Equal(t, 2, v.Seq) })
		})
	}
}

// Permanent of a version, called while the Store releases it, must not
// mseal it, or the Store could never release it: every later Close would
// fail with ErrPermanent (a Store that gave up its ownership for the
// moment of its release once let such a call through). It is refused
// with ErrOwnedByStore, before the release and after.
func TestStoreVersionsNeverBecomePermanent(t *testing.T) {
	var st snapshot.Store[int]
	st.Configure(snapshot.WithMode(freeze.Seal))
	var cur atomic.Pointer[snapshot.Snapshot[int]]
	s, err := st.Publish(0)
	if errors.Is(err, freeze.ErrModeUnsupported) {
		t.Skip("no Seal mode here")
	}
	require.NoError(t, err)
	if err := offheap.MsealMissing(); err != nil {
		t.Skip("no mseal here:", err)
	}
	cur.Store(s)
	done, unexpected := make(chan struct{}), make(chan error, 1)
	go func() {
		defer close(done)
		for {
			s := cur.Load()
			if s == nil {
				return
			}
			err := s.Region().Permanent()
			if !errors.Is(err, snapshot.ErrOwnedByStore) {
				unexpected <- err
				return
			}
		}
	}()
	for i := 1; i <= 300; i++ {
		s, err := st.Publish(i)
		require.NoError(t, err)
		cur.Store(s)
	}
	cur.Store(nil)
	<-done
	select {
	case err := <-unexpected:
		t.Fatalf("Permanent of a version returned %v", err)
	default:
	}
	require.NoError(t, st.Close())
	stats := st.Stats()
	assert.Equal(t, stats.Published, stats.Released, "every version released")
}

func TestStoreRefusesPermanentVersions(t *testing.T) {
	var st snapshot.Store[int]
	st.Configure(snapshot.WithMode(freeze.Seal), snapshot.WithPermanent())
	_, err := st.Publish(1)
	assert.ErrorIs(t, err, freeze.ErrModeUnsupported)
	assert.EqualError(t, err, "freeze: mode not supported here: a Store cannot publish permanent versions (WithPermanent): it releases the versions it replaces")
	assert.Zero(t, st.Stats().Published)
}

func TestStoreReadDoesNotAllocate(t *testing.T) {
	var st snapshot.Store[Versioned]
	defer st.Close()
	_, err := st.Publish(makeVersion(1))
	require.NoError(t, err)
	n := 0
	f := func(v Versioned) { n += v.Seq }
	assert.Zero(t, testing.AllocsPerRun(1000, func() { st.Read(f) }))
}

// TestStoreManyReadersManyVersions: 64 readers hammer Read while 10,000
// versions are published. No read may be torn or fault; every replaced
// version must be released; nothing may leak.
func TestStoreManyReadersManyVersions(t *testing.T) {
	const readers = 64
	versions := 10_000
	if testing.Short() {
		versions = 1000
	}
	before := arena.ReadStats()
	var st snapshot.Store[Versioned]
	st.Configure(snapshot.WithName("hot-config"))
	_, err := st.Publish(makeVersion(0))
	require.NoError(t, err)

	var stop atomic.Bool
	var reads atomic.Int64
	errs := make(chan error, readers)
	var wg sync.WaitGroup
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := -1
			for !stop.Load() {
				var bad error
				err := freeze.Guard(func() {
					st.Read(func(v Versioned) {
						if err := consistent(v); err != nil {
							bad = err
						}
						if v.Seq < last {
							bad = fmt.Errorf("went back from version %d to %d", last, v.Seq)
						}
						last = v.Seq
					})
				})
				if err == nil {
					err = bad
				}
				if err != nil {
					errs <- err
					return
				}
				reads.Add(1)
				runtime.Gosched()
			}
		}()
	}
	for i := 1; i <= versions; i++ {
		if _, err := st.Publish(makeVersion(i)); err != nil {
			stop.Store(true)
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d reads across %d versions", reads.Load(), versions+1)
	assert.Greater(t, reads.Load(), int64(readers))
	stats := st.Stats()
	assert.Equal(t, int64(versions+1), stats.Published)
	assert.Equal(t, int64(versions), stats.Released, "every replaced version is released once its readers left")
	require.NoError(t, st.Close())
	assert.Equal(t, int64(versions+1), st.Stats().Released)
	after := arena.ReadStats()
	assert.Equal(t, before.Arenas, after.Arenas, "no arena leaked")
	assert.Equal(t, before.MappedBytes, after.MappedBytes)
}

// A version whose release the kernel refuses is not counted as released,
// and stays mapped until the store's Close (or a later Publish) releases
// it. TestStoreRetriesFailedReleases follows the retries.
func TestStoreCountsOnlyReleasedVersions(t *testing.T) {
	var st snapshot.Store[Versioned]
	s1, err := st.Publish(makeVersion(1))
	require.NoError(t, err)
	v1 := s1.Value()
	injected := errors.New("injected release failure")
	offheap.SetFailpoint(func(step string) error {
		if step == "release" {
			return injected
		}
		return nil
	})
	_, err = st.Publish(makeVersion(2))
	offheap.SetFailpoint(nil)
	require.NoError(t, err)
	assert.Equal(t, snapshot.StoreStats{Published: 2, Released: 0}, st.Stats())
	assert.PanicsWithError(t, `arena: closed: Value of snapshot "store" after Close`, func() { s1.Value() },
		"marked closed before its memory was to go")
	var name string
	require.NoError(t, freeze.Guard(func() { name = strings.Clone(v1.Name) }), "but still mapped")
	assert.Equal(t, "v1", name)
	require.NoError(t, st.Close(), "Close did not retry the release")
	assert.Equal(t, snapshot.StoreStats{Published: 2, Released: 2}, st.Stats())
	require.ErrorIs(t, s1.Close(), snapshot.ErrOwnedByStore, "released by the store, whose it stays")
	var uac *freeze.UseAfterClose
	require.ErrorAs(t, freeze.Guard(func() { name = strings.Clone(v1.Name) }), &uac)
}

// Stats taken while versions are published and released never count more
// released than published (it read Published first, and a release landing
// between its two loads made the difference negative).
func TestStoreStatsNeverReleaseMoreThanPublished(t *testing.T) {
	var st snapshot.Store[int]
	defer st.Close()
	var done atomic.Bool
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for !done.Load() {
				if s := st.Stats(); s.Released > s.Published {
					t.Errorf("Stats: %+v", s)
					return
				}
				// Without async preemption (GODEBUG=asyncpreemptoff=1,
				// or gccheckmark=1) two such loops held both Ps of a
				// two-core machine, and Publish waited for ever for
				// the baseline goroutine of the version it released.
				runtime.Gosched()
			}
		})
	}
	for i := range 3000 {
		if _, err := st.Publish(i); err != nil {
			t.Error(err)
			break
		}
	}
	done.Store(true)
	wg.Wait()
	assert.Equal(t, snapshot.StoreStats{Published: 3000, Released: 2999}, st.Stats())
}

// Close while a reader is inside Read leaves the current version to that
// reader: Close returns without releasing it, the reader still reads it
// whole (no fault, the same bytes), and its leaving releases it, so that
// nothing is left live. Reads that start after Close see the zero value
// meanwhile.
func TestStoreCloseLeavesTheCurrentVersionToItsReader(t *testing.T) {
	before := liveStats()
	var st snapshot.Store[Versioned]
	_, err := st.Publish(makeVersion(1))
	require.NoError(t, err)
	inside, leave := make(chan struct{}), make(chan struct{})
	var got Versioned
	var torn error
	left := make(chan error, 1)
	go func() {
		left <- freeze.Guard(func() {
			st.Read(func(v Versioned) {
				close(inside)
				<-leave // the store is closed by now
				torn = consistent(v)
				got = Versioned{Seq: v.Seq, Name: strings.Clone(v.Name)}
			})
		})
	}()
	<-inside
	require.NoError(t, st.Close())
	assert.Equal(t, snapshot.StoreStats{Published: 1, Released: 0}, st.Stats(), "Close released the version under its reader")
	st.Read(func(v Versioned) { assert.Equal(t, Versioned{}, v, "a Read after Close") })
	assert.Equal(t, before.Arenas+1, arena.ReadStats().Arenas)

	close(leave)
	require.NoError(t, <-left, "the reader faulted reading its version after Close")
	require.NoError(t, torn)
	assert.Equal(t, Versioned{Seq: 1, Name: "v1"}, got)
	assert.Equal(t, snapshot.StoreStats{Published: 1, Released: 1}, st.Stats(), "its last reader left without releasing it")
	assert.Equal(t, before, liveStats(), "the version's arena is still live")
	require.NoError(t, st.Close())
}

// A panic in Read's function goes up to Read's caller as it was, and the
// reader leaves the version on the way: the next Publish releases the
// version it replaces at once, and a replaced version whose last reader
// panics is released by that reader. (A reader that never left would keep
// its version, and the version's arena, for good.)
func TestStoreReadThatPanicsLeavesItsVersion(t *testing.T) {
	before := liveStats()
	var st snapshot.Store[Versioned]
	_, err := st.Publish(makeVersion(1))
	require.NoError(t, err)
	boom := errors.New("boom")
	readAndPanic := func(inside func()) (recovered any) {
		defer func() { recovered = recover() }()
		st.Read(func(Versioned) {
			if inside != nil {
				inside()
			}
			panic(boom)
		})
		return nil
	}

	assert.Same(t, boom, readAndPanic(nil), "the panic did not reach Read's caller")
	assert.Equal(t, snapshot.StoreStats{Published: 1, Released: 0}, st.Stats())
	_, err = st.Publish(makeVersion(2))
	require.NoError(t, err)
	assert.Equal(t, snapshot.StoreStats{Published: 2, Released: 1}, st.Stats(),
		"version 1 was not released: its reader panicked without leaving it")

	var inside snapshot.StoreStats
	assert.Same(t, boom, readAndPanic(func() {
		if _, err := st.Publish(makeVersion(3)); err != nil {
			t.Error(err)
		}
		inside = st.Stats()
	}), "the panic did not reach Read's caller")
	assert.Equal(t, snapshot.StoreStats{Published: 3, Released: 1}, inside, "version 2 was released under its reader")
	assert.Equal(t, snapshot.StoreStats{Published: 3, Released: 1}, st.Stats(),
		"version 2 was released while its last reader's panic unwound, before a Guard could name a fault in it")
	_, err = st.Publish(makeVersion(4))
	require.NoError(t, err)
	assert.Equal(t, snapshot.StoreStats{Published: 4, Released: 3}, st.Stats(),
		"the next Publish did not release version 2, whose last reader panicked, and version 3")

	st.Read(func(v Versioned) { assert.NoError(t, consistent(v)); assert.Equal(t, 4, v.Seq) })
	require.NoError(t, st.Close())
	assert.Equal(t, snapshot.StoreStats{Published: 4, Released: 4}, st.Stats())
	assert.Equal(t, before, liveStats(), "an arena leaked")
}

// A stray write inside Read, under Guard, is named as a write to the
// version read even when that version was replaced or retired during the
// Read and its reader is the last: Read must not release it while the
// fault's panic unwinds towards Guard.
func TestStoreGuardNamesAWriteToAVersionReplacedDuringRead(t *testing.T) {
	for _, replace := range []string{"Publish", "Close"} {
		t.Run(replace, func(t *testing.T) {
			before := liveStats()
			var st snapshot.Store[*Versioned]
			v1 := makeVersion(1)
			_, err := st.Publish(&v1)
			require.NoError(t, err)
			err = freeze.Guard(func() {
				st.Read(func(v *Versioned) {
					if replace == "Publish" {
						v2 := makeVersion(2)
						if _, err := st.Publish(&v2); err != nil {
							t.Error(err)
						}
					} else if err := st.Close(); err != nil {
						t.Error(err)
					}
					v.Copies[3] = 99 // the stray write
				})
			})
			var wf *freeze.WriteFault
			require.ErrorAs(t, err, &wf, "the write was not reported as a write fault")
			assert.Equal(t, "store", wf.Region)
			if !wf.PageOnly { // where the kernel reports only the page, there is no field
				assert.Equal(t, "*Versioned.Copies[3]", wf.Path)
			}
			assert.ErrorIs(t, err, arena.ErrFrozen)

			require.NoError(t, st.Close())
			stats := st.Stats()
			assert.Equal(t, stats.Published, stats.Released, "Close did not release the version whose last reader faulted")
			assert.Equal(t, before, liveStats(), "an arena leaked")
		})
	}
}

// A Store in Alias mode, whose versions are read through a read-only view
// that goes with the arena on release: two publishers race each other
// and four readers read throughout. No read is torn or faults, every
// replaced version is released, and after Close every version is, with
// nothing left live and the last version's view gone into quarantine.
func TestStoreAliasModeConcurrentPublishers(t *testing.T) {
	const publishers, readers = 2, 4
	perPublisher := 200
	if testing.Short() {
		perPublisher = 50
	}
	before := liveStats()
	var st snapshot.Store[Versioned]
	st.Configure(snapshot.WithMode(freeze.Alias))
	first, err := st.Publish(makeVersion(0))
	require.NoError(t, err)
	require.Equal(t, freeze.Alias, first.Region().Mode())

	var stop atomic.Bool
	var reads atomic.Int64
	errs := make(chan error, publishers+readers)
	var rw sync.WaitGroup
	for range readers {
		rw.Go(func() {
			for {
				var bad error
				err := freeze.Guard(func() {
					st.Read(func(v Versioned) {
						if bad = consistent(v); bad == nil && (v.Seq < 0 || v.Seq > publishers*perPublisher) {
							bad = fmt.Errorf("version %d was never published", v.Seq)
						}
					})
				})
				if err = errors.Join(err, bad); err != nil {
					errs <- err
					return
				}
				reads.Add(1)
				if stop.Load() {
					return
				}
				runtime.Gosched()
			}
		})
	}
	var pw sync.WaitGroup
	for p := range publishers {
		pw.Go(func() {
			for i := 1; i <= perPublisher; i++ {
				if _, err := st.Publish(makeVersion(p*perPublisher + i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	pw.Wait()
	stop.Store(true)
	rw.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d reads across %d versions", reads.Load(), publishers*perPublisher+1)

	versions := int64(publishers*perPublisher + 1)
	assert.Equal(t, snapshot.StoreStats{Published: versions, Released: versions - 1}, st.Stats(),
		"every replaced version is released once its readers left")
	var last Versioned
	st.Read(func(v Versioned) { assert.NoError(t, consistent(v)); last = v }) // kept past Read to check it is gone
	require.NoError(t, st.Close())
	assert.Equal(t, snapshot.StoreStats{Published: versions, Released: versions}, st.Stats())
	assert.Equal(t, before, liveStats(), "an arena, mapping or view leaked")
	// The counts say nothing of the view itself: reading through it must
	// fault now (quarantine), not find it still mapped.
	var uac *freeze.UseAfterClose
	require.ErrorAs(t, freeze.Guard(func() { _ = strings.Clone(last.Name) }), &uac,
		"the read-only view of the last version outlived Close")
	assert.Equal(t, "store", uac.Region)
}

// TestStoreConfigureReplaces: each Configure replaces the options of the
// one before, as its doc says, rather than adding to them.
func TestStoreConfigureReplaces(t *testing.T) {
	var st snapshot.Store[int]
	defer st.Close()
	st.Configure(snapshot.WithName("flags"))
	st.Configure(snapshot.WithMode(freeze.Protect))
	s, err := st.Publish(1)
	require.NoError(t, err)
	assert.Equal(t, "store", s.Name())
	assert.Equal(t, freeze.Protect, s.Region().Mode())
}

// A version retired by Close whose last reader panics is kept mapped for
// a Guard up the stack, and, as Read says, the next Publish or Close
// releases it: a Publish after Close still fails, but releases it first.
func TestStorePublishAfterCloseReleasesAVersionLeftByAPanickingReader(t *testing.T) {
	before := liveStats()
	var st snapshot.Store[Versioned]
	_, err := st.Publish(makeVersion(1))
	require.NoError(t, err)
	boom := errors.New("boom")
	inside, leave := make(chan struct{}), make(chan struct{})
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		st.Read(func(Versioned) {
			close(inside)
			<-leave
			panic(boom)
		})
	}()
	<-inside
	require.NoError(t, st.Close())
	close(leave)
	assert.Same(t, boom, <-recovered)
	assert.Equal(t, snapshot.StoreStats{Published: 1, Released: 0}, st.Stats())

	_, err = st.Publish(makeVersion(2))
	assert.ErrorIs(t, err, arena.ErrClosed)
	assert.Equal(t, snapshot.StoreStats{Published: 1, Released: 1}, st.Stats(),
		"the Publish after Close did not release the version its last reader's panic left")
	assert.Equal(t, before, liveStats(), "the version's arena is still live")
}

// A version left mapped by a panicking reader belongs to the Store until a
// Publish or Close releases it: its owner's Close returned nil and
// released it, the Store's counts then short of it until the next Publish.
// The owner's Close is refused after that release as before it.
func TestStoreVersionLeftByAPanickingReaderStaysOwnedByTheStore(t *testing.T) {
	before := liveStats()
	var st snapshot.Store[counter]
	s, err := st.Publish(counter{N: 1})
	require.NoError(t, err)
	publishAndPanicInRead(t, &st)
	require.Equal(t, snapshot.StoreStats{Published: 2, Released: 0}, st.Stats())

	for name, closeIt := range map[string]func() error{
		"Snapshot.Close": s.Close,
		"Region.Close":   s.Region().Close,
		"Arena.Close":    s.Region().Arena().Close,
	} {
		assert.ErrorIs(t, closeIt(), snapshot.ErrOwnedByStore, name)
	}
	assert.Equal(t, 1, s.Value().N, "released by its owner while the Store held it")

	_, err = st.Publish(counter{N: 3})
	require.NoError(t, err)
	assert.Equal(t, snapshot.StoreStats{Published: 3, Released: 2}, st.Stats())
	assert.ErrorIs(t, s.Close(), snapshot.ErrOwnedByStore, "released by the store")
	assert.Panics(t, func() { s.Value() }, "released by the store")
	require.NoError(t, st.Close())
	assert.Equal(t, before, liveStats(), "an arena leaked")
}
