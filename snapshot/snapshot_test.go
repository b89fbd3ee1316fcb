//go:build unix && !aix

package snapshot_test

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/fixture"
	"github.com/frozen-go/frozen/internal/graphtest"
	"github.com/frozen-go/frozen/internal/offheap"
	"github.com/frozen-go/frozen/internal/proc"
	"github.com/frozen-go/frozen/internal/space"
	"github.com/frozen-go/frozen/internal/vm"
	"github.com/frozen-go/frozen/snapshot"
)

func modes() []freeze.Mode {
	if snapshot.DefaultMode() == freeze.Seal {
		return []freeze.Mode{freeze.Protect, freeze.Alias, freeze.Seal}
	}
	return []freeze.Mode{freeze.Protect, freeze.Alias}
}

type Node struct {
	Name string
	Next *Node
	Kids []*Node
}

type Shapes struct {
	Any   []any
	Err   error
	Arr   [3]*int
	Bytes []byte
	// Two views of one array that overlap without lining up.
	Nodes []*Node
	View  *[2]*Node
}

func shapes() map[string]func() any {
	return map[string]func() any{
		"config": func() any { return fixture.NewConfig(3000) },
		"cycle": func() any {
			a := &Node{Name: "a"}
			a.Next = &Node{Name: "b", Next: a, Kids: []*Node{a}}
			return a
		},
		"interfaces": func() any {
			x := 7
			// The runtime boxes an empty string and nil slices as one zero
			// value it shares: three types at one address.
			var empty string
			var nilInts []int
			var nilStrs []string
			return &Shapes{Any: []any{1, "s", &x, []string{"a"}, empty, nilInts, nilStrs}, Err: fmt.Errorf("e"), Arr: [3]*int{&x, nil, &x}, Bytes: []byte("raw")}
		},
		"array views": func() any {
			ns := []*Node{{Name: "a"}, {Name: "b"}, {Name: "c"}}
			return &Shapes{Nodes: ns[0:2], View: (*[2]*Node)(ns[1:3])}
		},
		"strings": func() any { return []string{"", "a", strings.Repeat("b", 5000)} },
		"scalar":  func() any { return 42 },
	}
}

// take snapshots v with its dynamic type as T.
func take(t *testing.T, v any, opts ...snapshot.Option) (any, func() error, *freeze.Region) {
	t.Helper()
	switch v := v.(type) {
	case *fixture.Config:
		s, err := snapshot.Take(v, opts...)
		require.NoError(t, err)
		return s.Value(), s.Close, s.Region()
	case *Node:
		s, err := snapshot.Take(v, opts...)
		require.NoError(t, err)
		return s.Value(), s.Close, s.Region()
	case *Shapes:
		s, err := snapshot.Take(v, opts...)
		require.NoError(t, err)
		return s.Value(), s.Close, s.Region()
	case []string:
		s, err := snapshot.Take(v, opts...)
		require.NoError(t, err)
		return s.Value(), s.Close, s.Region()
	case int:
		s, err := snapshot.Take(v, opts...)
		require.NoError(t, err)
		return s.Value(), s.Close, s.Region()
	}
	t.Fatalf("add %T to take", v)
	return nil, nil, nil
}

func TestTakeEveryModeEveryShapeIsReadOnly(t *testing.T) {
	for _, m := range modes() {
		for name, mk := range shapes() {
			t.Run(m.String()+"/"+name, func(t *testing.T) {
				orig := mk()
				got, closeFn, r := take(t, orig, snapshot.WithMode(m), snapshot.WithName("shape-"+name))
				defer closeFn()
				assert.Equal(t, m, r.Mode())
				assert.True(t, reflect.DeepEqual(orig, got))
				graphtest.RequireSameShape(t, orig, got)
				graphtest.RequireReadOnlyInArena(t, got, "shape-"+name)
				require.NoError(t, r.Verify())
			})
		}
	}
}

func TestValueDoesNotAllocate(t *testing.T) {
	s, err := snapshot.Take(fixture.NewConfig(100))
	require.NoError(t, err)
	defer s.Close()
	var sink *fixture.Config
	assert.Zero(t, testing.AllocsPerRun(1000, func() { sink = s.Value() }))
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = s.Verify() }))
	_ = sink
}

