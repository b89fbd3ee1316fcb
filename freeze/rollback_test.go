//go:build unix && !aix

package freeze_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/offheap"
	"github.com/frozen-go/frozen/internal/proc"
	"github.com/frozen-go/frozen/internal/space"
	"github.com/frozen-go/frozen/internal/vm"
	"github.com/frozen-go/frozen/snapshot"
)

// failAt returns a failpoint (offheap.SetFailpoint,
// SetBackgroundFailpoint) that fails the named step with err and lets
// every other step through.
func failAt(step string, err error) func(string) error {
	return func(s string) error {
		if s == step {
			return err
		}
		return nil
	}
}

// arenaMaps returns the /proc/self/maps lines covering the arena's range.
func arenaMaps(t *testing.T, a *arena.Arena) []vm.MapsEntry {
	t.Helper()
	maps, err := vm.ReadMaps()
	if err != nil {
		t.Skip(err)
	}
	r := offheap.Unwrap(a).Range()
	var out []vm.MapsEntry
	for _, e := range maps.Within(r.Start(), r.End()) {
		e.Start, e.End = max(e.Start, r.Start()), min(e.End, r.End())
		out = append(out, e)
	}
	return out
}

// clonedConfig clones a new config into a new arena, and returns the
// arena, the original, the clone and the arena's mappings before anything
// else happens to it.
func clonedConfig(t *testing.T) (*arena.Arena, *Config, *Config, []vm.MapsEntry) {
	t.Helper()
	a := newArena(t)
	orig := newConfig()
	c, err := arena.Clone(a, orig)
	require.NoError(t, err)
	return a, orig, c, arenaMaps(t, a)
}

// openFDs counts the process's open descriptors, or returns -1 where
// /proc/self/fd cannot be read.
func openFDs(t *testing.T) int {
	t.Helper()
	n, err := proc.OpenFDs()
	if err != nil {
		return -1
	}
	return n
}

func TestEveryFailedStepRollsBack(t *testing.T) {
	type path struct {
		name     string
		mode     freeze.Mode
		asideMin uintptr
		steps    []string
	}
	paths := []path{
		{"Protect", freeze.Protect, 0, []string{"validate", "protect", "seal"}},
		{"Alias", freeze.Alias, 0, []string{"validate", "reopen", "reserve", "map", "protect", "seal"}},
		{"Seal/remap", freeze.Seal, ^uintptr(0) >> 1, []string{"validate", "reopen", "remap", "seal"}},
		{"Seal/aside", freeze.Seal, vm.PageSize, []string{"validate", "reopen", "reserve", "move-aside", "remap", "seal"}},
	}
	seals, _, _, _ := vm.Features()
	for _, p := range paths {
		if seals != nil && (p.mode == freeze.Seal || p.mode == freeze.Protect) {
			// Without seals, Protect has no seal step and Seal no path.
			if p.mode == freeze.Seal {
				continue
			}
			p.steps = p.steps[:2]
		}
		if seals != nil && p.mode == freeze.Alias {
			p.steps = p.steps[:4] // the baseline is taken before Freeze returns
		}
		for _, stepName := range p.steps {
			t.Run(p.name+"/"+stepName, func(t *testing.T) {
				if p.asideMin != 0 {
					old := offheap.SetAsideMin(p.asideMin)
					defer offheap.SetAsideMin(old)
				}
				a, orig, c, before := clonedConfig(t)
				lenBefore := a.Len()
				rwFD, roFD := offheap.Unwrap(a).File().FDs()
				fdsBefore := openFDs(t)

				injected := errors.New("injected failure")
				offheap.SetFailpoint(failAt(stepName, injected))
				r, err := freeze.Freeze(a, p.mode)
				offheap.SetFailpoint(nil)

				assert.Nil(t, r, "no region is returned with an error")
				var se *freeze.StepError
				require.ErrorAs(t, err, &se)
				assert.Equal(t, stepName, se.Step)
				assert.Equal(t, p.mode, se.Mode)
				assert.ErrorIs(t, err, injected)
				assert.NoError(t, se.Rollback)
				assert.Contains(t, err.Error(), fmt.Sprintf("step %q failed", stepName))

				// Exactly as it was: same mappings, same data, writable,
				// open for allocation.
				assert.Equal(t, before, arenaMaps(t, a))
				assert.True(t, reflect.DeepEqual(orig, c))
				assert.NoError(t, freeze.Guard(func() { c.Version = 2; c.Endpoints[0].Port = 1 }), "still writable")
				assert.Equal(t, lenBefore, a.Len())
				rwAfter, roAfter := offheap.Unwrap(a).File().FDs()
				assert.Equal(t, []int{rwFD, roFD}, []int{rwAfter, roAfter}, "the arena keeps the descriptors it had, no more")
				assert.Equal(t, fdsBefore, openFDs(t), "no descriptor is left open")
				arena.New[int](a)
				if seals == nil {
					s, err := offheap.Unwrap(a).File().Seals()
					require.NoError(t, err)
					assert.Zero(t, s, "no seal was left behind")
				}

				// And it can be frozen afterwards.
				r, err = freeze.Freeze(a, p.mode)
				require.NoError(t, err)
				ro := freeze.ReadOnly(r, c)
				assert.Equal(t, 2, ro.Version)
				assert.Error(t, freeze.Guard(func() { ro.Version = 3 }))
				require.NoError(t, r.Verify())
			})
		}
	}
}

