//go:build unix && !aix

package snapshot_test

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/offheap"
	"github.com/frozen-go/frozen/snapshot"
)

type counter struct{ N int }

// aliasStore returns a Store publishing in Alias mode, the one mode that
// freeze.Update works in, and its first version, baselined.
func aliasStore(t *testing.T) (*snapshot.Store[counter], *snapshot.Snapshot[counter]) {
	t.Helper()
	st := new(snapshot.Store[counter])
	st.Configure(snapshot.WithMode(freeze.Alias))
	v1, err := st.Publish(counter{N: 1})
	require.NoError(t, err)
	require.NoError(t, v1.Region().Wait())
	return st, v1
}

// settle is how long a test lets another goroutine reach the call it is
// to be blocked in: long enough on a loaded machine that it usually has;
// if it has not, the test passes without having tested the race.
const settle = 100 * time.Millisecond

// within fails the test unless n results arrive on done, each nil, in
// time: a Store call that waits for an Update whose function waits for
// that call never returns.
func within(t *testing.T, done <-chan error, n int, what string) {
	t.Helper()
	for range n {
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("deadlock: " + what)
		}
	}
}

// balanced checks that every version published was released.
func balanced(t *testing.T, st *snapshot.Store[counter]) {
	t.Helper()
	s := st.Stats()
	assert.Equal(t, s.Published, s.Released, "versions published and released")
}

// A Publish inside the function of an Update of the current version
// replaces it but cannot release it (its memory is being written, under
// the lock the Update holds): the version is kept, and released as soon
// as the Update returns.
func TestStorePublishInsideAnUpdateOfTheCurrentVersionKeepsIt(t *testing.T) {
	st, v1 := aliasStore(t)
	require.NoError(t, freeze.Update(v1.Region(), v1.Pointer(), func(w *counter) {
		w.N = 10
		_, err := st.Publish(counter{N: 2})
		assert.NoError(t, err)
		assert.Equal(t, snapshot.StoreStats{Published: 2, Released: 0}, st.Stats(), "v1 kept, v2 current")
	}))
	assert.Equal(t, snapshot.StoreStats{Published: 2, Released: 1}, st.Stats(), "v1 released when the Update returned")
	_, err := st.Publish(counter{N: 3})
	require.NoError(t, err)
	require.NoError(t, st.Close())
	balanced(t, st)
}

// A Publish on another goroutine that retries the release of a version
// an Update is running on must not wait for the Update while holding
// what the Update's own Publish needs: it leaves the version for later.
func TestStorePublishInsideAnUpdateWhileAnotherPublishRetriesItsVersion(t *testing.T) {
	st, v1 := aliasStore(t)
	kept := make(chan struct{})
	done := make(chan error, 2)
	go func() {
		done <- freeze.Update(v1.Region(), v1.Pointer(), func(w *counter) {
			w.N = 10
			_, err := st.Publish(counter{N: 2}) // v1 cannot be released inside its Update: kept
			assert.NoError(t, err)
			close(kept)
			time.Sleep(settle) // the other goroutine's Publish now retries v1
			_, err = st.Publish(counter{N: 3})
			assert.NoError(t, err)
		})
	}()
	go func() {
		<-kept
		_, err := st.Publish(counter{N: 4})
		done <- err
	}()
	within(t, done, 2, "a Publish inside an Update waits for a Publish that waits for the Update")
	require.NoError(t, st.Close())
	balanced(t, st)
}

// A Store.Close inside the function of an Update must not wait for a
// Publish on another goroutine whose release of the version waits for the
// Update: the Publish leaves the version for later, and Close reports it
// as still unreleased until a Close after the Update releases it. Close
// comes once the Publish has made its version current, so that it meets
// the Publish's release of v1, or follows it. (After a fixed pause
// instead, a Publish slowed down for longer on a loaded machine came
// after Close and failed as a Publish on a closed Store.)
func TestStoreCloseInsideAnUpdateWhileAnotherPublishReleasesItsVersion(t *testing.T) {
	st, v1 := aliasStore(t)
	inside := make(chan struct{})
	done := make(chan error, 2)
	go func() {
		done <- freeze.Update(v1.Region(), v1.Pointer(), func(w *counter) {
			w.N = 10
			close(inside)
			for st.Stats().Published < 2 { // the other goroutine's Publish now releases v1
				runtime.Gosched()
			}
			err := st.Close()
			assert.ErrorIs(t, err, freeze.ErrInsideUpdate, "v1 cannot be released inside its Update")
		})
	}()
	go func() {
		<-inside
		_, err := st.Publish(counter{N: 2})
		done <- err
	}()
	within(t, done, 2, "a Store.Close inside an Update waits for a Publish that waits for the Update")
	require.NoError(t, st.Close(), "after the Update, Close releases v1")
	balanced(t, st)
}