// Close may be called from several goroutines at once: one releases the
// snapshot, the others return nil, and the accounting counts one release.
// Before Close was serialized, both ran the release: counters went below
// zero, the second release failed, and that failure marked the snapshot
// readable again over released memory.
func TestConcurrentCloseReleasesOnce(t *testing.T) {
	before := arena.ReadStats()
	for range 500 {
		s, err := snapshot.Take([]int{1, 2, 3})
		require.NoError(t, err)
		m, err := snapshot.NewMap(maps.All(map[string]int{"a": 1}))
		require.NoError(t, err)
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 2 {
			wg.Go(func() { <-start; errs <- s.Close() })
			wg.Go(func() { <-start; errs <- m.Close() })
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.PanicsWithError(t, fmt.Sprintf("%v: Value of snapshot %q after Close", arena.ErrClosed, "snapshot"), func() { s.Value() })
	}
	after := arena.ReadStats()
	assert.Equal(t, before.Arenas, after.Arenas)
	assert.Equal(t, before.FrozenArenas, after.FrozenArenas)
	assert.Equal(t, before.MappedBytes, after.MappedBytes)
	assert.Equal(t, before.FrozenBytes, after.FrozenBytes)
	assert.Equal(t, before.ReservedBytes, after.ReservedBytes)
}

// ReservedBytes counts all the address space a live snapshot holds, in
// Alias mode the read-only view's range too: Close moves exactly that
// into quarantine.
func TestReservedBytesCountWhatCloseQuarantines(t *testing.T) {
	budget, ranges := arena.SetQuarantine(1<<40, 1<<20)
	defer arena.SetQuarantine(budget, ranges)
	for _, m := range modes() {
		t.Run(m.String(), func(t *testing.T) {
			before := arena.ReadStats()
			s, err := snapshot.Take([512]int{1}, snapshot.WithMode(m))
			require.NoError(t, err)
			live := arena.ReadStats()
			require.NoError(t, s.Close())
			after := arena.ReadStats()
			reserved := live.ReservedBytes - before.ReservedBytes
			assert.Positive(t, reserved)
			assert.Equal(t, reserved, after.QuarantinedBytes-before.QuarantinedBytes)
			assert.Equal(t, before.ReservedBytes, after.ReservedBytes)
		})
	}
}

func TestUseAfterCloseFaultsAndNamesTheSnapshot(t *testing.T) {
	for _, m := range modes() {
		t.Run(m.String(), func(t *testing.T) {
			s, err := snapshot.Take(fixture.NewConfig(100), snapshot.WithMode(m), snapshot.WithName("released-cfg"))
			require.NoError(t, err)
			v := s.Value()
			require.NoError(t, s.Close())
			require.NoError(t, s.Close(), "idempotent")
			err = freeze.Guard(func() { _ = len(v.Upstreams[0].Name) })
			var uac *freeze.UseAfterClose
			require.ErrorAs(t, err, &uac, "a read after Close must fault, not see reused memory")
			assert.Equal(t, "released-cfg", uac.Region)
			assert.ErrorIs(t, err, arena.ErrClosed)
			assert.PanicsWithError(t, fmt.Sprintf("%v: Value of snapshot %q after Close", arena.ErrClosed, "released-cfg"), func() { s.Value() })
			assert.ErrorIs(t, s.Verify(), arena.ErrClosed)
		})
	}
}

// Closing a snapshot through its Region, or through the Region's arena,
// is the same as Close: the snapshot is marked closed before its memory
// goes, so Value and Pointer panic with ErrClosed instead of faulting.
func TestClosingTheRegionClosesTheSnapshot(t *testing.T) {
	routes := map[string]func(s *snapshot.Snapshot[*fixture.Config]) error{
		"Region":         func(s *snapshot.Snapshot[*fixture.Config]) error { return s.Region().Close() },
		"Region.Arena":   func(s *snapshot.Snapshot[*fixture.Config]) error { return s.Region().Arena().Close() },
		"Snapshot.Close": func(s *snapshot.Snapshot[*fixture.Config]) error { return s.Close() },
	}
	for name, closeIt := range routes {
		t.Run(name, func(t *testing.T) {
			s, err := snapshot.Take(fixture.NewConfig(100), snapshot.WithName("by-"+name))
			require.NoError(t, err)
			v := s.Value()
			require.NoError(t, closeIt(s))
			assert.PanicsWithError(t, fmt.Sprintf("%v: Value of snapshot %q after Close", arena.ErrClosed, "by-"+name), func() { s.Value() })
			assert.PanicsWithError(t, fmt.Sprintf("%v: Pointer of snapshot %q after Close", arena.ErrClosed, "by-"+name), func() { s.Pointer() })
			require.NoError(t, s.Close(), "idempotent whichever route closed it")
			var uac *freeze.UseAfterClose
			require.ErrorAs(t, freeze.Guard(func() { _ = len(v.Upstreams[0].Name) }), &uac)
		})
	}
}

// Value and Pointer after Close panic with an error that wraps
// arena.ErrClosed, as their docs say, so that code recovering the panic
// can tell a use after Close from any other panic with errors.Is; the
// message alone, which the tests above compare, does not show that.
func TestValueAndPointerAfterClosePanicWithErrClosed(t *testing.T) {
	s, err := snapshot.Take(fixture.NewConfig(100), snapshot.WithName("closed"))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	for name, use := range map[string]func(){
		"Value":   func() { s.Value() },
		"Pointer": func() { s.Pointer() },
	} {
		t.Run(name, func(t *testing.T) {
			p := recovered(use)
			err, ok := p.(error)
			require.True(t, ok, "%s panicked with %#v, not an error", name, p)
			assert.ErrorIs(t, err, arena.ErrClosed)
			assert.Contains(t, err.Error(), `snapshot "closed"`)
		})
	}
}

// A zero-value Snapshot has no region: Pointer and Region give nil, and
// its other methods but Value fail or panic as a nil *freeze.Region's
// do, with errors wrapping arena.ErrClosed, not the runtime's nil
// dereference.
func TestZeroSnapshotCountsAsClosed(t *testing.T) {
	var s snapshot.Snapshot[int]
	requireNoSnapshot(t, &s)
}

// A nil *Snapshot is the zero value to every method: Take's error is
// returned by a Close deferred before checking it, not a nil dereference.
func TestNilSnapshotCountsAsClosed(t *testing.T) {
	s, err := snapshot.Take(map[string]int{}) // refused: maps are unsupported
	require.ErrorIs(t, err, arena.ErrUnsupported)
	require.Nil(t, s)
	requireNoSnapshot(t, s)
}

// requireNoSnapshot checks that s, a zero-value or nil *Snapshot, acts as
// no snapshot: Pointer and Region give nil, Verify and Close return an
// error wrapping arena.ErrClosed, Name and Size panic with one.
func requireNoSnapshot[T any](t *testing.T, s *snapshot.Snapshot[T]) {
	t.Helper()
	assert.Nil(t, s.Pointer())
	assert.Nil(t, s.Region())
	assert.ErrorIs(t, s.Verify(), arena.ErrClosed)
	assert.ErrorIs(t, s.Close(), arena.ErrClosed)
	for name, use := range map[string]func(){
		"Name": func() { s.Name() },
		"Size": func() { s.Size() },
	} {
		p, _ := recovered(use).(error)
		assert.ErrorIs(t, p, arena.ErrClosed, name)
	}
}

// recovered runs f and returns what it panicked with (nil if it returned).
func recovered(f func()) (p any) {
	defer func() { p = recover() }()
	f()
	return nil
}

func TestTakeErrors(t *testing.T) {
	type withMap struct{ M map[string]int }
	_, err := snapshot.Take(withMap{})
	assert.ErrorIs(t, err, arena.ErrUnsupported)
	assert.EqualError(t, err, "arena: clone: withMap.M: map[string]int: maps are not supported (build a snapshot.Map instead)")
	_, err = snapshot.Take(map[string]int{})
	assert.ErrorIs(t, err, arena.ErrUnsupported)
	assert.EqualError(t, err, "arena: clone: map[string]int: maps are not supported (build a snapshot.Map instead)")

	_, err = snapshot.Take(1, snapshot.WithMode(freeze.Protect), snapshot.WithPermanent())
	assert.ErrorIs(t, err, freeze.ErrModeUnsupported)

	// A mode left at zero (a configuration that failed to parse, say) is
	// an error, not the default.
	for _, m := range []freeze.Mode{0, freeze.Seal + 1} {
		_, err = snapshot.Take(1, snapshot.WithMode(m))
		assert.ErrorIs(t, err, freeze.ErrModeUnsupported)
		assert.EqualError(t, err, fmt.Sprintf("freeze: mode not supported here: WithMode(%d): not Protect, Alias or Seal", int(m)))
		_, err = snapshot.NewMap(maps.All(map[int]int{1: 1}), snapshot.WithMode(m))
		assert.ErrorIs(t, err, freeze.ErrModeUnsupported)
	}

	before := arena.ReadStats()
	_, err = snapshot.Take(&Shapes{Any: []any{make(chan int)}})
	assert.ErrorIs(t, err, arena.ErrUnsupported)
	assert.Equal(t, before.Arenas, arena.ReadStats().Arenas, "a failed Take leaves nothing allocated")
}

// A value holding one of the library's own handles (a Map, a Snapshot, a
// Store, a Region, an Arena) is refused for the handle, by its path, not
// for one of its unexported fields ("Routes.snap.onClose: func(): funcs
// are not supported"), which names a field the caller never wrote and
// suggests the wrong fix.
func TestTakeRefusesTheLibrarysHandlesByName(t *testing.T) {
	m, err := snapshot.NewMap(maps.All(map[string]int{"a": 1}))
	require.NoError(t, err)
	defer m.Close()
	s, err := snapshot.Take(1)
	require.NoError(t, err)
	defer s.Close()
	a, err := arena.NewArena()
	require.NoError(t, err)
	defer a.Close()
	var st snapshot.Store[int]
	type withMap struct {
		Name   string
		Routes *snapshot.Map[string, int]
	}
	const handle = " is a handle to memory this library maps and releases, not data"
	for _, tc := range []struct {
		v    any
		want string
	}{
		{&withMap{Routes: m}, "arena: clone: interface {}.(*withMap).Routes: Map[string,int]: snapshot.Map" + handle},
		{s, "arena: clone: interface {}.(*Snapshot[int]): Snapshot[int]: snapshot.Snapshot" + handle},
		{[]*freeze.Region{s.Region()}, "arena: clone: interface {}.([]*Region)[]: Region: freeze.Region" + handle},
		{a, "arena: clone: interface {}.(*Arena): Arena: arena.Arena" + handle},
		{&st, "arena: clone: interface {}.(*Store[int]): Store[int]: snapshot.Store" + handle},
	} {
		_, err := snapshot.Take(tc.v)
		require.ErrorIs(t, err, arena.ErrUnsupported)
		assert.True(t, strings.HasPrefix(err.Error(), tc.want), "%v\nwant it to begin %s", err, tc.want)
	}
	_, err = snapshot.NewMap(maps.All(map[string]*snapshot.Map[string, int]{"a": m}))
	require.ErrorIs(t, err, arena.ErrUnsupported)
	assert.Contains(t, err.Error(), "snapshot: NewMap: value type: *Map[string,int]: Map[string,int]: snapshot.Map"+handle)
}

// A mode this kernel cannot freeze in (a probe found seals or the
// read-only reopen missing) is refused by Take and NewMap before anything
// is copied or built: an error wrapping freeze.ErrModeUnsupported and the
// probe's, not a failed Freeze (*freeze.StepError) after the copy, and no
// arena made.
func TestAModeMissingHereIsRefusedBeforeAnythingIsBuilt(t *testing.T) {
	missing := &vm.FeatureError{Feature: "memfd seals", Err: syscall.ENOSYS}
	restore := vm.SetFeatures(missing, missing, nil, missing)
	defer restore()
	assert.Equal(t, freeze.Protect, snapshot.DefaultMode())
	for _, mode := range []freeze.Mode{freeze.Alias, freeze.Seal} {
		t.Run(mode.String(), func(t *testing.T) {
			requireTakeRefusedUnbuilt(t, mode)

			read := 0
			m, err := snapshot.NewMap(func(yield func(int, int) bool) { read++; yield(1, 1) }, snapshot.WithMode(mode))
			assert.Nil(t, m)
			require.ErrorIs(t, err, freeze.ErrModeUnsupported)
			assert.Zero(t, read, "entries read before the mode was checked")
		})
	}
	s, err := snapshot.Take(bulky{Name: "protect"}, snapshot.WithMode(freeze.Protect))
	require.NoError(t, err, "Protect needs neither")
	require.NoError(t, s.Close())
}

// requireTakeRefusedUnbuilt holds that Take in mode m, which a probe
// found missing (ENOSYS), fails with an error wrapping
// freeze.ErrModeUnsupported and the probe's before anything is built: not
// a failed Freeze (*freeze.StepError) after the copy, and no arena made.
func requireTakeRefusedUnbuilt(t *testing.T, m freeze.Mode) {
	t.Helper()
	before := statsButMappings()
	s, err := snapshot.Take(bulky{Name: "missing"}, snapshot.WithMode(m))
	assert.Nil(t, s)
	require.ErrorIs(t, err, freeze.ErrModeUnsupported)
	assert.ErrorIs(t, err, syscall.ENOSYS)
	var se *freeze.StepError
	assert.False(t, errors.As(err, &se), "refused by Freeze, after the copy: %v", err)
	assert.Equal(t, before, statsButMappings(), "an arena was made")
}

// WithPermanent where mseal is missing (a kernel before 6.10, or a probe
// that found it refused) is refused by Take and NewMap before anything is
// copied or built, with an error wrapping freeze.ErrModeUnsupported and
// the probe's: never a snapshot that was to be permanent and is not, nor
// a failed mseal (*freeze.StepError) after the copy.
func TestPermanentWithoutMsealIsRefusedBeforeAnythingIsBuilt(t *testing.T) {
	if snapshot.DefaultMode() != freeze.Seal {
		t.Skip("no Seal mode here")
	}
	seals, _, mremap, reopen := vm.Features()
	restore := vm.SetFeatures(seals, &vm.FeatureError{Feature: "mseal (Linux 6.10+)", Err: syscall.ENOSYS}, mremap, reopen)
	defer restore()
	before := statsButMappings()
	s, err := snapshot.Take(bulky{Name: "permanent"}, snapshot.WithMode(freeze.Seal), snapshot.WithPermanent())
	if s != nil {
		assert.NoError(t, s.Close())
	}
	assert.Nil(t, s)
	require.ErrorIs(t, err, freeze.ErrModeUnsupported)
	assert.ErrorIs(t, err, syscall.ENOSYS)
	var se *freeze.StepError
	assert.False(t, errors.As(err, &se), "refused by mseal, after the copy: %v", err)
	assert.Equal(t, before, statsButMappings(), "an arena was made")

	read := 0
	m, err := snapshot.NewMap(func(yield func(int, int) bool) { read++; yield(1, 1) }, snapshot.WithPermanent())
	assert.Nil(t, m)
	require.ErrorIs(t, err, freeze.ErrModeUnsupported)
	assert.Zero(t, read, "entries read before mseal was checked")
}

// liveStats is the accounting of what is live: arena.ReadStats without
// the quarantine, which every release adds to, and without Mappings,
// which counts quarantined ranges' lines of /proc/self/maps too (a
// released range merges with its neighbours, or not).
func liveStats() arena.Stats {
	s := arena.ReadStats()
	s.QuarantinedBytes, s.QuarantinedRanges, s.Mappings = 0, 0, 0
	return s
}

// bulky holds its bytes in the arena: 4 MiB of them make an arena large
// enough for Seal mode to move its page tables aside before remapping
// (see freeze.Seal), a few bytes one it remaps in place.
type bulky struct {
	Name  string
	Bytes []byte
}

// statsButMappings is arena.ReadStats without the mapping count, which
// depends on where ranges lie.
func statsButMappings() arena.Stats {
	s := arena.ReadStats()
	s.Mappings = 0
	return s
}

// Take that fails at any step of freezing (injected) returns no snapshot
// and an error wrapping the step's, and leaves nothing behind: no arena,
// mapping, frozen region or reservation is still counted, and the
// quarantine has not grown (nobody had an address in the failed arena, so
// its ranges need not fault for anyone). The steps are those
// a successful Take goes through in each mode, recorded first, so that a
// step added to a mode is covered too; a small and a 4 MiB value take
// Seal mode's two paths. WithPermanent adds mseal after freezing: its
// failure must release the region that was frozen.
func TestTakeFailingAtAnyFreezeStepLeavesNothing(t *testing.T) {
	t.Cleanup(func() { offheap.SetFailpoint(nil) })
	sizes := []struct {
		name string
		n    int
	}{{"small", 16}, {"4MiB", 4 << 20}}
	for _, mode := range modes() {
		for _, size := range sizes {
			v := bulky{Name: "bulky", Bytes: make([]byte, size.n)}
			var steps []string
			offheap.SetFailpoint(func(step string) error {
				if !slices.Contains(steps, step) {
					steps = append(steps, step)
				}
				return nil
			})
			s, err := snapshot.Take(v, snapshot.WithMode(mode))
			offheap.SetFailpoint(nil)
			require.NoError(t, err)
			require.NoError(t, s.Close())
			require.NotEmpty(t, steps, "the failpoint saw no step")
			t.Logf("%s/%s goes through %q", mode, size.name, steps)

			for _, stepName := range steps {
				t.Run(fmt.Sprintf("%s/%s/%s", mode, size.name, stepName), func(t *testing.T) {
					before := statsButMappings()
					injected := errors.New("injected failure")
					offheap.SetFailpoint(func(step string) error {
						if step == stepName {
							return injected
						}
						return nil
					})
					s, err := snapshot.Take(v, snapshot.WithMode(mode))
					offheap.SetFailpoint(nil)
					if s != nil {
						assert.NoError(t, s.Close())
					}
					assert.Nil(t, s, "a snapshot was returned with the error")
					require.ErrorIs(t, err, injected)
					var se *freeze.StepError
					require.ErrorAs(t, err, &se)
					assert.Equal(t, stepName, se.Step)
					assert.Equal(t, mode, se.Mode)
					assert.NoError(t, se.Rollback)
					assert.Equal(t, before, statsButMappings(), "a failed Take left something live, or quarantined")
				})
			}
		}
	}

	t.Run("Seal/permanent/mseal", func(t *testing.T) {
		if snapshot.DefaultMode() != freeze.Seal {
			t.Skip("no Seal mode here")
		}
		if err := offheap.MsealMissing(); err != nil {
			t.Skip(err)
		}
		before := statsButMappings()
		injected := errors.New("injected failure")
		reached := false
		offheap.SetFailpoint(func(step string) error {
			if step == "mseal" {
				reached = true
				return injected
			}
			return nil
		})
		s, err := snapshot.Take(bulky{Name: "permanent"}, snapshot.WithMode(freeze.Seal), snapshot.WithPermanent())
		offheap.SetFailpoint(nil)
		require.True(t, reached, "Take WithPermanent never reached mseal")
		if s != nil {
			assert.NoError(t, s.Close())
		}
		assert.Nil(t, s, "a snapshot was returned with the error")
		require.ErrorIs(t, err, injected)
		assert.NotErrorIs(t, err, freeze.ErrPermanent)
		assert.Equal(t, before, statsButMappings(), "the region frozen before mseal failed was not released, or was quarantined")
	})
}

// TestNameIsOnlyALabel: Take and NewMap accept names the kernel would
// refuse for a memfd (over 249 bytes, or holding NUL); the snapshot, its
// region and its fault reports keep the name whole, and /proc/self/maps
// shows the label the kernel was given.
func TestNameIsOnlyALabel(t *testing.T) {
	long := "/" + strings.Repeat("名前", 50) // 301 bytes; byte 249 is the last of a 3-byte rune
	for _, tc := range []struct {
		name, in, memfd string
	}{
		{"301 bytes", long, long[:247]},
		{"NUL", "a\x00b", "a_b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := snapshot.Take(&Node{Name: "n"}, snapshot.WithName(tc.in), snapshot.WithMode(freeze.Protect))
			require.NoError(t, err)
			defer s.Close()
			assert.Equal(t, tc.in, s.Name())
			assert.Equal(t, tc.in, s.Region().Name())
			v := s.Value()
			var wf *freeze.WriteFault
			require.ErrorAs(t, freeze.Guard(func() { v.Name = "w" }), &wf)
			assert.Equal(t, tc.in, wf.Region)

			m, err := snapshot.NewMap(maps.All(map[string]int{"k": 1}), snapshot.WithName(tc.in))
			require.NoError(t, err)
			defer m.Close()
			assert.Equal(t, tc.in, m.Region().Name())

			if vm.Backend != "memfd" {
				return
			}
			mm, err := vm.ReadMaps()
			require.NoError(t, err)
			e, ok := mm.Find(uintptr(unsafe.Pointer(v)))
			require.True(t, ok)
			assert.Equal(t, "/memfd:"+tc.memfd+" (deleted)", e.Path)
		})
	}
}