// A step that fails part way, having changed some pages before the kernel
// gave up (mprotect and mmap can fail with ENOMEM while splitting
// mappings), is rolled back over the whole range: the injected failure
// here makes the arena's first page read-only itself before failing, in
// Protect's protect step and in Seal's remap, on both of Seal's paths.
// (TestEveryFailedStepRollsBack fails each step before it changes
// anything, so a rollback that did nothing would pass it.)
func TestStepsFailingPartWayRollBack(t *testing.T) {
	seals, _, _, _ := vm.Features()
	for _, tc := range []struct {
		name     string
		mode     freeze.Mode
		step     string
		asideMin uintptr
	}{
		{"Protect/protect", freeze.Protect, "protect", 0},
		{"Alias/protect", freeze.Alias, "protect", 0},
		{"Seal/remap", freeze.Seal, "remap", ^uintptr(0) >> 1},
		{"Seal/aside/remap", freeze.Seal, "remap", vm.PageSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.mode != freeze.Protect && seals != nil {
				t.Skip("no seals:", seals)
			}
			if tc.asideMin != 0 {
				defer offheap.SetAsideMin(offheap.SetAsideMin(tc.asideMin))
			}
			a := newArena(t)
			c, err := arena.Clone(a, newConfig())
			require.NoError(t, err)
			before := arenaMaps(t, a)
			injected := errors.New("injected failure after the first page")
			offheap.SetFailpoint(func(s string) error {
				if s != tc.step {
					return nil
				}
				if err := mprotectRange(unsafe.Pointer(c), 1, unix.PROT_READ); err != nil {
					return err
				}
				return injected
			})
			r, err := freeze.Freeze(a, tc.mode)
			offheap.SetFailpoint(nil)
			assert.Nil(t, r)
			require.ErrorIs(t, err, injected)
			var se *freeze.StepError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tc.step, se.Step)
			assert.NoError(t, se.Rollback)
			assert.Equal(t, before, arenaMaps(t, a), "no page is left read-only")
			assert.NoError(t, freeze.Guard(func() { c.Version = 2 }), "the first page is writable again")
			assert.Equal(t, 2, c.Version)
		})
	}
}

// TestValidateRefusesForeignPointers plants a Go-heap pointer in arena
// memory behind the library's back (as only unsafe code could) and checks
// that Freeze refuses the arena before changing anything.
func TestValidateRefusesForeignPointers(t *testing.T) {
	a := newArena(t)
	c, err := arena.Clone(a, newConfig())
	require.NoError(t, err)
	heap := &Endpoint{Host: "heap"}
	// A raw word write: invisible to cgocheck2, which only sees typed
	// stores. This is exactly what validation exists to catch.
	*(*uintptr)(unsafe.Pointer(&c.Primary)) = uintptr(unsafe.Pointer(heap))
	_, err = freeze.Freeze(a, freeze.Protect)
	var se *freeze.StepError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "validate", se.Step)
	assert.ErrorIs(t, err, arena.ErrForeignPointer)
	assert.Contains(t, err.Error(), "Config.Primary")
	assert.NoError(t, freeze.Guard(func() { c.Version = 5 }), "nothing was frozen")
	*(*uintptr)(unsafe.Pointer(&c.Primary)) = 0
}

