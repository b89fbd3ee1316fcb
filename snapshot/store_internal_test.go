//go:build unix && !aix

package snapshot

import (
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/offheap"
)

// gapValue has its string bytes in the arena too, so that reading a
// released version touches quarantined memory through more than the root.
type gapValue struct {
	Seq  int
	Name string
}

func makeGapValue(seq int) gapValue { return gapValue{Seq: seq, Name: "v" + strconv.Itoa(seq)} }

// inReadersGap makes the next reader's enter run f once, after it has
// loaded the current version and before it announces itself on it: the
// window in which a writer can replace and release that version without
// seeing the reader. The hook is removed when the test ends.
func inReadersGap(t *testing.T, f func()) {
	t.Helper()
	require.Nil(t, testHookAfterLoad, "hook already set")
	fired := false
	testHookAfterLoad = func() {
		if !fired { // the reader's retry loads again; run f only in the first gap
			fired = true
			f()
		}
	}
	t.Cleanup(func() { testHookAfterLoad = nil })
}

// A version is released once nobody has announced reading it, so a writer
// can release it while a reader that has loaded it has not yet announced
// itself. The reader must then see, on re-checking, that it is no longer
// current and start again, instead of reading released memory. These
// tests put a Publish, and a Close, exactly in that gap: without the
// re-check the reader reads the first version after its release, which
// faults (quarantine), and Guard reports it. The stress test
// TestStoreManyReadersManyVersions meets this window only by chance.
// guardedRead runs st.Read under freeze.Guard, copying the value it reads
// (the string's bytes too, which are in the arena) and running inside, if
// not nil, within the callback. read says whether the callback ran.
func guardedRead(st *Store[gapValue], inside func()) (got gapValue, read bool, err error) {
	err = freeze.Guard(func() {
		st.Read(func(v gapValue) {
			read = true
			got = v
			got.Name = strings.Clone(v.Name)
			if inside != nil {
				inside()
			}
		})
	})
	return got, read, err
}

func TestStoreReaderLoadingAReleasedVersionStartsAgain(t *testing.T) {
	t.Run("publish in the gap", func(t *testing.T) {
		var st Store[gapValue]
		defer func() { assert.NoError(t, st.Close()) }()
		_, err := st.Publish(makeGapValue(1))
		require.NoError(t, err)

		var gapErr error
		var gapStats StoreStats
		inReadersGap(t, func() {
			_, gapErr = st.Publish(makeGapValue(2))
			gapStats = st.Stats()
		})
		var inside StoreStats
		got, read, err := guardedRead(&st, func() {
			// Replace the version being read: it must stay until we leave.
			if _, err := st.Publish(makeGapValue(3)); err != nil {
				t.Error(err)
			}
			inside = st.Stats()
		})
		require.NoError(t, err, "the reader read a version released before it announced itself")
		require.NoError(t, gapErr)
		assert.Equal(t, StoreStats{Published: 2, Released: 1}, gapStats,
			"version 1 had no announced reader when replaced: released at once")
		require.True(t, read, "the callback did not run")
		assert.Equal(t, makeGapValue(2), got, "the reader did not start again on the current version")
		assert.Equal(t, StoreStats{Published: 3, Released: 1}, inside,
			"version 2 was released while its reader was inside Read")
		assert.Equal(t, StoreStats{Published: 3, Released: 2}, st.Stats(),
			"version 2 was not released when its last reader left")
	})

	t.Run("close in the gap", func(t *testing.T) {
		var st Store[gapValue]
		_, err := st.Publish(makeGapValue(1))
		require.NoError(t, err)

		var closeErr error
		inReadersGap(t, func() { closeErr = st.Close() })
		got, read, err := guardedRead(&st, nil)
		require.NoError(t, err, "the reader read a version released before it announced itself")
		require.NoError(t, closeErr)
		require.True(t, read, "the callback did not run")
		assert.Equal(t, gapValue{}, got, "a Read after Close sees the zero value")
		assert.Equal(t, StoreStats{Published: 1, Released: 1}, st.Stats())
	})
}