// A version an Update is running on, on another goroutine, when the
// Store releases it is kept, with an error wrapping freeze.ErrBusy from
// Close, until the Update ends and releases it.
func TestStoreCloseWhileAnUpdateRunsOnAnotherGoroutine(t *testing.T) {
	st, v1 := aliasStore(t)
	finish, result := updateInside(v1, nil)
	assert.ErrorIs(t, st.Close(), freeze.ErrBusy)
	assert.Equal(t, snapshot.StoreStats{Published: 1, Released: 0}, st.Stats(), "v1 kept")
	finish()
	assert.Nil(t, <-result)
	balanced(t, st)
	require.NoError(t, st.Close(), "nothing left to release")
}

// A version whose release failed because an Update of it was running is
// still the Store's: its owner's Close is refused at once (it neither
// waits for the Update nor releases the version behind the Store's back),
// a second Store.Close does not wait either, and the end of the Update
// releases it.
func TestStoreKeepsAVersionWhoseReleaseWaitsForAnUpdate(t *testing.T) {
	st, v1 := aliasStore(t)
	finish, result := updateInside(v1, nil)
	assert.ErrorIs(t, st.Close(), freeze.ErrBusy, "v1 kept")
	done := make(chan error, 1)
	go func() { done <- v1.Close() }()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, snapshot.ErrOwnedByStore)
	case <-time.After(10 * time.Second):
		t.Error("the owner's Close of a version the Store kept waits for an Update")
	}
	closed := make(chan error, 1)
	go func() { closed <- st.Close() }()
	select {
	case err := <-closed:
		assert.ErrorIs(t, err, freeze.ErrBusy)
	case <-time.After(10 * time.Second):
		t.Error("deadlock: Store.Close waits for an Update")
	}
	assert.Equal(t, snapshot.StoreStats{Published: 1, Released: 0}, st.Stats(), "v1 kept")
	finish()
	assert.Nil(t, <-result)
	assert.ErrorIs(t, v1.Verify(), arena.ErrClosed, "the end of the Update did not release v1")
	require.NoError(t, st.Close())
	balanced(t, st)
}

// The owner's Close of a version the Store holds is refused at once, even
// while an Update of the version runs on another goroutine: a Close that
// is to fail does not wait for the Update (whose function may be waiting
// for the closing goroutine).
func TestStoreOwnersCloseIsRefusedWithoutWaitingForAnUpdate(t *testing.T) {
	st, v1 := aliasStore(t)
	finish, result := updateInside(v1, nil)
	done := make(chan error, 1)
	go func() { done <- v1.Close() }()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, snapshot.ErrOwnedByStore)
	case <-time.After(10 * time.Second):
		t.Error("the owner's Close of a Store's version waits for an Update")
	}
	finish()
	assert.Nil(t, <-result)
	require.NoError(t, st.Close())
	balanced(t, st)
}

// The owner's Close of a version the Store holds, from inside the
// function of an Update of it, is refused as the Store's, like any other.
func TestStoreOwnersCloseInsideAnUpdateIsRefusedAsTheStores(t *testing.T) {
	st, v1 := aliasStore(t)
	var err error
	require.NoError(t, freeze.Update(v1.Region(), v1.Pointer(), func(*counter) { err = v1.Close() }))
	assert.ErrorIs(t, err, snapshot.ErrOwnedByStore)
	require.NoError(t, st.Close())
	balanced(t, st)
}

// publishAndPanicInRead publishes a new version from inside a Read, whose
// callback then panics: the version it read is replaced and kept by its
// last reader, unwinding, for a Publish or Close to release.
func publishAndPanicInRead(t *testing.T, st *snapshot.Store[counter]) {
	t.Helper()
	defer func() { assert.Equal(t, "reader fails", recover()) }()
	st.Read(func(counter) {
		_, err := st.Publish(counter{N: 2})
		assert.NoError(t, err)
		panic("reader fails")
	})
}

// A version kept by an unwinding reader, whose release by Close is refused
// because an Update of it runs on another goroutine, is released when the
// Update ends, as Close's ErrBusy says.
func TestStoreReleasesAnUnwoundVersionCloseFoundBusyWhenTheUpdateReturns(t *testing.T) {
	st, v1 := aliasStore(t)
	publishAndPanicInRead(t, st)
	assert.Equal(t, snapshot.StoreStats{Published: 2, Released: 0}, st.Stats(), "v1 kept by the unwinding reader")
	finish, result := updateInside(v1, nil)
	assert.ErrorIs(t, st.Close(), freeze.ErrBusy)
	finish()
	assert.Nil(t, <-result)
	balanced(t, st)
}

// So is one whose release by Close inside the Update's function is
// refused there.
func TestStoreReleasesAnUnwoundVersionCloseFoundInsideItsUpdateWhenTheUpdateReturns(t *testing.T) {
	st, v1 := aliasStore(t)
	require.NoError(t, freeze.Update(v1.Region(), v1.Pointer(), func(*counter) {
		publishAndPanicInRead(t, st)
		assert.ErrorIs(t, st.Close(), freeze.ErrInsideUpdate)
	}))
	balanced(t, st)
}