// A pointer into the arena's mapping past its last allocation points at
// nothing the graph owns (and, in Alias mode, would not be relocated to
// the read-only view): validation refuses it like a heap pointer, in every
// mode.
func TestValidateRefusesPointersPastTheLastAllocation(t *testing.T) {
	for _, m := range modes(t) {
		t.Run(m.String(), func(t *testing.T) {
			a := newArena(t)
			c, err := arena.Clone(a, newConfig())
			require.NoError(t, err)
			end := arena.New[int64](a)
			// 64 bytes past the last allocation: inside the mapped page,
			// outside every allocation.
			c.Primary = (*Endpoint)(unsafe.Add(unsafe.Pointer(end), 64))
			_, err = freeze.Freeze(a, m)
			var se *freeze.StepError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, "validate", se.Step)
			assert.ErrorIs(t, err, arena.ErrForeignPointer)
			assert.Contains(t, err.Error(), "Config.Primary")
			c.Primary = nil
			_, err = freeze.Freeze(a, m)
			require.NoError(t, err)
		})
	}
}

func TestAliasRangeIsReleasedOnClose(t *testing.T) {
	before := space.ReadStats()
	r, _, _ := frozenConfig(t, freeze.Alias)
	mid := space.ReadStats()
	assert.Equal(t, before.LiveRanges+2, mid.LiveRanges, "the arena and its read-only view")
	require.NoError(t, r.Close())
	after := space.ReadStats()
	assert.Equal(t, before.LiveRanges, after.LiveRanges)
}

// A release the kernel refuses (injected here: mmap fails only when it runs
// out of memory or of mappings) leaves the memory as it was, still counted
// and readable, and Close can be called again; the retry releases it.
func TestFailedReleaseCanBeRetried(t *testing.T) {
	type tc struct {
		name string
		mode freeze.Mode // 0: not frozen
		step string
	}
	cases := []tc{{"unfrozen", 0, "release"}}
	for _, m := range modes(t) {
		cases = append(cases, tc{m.String(), m, "release"})
	}
	cases = append(cases, tc{"Alias/alias", freeze.Alias, "release-alias"})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newArena(t)
			cfg, err := arena.Clone(a, newConfig())
			require.NoError(t, err)
			ro, closeIt := cfg, a.Close
			if c.mode != 0 {
				r, err := freeze.Freeze(a, c.mode)
				require.NoError(t, err)
				require.NoError(t, r.Wait())
				ro, closeIt = freeze.ReadOnly(r, cfg), r.Close
			}
			before := arena.ReadStats()

			injected := errors.New("injected release failure")
			offheap.SetFailpoint(failAt(c.step, injected))
			err = closeIt()
			offheap.SetFailpoint(nil)
			require.ErrorIs(t, err, injected)

			after := arena.ReadStats()
			assert.Equal(t, before.Arenas, after.Arenas, "still counted")
			assert.Equal(t, before.MappedBytes, after.MappedBytes, "still counted")
			assert.Equal(t, before.ReservedBytes, after.ReservedBytes, "still counted")
			assert.Equal(t, before.QuarantinedRanges, after.QuarantinedRanges, "not in quarantine yet")
			var name string
			require.NoError(t, freeze.Guard(func() { name = ro.Endpoints[2].Host }), "still mapped")
			assert.Equal(t, "c", name)
			if c.mode != 0 {
				// Still read-only, but closed: a write is a use after
				// Close, not a stray write into a live region.
				var uac *freeze.UseAfterClose
				require.ErrorAs(t, freeze.Guard(func() { ro.Endpoints[2].Port = 1 }), &uac)
				assert.Equal(t, a.Name(), uac.Region)
			}

			require.NoError(t, closeIt(), "the retry releases it")
			after = arena.ReadStats()
			assert.Equal(t, before.Arenas-1, after.Arenas)
			assert.Less(t, after.MappedBytes, before.MappedBytes)
			var uac *freeze.UseAfterClose
			require.ErrorAs(t, freeze.Guard(func() { name = ro.Endpoints[2].Host }), &uac, "released and quarantined")
			require.NoError(t, closeIt(), "idempotent")
		})
	}
}

