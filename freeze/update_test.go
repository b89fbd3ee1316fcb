//go:build unix

package freeze_test

import (
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/offheap"
	"github.com/frozen-go/frozen/internal/vm"
)

func TestUpdateIsSeenByReadersAndRebaselines(t *testing.T) {
	r, owner, ro := frozenConfig(t, freeze.Alias)
	require.NoError(t, freeze.Update(r, ro, func(w *Config) { w.Version = 42 }))
	assert.Equal(t, 42, ro.Version, "the reader sees the owner's update")
	assert.Equal(t, 42, owner.Version)
	require.NoError(t, r.Verify(), "Update re-baselined the checksum")

	// Nested data is reached through the read-only view: update it by
	// handing Update a pointer to it.
	sum := r.Checksum()
	require.NoError(t, freeze.Update(r, &ro.Endpoints[2], func(w *Endpoint) { w.Port = 9090 }))
	assert.Equal(t, uint16(9090), ro.Endpoints[2].Port)
	assert.NotEqual(t, sum, r.Checksum())
	require.NoError(t, r.Verify())

	// Pointers stored by Update must stay in the region: one into the
	// owner's writable mapping is relocated to the read-only view. (The
	// owner's own Endpoints already lead to the view, since Freeze
	// relocated the graph: the writable twin of an element comes from
	// Update.)
	var writable *Endpoint
	require.NoError(t, freeze.Update(r, &ro.Endpoints[0], func(w *Endpoint) { writable = w }))
	require.NotSame(t, &ro.Endpoints[0], writable)
	require.NoError(t, freeze.Update(r, ro, func(w *Config) { w.Primary = writable }))
	assert.Same(t, &ro.Endpoints[0], ro.Primary)
	assert.NotSame(t, &owner.Endpoints[0], writable, "owner.Endpoints leads to the view")
	if maps, err := vm.ReadMaps(); err == nil {
		e, ok := maps.Find(uintptr(unsafe.Pointer(ro.Primary)))
		require.True(t, ok)
		assert.Equal(t, "r--s", e.Perms)
	}
	require.NoError(t, r.Verify())
}

// Update re-baselines every checksum page the value covers: one that
// straddles a boundary between two is checksummed again on both sides.
// (Checksum pages are 4 KiB whatever the system's page size, and the
// arena starts on a system page.)
func TestUpdateAcrossAPageBoundaryRebaselinesBothPages(t *testing.T) {
	a := newArena(t)
	rows := arena.MakeSlice[[100]byte](a, 100)
	r, err := freeze.Freeze(a, freeze.Alias)
	require.NoError(t, err)
	i := 0
	for uintptr(unsafe.Pointer(&rows[i]))%freeze.PageSize <= freeze.PageSize-100 {
		i++ // rows cover 10,000 bytes: one of them straddles a boundary
	}
	ro := freeze.ReadOnly(r, &rows[i])
	require.NoError(t, freeze.Update(r, ro, func(w *[100]byte) { w[0], w[99] = 1, 2 }))
	assert.Equal(t, byte(2), ro[99])
	require.NoError(t, r.Verify(), "both pages were checksummed again")
}

func TestUpdateOutsideAliasModeOrRegion(t *testing.T) {
	r, _, ro := frozenConfig(t, freeze.Protect)
	assert.ErrorIs(t, freeze.Update(r, ro, func(w *Config) {}), freeze.ErrNotAlias)

	ra, _, _ := frozenConfig(t, freeze.Alias)
	assert.ErrorIs(t, freeze.Update(ra, &Config{}, func(w *Config) {}), freeze.ErrNotInRegion)
	assert.Panics(t, func() { freeze.ReadOnly(ra, &Config{}) })
	require.NoError(t, ra.Close())
	assert.ErrorIs(t, freeze.Update(ra, ro, func(w *Config) {}), arena.ErrClosed)

	// An arena that never allocated has no alias view: nothing is in it.
	empty, err := freeze.Freeze(newArena(t), freeze.Alias)
	require.NoError(t, err)
	assert.ErrorIs(t, freeze.Update(empty, &Config{}, func(w *Config) { w.Version = 1 }), freeze.ErrNotInRegion)
}

