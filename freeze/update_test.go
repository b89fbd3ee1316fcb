//go:build unix && !aix

package freeze_test

import (
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"
	"weak"

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

	// f changes a copy: what it is given is neither the reader's value
	// nor the owner's.
	var given *Config
	require.NoError(t, freeze.Update(r, ro, func(w *Config) { given = w }))
	assert.NotSame(t, ro, given)
	assert.NotSame(t, owner, given)
	require.NoError(t, r.Verify())
}

// aliasConfigKeepingAWritablePointer freezes a cloned config in Alias mode
// and returns the region, the owner's config, the readers' config, and a
// pointer to the first endpoint in the owner's writable mapping, taken
// before Freeze relocated the graph to the read-only view.
func aliasConfigKeepingAWritablePointer(t *testing.T) (r *freeze.Region, owner, ro *Config, writable *Endpoint) {
	t.Helper()
	a := newArena(t)
	owner, err := arena.Clone(a, newConfig())
	require.NoError(t, err)
	writable = &owner.Endpoints[0]
	r, err = freeze.Freeze(a, freeze.Alias)
	require.NoError(t, err)
	return r, owner, freeze.ReadOnly(r, owner), writable
}

// Pointers stored by Update must stay in the region: one into the owner's
// writable mapping (kept from before Freeze, which relocated the graph
// itself to the read-only view) is relocated to the view.
func TestUpdateRelocatesPointersIntoTheWritableMapping(t *testing.T) {
	r, _, ro, writable := aliasConfigKeepingAWritablePointer(t)
	require.NotSame(t, &ro.Endpoints[0], writable)
	require.NoError(t, freeze.Update(r, ro, func(w *Config) { w.Primary = writable }))
	assert.Same(t, &ro.Endpoints[0], ro.Primary)
	if maps, err := vm.ReadMaps(); err == nil {
		e, ok := maps.Find(uintptr(unsafe.Pointer(ro.Primary)))
		require.True(t, ok)
		assert.Equal(t, "r--s", e.Perms)
	}
	require.NoError(t, r.Verify())
}

// What f stores stays alive while f runs: f works on a copy of the value on
// the Go heap, which the garbage collector scans. (When f wrote into
// arena memory, which it does not scan, an object only f's writes
// referred to was collected under f, and f read freed memory.)
func TestUpdateKeepsWhatFStoresAliveWhileFRuns(t *testing.T) {
	r, _, ro := frozenConfig(t, freeze.Alias)
	var collected bool
	var host string
	err := freeze.Update(r, ro, func(w *Config) {
		e := &Endpoint{Host: strings.Repeat("h", 40)}
		wp := weak.Make(e)
		w.Primary = e
		runtime.GC()
		collected = wp.Value() == nil
		host = w.Primary.Host
	})
	require.ErrorIs(t, err, arena.ErrForeignPointer)
	assert.False(t, collected, "the object f stored was collected while f ran")
	assert.Equal(t, strings.Repeat("h", 40), host)
	assert.Equal(t, "b", ro.Primary.Host, "nothing was written")
}