// When Seal's rollback cannot move the page tables back (injected here; an
// mseal'd range would refuse it), the arena's own range is mapped
// read-write from the file again: the arena is as it was, and no writable
// mapping of its file is left anywhere else.
func TestSealRollbackWhenTheMoveBackFails(t *testing.T) {
	needSealsAndMremap(t)
	old := offheap.SetAsideMin(vm.PageSize)
	defer offheap.SetAsideMin(old)
	a, orig, c, before := clonedConfig(t)

	injected, moveBack := errors.New("injected seal failure"), errors.New("injected move-back failure")
	offheap.SetFailpoint(func(s string) error {
		switch s {
		case "seal":
			return injected
		case "move-back":
			return moveBack
		}
		return nil
	})
	r, err := freeze.Freeze(a, freeze.Seal)
	offheap.SetFailpoint(nil)
	assert.Nil(t, r)
	var se *freeze.StepError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "seal", se.Step)
	assert.ErrorIs(t, se.Rollback, moveBack, "the failed move back is reported")

	assert.Equal(t, before, arenaMaps(t, a), "the arena's range is mapped as before")
	maps, err := vm.ReadMaps()
	require.NoError(t, err)
	rng := offheap.Unwrap(a).Range()
	for _, e := range maps {
		if strings.Contains(e.Path, "memfd:"+a.Name()+" ") && (e.Start < rng.Start() || e.End > rng.End()) {
			t.Errorf("a mapping of the arena's file is left outside its range: %+v", e)
		}
	}
	assert.True(t, reflect.DeepEqual(orig, c), "no byte lost")
	require.NoError(t, freeze.Guard(func() { c.Version = 2 }), "writable again")
	r, err = freeze.Freeze(a, freeze.Seal)
	require.NoError(t, err)
	assert.Equal(t, 2, freeze.ReadOnly(r, c).Version)
	require.NoError(t, r.Verify())
}

// Seal's moved-aside range was never seen by a reader: it goes back to be
// reused without spending the quarantine, whose budget keeps the ranges
// that readers did hold inaccessible. Only the arena's own range is
// quarantined, at Close.
func TestSealQuarantinesOnlyTheArenaRange(t *testing.T) {
	needSealsAndMremap(t)
	old := offheap.SetAsideMin(vm.PageSize)
	defer offheap.SetAsideMin(old)
	// A budget nothing in this test reaches, so that no eviction moves
	// the counts (the suite before it may have filled the default one).
	pb, pr := space.SetQuarantine(^uintptr(0)>>2, 1<<30)
	defer space.SetQuarantine(pb, pr)
	a, _, _, _ := clonedConfig(t)
	before := space.ReadStats()
	r, err := freeze.Freeze(a, freeze.Seal)
	require.NoError(t, err)
	require.NoError(t, r.Wait())
	frozen := space.ReadStats()
	assert.Equal(t, before.QuarantineRanges, frozen.QuarantineRanges, "the moved-aside range was quarantined")
	assert.Equal(t, before.LiveRanges, frozen.LiveRanges, "the moved-aside range is still live")
	require.NoError(t, r.Close())
	closed := space.ReadStats()
	assert.Equal(t, before.QuarantineRanges+1, closed.QuarantineRanges)
	assert.Equal(t, before.QuarantineBytes+offheap.Unwrap(a).Range().Len(), closed.QuarantineBytes)
}

// An Alias freeze that fails after mapping its read-only view (at the
// seal step) gives the view's range back for reuse without spending the
// quarantine: Freeze returned no region, so no reader ever had an address
// in it.
func TestFailedAliasFreezeQuarantinesNothing(t *testing.T) {
	if seals, _, _, _ := vm.Features(); seals != nil {
		t.Skip("without seals an Alias freeze has no step after mapping its view")
	}
	pb, pr := space.SetQuarantine(^uintptr(0)>>2, 1<<30) // no eviction moves the counts
	defer space.SetQuarantine(pb, pr)
	a, _, _, _ := clonedConfig(t)
	before := space.ReadStats()
	injected := errors.New("injected failure")
	offheap.SetFailpoint(failAt("seal", injected))
	_, err := freeze.Freeze(a, freeze.Alias)
	offheap.SetFailpoint(nil)
	require.ErrorIs(t, err, injected)
	after := space.ReadStats()
	assert.Equal(t, before.QuarantineRanges, after.QuarantineRanges, "the unseen view's range was quarantined")
	assert.Equal(t, before.QuarantineBytes, after.QuarantineBytes)
	assert.Equal(t, before.LiveRanges, after.LiveRanges, "the view's range is still live")
}

// needSealsAndMremap skips a test of Seal's moved-aside path where the
// platform cannot take it.
func needSealsAndMremap(t *testing.T) {
	if seals, _, mremap, _ := vm.Features(); seals != nil || mremap != nil {
		t.Skip("needs memfd seals and mremap")
	}
}