// A replaced version that the kernel refuses to release (injected here)
// is not lost: it stays mapped, uncounted, and every later Publish and
// Close tries it again; Close reports the versions that still fail.
func TestStoreRetriesFailedReleases(t *testing.T) {
	arenasBefore := arena.ReadStats().Arenas
	injected := errors.New("injected release failure")
	failRelease := func(fail bool) {
		offheap.SetFailpoint(func(s string) error {
			if fail && s == "release" {
				return injected
			}
			return nil
		})
	}
	t.Cleanup(func() { offheap.SetFailpoint(nil) })

	var st Store[gapValue]
	_, err := st.Publish(makeGapValue(1))
	require.NoError(t, err)
	failRelease(true)
	_, err = st.Publish(makeGapValue(2))
	require.NoError(t, err, "a failed release of the replaced version is no failure of Publish")
	assert.Equal(t, StoreStats{Published: 2, Released: 0}, st.Stats())

	failRelease(false)
	_, err = st.Publish(makeGapValue(3))
	require.NoError(t, err)
	assert.Equal(t, StoreStats{Published: 3, Released: 2}, st.Stats(),
		"Publish did not retry version 1 (version 2 it replaced itself)")

	failRelease(true)
	err = st.Close()
	require.ErrorIs(t, err, injected, "Close hid a version it could not release")
	assert.Equal(t, StoreStats{Published: 3, Released: 2}, st.Stats())
	require.ErrorIs(t, st.Close(), injected, "a second Close did not try again")

	failRelease(false)
	require.NoError(t, st.Close())
	assert.Equal(t, StoreStats{Published: 3, Released: 3}, st.Stats())
	assert.Equal(t, arenasBefore, arena.ReadStats().Arenas, "a version's arena is still live")
	require.NoError(t, st.Close(), "Close is idempotent once every version is released")
}

// A Publish that Close overtakes releases the snapshot it took; if that
// release fails, the snapshot waits, counted, for Close to try it again,
// like a replaced version whose release failed, instead of staying mapped
// with nothing left to release it.
func TestPublishOvertakenByCloseKeepsAFailedRelease(t *testing.T) {
	arenas := arena.ReadStats().Arenas
	injected := errors.New("injected release failure")
	var st Store[gapValue]
	closed, failRelease := false, true
	offheap.SetFailpoint(func(step string) error {
		switch {
		case step == "validate" && !closed: // in Publish's Take, before it locks again
			closed = true
			assert.NoError(t, st.Close())
		case step == "release" && failRelease:
			return injected
		}
		return nil
	})
	defer offheap.SetFailpoint(nil)

	_, err := st.Publish(makeGapValue(1))
	require.ErrorIs(t, err, arena.ErrClosed)
	require.ErrorIs(t, err, injected)
	assert.Equal(t, StoreStats{Published: 1, Released: 0}, st.Stats())
	assert.Equal(t, arenas+1, arena.ReadStats().Arenas)

	require.ErrorIs(t, st.Close(), injected, "Close reports the release that still fails")
	failRelease = false
	require.NoError(t, st.Close(), "and releases it once it can")
	assert.Equal(t, StoreStats{Published: 1, Released: 1}, st.Stats())
	assert.Equal(t, arenas, arena.ReadStats().Arenas)
}

// A Close that comes while a concurrent Publish is releasing the version
// it replaced, a release that then fails, retries that release before it
// returns, and the version is released. (Close meets the Publish here at
// the store's failMu, which the release holds and Close takes too; that
// Close waits for a Publish that holds no lock is held by
// TestCloseWaitsForAPublishBetweenReplacingAndRetiring.)
func TestCloseWaitsForTheReleaseOfAPublish(t *testing.T) {
	injected := errors.New("injected release failure")
	inRelease, finish := make(chan struct{}), make(chan struct{})
	var releases atomic.Int32
	offheap.SetFailpoint(func(step string) error {
		if step == "release" && releases.Add(1) == 1 { // version 1, replaced by Publish
			close(inRelease)
			<-finish
			return injected
		}
		return nil
	})
	defer offheap.SetFailpoint(nil)

	var st Store[gapValue]
	_, err := st.Publish(makeGapValue(1))
	require.NoError(t, err)
	published := make(chan error)
	go func() {
		_, err := st.Publish(makeGapValue(2))
		published <- err
	}()
	<-inRelease
	closed := make(chan error)
	go func() { closed <- st.Close() }()
	// Give Close time to get past its own release (version 2's), so that
	// it meets the Publish while version 1's release is under way.
	time.Sleep(20 * time.Millisecond)
	close(finish)
	require.NoError(t, <-published, "a failed release of the replaced version is no failure of Publish")
	require.NoError(t, <-closed, "Close's retry of version 1 failed")
	assert.Equal(t, StoreStats{Published: 2, Released: 2}, st.Stats(), "Close left version 1 unreleased")
}