// readInside starts a Read of st whose callback stays inside until leave
// is called; it returns once the reader is inside, and leave once the
// Read has returned.
func readInside(st *snapshot.Store[counter]) (leave func()) {
	in, out, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		st.Read(func(counter) { close(in); <-out })
	}()
	<-in
	return func() { close(out); <-done }
}

// updateInside starts an Update of v's value whose function waits until
// finish is called and then runs then, if not nil; it returns once the
// function is inside. result receives what the Update returned, or what
// its function panicked with.
func updateInside(v *snapshot.Snapshot[counter], then func()) (finish func(), result <-chan any) {
	in, out, done := make(chan struct{}), make(chan struct{}), make(chan any, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- p
			}
		}()
		err := freeze.Update(v.Region(), v.Pointer(), func(w *counter) {
			close(in)
			<-out
			if then != nil {
				then()
			}
		})
		done <- err
	}()
	<-in
	return func() { close(out) }, done
}

// The last reader of a retired version that leaves while an Update of it
// runs on another goroutine cannot release it (the Store does not wait
// for Updates); the end of the Update does, even after Close has returned
// and no Publish or Close is to come.
func TestStoreReleasesAVersionLeftDuringAnUpdateWhenTheUpdateReturns(t *testing.T) {
	st, v1 := aliasStore(t)
	leave := readInside(st)
	finish, result := updateInside(v1, nil)
	require.NoError(t, st.Close(), "a reader is inside v1: Close leaves its release to that reader")
	leave() // the last reader leaves while the Update runs
	assert.Equal(t, snapshot.StoreStats{Published: 1, Released: 0}, st.Stats(), "v1 kept while the Update runs")
	finish()
	assert.Nil(t, <-result)
	balanced(t, st)
	assert.ErrorIs(t, v1.Verify(), arena.ErrClosed, "v1 released")
}

// So does the end of an Update whose function panicked.
func TestStoreReleasesAVersionLeftDuringAnUpdateThatPanicked(t *testing.T) {
	st, v1 := aliasStore(t)
	leave := readInside(st)
	finish, result := updateInside(v1, func() { panic("f fails") })
	require.NoError(t, st.Close())
	leave() // the last reader leaves while the Update runs
	finish()
	assert.Equal(t, "f fails", <-result)
	balanced(t, st)
	assert.ErrorIs(t, v1.Verify(), arena.ErrClosed, "v1 released")
}

// The last reader's release, refused because an Update runs, and the
// retry at the Update's end may come in either order, and close together:
// the version is released either way. (Kept only after the Update's end
// had looked for it, it would never be.) The Update is held at its last
// step for a random moment, to spread the two over each other.
func TestStoreReleaseAndTheEndOfAnUpdateInEitherOrder(t *testing.T) {
	t.Cleanup(func() { offheap.SetFailpoint(nil) })
	lost := 0
	for range 300 {
		st, v1 := aliasStore(t)
		leave := readInside(st)
		gate := make(chan struct{})
		hold := time.Duration(rand.IntN(30_000))
		offheap.SetFailpoint(func(step string) error {
			if step == "update-rehashed" {
				<-gate
				for start := time.Now(); time.Since(start) < hold; {
				}
			}
			return nil
		})
		finish, result := updateInside(v1, nil)
		require.NoError(t, st.Close())
		finish()
		time.Sleep(200 * time.Microsecond) // the Update reaches the failpoint
		close(gate)
		leave()
		require.Nil(t, <-result)
		offheap.SetFailpoint(nil)
		if s := st.Stats(); s.Published != s.Released {
			lost++
			require.NoError(t, st.Close())
		}
	}
	assert.Zero(t, lost, "versions never released")
}

// The end of an Update whose function is unwinding from a panic leaves
// alone a version kept by a reader unwinding from the same panic: a Guard
// further up names the stray write that caused it only while the version
// is mapped.
func TestStoreGuardNamesAWriteInsideAReadInsideAnUpdate(t *testing.T) {
	var st snapshot.Store[*counter]
	st.Configure(snapshot.WithMode(freeze.Alias))
	v1, err := st.Publish(&counter{N: 1})
	require.NoError(t, err)
	require.NoError(t, v1.Region().Wait())
	err = freeze.Guard(func() {
		_ = freeze.Update(v1.Region(), v1.Pointer(), func(w **counter) {
			st.Read(func(v *counter) {
				_, err := st.Publish(&counter{N: 2})
				assert.NoError(t, err)
				v.N = 99 // a stray write into v1
			})
		})
	})
	var wf *freeze.WriteFault
	require.ErrorAs(t, err, &wf, "the write was not reported as a write fault")
	assert.Equal(t, "store", wf.Region)
	require.NoError(t, st.Close())
	stats := st.Stats()
	assert.Equal(t, stats.Published, stats.Released, "versions published and released")
}