// An Update whose function panics is undone: its writes were never checked,
// so they are not kept, the panic goes on unchanged, and the region is as
// it was, usable by the next Update.
func TestUpdateThatPanicsIsUndone(t *testing.T) {
	r, _, ro := frozenConfig(t, freeze.Alias)
	sum := r.Checksum()
	assert.PanicsWithValue(t, "half done", func() {
		_ = freeze.Update(r, ro, func(w *Config) {
			w.Version = 99
			w.Limits[2] = 7
			panic("half done")
		})
	})
	assert.Equal(t, 1, ro.Version)
	assert.Equal(t, [4]int32{1, 2, 3, 4}, ro.Limits)
	require.NoError(t, r.Verify(), "the bytes are back as the baseline has them")
	assert.Equal(t, sum, r.Checksum())
	require.NoError(t, freeze.Update(r, ro, func(w *Config) { w.Version = 2 }))
	assert.Equal(t, 2, ro.Version)
}

// What Update's function may call on its own region: Update holds the
// region's lock while f runs, and calls that read the region from inside
// f must not wait for it (they did, forever). Close and a nested Update
// are refused instead.
func TestCallsFromInsideUpdate(t *testing.T) {
	r, owner, ro := frozenConfig(t, freeze.Alias)
	before := r.Checksum()
	var (
		primary   *Endpoint
		sum       uint64
		verifyErr error
		guardErr  error
		closeErr  error
		nestedErr error
		permErr   error
	)
	done := make(chan error, 1)
	go func() {
		done <- freeze.Update(r, ro, func(w *Config) {
			primary = freeze.ReadOnly(r, &owner.Endpoints[2])
			w.Primary = primary
			w.Version = 5
			sum = r.Checksum()
			verifyErr = r.Verify()
			guardErr = freeze.Guard(func() { ro.Endpoints[0].Port = 1 })
			closeErr = r.Close()
			nestedErr = freeze.Update(r, ro, func(w *Config) { w.Version = 6 })
			permErr = r.Permanent() // took the lock before looking at the mode
		})
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("Update did not return: a call from inside its function waited for the region's lock")
	}
	assert.Equal(t, before, sum, "inside f, Checksum is the one from before the Update")
	var ce *freeze.CorruptionError
	assert.ErrorAs(t, verifyErr, &ce, "inside f, Verify sees f's writes so far")
	var wf *freeze.WriteFault
	require.ErrorAs(t, guardErr, &wf)
	assert.Equal(t, r.Name(), wf.Region)
	if !vm.FaultPageOnly { // where the kernel gives the address, the field is named
		assert.Equal(t, "*Config.Endpoints[0].Port", wf.Path)
	}
	assert.ErrorIs(t, closeErr, freeze.ErrInsideUpdate)
	assert.ErrorIs(t, nestedErr, freeze.ErrInsideUpdate)
	assert.ErrorIs(t, permErr, freeze.ErrModeUnsupported)

	// Afterwards: the Update took, and everything works from outside.
	assert.Same(t, &ro.Endpoints[2], ro.Primary)
	assert.Equal(t, 5, ro.Version)
	assert.NotEqual(t, before, r.Checksum())
	require.NoError(t, r.Verify())
	require.NoError(t, r.Close())
}

type twoSlices struct{ A, B []int }