// Alias and Seal map the file from a read-only reopen through
// /proc/self/fd. Where that does not work (a sandbox without /proc), the
// probe says so and they fail at step "probe" with ErrModeUnsupported,
// the arena as it was; they failed at step "reopen" with the open's
// untyped error. Protect, which needs no reopen, still freezes.
func TestModesWithoutAReadOnlyReopen(t *testing.T) {
	memfdOnly(t) // elsewhere Seal fails for want of seals first
	seals, mseal, mremap, _ := vm.Features()
	restore := vm.SetFeatures(seals, mseal, mremap, &vm.FeatureError{Feature: "read-only reopen through /proc/self/fd", Err: unix.ENOENT})
	defer restore()
	a, _, c, before := clonedConfig(t)
	for _, m := range []freeze.Mode{freeze.Alias, freeze.Seal} {
		_, err := freeze.Freeze(a, m)
		require.ErrorIs(t, err, freeze.ErrModeUnsupported, "%s", m)
		var se *freeze.StepError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, "probe", se.Step)
		assert.ErrorContains(t, err, "read-only reopen")
		assert.Equal(t, before, arenaMaps(t, a), "%s changed nothing", m)
	}
	c.Version = 2 // still writable
	r, err := freeze.Freeze(a, freeze.Protect)
	require.NoError(t, err)
	require.NoError(t, r.Wait())
}

// Invariant 5 holds for slices re-sliced in place before Freeze too:
// Freeze cuts every slice's capacity to its length, so a reader's append
// copies instead of writing past the slice into frozen memory (where it
// faulted), whether one element is spare or more. A Freeze that fails
// after the cut puts the capacity back.
func TestFreezeCutsTheCapacityOfSlicesReslicedInPlace(t *testing.T) {
	for _, m := range modes(t) {
		for keep := 1; keep <= 2; keep++ { // cap 3: two spare, then one
			t.Run(fmt.Sprintf("%s/len%d", m, keep), func(t *testing.T) {
				a, _, c, _ := clonedConfig(t)
				all := slices.Clone(c.Endpoints)
				c.Endpoints = c.Endpoints[:keep]
				last := m == freeze.Protect
				if last {
					// Protect's mprotect fails: the cut is undone.
					offheap.SetFailpoint(failAt("protect", errors.New("injected failure")))
					_, err := freeze.Freeze(a, m)
					offheap.SetFailpoint(nil)
					require.Error(t, err)
					assert.Equal(t, 3, cap(c.Endpoints), "the capacity was put back")
				}
				if seals, _, _, _ := vm.Features(); m == freeze.Alias && seals == nil {
					// Sealing fails and so does unmapping the view: the
					// owner's mapping was never read-only, so the cut is
					// undone all the same. (Without seals no step after
					// the view's mapping can fail.)
					rollback := errors.New("injected release-view failure")
					offheap.SetFailpoint(func(s string) error {
						switch s {
						case "seal":
							return errors.New("injected failure")
						case "release-view":
							return rollback
						}
						return nil
					})
					_, err := freeze.Freeze(a, m)
					offheap.SetFailpoint(nil)
					var se *freeze.StepError
					require.ErrorAs(t, err, &se)
					require.ErrorIs(t, se.Rollback, rollback)
					assert.Equal(t, 3, cap(c.Endpoints), "the capacity was put back")
					c.Endpoints = c.Endpoints[:keep]
				}
				r, err := freeze.Freeze(a, m)
				require.NoError(t, err)
				require.NoError(t, r.Wait())
				ro := freeze.ReadOnly(r, c)
				assert.Len(t, ro.Endpoints, keep)
				assert.Equal(t, keep, cap(ro.Endpoints))
				var grown []Endpoint
				require.NoError(t, freeze.Guard(func() { grown = append(ro.Endpoints, Endpoint{"z", 1}) }),
					"append copies instead of writing frozen memory")
				assert.Equal(t, append(all[:keep:keep], Endpoint{"z", 1}), grown)
				require.NoError(t, r.Verify())
			})
		}
	}
}

// Closing an Alias region quarantines the owner's range and then the
// readers' view, so that the view, the range readers' dangling pointers
// lead to, is the later to leave the quarantine. It went first: with room
// for one range, a read through a kept view pointer faulted unnamed while
// one through the owner's pointer was still named.
func TestAliasViewLeavesTheQuarantineLast(t *testing.T) {
	pb, pr := arena.SetQuarantine(1<<40, 1)
	defer arena.SetQuarantine(pb, pr)
	a := newArena(t)
	p := arena.New[uint64](a)
	*p = 42
	r, err := freeze.Freeze(a, freeze.Alias)
	require.NoError(t, err)
	ro := freeze.ReadOnly(r, p)
	require.NoError(t, r.Close())
	var uac *freeze.UseAfterClose
	assert.ErrorAs(t, freeze.Guard(func() { _ = *ro }), &uac, "the readers' view is still quarantined")
	assert.Equal(t, uintptr(unsafe.Pointer(ro)), uac.Addr)
}