func TestDefaultMode(t *testing.T) {
	s, err := snapshot.Take(1)
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, snapshot.DefaultMode(), s.Region().Mode())
	if vm.Backend == "memfd" {
		assert.Equal(t, freeze.Seal, snapshot.DefaultMode())
	} else {
		assert.Equal(t, freeze.Protect, snapshot.DefaultMode())
	}
}

func TestStatsFollowSnapshots(t *testing.T) {
	before := arena.ReadStats()
	s, err := snapshot.Take(fixture.NewConfig(1000))
	require.NoError(t, err)
	mid := arena.ReadStats()
	assert.Equal(t, before.Arenas+1, mid.Arenas)
	assert.Equal(t, before.FrozenArenas+1, mid.FrozenArenas)
	assert.Equal(t, before.FrozenBytes+int64(s.Size()), mid.FrozenBytes)
	assert.GreaterOrEqual(t, mid.MappedBytes-before.MappedBytes, int64(s.Size()))
	require.NoError(t, s.Close())
	after := arena.ReadStats()
	assert.Equal(t, before.Arenas, after.Arenas)
	assert.Equal(t, before.MappedBytes, after.MappedBytes)
	assert.Equal(t, before.FrozenBytes, after.FrozenBytes)
	assert.Greater(t, after.QuarantinedRanges, 0)
	if vm.Backend == "memfd" {
		assert.Greater(t, after.Mappings, 0)
	}
}