// A slice that Update stores is cut to cap == len like every slice in
// frozen memory (invariant 5), so a reader's append copies to the heap
// instead of writing into the frozen elements after it.
func TestUpdateKeepsCapEqualToLen(t *testing.T) {
	a := newArena(t)
	c, err := arena.Clone(a, &twoSlices{A: []int{1, 2, 3}, B: []int{9}})
	require.NoError(t, err)
	r, err := freeze.Freeze(a, freeze.Alias)
	require.NoError(t, err)
	ro := freeze.ReadOnly(r, c)
	require.NoError(t, freeze.Update(r, ro, func(w *twoSlices) { w.B = ro.A[:1] }))
	require.NoError(t, r.Verify(), "the cut capacity is part of the new baseline")
	assert.Equal(t, []int{1}, ro.B)
	assert.Equal(t, 1, cap(ro.B))
	var grown []int
	require.NoError(t, freeze.Guard(func() { grown = append(ro.B, 7) }), "append wrote into frozen memory")
	assert.Equal(t, []int{1, 7}, grown)
	assert.Equal(t, []int{1, 2, 3}, ro.A)
}

// Update takes the checksums of the pages its value lies on again, and
// must not take in a change made there by another route: before, it
// re-baselined the whole page, and a stray write beside the value
// vanished from Verify. A page that changed since its checksum was taken
// refuses the Update (f is not run); a change beside the value while f
// runs undoes it; the checksums stay, and Verify goes on reporting.
func TestUpdateNeverBaselinesAChangeMadeAnotherWay(t *testing.T) {
	refusedOrUndone := func(t *testing.T, r *freeze.Region, err error, want string) {
		t.Helper()
		require.Error(t, err)
		assert.Contains(t, err.Error(), want)
		var ce *freeze.CorruptionError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, []int{0}, ce.Pages)
		var again *freeze.CorruptionError
		require.ErrorAs(t, r.Verify(), &again, "the checksums still describe the page as frozen")
		assert.Equal(t, ce.Pages, again.Pages)
	}
	t.Run("stray write beside the value", func(t *testing.T) {
		r, owner, ro := frozenConfig(t, freeze.Alias)
		owner.Limits[0] = 99 // through the owner's mapping, not Update
		ran := false
		err := freeze.Update(r, &ro.Version, func(w *int) { ran = true; *w = 2 })
		refusedOrUndone(t, r, err, "refused")
		assert.False(t, ran, "f is not run")
		assert.Equal(t, 1, ro.Version)
	})
	t.Run("stray write into the value", func(t *testing.T) {
		r, owner, ro := frozenConfig(t, freeze.Alias)
		owner.Version = 7
		err := freeze.Update(r, ro, func(w *Config) { w.Name = w.Endpoints[0].Host })
		refusedOrUndone(t, r, err, "refused")
		assert.Equal(t, "svc", ro.Name)
	})
	t.Run("f writes beside the value", func(t *testing.T) {
		r, owner, ro := frozenConfig(t, freeze.Alias)
		err := freeze.Update(r, &ro.Version, func(w *int) {
			*w = 2
			owner.Limits[3] = 40
		})
		refusedOrUndone(t, r, err, "undone")
		assert.Equal(t, 1, ro.Version, "the value's own change was undone")
		assert.Equal(t, int32(40), ro.Limits[3], "the other is left for Verify to report")
	})
	t.Run("stray write inside a value of many pages", func(t *testing.T) {
		a := newArena(t)
		big := arena.New[[3 * freeze.PageSize]byte](a)
		r, err := freeze.Freeze(a, freeze.Alias)
		require.NoError(t, err)
		ro := freeze.ReadOnly(r, big)
		big[freeze.PageSize+10] = 1 // the middle page, wholly the value's
		err = freeze.Update(r, ro, func(w *[3 * freeze.PageSize]byte) { w[0] = 1 })
		require.Error(t, err)
		var ce *freeze.CorruptionError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, []int{1}, ce.Pages)
		assert.Zero(t, ro[0])
		require.Error(t, r.Verify())
	})
	t.Run("a clean page still updates", func(t *testing.T) {
		r, _, ro := frozenConfig(t, freeze.Alias)
		require.NoError(t, freeze.Update(r, &ro.Version, func(w *int) { *w = 3 }))
		require.NoError(t, freeze.Update(r, &ro.Limits, func(w *[4]int32) { w[1] = 5 }))
		assert.Equal(t, int32(5), ro.Limits[1])
		require.NoError(t, r.Verify())
	})
}