// Readers see nothing of f's writes while f runs, not even a pointer into
// the owner's writable mapping before its relocation: f changes a copy.
func TestUpdateWritesNothingBeforeFReturns(t *testing.T) {
	r, _, ro, writable := aliasConfigKeepingAWritablePointer(t)
	var seen *Endpoint
	var version int
	require.NoError(t, freeze.Update(r, ro, func(w *Config) {
		w.Primary, w.Version = writable, 9
		seen, version = ro.Primary, ro.Version
	}))
	assert.Same(t, &ro.Endpoints[1], seen, "a reader saw f's write before it was checked")
	assert.Equal(t, 1, version)
	assert.Same(t, &ro.Endpoints[0], ro.Primary)
	assert.Equal(t, 9, ro.Version)
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
	// Closed, a region of any mode says so, not that its mode is wrong.
	require.NoError(t, r.Close())
	err := freeze.Update(r, ro, func(w *Config) {})
	assert.ErrorIs(t, err, arena.ErrClosed)
	assert.NotErrorIs(t, err, freeze.ErrNotAlias)

	ra, _, _ := frozenConfig(t, freeze.Alias)
	assert.ErrorIs(t, freeze.Update(ra, &Config{}, func(w *Config) {}), freeze.ErrNotInRegion)
	assert.Panics(t, func() { freeze.ReadOnly(ra, &Config{}) })
	refused := func(*map[string]int) { t.Error("f ran for a type Clone refuses") }
	assert.ErrorIs(t, freeze.Update(ra, new(map[string]int), refused), arena.ErrUnsupported)
	require.NoError(t, ra.Close())
	assert.ErrorIs(t, freeze.Update(ra, ro, func(w *Config) {}), arena.ErrClosed)
	// Closed, it says so whatever the type.
	err = freeze.Update(ra, new(map[string]int), refused)
	assert.ErrorIs(t, err, arena.ErrClosed)
	assert.NotErrorIs(t, err, arena.ErrUnsupported)

	// An arena that never allocated has no alias view: nothing is in it.
	empty, err := freeze.Freeze(newArena(t), freeze.Alias)
	require.NoError(t, err)
	assert.ErrorIs(t, freeze.Update(empty, &Config{}, func(w *Config) { w.Version = 1 }), freeze.ErrNotInRegion)

	// Nor is a value that begins in the region and runs past its end
	// (which only unsafe code can point to): f does not run, and nothing
	// past the frozen bytes is written.
	a := newArena(t)
	last := arena.MakeSlice[int64](a, 1)
	last[0] = 7
	rl, err := freeze.Freeze(a, freeze.Alias)
	require.NoError(t, err)
	wide := (*[2]int64)(unsafe.Pointer(&last[0]))
	ran := false
	err = freeze.Update(rl, wide, func(w *[2]int64) { ran, w[1] = true, 9 })
	assert.ErrorIs(t, err, freeze.ErrNotInRegion)
	assert.False(t, ran, "f ran")
	assert.NoError(t, rl.Verify())
}

// A nil func is a mistake in the caller, not a state of the region:
// Update panics saying so, before it reads or locks anything, and the
// region is as it was.
func TestUpdateWithANilFuncPanicsPlainly(t *testing.T) {
	r, _, ro := frozenConfig(t, freeze.Alias)
	sum := r.Checksum()
	assert.PanicsWithValue(t, "freeze.Update: nil func", func() {
		_ = freeze.Update[Config](r, ro, nil)
	})
	assert.Equal(t, sum, r.Checksum())
	require.NoError(t, freeze.Update(r, ro, func(w *Config) { w.Version = 2 }), "the region is not left locked")
	assert.Equal(t, 2, ro.Version)
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
	assert.NoError(t, verifyErr, "inside f, the region is as it was: f changes a copy")
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
		require.NoError(t, r.Wait()) // the owner's mapping is writable again
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

// A stray write on the last page of a value of several pages, made before
// Update, is refused before f runs, as one on its first page is. Where no
// other byte of the region lies on that page (the value ends on a page
// boundary, or ends the region), no check after f looks at the page again:
// only the check before f keeps the write out of the new checksums.
func TestUpdateRefusesAStrayWriteOnTheLastPageOfAValue(t *testing.T) {
	for _, tc := range []struct {
		name      string
		pre, post int // bytes allocated before and after the value
	}{
		{"last page wholly the value's", 0, 0},
		{"value ends the region", 100, 0},
		{"last page shared", 100, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			type two [2 * freeze.PageSize]byte
			a := newArena(t)
			if tc.pre > 0 {
				arena.MakeSlice[byte](a, tc.pre)
			}
			big := arena.New[two](a)
			if tc.post > 0 {
				arena.MakeSlice[byte](a, tc.post)
			}
			r, err := freeze.Freeze(a, freeze.Alias)
			require.NoError(t, err)
			require.NoError(t, r.Wait()) // the owner's mapping is writable again
			ro := freeze.ReadOnly(r, big)
			big[len(big)-10] = 1 // through the owner's mapping, on the value's last page
			ran := false
			err = freeze.Update(r, ro, func(w *two) { ran = true; w[0] = 1 })
			require.Error(t, err)
			assert.Contains(t, err.Error(), "refused")
			assert.False(t, ran, "f is not run")
			var ce *freeze.CorruptionError
			require.ErrorAs(t, err, &ce)
			last := (tc.pre + len(big) - 1) / freeze.PageSize
			assert.Equal(t, []int{last}, ce.Pages)
			assert.Zero(t, ro[0])
			var again *freeze.CorruptionError
			require.ErrorAs(t, r.Verify(), &again, "the checksums still describe the page as frozen")
			assert.Equal(t, []int{last}, again.Pages)
		})
	}
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
	// read the bytes beside it for the new checksums: it is in neither
	// them nor the check, so the Update stands and Verify reports the
	// page. (Update once took the checksums after the check, and so took
	// such a write in.)
	t.Run("after f", func(t *testing.T) {
		r, _, post, ro := setup(t)
		offheap.SetFailpoint(func(step string) error {
			if step == "update-rehashed" {
				post[0] = 7
			}
			return nil
		})
		defer offheap.SetFailpoint(nil)
		require.NoError(t, freeze.Update(r, ro, func(w *three) { w[0] = 1 }))
		assert.Equal(t, byte(1), ro[0])
		var ce *freeze.CorruptionError
		require.ErrorAs(t, r.Verify(), &ce)
		assert.Equal(t, []int{2}, ce.Pages)
	})
}