// Released ranges stay in quarantine, where a read names the snapshot
// closed and new snapshots never land, until the budget (here four
// ranges) is spent; then the oldest leaves it first, and only the oldest.
func TestQuarantineKeepsReleasedRangesUntilBudgetIsSpent(t *testing.T) {
	pb, pr := arena.SetQuarantine(1<<40, 4)
	defer arena.SetQuarantine(pb, pr)
	var closed []*int // pointers kept past Close
	for i := range 4 {
		s, err := snapshot.Take(i, snapshot.WithName("q"+strconv.Itoa(i)))
		require.NoError(t, err)
		closed = append(closed, s.Pointer())
		require.NoError(t, s.Close())
	}
	nameAt := func(p *int) string {
		t.Helper()
		var uac *freeze.UseAfterClose
		require.ErrorAs(t, freeze.Guard(func() { sinkInt = *p }), &uac)
		return uac.Region
	}
	for i := range 8 {
		s, err := snapshot.Take(i)
		require.NoError(t, err)
		defer s.Close()
		// slices.Contains compares the pointers (testify's would read them).
		assert.False(t, slices.Contains(closed, s.Pointer()), "a quarantined range was reused before the budget was spent")
	}
	for i, p := range closed {
		assert.Equal(t, "q"+strconv.Itoa(i), nameAt(p))
	}
	s, err := snapshot.Take(0)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	assert.Empty(t, nameAt(closed[0]), "the oldest left quarantine")
	for i, p := range closed[1:] {
		assert.Equal(t, "q"+strconv.Itoa(i+1), nameAt(p))
	}
}