// A probe that failed for want of descriptors says nothing of the kernel:
// every mode fails at step "probe" with that error, not ErrModeUnsupported,
// and the arena is as it was. Protect went on without its seals, and Take
// fell back from Seal to Protect: silent downgrades.
func TestATransientProbeFailureFailsFreeze(t *testing.T) {
	seals, mseal, _, reopen := vm.Features()
	emfile := &vm.FeatureError{Feature: "memfd", Err: unix.EMFILE}
	restore := vm.SetFeatures(emfile, mseal, emfile, emfile)
	defer restore()
	a, _, c, before := clonedConfig(t)
	for _, m := range []freeze.Mode{freeze.Protect, freeze.Alias, freeze.Seal} {
		_, err := freeze.Freeze(a, m)
		require.ErrorIs(t, err, unix.EMFILE, "%s", m)
		assert.NotErrorIs(t, err, freeze.ErrModeUnsupported)
		var se *freeze.StepError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, "probe", se.Step)
		assert.Equal(t, before, arenaMaps(t, a), "%s changed nothing", m)
	}
	if seals == nil && reopen == nil {
		assert.Equal(t, freeze.Seal, snapshot.DefaultMode(), "no downgrade to Protect")
	}
	// Only the reopen's probe failed: Protect, which does not reopen,
	// goes on with its seals; the other modes fail as before.
	vm.SetFeatures(seals, mseal, emfile, emfile)
	for _, m := range []freeze.Mode{freeze.Alias, freeze.Seal} {
		_, err := freeze.Freeze(a, m)
		require.ErrorIs(t, err, unix.EMFILE, "%s", m)
	}
	c.Version = 2 // still writable
	kept := leakedDescriptor(t, a)
	r, err := freeze.Freeze(a, freeze.Protect)
	require.NoError(t, err)
	require.NoError(t, r.Wait())
	if seals == nil {
		_, err = unix.Pwrite(kept, []byte{7}, 0)
		assert.ErrorIs(t, err, unix.EPERM, "Protect added its seals")
	}
}

// memfdLines counts the lines of /proc/self/maps that map the memfd of the
// arena named name, wherever they lie.
func memfdLines(t *testing.T, name string) int {
	t.Helper()
	maps, err := vm.ReadMaps()
	if err != nil {
		t.Skip(err)
	}
	n := 0
	for _, e := range maps {
		if strings.HasPrefix(e.Path, "/memfd:"+name+" ") {
			n++
		}
	}
	return n
}

// A mapping that a rollback, or Seal's background step, fails to release
// (its own failure after the one that started the rollback) is not left
// mapped for the life of the process: the next Freeze releases it before
// anything else (a writable one of the file would keep Seal from sealing
// it), and Close does, which returned nil and left it mapped before.
func TestFailedReleasesAreRetried(t *testing.T) {
	if seals, _, _, _ := vm.Features(); seals != nil {
		t.Skip("the paths tried here need seals:", seals)
	}
	injected := errors.New("injected failure")
	// failing makes the failpoint fail the named steps, the last one once.
	failing := func(steps ...string) {
		last, failedLast := steps[len(steps)-1], false
		offheap.SetFailpoint(func(s string) error {
			switch {
			case s == last && !failedLast:
				failedLast = true
				return injected
			case s != last && slices.Contains(steps, s):
				return injected
			}
			return nil
		})
	}
	for _, tc := range []struct {
		name     string
		mode     freeze.Mode
		asideMin uintptr
		steps    []string // failed; the last is the failed release
		freezes  bool     // Freeze succeeds, the release failing after it
	}{
		{"Alias view", freeze.Alias, 0, []string{"seal", "release-view"}, false},
		{"Seal moved-aside mapping, in the rollback", freeze.Seal, vm.PageSize, []string{"seal", "move-back", "release-aside"}, false},
		{"Seal moved-aside mapping, in the background", freeze.Seal, vm.PageSize, []string{"release-aside"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.asideMin != 0 {
				defer offheap.SetAsideMin(offheap.SetAsideMin(tc.asideMin))
			}
			reserved := arena.ReadStats().ReservedBytes
			name := "leftover-" + strings.ReplaceAll(tc.name, " ", "-")
			a := newArena(t, arena.WithName(name))
			_, err := arena.Clone(a, newConfig())
			require.NoError(t, err)
			own := memfdLines(t, name)

			if tc.freezes {
				// A step of the background that Freeze starts and
				// Wait waits for, which has a failpoint of its own.
				offheap.SetBackgroundFailpoint(failAt(tc.steps[0], injected))
			} else {
				failing(tc.steps...)
			}
			r, err := freeze.Freeze(a, tc.mode)
			if tc.freezes {
				require.NoError(t, err)
				err = r.Wait()
				// The file was never sealed against writes: Verify says
				// so too, to callers that never Wait.
				assert.ErrorIs(t, r.Verify(), injected)
			}
			offheap.SetFailpoint(nil)
			offheap.SetBackgroundFailpoint(nil)
			require.ErrorIs(t, err, injected)
			require.Greater(t, memfdLines(t, name), own, "the test needs a mapping left over")

			if !tc.freezes {
				// The next Freeze releases it first, and seals.
				r, err = freeze.Freeze(a, tc.mode)
				require.NoError(t, err)
				require.NoError(t, r.Wait())
				require.NoError(t, r.Verify())
			}
			require.NoError(t, r.Close())
			assert.Zero(t, memfdLines(t, name), "a mapping of the file outlived Close")
			assert.Equal(t, reserved, arena.ReadStats().ReservedBytes, "reserved bytes still counted")
		})
	}
}