// A plain write into the value through the owner's mapping by another
// goroutine just after Update wrote the value back (here at the failpoint
// there, on each of a value's pages) is not taken into the new checksums:
// they are those of the bytes Update wrote, and Verify reports the page.
// (Update hashed the value's pages as they were in memory after the write
// back, and took such a write in.)
func TestUpdateTakesNoWriteIntoTheValueMadeAfterItWroteItBack(t *testing.T) {
	type three [2 * freeze.PageSize]byte // at offset 100: pages 0, 1 and 2
	for _, tc := range []struct {
		at   int // index into the value
		page int
	}{{0, 0}, {5000, 1}, {len(three{}) - 1, 2}} {
		t.Run(fmt.Sprint("page ", tc.page), func(t *testing.T) {
			a := newArena(t)
			arena.MakeSlice[byte](a, 100)
			v := arena.New[three](a)
			r, err := freeze.Freeze(a, freeze.Alias)
			require.NoError(t, err)
			ro := freeze.ReadOnly(r, v)
			offheap.SetFailpoint(func(step string) error {
				if step == "update-written" {
					v[tc.at] = 0x5a // the owner's mapping, not through Update
				}
				return nil
			})
			defer offheap.SetFailpoint(nil)
			require.NoError(t, freeze.Update(r, ro, func(w *three) { w[1] = 1 }))
			require.Equal(t, byte(0x5a), ro[tc.at], "the write landed")
			var ce *freeze.CorruptionError
			require.ErrorAs(t, r.Verify(), &ce)
			assert.Equal(t, []int{tc.page}, ce.Pages)
		})
	}
}

// A write beside the value through the owner's mapping, made after the
// write-back and undone before the check of the bytes beside it (another
// goroutine's, here at the failpoints), is not taken into the new
// checksums: Update reads those bytes once, for both, so it sees the
// write, undoes itself and says so, and the same write made for good is
// reported by Verify.
func TestUpdateTakesNoWriteBesideTheValueUndoneBeforeItsCheck(t *testing.T) {
	t.Run("one page", func(t *testing.T) {
		updateBesideUndone(t, func(w *[64]byte) { w[1] = 1 })
	})
	t.Run("three pages", func(t *testing.T) {
		updateBesideUndone(t, func(w *[2 * freeze.PageSize]byte) { w[1] = 1 })
	})
}