// Close waits for a Publish that has replaced the current version and
// not yet retired the one it replaced: Close returns only once that
// version is released, or, if its release failed, kept for a retry that
// Close makes and whose error it returns; Stats after Close count it.
// Without the wait, Close returned at once, the replaced version still
// mapped and uncounted, and a release of it that failed went unreported.
// (TestCloseWaitsForTheReleaseOfAPublish stops the Publish inside the
// release, under a lock Close takes too, so Close waits there even
// without it.) The Publish stops between replacing and retiring, holding
// no lock, and synctest.Wait returns once Close has either returned or
// is blocked: no sleep decides the order.
func TestCloseWaitsForAPublishBetweenReplacingAndRetiring(t *testing.T) {
	injected := errors.New("injected release failure")
	for _, failing := range []bool{false, true} {
		name := "release succeeds"
		if failing {
			name = "release fails"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var st Store[gapValue]
				_, err := st.Publish(makeGapValue(1))
				require.NoError(t, err)

				replaced, retire := make(chan struct{}), make(chan struct{})
				require.Nil(t, testHookBeforeRetire, "hook already set")
				testHookBeforeRetire = func() { close(replaced); <-retire }
				defer func() { testHookBeforeRetire = nil }()
				published := make(chan error)
				go func() {
					_, err := st.Publish(makeGapValue(2))
					published <- err
				}()
				<-replaced // version 2 is current, version 1 not yet retired

				closed := make(chan error, 1)
				var afterClose StoreStats
				go func() {
					err := st.Close() // retires and releases version 2
					afterClose = st.Stats()
					closed <- err
				}()
				synctest.Wait() // Close has returned, or waits for the Publish
				returnedEarly := len(closed) == 1

				var fail atomic.Bool // read by the Publish, after retire is closed
				if failing {
					fail.Store(true)
					offheap.SetFailpoint(func(step string) error {
						if step == "release" && fail.Load() {
							return injected
						}
						return nil
					})
					defer offheap.SetFailpoint(nil)
				}
				close(retire)
				require.NoError(t, <-published, "a failed release of the replaced version is no failure of Publish")
				closeErr := <-closed
				assert.False(t, returnedEarly, "Close returned while a Publish had not yet retired the version it replaced")
				if !failing {
					require.NoError(t, closeErr)
					assert.Equal(t, StoreStats{Published: 2, Released: 2}, afterClose, "Close left version 1 unreleased")
					return
				}
				require.ErrorIs(t, closeErr, injected, "Close did not report the version whose release failed")
				assert.Equal(t, StoreStats{Published: 2, Released: 1}, afterClose)
				fail.Store(false)
				require.NoError(t, st.Close(), "a second Close did not release the version kept for a retry")
				assert.Equal(t, StoreStats{Published: 2, Released: 2}, st.Stats())
			})
		})
	}
}

// A replaced version stays mapped while a reader is counted on any of its
// stripes, the last one included, and is released when that reader
// leaves. Readers take a stripe at random, so the tests through Read meet
// each stripe only by chance; here every stripe holds the reader in turn.
func TestStoreKeepsAVersionReadOnAnyStripe(t *testing.T) {
	require.GreaterOrEqual(t, stripeCount, 4)
	var st Store[gapValue]
	defer st.Close()
	_, err := st.Publish(makeGapValue(0))
	require.NoError(t, err)
	for s := range stripeCount {
		t.Run("stripe="+strconv.Itoa(s), func(t *testing.T) {
			v := st.cur.Load()
			v.readers[s].n.Add(1) // a reader on stripe s, as enter announces it
			before := st.Stats().Released
			_, err := st.Publish(makeGapValue(s + 1))
			require.NoError(t, err)
			require.True(t, v.retired.Load())
			assert.False(t, v.released.Load(), "released under a reader on stripe %d", s)
			assert.Equal(t, before, st.Stats().Released)
			assert.Equal(t, s, v.snap.Value().Seq, "the version is still readable")
			v.leave(s)
			assert.True(t, v.released.Load(), "the last reader's leave did not release the version")
			assert.Equal(t, before+1, st.Stats().Released)
		})
	}
}