var sinkInt int

func rssBytes(t *testing.T) int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skip(err)
	}
	var size, rss int64
	_, err = fmt.Sscan(string(data), &size, &rss)
	require.NoError(t, err)
	return rss * int64(os.Getpagesize())
}

func TestHundredThousandTakeCloseCyclesLeakNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	if runtime.GOOS != "linux" {
		t.Skip("counts /proc entries")
	}
	n := leakCycles
	val := Node{Name: strings.Repeat("x", 100), Kids: []*Node{{Name: "k"}}}
	cycle := func() {
		s, err := snapshot.Take(val)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 1000; i++ { // warm up: quarantine, pools, runtime threads
		cycle()
	}
	runtime.GC()
	fds := countFDs(t)
	before := arena.ReadStats()
	maps := before.Mappings
	rss := rssBytes(t)
	for i := 0; i < n; i++ {
		cycle()
	}
	runtime.GC()
	st := arena.ReadStats()
	t.Logf("after %d cycles: fds %d→%d, mappings %d→%d, RSS %d→%d MiB, quarantine %d ranges",
		n, fds, countFDs(t), maps, st.Mappings, rss>>20, rssBytes(t)>>20, st.QuarantinedRanges)
	assert.Equal(t, fds, countFDs(t), "descriptors leaked")
	assert.LessOrEqual(t, st.Mappings, maps+4, "mappings grew")
	assert.Less(t, rssBytes(t)-rss, int64(64<<20), "resident memory grew")
	assert.Equal(t, before.Arenas, st.Arenas, "arenas counted open after their Close")
	assert.Equal(t, before.FrozenArenas, st.FrozenArenas, "regions counted frozen after their Close")
}