// updateBesideUndone updates a T at arena offset 100 with set while a
// write lands beside it, just after the T, between Update's write-back
// and its check.
func updateBesideUndone[T any](t *testing.T, set func(*T)) {
	a := newArena(t)
	arena.MakeSlice[byte](a, 100)
	v := arena.New[T](a)
	beside := arena.MakeSlice[byte](a, 50) // on the value's last page
	r, err := freeze.Freeze(a, freeze.Alias)
	require.NoError(t, err)
	ro := freeze.ReadOnly(r, v)
	before := *ro
	offheap.SetFailpoint(func(step string) error {
		switch step {
		case "update-written":
			beside[0] = 0x5a
		case "update-rehashed":
			beside[0] = 0
		}
		return nil
	})
	err = freeze.Update(r, ro, set)
	offheap.SetFailpoint(nil)
	var ce *freeze.CorruptionError
	require.ErrorAs(t, err, &ce)
	assert.ErrorContains(t, err, "undone")
	assert.Equal(t, before, *ro, "the Update was undone")
	require.NoError(t, r.Verify())
	beside[0] = 0x5a
	require.ErrorAs(t, r.Verify(), &ce)
	assert.Equal(t, []int{(100 + int(unsafe.Sizeof(*v))) / freeze.PageSize}, ce.Pages)
}

// A pointer written into the value through the owner's mapping while
// Update hashes it (by another goroutine; here at the failpoint just after
// the hashing) is not taken in unchecked: Update checks the value's
// pointer words again after hashing and undoes itself. Here the pointer
// leads into the owner's writable mapping, which no reader may hold.
func TestUpdateRechecksPointersWrittenWhileItHashes(t *testing.T) {
	r, owner, ro, writable := aliasConfigKeepingAWritablePointer(t)
	requireUpdateUndoneByOwnerWrite(t, r, ro, func() {
		owner.Primary = writable // the owner's own, unrelocated
	})
	assert.Same(t, &ro.Endpoints[1], ro.Primary, "the old bytes are back")
}

// requireUpdateUndoneByOwnerWrite runs an Update of ro's Version while
// write changes the value through the owner's mapping, at the failpoint
// after Update has written the value back and hashed it, and checks that
// Update undid itself and says why.
func requireUpdateUndoneByOwnerWrite(t *testing.T, r *freeze.Region, ro *Config, write func()) {
	t.Helper()
	offheap.SetFailpoint(func(step string) error {
		if step == "update-rehashed" {
			write()
		}
		return nil
	})
	defer offheap.SetFailpoint(nil)
	err := freeze.Update(r, ro, func(w *Config) { w.Version = 5 })
	require.ErrorIs(t, err, arena.ErrForeignPointer)
	assert.ErrorContains(t, err, "changed while Update ran")
	assert.Equal(t, 1, ro.Version, "undone")
	require.NoError(t, r.Verify())
}

// A slice header of the value changed through the owner's mapping after
// Update wrote the value back (here at the failpoint there) into one that
// still points into the view, but with spare capacity, or reaching past
// the region: readers could append into frozen memory or read past it, so
// the Update is undone, as for a pointer out of the region.
func TestUpdateRechecksSliceHeadersWrittenWhileItHashes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(owner *Config)
	}{
		{"spare capacity", func(owner *Config) { owner.Endpoints = owner.Endpoints[:1] }},
		{"past the region", func(owner *Config) {
			owner.Endpoints = unsafe.Slice(unsafe.SliceData(owner.Endpoints), 1<<20)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, owner, ro := frozenConfig(t, freeze.Alias)
			requireUpdateUndoneByOwnerWrite(t, r, ro, func() { tc.write(owner) })
			assert.Len(t, ro.Endpoints, 3, "the old bytes are back")
			assert.Equal(t, len(ro.Endpoints), cap(ro.Endpoints))
		})
	}
}