// A value over three pages: the bytes outside it on its first page and on
// its last are both checked after f (a check of one of them only would
// pass the tests above, whose values lie on one page).
func TestUpdateChecksBothEndsOfAValueOfManyPages(t *testing.T) {
	type three [2 * freeze.PageSize]byte // at offset 100: pages 0, 1 and 2
	setup := func(t *testing.T) (*freeze.Region, []byte, []byte, *three) {
		a := newArena(t)
		pre := arena.MakeSlice[byte](a, 100)
		v := arena.New[three](a)
		post := arena.MakeSlice[byte](a, 50)
		r, err := freeze.Freeze(a, freeze.Alias)
		require.NoError(t, err)
		return r, pre, post, freeze.ReadOnly(r, v)
	}
	undone := func(t *testing.T, r *freeze.Region, err error, page int) {
		t.Helper()
		var ce *freeze.CorruptionError
		require.ErrorAs(t, err, &ce)
		assert.Contains(t, err.Error(), "undone")
		assert.Equal(t, []int{page}, ce.Pages)
		require.Error(t, r.Verify())
	}
	t.Run("first page", func(t *testing.T) {
		r, pre, _, ro := setup(t)
		err := freeze.Update(r, ro, func(w *three) { w[len(w)-1] = 1; pre[0] = 9 })
		undone(t, r, err, 0)
		assert.Zero(t, ro[len(ro)-1])
	})
	t.Run("last page", func(t *testing.T) {
		r, _, post, ro := setup(t)
		err := freeze.Update(r, ro, func(w *three) { w[0] = 1; post[49] = 9 })
		undone(t, r, err, 2)
		assert.Zero(t, ro[0])
	})
	t.Run("clean", func(t *testing.T) {
		r, _, _, ro := setup(t)
		require.NoError(t, freeze.Update(r, ro, func(w *three) { w[0], w[5000], w[len(w)-1] = 1, 2, 3 }))
		assert.Equal(t, byte(3), ro[len(ro)-1])
		require.NoError(t, r.Verify())
	})
	// A write beside the value after f has returned, once Update has
	// taken the new checksums: the check that follows sees it. (Update
	// took the checksums after the check, and so took such a write in.)
	t.Run("after f", func(t *testing.T) {
		r, _, post, ro := setup(t)
		offheap.SetFailpoint(func(step string) error {
			if step == "update-rehashed" {
				post[0] = 7
			}
			return nil
		})
		defer offheap.SetFailpoint(nil)
		err := freeze.Update(r, ro, func(w *three) { w[0] = 1 })
		undone(t, r, err, 2)
	})
}

// A pointer written into the value through the owner's mapping while
// Update hashes it (by another goroutine; here at the failpoint just after
// the hashing) is not taken in unchecked: Update checks the value's
// pointer words again after hashing and undoes itself. Here the pointer
// leads into the owner's writable mapping, which no reader may hold.
func TestUpdateRechecksPointersWrittenWhileItHashes(t *testing.T) {
	r, owner, ro := frozenConfig(t, freeze.Alias)
	var writable *Endpoint
	require.NoError(t, freeze.Update(r, &ro.Endpoints[0], func(w *Endpoint) { writable = w }))
	offheap.SetFailpoint(func(step string) error {
		if step == "update-rehashed" {
			owner.Primary = writable // the owner's own, unrelocated
		}
		return nil
	})
	defer offheap.SetFailpoint(nil)
	err := freeze.Update(r, ro, func(w *Config) { w.Version = 5 })
	require.ErrorIs(t, err, arena.ErrForeignPointer)
	assert.ErrorContains(t, err, "changed while Update ran")
	assert.Equal(t, 1, ro.Version, "undone")
	assert.Same(t, &ro.Endpoints[1], ro.Primary, "the old bytes are back")
	require.NoError(t, r.Verify())
}