// When undoing a failed step cannot make the arena's mapping read-write
// again (injected here at "writable-again"; a kernel out of memory or
// mappings would refuse the mprotect or mmap), the arena is left for
// Close alone: allocating, cloning and freezing again fail with
// arena.ErrFrozen instead of writing read-only memory, and slices keep
// the capacities Freeze cut.
func TestARollbackThatLeavesTheArenaReadOnlyLeavesItToClose(t *testing.T) {
	seals, _, mremap, _ := vm.Features()
	for _, tc := range []struct {
		name     string
		mode     freeze.Mode
		fail     []string
		asideMin uintptr
	}{
		{"Protect/protect", freeze.Protect, []string{"protect"}, 0},
		{"Protect/seal", freeze.Protect, []string{"seal"}, 0},
		{"Alias/protect", freeze.Alias, []string{"protect"}, 0},
		{"Alias/seal", freeze.Alias, []string{"seal"}, 0},
		{"Seal/remap", freeze.Seal, []string{"remap"}, ^uintptr(0) >> 1},
		{"Seal/seal", freeze.Seal, []string{"seal"}, ^uintptr(0) >> 1},
		{"Seal/aside/seal", freeze.Seal, []string{"seal", "move-back"}, vm.PageSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if seals != nil && (tc.mode != freeze.Protect || tc.fail[0] == "seal") || tc.asideMin == vm.PageSize && mremap != nil {
				t.Skip("no seals or no mremap here")
			}
			if tc.asideMin != 0 {
				defer offheap.SetAsideMin(offheap.SetAsideMin(tc.asideMin))
			}
			a, _, c, _ := clonedConfig(t)
			c.Endpoints = c.Endpoints[:1] // cap 3
			injected, rollback := errors.New("injected failure"), errors.New("injected rollback failure")
			offheap.SetFailpoint(func(s string) error {
				if slices.Contains(tc.fail, s) {
					return injected
				}
				if s == "writable-again" {
					return rollback
				}
				return nil
			})
			_, err := freeze.Freeze(a, tc.mode)
			offheap.SetFailpoint(nil)
			var se *freeze.StepError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tc.fail[0], se.Step)
			require.ErrorIs(t, se.Rollback, rollback)

			assert.Equal(t, 1, cap(c.Endpoints), "the capacity stays cut")
			if tc.mode == freeze.Alias {
				// The pointers stay moved into the view, which stays
				// mapped: the arena reads as it did.
				assert.Equal(t, newConfig().Endpoints[0], c.Endpoints[0])
				assert.Equal(t, newConfig().Primary, c.Primary)
			}
			err = requireLeftToClose(t, a)
			assert.ErrorContains(t, err, "injected rollback failure", "the error says why")
			eps := c.Endpoints
			require.NoError(t, a.Close())
			assert.Empty(t, slices.DeleteFunc(arenaMaps(t, a), func(e vm.MapsEntry) bool { return e.Perms == "---p" }),
				"Close released the mapping")
			assert.Zero(t, memfdLines(t, a.Name()), "Close released every mapping of the file")
			if tc.mode == freeze.Alias {
				// The owner could read, and keep, the pointers into the
				// view: its range goes into quarantine (invariant 4), so a
				// kept pointer faults instead of reading a later arena.
				e, ok := space.Lookup(uintptr(unsafe.Pointer(&eps[0])))
				assert.True(t, ok && e.Released, "the view's range was handed back without quarantine")
				var uac *freeze.UseAfterClose
				var port uint16
				assert.ErrorAs(t, freeze.Guard(func() { port = eps[0].Port }), &uac, "read %d", port)
			}
		})
	}
}