// f stores a Go-heap pointer into its copy of the value (on the Go heap, so
// that cgocheck2 has no store to abort on): Update refuses it and writes
// nothing, not even f's other changes.
func TestUpdateRefusesHeapPointersAndRestores(t *testing.T) {
	r, _, ro := frozenConfig(t, freeze.Alias)
	want := *newConfig()
	heap := &Endpoint{Host: "heap"}
	err := freeze.Update(r, ro, func(w *Config) {
		w.Version = 99
		w.Primary = heap
	})
	require.ErrorIs(t, err, arena.ErrForeignPointer)
	assert.Contains(t, err.Error(), "Config.Primary")
	assert.Contains(t, err.Error(), "(Update can store only nil or pointers to what is already in the region, such as ReadOnly's results; nothing was written)")
	assert.Equal(t, 1, ro.Version, "none of the update was written")
	assert.Same(t, &ro.Endpoints[1], ro.Primary)
	assert.True(t, reflect.DeepEqual(&want, ro))
	require.NoError(t, r.Verify())
}

// Holder has an interface field, into which a value of a pointer-shaped
// type (a pointer, map, channel, func, unsafe.Pointer, or a struct of one
// such field) is stored directly, without a box.
type Holder struct{ X any }

type mapBox struct{ m map[int]int }

// heapValuesInInterfaces are values stored directly in an interface's data
// word that point into the Go heap (or, for a func without captures, into
// the binary): none may be frozen into arena memory.
func heapValuesInInterfaces() map[string]any {
	n := 3
	return map[string]any{
		"pointer":        &n,
		"map":            map[int]int{1: 1},
		"chan":           make(chan int, 1),
		"closure":        func() int { n++; return n },
		"func":           strings.ToUpper,
		"unsafe.Pointer": unsafe.Pointer(&n),
		"struct{map}":    mapBox{map[int]int{}},
	}
}

// aliasHolder freezes a Holder{X: 7} in Alias mode and returns the region
// and the read-only Holder.
func aliasHolder(t *testing.T) (*freeze.Region, *Holder) {
	t.Helper()
	a := newArena(t)
	h, err := arena.Clone(a, &Holder{X: 7})
	require.NoError(t, err)
	r, err := freeze.Freeze(a, freeze.Alias)
	require.NoError(t, err)
	return r, freeze.ReadOnly(r, h)
}

// Update refuses the same values and restores what was there; a Go map
// let through would be freed by the garbage collector while frozen memory
// still points at it.
func TestUpdateRefusesHeapValuesStoredInInterfaces(t *testing.T) {
	for name, v := range heapValuesInInterfaces() {
		t.Run(name, func(t *testing.T) {
			r, ro := aliasHolder(t)
			err := freeze.Update(r, ro, func(w *Holder) { w.X = v })
			require.ErrorIs(t, err, arena.ErrForeignPointer)
			assert.Equal(t, 7, ro.X, "the update was undone")
			require.NoError(t, r.Verify())
		})
	}
}

// Values stored in an interface are boxed outside the region, whatever
// they are: a small integer or a constant in the program's data, others
// on the heap. Update refuses them with a message that says so, since
// w.X = 5 reads as storing a value, not a pointer; a value boxed in the
// region already, as another interface of it holds, may be stored.
func TestUpdateOfAnInterfaceSaysWhyAValueIsRefused(t *testing.T) {
	type pair struct{ X, Y any }
	big := 1 << 30 // boxed on the heap (above 255), and an int on 32-bit platforms too
	for name, v := range map[string]any{
		"small int":       5,
		"constant string": "constant",
		"constant struct": Endpoint{Host: "h", Port: 1},
		"heap int":        big,
	} {
		t.Run(name, func(t *testing.T) {
			r, ro := aliasHolder(t)
			err := freeze.Update(r, ro, func(w *Holder) { w.X = v })
			require.ErrorIs(t, err, arena.ErrForeignPointer)
			assert.Contains(t, err.Error(), "Holder.X")
			assert.Contains(t, err.Error(), "for constants and small integers, in the program's data")
			assert.Equal(t, 7, ro.X, "nothing was written")
		})
	}
	a := newArena(t)
	p, err := arena.Clone(a, &pair{X: 7, Y: "from the region"})
	require.NoError(t, err)
	r, err := freeze.Freeze(a, freeze.Alias)
	require.NoError(t, err)
	ro := freeze.ReadOnly(r, p)
	require.NoError(t, freeze.Update(r, ro, func(w *pair) { w.X = w.Y }))
	assert.Equal(t, "from the region", ro.X)
	require.NoError(t, r.Verify())
}