func countFDs(t *testing.T) int {
	n, err := proc.OpenFDs()
	if err != nil {
		t.Skip(err)
	}
	return n
}

func TestLiveSnapshotsHoldAtMostOneDescriptor(t *testing.T) {
	fds := countFDs(t)
	var live []func() error
	for _, m := range modes() {
		for i := 0; i < 50; i++ {
			s, err := snapshot.Take(i, snapshot.WithMode(m))
			require.NoError(t, err)
			require.NoError(t, s.Region().Wait())
			live = append(live, s.Close)
		}
	}
	perSeal := 0
	if snapshot.DefaultMode() == freeze.Seal {
		perSeal = 50 // Seal keeps the read-only descriptor for Region.File
	}
	assert.Equal(t, fds+perSeal, countFDs(t), "Protect and Alias snapshots hold no descriptor")
	for _, c := range live {
		require.NoError(t, c())
	}
	assert.Equal(t, fds, countFDs(t))
}

// TestLiveSnapshotMappingCost: what the package doc says a live snapshot
// costs in kernel mappings (vm.max_map_count), counted in /proc/self/maps:
// at most two in Protect and Seal mode, at most four in Alias mode (its
// view, like the arena, may have a reserved gap after it), small or of
// several MiB (2 MiB-aligned).
func TestLiveSnapshotMappingCost(t *testing.T) {
	count := func() int {
		n, err := space.MapsLines()
		if err != nil {
			t.Skip(err)
		}
		return n
	}
	// The lines in the library's chunks only: those of the whole process
	// counted the runtime's own too, which the 48 MiB of sources made it
	// add (the race detector more), and went past the limit in some runs.
	const n, slack = 16, 8 // slack: a chunk the library reserves meanwhile
	for _, m := range modes() {
		limit := 2
		if m == freeze.Alias {
			limit = 4
		}
		for _, size := range []int{100, 3<<20 + 100} {
			t.Run(fmt.Sprintf("%s/%d", m, size), func(t *testing.T) {
				before := count()
				var live []*snapshot.Snapshot[[]byte]
				for i := 0; i < n; i++ {
					s, err := snapshot.Take(make([]byte, size), snapshot.WithMode(m))
					require.NoError(t, err)
					require.NoError(t, s.Region().Wait())
					live = append(live, s)
				}
				grew := count() - before
				t.Logf("%d live snapshots: %d more mappings", n, grew)
				for _, s := range live {
					require.NoError(t, s.Close())
				}
				assert.LessOrEqual(t, grew, n*limit+slack, "%d live %s snapshots of %d bytes", n, m, size)
				assert.GreaterOrEqual(t, grew, n-slack, "each live snapshot is mapped")
			})
		}
	}
}