// requireLeftToClose checks that an arena a failed rollback left
// read-only or unmapped refuses allocating, cloning and freezing with
// arena.ErrFrozen, and returns Freeze's error.
func requireLeftToClose(t *testing.T, a *arena.Arena) error {
	t.Helper()
	err := func() (err error) {
		defer func() { err, _ = recover().(error) }()
		arena.New[int](a)
		return nil
	}()
	require.ErrorIs(t, err, arena.ErrFrozen, "New")
	_, err = arena.Clone(a, newConfig())
	require.ErrorIs(t, err, arena.ErrFrozen, "Clone")
	_, err = freeze.Freeze(a, freeze.Protect)
	require.ErrorIs(t, err, arena.ErrFrozen, "Freeze")
	return err
}

// Where the background of an Alias freeze cannot make the owner's mapping
// writable again once the baseline is taken (injected here; a kernel out
// of memory would refuse the mprotect), Wait, Verify and Update say so,
// and a stray write through the owner's mapping still faults.
func TestAliasOwnerLeftReadOnlyIsReported(t *testing.T) {
	if seals, _, _, _ := vm.Features(); seals != nil {
		t.Skip("without seals the baseline is taken before Freeze returns:", seals)
	}
	a, _, c, _ := clonedConfig(t)
	injected := errors.New("injected failure")
	offheap.SetBackgroundFailpoint(failAt("writable", injected))
	r, err := freeze.Freeze(a, freeze.Alias)
	require.NoError(t, err)
	err = r.Wait()
	offheap.SetBackgroundFailpoint(nil)
	require.ErrorIs(t, err, injected)
	assert.ErrorContains(t, err, "writable again")
	assert.ErrorIs(t, r.Verify(), injected)
	err = freeze.Update(r, freeze.ReadOnly(r, c), func(w *Config) { w.Version = 9 })
	assert.ErrorIs(t, err, injected)
	var wf *freeze.WriteFault
	assert.ErrorAs(t, freeze.Guard(func() { c.Version = 9 }), &wf)
	assert.Equal(t, newConfig().Version, freeze.ReadOnly(r, c).Version)
	require.NoError(t, r.Close())
	// Closed, the region says so first, like Verify does.
	assert.ErrorIs(t, r.Verify(), arena.ErrClosed, "Verify after Close")
	ran := false
	err = freeze.Update(r, c, func(w *Config) { ran = true })
	assert.ErrorIs(t, err, arena.ErrClosed, "Update after Close")
	assert.False(t, ran)
}

// ReadStats counts a region's bytes as frozen while it lives, and
// nothing for a Freeze that failed: after Close, FrozenArenas and
// FrozenBytes are back where they were either way.
func TestFrozenStatsCountLiveRegionsOnly(t *testing.T) {
	for _, m := range modes(t) {
		t.Run(m.String()+"/frozen", func(t *testing.T) {
			before := arena.ReadStats()
			a, _, _, _ := clonedConfig(t)
			r, err := freeze.Freeze(a, m)
			require.NoError(t, err)
			mid := arena.ReadStats()
			assert.Equal(t, before.FrozenArenas+1, mid.FrozenArenas)
			assert.Equal(t, before.FrozenBytes+int64(r.Size()), mid.FrozenBytes)
			require.NoError(t, r.Close())
			after := arena.ReadStats()
			assert.Equal(t, before.FrozenArenas, after.FrozenArenas)
			assert.Equal(t, before.FrozenBytes, after.FrozenBytes)
		})
		t.Run(m.String()+"/failed", func(t *testing.T) {
			before := arena.ReadStats()
			a, _, _, _ := clonedConfig(t)
			step := "protect"
			if m != freeze.Protect {
				step = "reopen"
			}
			offheap.SetFailpoint(failAt(step, errors.New("injected failure")))
			_, err := freeze.Freeze(a, m)
			offheap.SetFailpoint(nil)
			require.Error(t, err)
			mid := arena.ReadStats()
			assert.Equal(t, before.FrozenArenas, mid.FrozenArenas)
			assert.Equal(t, before.FrozenBytes, mid.FrozenBytes)
			require.NoError(t, a.Close())
			after := arena.ReadStats()
			assert.Equal(t, before.FrozenArenas, after.FrozenArenas, "a failed Freeze is not uncounted on Close")
			assert.Equal(t, before.FrozenBytes, after.FrozenBytes, "a failed Freeze is not uncounted on Close")
		})
	}
}