// An Update that panics after storing a Go-heap pointer does not leave it
// in frozen memory: f wrote only its copy, so the string cannot be freed
// under a reader.
func TestUpdateThatPanicsLeavesNoHeapPointer(t *testing.T) {
	r, _, ro := frozenConfig(t, freeze.Alias)
	heap := strings.Repeat("A", 64)
	assert.PanicsWithValue(t, "oops", func() {
		_ = freeze.Update(r, ro, func(w *Config) {
			w.Name = heap
			panic("oops")
		})
	})
	assert.Equal(t, "svc", ro.Name)
	require.NoError(t, r.Verify())
}

// Update checks the pointer words of what its function may have changed,
// the element p points to, wherever that element lies in its slice: a
// foreign pointer stored in the first, a middle or the last element of a
// long slice is refused, and a pointer into f's own copy of the element
// is relocated to the element in the read-only view.
func TestUpdateChecksTheElementWhereverItIs(t *testing.T) {
	a := newArena(t)
	eps := make([]Endpoint, 5000)
	for i := range eps {
		eps[i] = Endpoint{Host: fmt.Sprint("host-", i), Port: uint16(i)}
	}
	c, err := arena.Clone(a, &Config{Endpoints: eps})
	require.NoError(t, err)
	r, err := freeze.Freeze(a, freeze.Alias)
	require.NoError(t, err)
	ro := freeze.ReadOnly(r, c)
	heap := strings.Repeat("x", 3)
	for _, i := range []int{0, 1, 2500, 4998, 4999} {
		err := freeze.Update(r, &ro.Endpoints[i], func(w *Endpoint) { w.Host = heap })
		require.ErrorIs(t, err, arena.ErrForeignPointer, "element %d", i)
		assert.Equal(t, fmt.Sprint("host-", i), ro.Endpoints[i].Host, "element %d restored", i)
		// A string whose bytes are w's own Port, in f's copy.
		require.NoError(t, freeze.Update(r, &ro.Endpoints[i], func(w *Endpoint) {
			w.Host = unsafe.String((*byte)(unsafe.Pointer(&w.Port)), 2)
		}))
		assert.Equal(t, (*byte)(unsafe.Pointer(&ro.Endpoints[i].Port)), unsafe.StringData(ro.Endpoints[i].Host),
			"element %d: the pointer into the copy was relocated to the view", i)
	}
	require.NoError(t, r.Verify())
}

// An empty string or slice holds no memory, whatever its data word says,
// and neither does a zero-size value: Clone copies them (an empty string
// with nil data, a non-nil empty slice as a non-nil empty slice, a
// zero-size value in an interface keeping its type), and Update accepts
// them too. An empty string cut from a longer one (strings.Cut("name=",
// "=")), []T{} and any(struct{}{}) (which point at the runtime's
// zero-size base) have data words outside the region; Update refused
// them as foreign pointers.
func TestUpdateAcceptsEmptyStringsAndSlices(t *testing.T) {
	r, owner, ro := frozenConfig(t, freeze.Alias)
	line := strings.Clone("name=") // on the heap, like a line read from a file
	_, value, _ := strings.Cut(line, "=")
	require.Empty(t, value)
	require.NotNil(t, unsafe.StringData(value), "the test needs an empty string with a data pointer")
	require.NoError(t, freeze.Update(r, ro, func(w *Config) { w.Name = value }))
	assert.Equal(t, "", ro.Name)
	assert.Nil(t, unsafe.StringData(ro.Name), "an empty string keeps no pointer, as in a clone")

	require.NoError(t, freeze.Update(r, ro, func(w *Config) { w.Endpoints = []Endpoint{} }))
	require.NoError(t, freeze.Update(r, ro, func(w *Config) { w.Endpoints = make([]Endpoint, 0, 8) }))
	assert.NotNil(t, ro.Endpoints)
	assert.Zero(t, cap(ro.Endpoints), "an append copies instead of writing past the view")
	assert.NotNil(t, ro.Endpoints, "a non-nil empty slice stays non-nil, as Clone keeps it")
	assert.Empty(t, ro.Endpoints)
	assert.Zero(t, cap(ro.Endpoints))
	assert.Empty(t, owner.Endpoints)
	require.NoError(t, r.Verify())
	require.NoError(t, offheap.Unwrap(r.Arena()).Validate(), "a pointer left outside the region")
}