// requireReadOnly checks that addr lies, in maps (as read from
// /proc/self/maps), in a read-only shared mapping: frozen memory as
// readers see it, never the owner's writable mapping of Alias mode.
func requireReadOnly(t testing.TB, maps vm.Maps, addr uintptr, what string) {
	t.Helper()
	e, ok := maps.Find(addr)
	require.True(t, ok, "%s (%#x) is not mapped", what, addr)
	require.Equal(t, "r--s", e.Perms, "%s (%#x) lies in %+v", what, addr, e)
}

// The root that Pointer returns, a published version's included, lies in
// read-only memory in every mode, like everything reachable from it: in
// Alias mode it is the root's twin in the read-only view, not the root
// in the owner's writable mapping, and a write through it faults.
func TestPointerIsReadOnlyInEveryMode(t *testing.T) {
	readOnly := func(t *testing.T, what string, p unsafe.Pointer) {
		t.Helper()
		mm, err := vm.ReadMaps()
		if err != nil {
			t.Skip(err)
		}
		requireReadOnly(t, mm, uintptr(p), what)
	}
	for _, m := range modes() {
		t.Run(m.String(), func(t *testing.T) {
			s, err := snapshot.Take(Node{Name: "root", Next: &Node{Name: "next"}}, snapshot.WithMode(m))
			require.NoError(t, err)
			defer s.Close()
			readOnly(t, "Pointer()", unsafe.Pointer(s.Pointer()))
			readOnly(t, "Pointer().Next", unsafe.Pointer(s.Pointer().Next))
			var wf *freeze.WriteFault
			require.ErrorAs(t, freeze.Guard(func() { s.Pointer().Next = nil }), &wf)
			assert.Equal(t, "root", s.Value().Name)

			var st snapshot.Store[Node]
			st.Configure(snapshot.WithMode(m))
			defer st.Close()
			v, err := st.Publish(Node{Name: "v1", Next: &Node{Name: "next"}})
			require.NoError(t, err)
			readOnly(t, "Publish's Pointer()", unsafe.Pointer(v.Pointer()))
			st.Read(func(n Node) { readOnly(t, "Read's Next", unsafe.Pointer(n.Next)) })
		})
	}
}

// A value of no bytes (an empty struct, a zero-length array, an empty
// slice of them) makes an empty arena: Take freezes it in every mode,
// and Value, Verify and Close behave as for any other snapshot.
func TestTakeOfZeroSizeValues(t *testing.T) {
	for _, m := range modes() {
		t.Run(m.String(), func(t *testing.T) {
			requireZeroSize(t, struct{}{}, m)
			requireZeroSize(t, [0]int64{}, m)
			requireZeroSize(t, []struct{}{{}, {}}, m)
		})
	}
}

func requireZeroSize[T any](t *testing.T, v T, m freeze.Mode) {
	t.Helper()
	s, err := snapshot.Take(v, snapshot.WithMode(m))
	require.NoError(t, err)
	assert.Equal(t, m, s.Region().Mode())
	assert.Equal(t, v, s.Value())
	require.NoError(t, s.Verify())
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	assert.ErrorIs(t, s.Verify(), arena.ErrClosed)
	assert.PanicsWithError(t, fmt.Sprintf("%v: Value of snapshot %q after Close", arena.ErrClosed, "snapshot"), func() { s.Value() })
}