// Update accepts a zero-size value stored in an interface, and keeps its
// dynamic type.
func TestUpdateAcceptsZeroSizeValuesInInterfaces(t *testing.T) {
	r, ro := aliasHolder(t)
	for _, v := range []any{struct{}{}, [0]string{}, new(struct{})} {
		require.NoError(t, freeze.Update(r, ro, func(w *Holder) { w.X = v }), "%T", v)
		assert.IsType(t, v, ro.X)
		require.NoError(t, offheap.Unwrap(r.Arena()).Validate(), "%T: a pointer left outside the view", v)
		require.NoError(t, r.Verify())
	}
}

// trailingString ends with a string, so the last two words of Update's
// copy of it on the Go heap are a string header.
type trailingString struct {
	N    int
	Name string
}

// Update reads a string header at the end of its copy without reading
// past it (checkptr, on under -race, kills the process if it does), with
// the string left alone, reslicing the region's bytes, or a whole value
// that is a string.
func TestUpdateOfAValueEndingInAString(t *testing.T) {
	a, err := arena.NewArena(arena.WithName("trailing-string"))
	require.NoError(t, err)
	c, err := arena.Clone(a, &trailingString{Name: "hello"})
	require.NoError(t, err)
	r, err := freeze.Freeze(a, freeze.Alias)
	require.NoError(t, err)
	defer r.Close()
	ro := freeze.ReadOnly(r, c)

	require.NoError(t, freeze.Update(r, ro, func(w *trailingString) { w.N = 1 }))
	require.NoError(t, freeze.Update(r, ro, func(w *trailingString) { w.Name = w.Name[1:] }))
	require.NoError(t, freeze.Update(r, &ro.Name, func(w *string) { *w = (*w)[1:] }))
	assert.Equal(t, trailingString{1, "llo"}, *ro)
	require.NoError(t, r.Verify())
	require.NoError(t, offheap.Unwrap(r.Arena()).Validate())
}

type unlinked struct {
	N int
	L []int64
}

// An allocation that nothing points to any more (an Update unlinked it) is
// named by its type as a whole, as Type names it: a slice's array was
// named by its element type, "int64" for a [3]int64.
func TestAllocationsNameAnUnlinkedArrayByItsType(t *testing.T) {
	a, err := arena.NewArena(arena.WithName("unlinked"))
	require.NoError(t, err)
	c, err := arena.Clone(a, &unlinked{N: 1, L: []int64{1, 2, 3}})
	require.NoError(t, err)
	r, err := freeze.Freeze(a, freeze.Alias)
	require.NoError(t, err)
	defer r.Close()
	require.NoError(t, freeze.Update(r, c, func(w *unlinked) { w.L = nil }))
	all, err := r.Allocations(0, uintptr(r.Size()))
	require.NoError(t, err)
	found := false
	for _, al := range all {
		if al.Type == "[3]int64" {
			found = true
			assert.Equal(t, "[3]int64", al.Path, "%+v", al)
		}
	}
	require.True(t, found, "%+v", all)
}
