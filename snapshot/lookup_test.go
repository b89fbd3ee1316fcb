//go:build unix && !aix

package snapshot_test

import (
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/backdoor"
	"github.com/frozen-go/frozen/internal/offheap"
	"github.com/frozen-go/frozen/internal/vm"
	"github.com/frozen-go/frozen/snapshot"
)

type Route struct {
	Backend string
	Weights []int
	Next    *Route
}

func TestMapEveryModeAgainstGoMap(t *testing.T) {
	want := map[string]int{}
	for i := 0; i < 10_000; i++ {
		want[fmt.Sprintf("%016x", i*7919)] = i
	}
	for i := 0; i < 100; i++ { // long keys, stored apart from the slots
		want[fmt.Sprintf("a key longer than sixteen bytes, number %d", i)] = -i
	}
	for _, m := range modes() {
		t.Run(m.String(), func(t *testing.T) {
			fm, err := snapshot.NewMap(maps.All(want), snapshot.WithMode(m), snapshot.WithName("table"))
			require.NoError(t, err)
			defer fm.Close()
			assert.Equal(t, len(want), fm.Len())
			assert.Equal(t, "open-addressing", fm.Strategy())
			for k, v := range want {
				got, ok := fm.Get(k)
				require.True(t, ok)
				require.Equal(t, v, got)
			}
			_, ok := fm.Get("absent")
			assert.False(t, ok)
			assert.Equal(t, want, maps.Collect(fm.All()))
			requireKeysInNamesEachEntry(t, fm, want)
			require.NoError(t, fm.Verify())
			// Keys yielded by All, short and long, live in the frozen,
			// read-only table (in Alias mode: in the alias mapping).
			maps, err := vm.ReadMaps()
			if err != nil {
				t.Skipf("no /proc/self/maps: %v", err)
			}
			for k := range fm.All() {
				e, ok := maps.Find(uintptr(unsafe.Pointer(unsafe.StringData(k))))
				require.True(t, ok, "key %q", k)
				require.Equal(t, "r--s", e.Perms, "key %q", k)
			}
		})
	}
}

func TestMapPointerValuesAreClonedAndFrozen(t *testing.T) {
	shared := &Route{Backend: "shared", Weights: []int{1, 2}}
	src := map[uint32]*Route{1: shared, 2: shared, 3: {Backend: "c", Next: shared}}
	for i := uint32(100); i < 200; i++ {
		src[i*1000] = &Route{Backend: fmt.Sprint(i)}
	}
	fm, err := snapshot.NewMap(maps.All(src))
	require.NoError(t, err)
	defer fm.Close()
	a, _ := fm.Get(1)
	b, _ := fm.Get(2)
	c, _ := fm.Get(3)
	assert.Same(t, a, b, "shared values stay shared")
	assert.Same(t, a, c.Next)
	assert.NotSame(t, shared, a, "values were copied into the map's arena")
	assert.Equal(t, "shared", a.Backend)
	err = freeze.Guard(func() { a.Weights[1] = 5 })
	var wf *freeze.WriteFault
	require.ErrorAs(t, err, &wf)
	assert.Equal(t, "map", wf.Region)
	shared.Backend = "changed"
	assert.Equal(t, "shared", a.Backend)
}

// TestMapIntegerKeysPointerValuesReadOnly: a table of 8-byte integer keys
// (which stores hashes in place of keys) with pointer-bearing values, in
// every mode: every pointer a reader can reach from Get or All, and the
// bytes of every string, lies in a read-only shared mapping (in Alias
// mode: the alias view), and All gives back every key.
func TestMapIntegerKeysPointerValuesReadOnly(t *testing.T) {
	shared := &Route{Backend: "shared", Weights: []int{1, 2}}
	src := map[int64]*Route{-1: shared}
	for i := int64(0); i < 1000; i++ {
		src[i*0x9e3779b97f4a7c1] = &Route{Backend: fmt.Sprint("b", i), Weights: []int{int(i)}, Next: shared}
	}
	for _, m := range modes() {
		t.Run(m.String(), func(t *testing.T) {
			fm := newMapIn(t, src, m)
			require.Equal(t, "open-addressing", fm.Strategy())
			mp, err := vm.ReadMaps()
			if err != nil {
				t.Skipf("no /proc/self/maps: %v", err)
			}
			readOnly := func(p unsafe.Pointer, what string) {
				t.Helper()
				requireReadOnly(t, mp, uintptr(p), what)
			}
			seen := 0
			for k, r := range fm.All() {
				want, in := src[k]
				require.True(t, in, "All yields %d, not a key", k)
				got, ok := fm.Get(k)
				require.True(t, ok)
				require.Same(t, r, got)
				require.Equal(t, want.Backend, r.Backend)
				require.Equal(t, want.Weights, r.Weights)
				readOnly(unsafe.Pointer(r), "value")
				readOnly(unsafe.Pointer(unsafe.StringData(r.Backend)), "string")
				readOnly(unsafe.Pointer(&r.Weights[0]), "slice")
				if r.Next != nil {
					readOnly(unsafe.Pointer(r.Next), "Next")
					want, _ := fm.Get(-1)
					require.Same(t, want, r.Next, "shared value not shared")
				}
				seen++
			}
			assert.Equal(t, len(src), seen)
		})
	}
}

func TestMapEmptyAndTiny(t *testing.T) {
	empty, err := snapshot.NewMap[string, int](nil)
	require.NoError(t, err)
	_, ok := empty.Get("x")
	assert.False(t, ok)
	assert.Equal(t, 0, empty.Len())
	assert.Empty(t, maps.Collect(empty.All()))
	require.NoError(t, empty.Close())

	one, err := snapshot.NewMap(maps.All(map[string]int{"only": 1}))
	require.NoError(t, err)
	defer one.Close()
	v, ok := one.Get("only")
	assert.True(t, ok)
	assert.Equal(t, 1, v)
	assert.Equal(t, "tiny", one.Strategy())
}

// TestZeroMapCountsAsClosed: a zero-value Map is an empty table to the
// methods that read it, and a closed one to those that check or release
// it, as a zero-value Snapshot is; none dereferences nil.
func TestZeroMapCountsAsClosed(t *testing.T) {
	var m snapshot.Map[string, int]
	_, ok := m.Get("x")
	assert.False(t, ok)
	assert.Equal(t, 0, m.Len())
	assert.Equal(t, "empty", m.Strategy())
	assert.Empty(t, maps.Collect(m.All()))
	requireNoMap(t, &m)
	assert.ErrorIs(t, m.Close(), arena.ErrClosed, "a second Close")
}

// requireNoMap checks that m, a zero-value or nil *Map, acts as no table
// to the methods that check or release it: Size 0, Name "", Region nil,
// and Verify, KeysIn and Close return an error wrapping arena.ErrClosed.
func requireNoMap[K comparable, V any](t *testing.T, m *snapshot.Map[K, V]) {
	t.Helper()
	assert.Equal(t, 0, m.Size())
	assert.Empty(t, m.Name())
	assert.Nil(t, m.Region())
	assert.ErrorIs(t, m.Verify(), arena.ErrClosed)
	_, err := m.KeysIn(0, 1<<20)
	assert.ErrorIs(t, err, arena.ErrClosed)
	assert.ErrorIs(t, m.Close(), arena.ErrClosed)
}

// To the methods that check or release a table, a nil *Map is the zero
// value: NewMap's error is returned by a Close deferred before checking
// it, not a nil dereference.
func TestNilMapCountsAsClosed(t *testing.T) {
	m, err := snapshot.NewMap(maps.All(map[float64]int{1: 1})) // refused: float keys
	require.ErrorIs(t, err, arena.ErrUnsupported)
	require.Nil(t, m)
	requireNoMap(t, m)
}

func TestMapErrors(t *testing.T) {
	_, err := snapshot.NewMap(maps.All(map[float64]int{1: 1}))
	assert.ErrorIs(t, err, arena.ErrUnsupported)
	assert.Contains(t, err.Error(), "floats")

	_, err = snapshot.NewMap(maps.All(map[*int]int{new(int): 1}))
	assert.ErrorIs(t, err, arena.ErrUnsupported)

	_, err = snapshot.NewMap(maps.All(map[string]map[string]int{"a": {}}))
	assert.ErrorIs(t, err, arena.ErrUnsupported)
	assert.Contains(t, err.Error(), "map[string]int")

	dup := func(yield func(string, int) bool) {
		for _, k := range []string{"a", "b", "c", "a"} {
			if !yield(k, 0) {
				return
			}
		}
	}
	before := arena.ReadStats().Arenas
	_, err = snapshot.NewMap(dup)
	assert.ErrorIs(t, err, snapshot.ErrDuplicateKey)
	assert.Contains(t, err.Error(), `"a"`)
	assert.Equal(t, before, arena.ReadStats().Arenas, "nothing left allocated")
}

// TestMapOptionsCheckedBeforeTheBuild: NewMap refuses a mode it cannot
// freeze in before it reads an entry, so an invalid mode costs no build
// and its error is not hidden behind one the build would have found (a
// duplicate key). A nil Option is skipped, in NewMap as in Take.
func TestMapOptionsCheckedBeforeTheBuild(t *testing.T) {
	read := 0
	entries := func(yield func(int, int) bool) {
		for _, k := range []int{1, 2, 1} {
			read++
			if !yield(k, k) {
				return
			}
		}
	}
	for _, opts := range [][]snapshot.Option{
		{snapshot.WithMode(0)},
		{snapshot.WithMode(freeze.Protect), snapshot.WithPermanent()},
	} {
		read = 0
		_, err := snapshot.NewMap(entries, opts...)
		require.ErrorIs(t, err, freeze.ErrModeUnsupported)
		assert.NotErrorIs(t, err, snapshot.ErrDuplicateKey)
		assert.Zero(t, read, "entries read before the options were checked")
	}

	m, err := snapshot.NewMap(maps.All(map[int]string{7: "seven"}), nil, snapshot.WithName("nil-option"), nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, m.Close()) }()
	v, ok := m.Get(7)
	assert.True(t, ok)
	assert.Equal(t, "seven", v)
	assert.Equal(t, "nil-option", m.Region().Name())

	s, err := snapshot.Take(3, nil)
	require.NoError(t, err)
	assert.Equal(t, 3, s.Value())
	assert.Equal(t, snapshot.DefaultMode(), s.Region().Mode())
	require.NoError(t, s.Close())
}

// A value type that can never be copied (a channel, a func, a map) is
// refused by NewMap before it reads an entry, whatever the entries, with
// an error wrapping arena.ErrUnsupported that names the type, and nothing
// left allocated: the build is not run to find it.
func TestMapValueTypeCheckedBeforeTheBuild(t *testing.T) {
	before := arena.ReadStats().Arenas
	read := 0
	_, err := snapshot.NewMap(func(yield func(string, chan int) bool) {
		read++
		yield("a", make(chan int))
	})
	require.ErrorIs(t, err, arena.ErrUnsupported)
	assert.Contains(t, err.Error(), "chan int")
	assert.Zero(t, read, "entries read before the value type was checked")
	assert.Equal(t, before, arena.ReadStats().Arenas, "nothing left allocated")
}

type indexed struct {
	Name  string
	Index map[string]int
}

type hooked struct {
	Extra any
}

// TestMapValueErrorNamesKeyAndPath: a value NewMap cannot copy is named by
// its key and the path inside the value, not by the table's internals.
func TestMapValueErrorNamesKeyAndPath(t *testing.T) {
	const noMaps = "maps are not supported (build a snapshot.Map instead)"
	withBad := func(n int, bad any) map[string]any {
		m := map[string]any{}
		for i := range n {
			m[fmt.Sprint("key", i)] = i
		}
		m["abc"] = bad
		return m
	}
	intKeys := func(n int, bad hooked) map[int]hooked {
		m := map[int]hooked{}
		for i := range n {
			m[i*7919] = hooked{Extra: i}
		}
		m[42] = bad
		return m
	}
	for _, tc := range []struct {
		name  string
		build func() error
		want  string
	}{
		{"string key, tiny", func() error { _, err := snapshot.NewMap(maps.All(withBad(3, indexed{}))); return err },
			`snapshot: value of key "abc": indexed.Index: map[string]int: ` + noMaps},
		{"string key, hashed", func() error { _, err := snapshot.NewMap(maps.All(withBad(1000, &indexed{}))); return err },
			`snapshot: value of key "abc": *indexed.Index: map[string]int: ` + noMaps},
		{"string key, inside a slice", func() error {
			_, err := snapshot.NewMap(maps.All(withBad(1000, []any{1, make(chan int)})))
			return err
		}, `snapshot: value of key "abc": []interface {}[1]: chan int: channels are not supported`},
		{"int key, hashed", func() error {
			_, err := snapshot.NewMap(maps.All(intKeys(1000, hooked{Extra: func() {}})))
			return err
		}, `snapshot: value of key 42: hooked.Extra: func(): funcs are not supported`},
		{"int key, nested", func() error {
			_, err := snapshot.NewMap(maps.All(intKeys(3, hooked{Extra: hooked{Extra: map[int]int{}}})))
			return err
		}, `snapshot: value of key 42: hooked.Extra.(hooked).Extra: map[int]int: ` + noMaps},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := arena.ReadStats().Arenas
			err := tc.build()
			require.ErrorIs(t, err, arena.ErrUnsupported)
			assert.EqualError(t, err, tc.want)
			assert.Equal(t, before, arena.ReadStats().Arenas, "nothing left allocated")
		})
	}
}

// TestLargeMapLeavesNoHeapGarbage: a large table of pointer-free values
// is built in scratch memory outside the Go heap, released once the table
// is frozen, so that NewMap allocates on the Go heap little more than the
// collected entries (16 bytes each here; built on the heap it allocated
// over 80), and a duplicate key found late leaves no arena and no
// scratch memory behind.
func TestLargeMapLeavesNoHeapGarbage(t *testing.T) {
	const n = 1 << 17
	spread := uint64(0x9e3779b97f4a7c15) // hashed, not dense
	src := func(yield func(uint64, uint64) bool) {
		for i := range uint64(n) {
			if !yield(i*spread, i) {
				return
			}
		}
	}
	before, scratch := arena.ReadStats(), offheap.LiveScratchBytes()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	fm, err := snapshot.NewMap(src)
	runtime.ReadMemStats(&m1)
	require.NoError(t, err)
	defer fm.Close()
	assert.Equal(t, scratch, offheap.LiveScratchBytes(), "scratch memory kept after the build")
	perEntry := float64(m1.TotalAlloc-m0.TotalAlloc) / n
	assert.Less(t, perEntry, 24.0, "bytes allocated on the Go heap per entry")
	after := arena.ReadStats()
	assert.Equal(t, before.Arenas+1, after.Arenas, "an arena besides the map's is open")
	for i := range uint64(n) {
		v, ok := fm.Get(i * spread)
		require.True(t, ok)
		require.Equal(t, i, v)
	}

	_, err = snapshot.NewMap(func(yield func(uint64, uint64) bool) {
		src(yield)
		yield(7*spread, 0)
	})
	require.ErrorIs(t, err, snapshot.ErrDuplicateKey)
	assert.Equal(t, after.Arenas, arena.ReadStats().Arenas, "an arena left open by a failed build")
	assert.Equal(t, scratch, offheap.LiveScratchBytes(), "scratch memory kept after a failed build")
}

func TestMapGetDoesNotAllocate(t *testing.T) {
	src := map[string]string{}
	for i := 0; i < 1000; i++ {
		src[fmt.Sprint("key", i)] = strings.Repeat("v", i%20)
	}
	fm, err := snapshot.NewMap(maps.All(src))
	require.NoError(t, err)
	defer fm.Close()
	ints, err := snapshot.NewMap(maps.All(map[uint64]uint64{1: 1, 1 << 40: 2, 7: 3, 9: 9, 11: 1, 13: 1, 15: 1, 17: 1, 19: 1}))
	require.NoError(t, err)
	defer ints.Close()
	assert.Zero(t, testing.AllocsPerRun(1000, func() {
		fm.Get("key42")
		fm.Get("missing")
		ints.Get(1 << 40)
		ints.Get(2)
	}))
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = fm.Verify() }))
}

// Get does not allocate for values of up to 128 KiB, the largest variable
// Go keeps on the stack, nor for larger ones behind a pointer, as its
// documentation says.
func TestMapGetOfLargeValuesDoesNotAllocate(t *testing.T) {
	type largest [128 << 10]byte
	type larger [128<<10 + 8]byte
	flat, err := snapshot.NewMap(maps.All(map[string]largest{"a": {1}, "b": {2}, "c": {3}}))
	require.NoError(t, err)
	defer flat.Close()
	boxed, err := snapshot.NewMap(maps.All(map[string]*larger{"a": {1}, "b": {2}, "c": {3}}))
	require.NoError(t, err)
	defer boxed.Close()
	var v largest
	var p *larger
	assert.Zero(t, testing.AllocsPerRun(20, func() { v, _ = flat.Get("b") }), "a 128 KiB value")
	assert.Zero(t, testing.AllocsPerRun(20, func() { p, _ = boxed.Get("b") }), "a larger value behind a pointer")
	assert.Equal(t, byte(2), v[0])
	assert.Equal(t, byte(2), p[0])
}

func TestMapUseAfterClose(t *testing.T) {
	fm, err := snapshot.NewMap(maps.All(map[string]*Route{"a": {Backend: "x"}}), snapshot.WithName("routes"))
	require.NoError(t, err)
	r, _ := fm.Get("a")
	require.NoError(t, fm.Close())
	assert.PanicsWithError(t, `arena: closed: Get on map "routes" after Close`, func() { fm.Get("a") })
	err = freeze.Guard(func() { _ = r.Backend })
	var uac *freeze.UseAfterClose
	require.True(t, errors.As(err, &uac))
	assert.Equal(t, "routes", uac.Region)

	// Tables of 8-byte integer keys have a lookup of their own.
	im, err := snapshot.NewMap(maps.All(map[uint64]uint64{1: 10, 5: 50, 1 << 40: 7}), snapshot.WithName("ints"))
	require.NoError(t, err)
	require.NoError(t, im.Close())
	assert.PanicsWithError(t, `arena: closed: Get on map "ints" after Close`, func() { im.Get(5) })
}

// A map whose Region (or arena) is closed instead of the map itself is
// closed all the same: Get and All panic with ErrClosed, for string and
// integer tables alike.
func TestMapClosedThroughItsRegion(t *testing.T) {
	fm, err := snapshot.NewMap(maps.All(map[string]int{"a": 1}), snapshot.WithName("by-region"))
	require.NoError(t, err)
	require.NoError(t, fm.Region().Close())
	assert.PanicsWithError(t, `arena: closed: Get on map "by-region" after Close`, func() { fm.Get("a") })
	assert.PanicsWithError(t, `arena: closed: All on map "by-region" after Close`, func() { fm.All() })
	require.NoError(t, fm.Close())

	im, err := snapshot.NewMap(maps.All(map[uint64]uint64{1: 10, 5: 50, 1 << 40: 7}), snapshot.WithName("ints-by-arena"))
	require.NoError(t, err)
	require.NoError(t, im.Region().Arena().Close())
	assert.PanicsWithError(t, `arena: closed: Get on map "ints-by-arena" after Close`, func() { im.Get(5) })
}

// TestPermanentMapStaysUsable: a Close that cannot release a permanent
// (mseal'd) table leaves it usable, Get included.
func TestPermanentMapStaysUsable(t *testing.T) {
	if seals, mseal, _, _ := vm.Features(); seals != nil || mseal != nil {
		t.Skip("needs memfd seals and mseal: ", errors.Join(seals, mseal))
	}
	for _, keys := range []map[uint64]uint64{{1: 10, 2: 20}, {1: 10, 5: 50, 1 << 40: 7, 1 << 50: 8, 3: 3, 4: 4, 6: 6, 7: 7, 9: 9, 11: 11}} {
		m, err := snapshot.NewMap(maps.All(keys), snapshot.WithPermanent())
		require.NoError(t, err)
		assert.ErrorIs(t, m.Close(), freeze.ErrPermanent)
		v, ok := m.Get(1)
		assert.True(t, ok)
		assert.Equal(t, uint64(10), v, m.Strategy())
	}
}

// A sequence from All checks that the map is open at every entry: ranging
// over one taken before Close, or closing the map in the loop's body,
// panics with ErrClosed instead of reading released memory.
func TestMapAllAfterCloseInTheLoop(t *testing.T) {
	strs := map[string]int{}
	for i := range 100 {
		strs[fmt.Sprintf("key-%03d-long-enough-for-the-blob", i)] = i
	}
	ints := map[uint64]int{}
	for i := range uint64(100) {
		ints[i*0x9e3779b97f4a7c15] = int(i)
	}
	fs, err := snapshot.NewMap(maps.All(strs), snapshot.WithName("strs"))
	require.NoError(t, err)
	fi, err := snapshot.NewMap(maps.All(ints), snapshot.WithName("ints"))
	require.NoError(t, err)
	tiny, err := snapshot.NewMap(maps.All(map[[2]int]int{{1, 2}: 3, {4, 5}: 6}), snapshot.WithName("tiny"))
	require.NoError(t, err)

	seq := fs.All()
	require.NoError(t, fs.Close())
	assert.PanicsWithError(t, `arena: closed: All on map "strs" after Close`, func() {
		for k := range seq {
			_ = len(k)
		}
	}, "a sequence taken before Close")
	assert.PanicsWithError(t, `arena: closed: All on map "ints" after Close`, func() {
		for range fi.All() {
			require.NoError(t, fi.Close())
		}
	}, "Close in the loop's body")
	assert.PanicsWithError(t, `arena: closed: All on map "tiny" after Close`, func() {
		for range tiny.All() {
			require.NoError(t, tiny.Close())
		}
	})
	// Closed at the last entry, wherever its slot lies (a tiny map's last
	// entry fills its last slot), the range panics when the body returns.
	for _, m := range []*snapshot.Map[[2]int, int]{
		mustNewMap(t, map[[2]int]int{{1, 2}: 3, {4, 5}: 6}, "last-tiny"),
		mustNewMap(t, map[[2]int]int{{1, 2}: 3, {4, 5}: 6, {7, 8}: 9, {1, 1}: 1, {2, 2}: 2, {3, 3}: 3, {4, 4}: 4, {5, 5}: 5, {6, 6}: 6, {7, 7}: 7}, "last-hashed"),
	} {
		name := m.Region().Name()
		seen := 0
		assert.PanicsWithError(t, `arena: closed: All on map "`+name+`" after Close`, func() {
			for range m.All() {
				if seen++; seen == m.Len() {
					require.NoError(t, m.Close())
				}
			}
		}, name)
		assert.Equal(t, m.Len(), seen, "%s: every entry is yielded before the panic", name)
	}
	// An empty map has no entry to check at: its sequence checks first.
	empty, err := snapshot.NewMap(maps.All(map[string]int{}), snapshot.WithName("empty"))
	require.NoError(t, err)
	seq = empty.All()
	require.NoError(t, empty.Close())
	assert.PanicsWithError(t, `arena: closed: All on map "empty" after Close`, func() {
		for range seq {
		}
	})
}

// Len, Name, Size, Strategy and Region of a Map, and Name and Size of a
// Snapshot, keep answering after Close, with what they said before.
func TestAccessorsAfterCloseGiveTheirLastValues(t *testing.T) {
	fm, err := snapshot.NewMap(maps.All(map[string]int{"a": 1, "b": 2, "c": 3}), snapshot.WithName("kept"))
	require.NoError(t, err)
	n, size, strat, r := fm.Len(), fm.Size(), fm.Strategy(), fm.Region()
	require.Equal(t, 3, n)
	require.NoError(t, fm.Close())
	assert.Equal(t, n, fm.Len())
	assert.Equal(t, size, fm.Size())
	assert.Equal(t, strat, fm.Strategy())
	assert.Same(t, r, fm.Region())
	assert.Equal(t, "kept", r.Name())
	assert.Equal(t, "kept", fm.Name())

	src := []int64{1, 2, 3}
	s, err := snapshot.Take(src, snapshot.WithName("kept too"))
	require.NoError(t, err)
	// The slice header and its three elements, each placed at its source
	// address modulo the largest alignment (8, on 32-bit platforms too,
	// for 64-bit atomics): up to 7 bytes of padding before each.
	least := int(unsafe.Sizeof(src)) + 3*8
	snapSize := s.Size()
	require.GreaterOrEqual(t, snapSize, least)
	require.Less(t, snapSize, least+2*8)
	require.NoError(t, s.Close())
	assert.Equal(t, "kept too", s.Name())
	assert.Equal(t, snapSize, s.Size())
}

// requireKeysInNamesEachEntry checks KeysIn on fm, built from want: over
// the whole table it names every entry once, and from the offset Guard
// reports for a write to a key it names that key's entry.
func requireKeysInNamesEachEntry(t *testing.T, fm *snapshot.Map[string, int], want map[string]int) {
	t.Helper()
	all, err := fm.KeysIn(0, ^uintptr(0))
	require.NoError(t, err)
	slices.Sort(all)
	require.Equal(t, slices.Sorted(maps.Keys(want)), all)
	checked := 0
	for k := range fm.All() {
		if checked++; checked%97 != 0 {
			continue
		}
		last := unsafe.Add(unsafe.Pointer(unsafe.StringData(k)), len(k)-1)
		var wf *freeze.WriteFault
		require.ErrorAs(t, freeze.Guard(func() { *(*byte)(last) = 'X' }), &wf)
		if vm.FaultPageOnly { // the kernel reports the page only
			got, err := fm.KeysIn(wf.Offset, wf.Offset+vm.PageSize)
			require.NoError(t, err)
			require.Contains(t, got, k)
			continue
		}
		got, err := fm.KeysIn(wf.Offset, wf.Offset+1)
		require.NoError(t, err)
		require.Equal(t, []string{k}, got, "the entry at %s", wf.Path)
	}
	none, err := fm.KeysIn(uintptr(fm.Size()), ^uintptr(0))
	require.NoError(t, err)
	require.Empty(t, none)
}

// An entry whose bytes straddle two changed pages is named once in
// Verify's error, not once per page.
func TestMapVerifyNamesAnEntryAcrossTwoPagesOnce(t *testing.T) {
	want := map[string][1500]byte{}
	for i := range 60 {
		want[fmt.Sprintf("key-%02d", i)] = [1500]byte{byte(i)}
	}
	fm, err := snapshot.NewMap(maps.All(want), snapshot.WithMode(freeze.Protect))
	require.NoError(t, err)
	defer fm.Close()
	require.NoError(t, fm.Region().Wait())
	keys, base, at := tableBytes(t, fm)
	// A page boundary inside one entry, whose page before holds few
	// enough entries that Verify goes on to the page after it.
	page := uintptr(vm.PageSize)
	for b := page; b+1 < uintptr(fm.Size()); b += page {
		before, err := fm.KeysIn(b-1, b)
		require.NoError(t, err)
		after, err := fm.KeysIn(b, b+1)
		require.NoError(t, err)
		onPage, err := fm.KeysIn(b-page, b)
		require.NoError(t, err)
		// The bytes changed are no key's: the error names keys as they
		// read now.
		if len(before) != 1 || !slices.Equal(before, after) || len(onPage) > 3 || inKey(keys, base, b-1) || inKey(keys, base, b) {
			continue
		}
		require.NoError(t, backdoor.Reprotect(at(b-1), ^*at(b - 1)))
		require.NoError(t, backdoor.Reprotect(at(b), ^*at(b)))
		err = fm.Verify()
		var ce *freeze.CorruptionError
		require.ErrorAs(t, err, &ce)
		require.Len(t, ce.Changed, 2)
		assert.Equal(t, 1, strings.Count(err.Error(), fmt.Sprintf("%q", before[0])), "%v", err)
		return
	}
	t.Skip("no page boundary inside an entry with few entries before it (pages too large)")
}

// tableBytes returns the keys of a frozen table as it holds them, the
// address of its first byte, and at, which gives its byte at an offset
// (reached from a key's address, as no pointer may be made of a number).
func tableBytes[V any](t *testing.T, fm *snapshot.Map[string, V]) (keys []string, base uintptr, at func(off uintptr) *byte) {
	t.Helper()
	for k := range fm.All() {
		keys = append(keys, k)
	}
	require.NotEmpty(t, keys)
	// An address and offset in the table, from a fault on a key's byte.
	p0 := unsafe.Pointer(unsafe.StringData(keys[0]))
	var wf *freeze.WriteFault
	require.ErrorAs(t, freeze.Guard(func() { *(*byte)(p0) = 0 }), &wf)
	// Addr - Offset is the table's first byte, even where the kernel
	// reports only the page of a fault (linux/s390x).
	base = wf.Addr - wf.Offset
	return keys, base, func(off uintptr) *byte { return (*byte)(unsafe.Add(p0, int(off)-int(uintptr(p0)-base))) }
}

// inKey reports whether the byte at offset off of a table whose first
// byte is at base is one of the bytes of the keys (read from the table).
func inKey(keys []string, base, off uintptr) bool {
	return slices.ContainsFunc(keys, func(k string) bool {
		s := uintptr(unsafe.Pointer(unsafe.StringData(k))) - base
		return s <= off && off < s+uintptr(len(k))
	})
}

// Verify's error names at most four entries, and ends with an ellipsis
// exactly when more have bytes on the changed pages: a changed page of
// four entries names the four, with no ellipsis, and a change on the next
// page too, which holds a fifth, adds the ellipsis (the error must not
// read as if it listed every entry a change may have hit, nor as if it
// left some out).
func TestMapVerifyMarksEntriesLeftUnnamed(t *testing.T) {
	// Entries of about 1.1 KiB: a 4 KiB page holds bytes of four or five.
	want := map[string][1100]byte{}
	for i := range 100 {
		want[fmt.Sprintf("key-%02d", i)] = [1100]byte{byte(i)}
	}
	fm, err := snapshot.NewMap(maps.All(want), snapshot.WithMode(freeze.Protect))
	require.NoError(t, err)
	defer fm.Close()
	require.NoError(t, fm.Region().Wait())
	keys, base, at := tableBytes(t, fm)
	// flip changes the first byte at or after off that is no key's (the
	// error names keys as they read now), so the entries on its page
	// stay those KeysIn found.
	flip := func(off uintptr) {
		t.Helper()
		for inKey(keys, base, off) {
			off++
		}
		require.NoError(t, backdoor.Reprotect(at(off), ^*at(off)))
	}
	page := uintptr(vm.PageSize)
	for b := page; b+page <= uintptr(fm.Size()); b += page {
		first, err := fm.KeysIn(b-page, b)
		require.NoError(t, err)
		second, err := fm.KeysIn(b, b+page)
		require.NoError(t, err)
		if len(first) != 4 || !slices.ContainsFunc(second, func(k string) bool { return !slices.Contains(first, k) }) {
			continue
		}
		flip(b - page)
		err = fm.Verify()
		var ce *freeze.CorruptionError
		require.ErrorAs(t, err, &ce)
		require.Len(t, ce.Changed, 1)
		for _, k := range first {
			assert.Contains(t, err.Error(), fmt.Sprintf("%q", k))
		}
		assert.NotContains(t, err.Error(), "…")

		flip(b)
		err = fm.Verify()
		require.ErrorAs(t, err, &ce)
		require.Len(t, ce.Changed, 2)
		assert.True(t, strings.HasSuffix(err.Error(), ", …"), "%v", err)
		_, list, found := strings.Cut(err.Error(), "entries with bytes there: ")
		require.True(t, found, "%v", err)
		assert.Len(t, strings.Split(list, ", "), 5, "four keys and the ellipsis: %v", err)
		return
	}
	t.Skip("no page holding exactly four entries here (pages too large)")
}

// A change only in what values point to (a string's bytes, cloned beside
// the table) is on no entry's bytes: Verify returns the region's error as
// it is, the *freeze.CorruptionError naming the page, with no list of
// entries (an empty one would read as if the table had been searched and
// held nothing there).
func TestMapVerifyOfAChangeBesideTheEntriesNamesNone(t *testing.T) {
	long := strings.Repeat("v", 5*int(vm.PageSize))
	fm, err := snapshot.NewMap(maps.All(map[string]string{"a": "short", "b": long}), snapshot.WithMode(freeze.Protect))
	require.NoError(t, err)
	defer fm.Close()
	require.NoError(t, fm.Region().Wait())
	v, ok := fm.Get("b")
	require.True(t, ok)
	// A byte in the middle of the long value: its page holds nothing else.
	mid := (*byte)(unsafe.Add(unsafe.Pointer(unsafe.StringData(v)), len(v)/2))
	require.NoError(t, backdoor.Reprotect(mid, 'W'))
	err = fm.Verify()
	var ce *freeze.CorruptionError
	require.ErrorAs(t, err, &ce)
	require.Len(t, ce.Changed, 1)
	assert.Equal(t, ce.Error(), err.Error())
	assert.NotContains(t, err.Error(), "entries")
}

// Verify's error names the entries on a changed page, as they read now,
// and KeysIn lists them all.
func TestMapVerifyNamesTheEntriesOnAChangedPage(t *testing.T) {
	want := map[string]int{}
	for i := range 2000 {
		want[fmt.Sprintf("key-%05d", i)] = i
	}
	fm, original := garbledMap(t, want)
	garbled := "Z" + original[1:]
	err := fm.Verify()
	var ce *freeze.CorruptionError
	require.ErrorAs(t, err, &ce)
	require.Len(t, ce.Changed, 1)
	assert.Contains(t, err.Error(), fmt.Sprintf("%q", garbled))
	onPage, err := fm.KeysIn(ce.Changed[0].Start, ce.Changed[0].End)
	require.NoError(t, err)
	assert.Contains(t, onPage, garbled)
	assert.NotContains(t, onPage, original)
	require.NoError(t, fm.Close())
	_, err = fm.KeysIn(0, 1)
	assert.ErrorIs(t, err, arena.ErrClosed)
}

// Map.Verify racing Close names the entries on a changed page or says
// the map is closed, as Region.Verify does, and never reads the table's
// memory after Close released it.
func TestMapVerifyRacingCloseReportsOrRefuses(t *testing.T) {
	want := map[string]int{}
	for i := range 20000 {
		want[fmt.Sprintf("a key longer than sixteen bytes, number %06d", i)] = i
	}
	// Each round's Verify gets round%20 × 25 µs before Close; -short (and
	// the runs under emulation, where a round takes a third of a second)
	// tries each delay once.
	rounds := 60
	if testing.Short() {
		rounds = 20
	}
	var corrupt, closed int
	for round := range rounds {
		fm, _ := garbledMap(t, want)
		done := make(chan error)
		go func() { done <- fm.Verify() }()
		time.Sleep(time.Duration(round%20) * 25 * time.Microsecond)
		require.NoError(t, fm.Close())
		err := <-done
		var ce *freeze.CorruptionError
		switch {
		case errors.As(err, &ce):
			corrupt++
		case errors.Is(err, arena.ErrClosed):
			closed++
		default:
			t.Fatalf("round %d: Verify racing Close returned %v", round, err)
		}
	}
	t.Logf("%d corruption reports, %d closed", corrupt, closed)
}

// garbledMap builds a frozen map of want (Protect mode) and turns the
// first byte of one key in it to 'Z' behind the library's back. It
// returns the map and the key as it was.
func garbledMap(t *testing.T, want map[string]int) (*snapshot.Map[string, int], string) {
	t.Helper()
	fm, err := snapshot.NewMap(maps.All(want), snapshot.WithMode(freeze.Protect), snapshot.WithName("table"))
	require.NoError(t, err)
	require.NoError(t, fm.Region().Wait())
	var victim string
	for k := range fm.All() {
		victim = k
		break
	}
	original := strings.Clone(victim) // victim aliases the table
	require.NoError(t, backdoor.Reprotect(unsafe.StringData(victim), 'Z'))
	return fm, original
}

// The keys KeysIn returns are the caller's, as an error naming them would
// be: unlike All's, which alias the table, they stay readable after
// Close, short keys (kept in the slots) and long ones (in the table's
// blob) alike.
func TestMapKeysInOutliveClose(t *testing.T) {
	long := "a key longer than sixteen bytes"
	fm, err := snapshot.NewMap(maps.All(map[string]int{"short": 1, long: 2}), snapshot.WithName("table"))
	require.NoError(t, err)
	keys, err := fm.KeysIn(0, uintptr(fm.Size()))
	require.NoError(t, err)
	require.Len(t, keys, 2)
	require.NoError(t, fm.Close())
	var got []string
	require.NoError(t, freeze.Guard(func() {
		for _, k := range keys {
			got = append(got, strings.Clone(k))
		}
	}))
	assert.ElementsMatch(t, []string{"short", long}, got)
}

// TestMapKeysInPointedTo: a write through a pointer value lands in the
// object it points to, cloned beside the table, which is no entry's
// bytes: KeysIn names no entry for the fault's offset, as its doc says,
// while the whole table names every entry.
func TestMapKeysInPointedTo(t *testing.T) {
	type route struct{ TimeoutMS int32 }
	want := map[string]*route{"/a": {1}, "/b": {2}, "/c": {3}}
	fm, err := snapshot.NewMap(maps.All(want))
	require.NoError(t, err)
	defer fm.Close()
	r, ok := fm.Get("/b")
	require.True(t, ok)
	var wf *freeze.WriteFault
	require.ErrorAs(t, freeze.Guard(func() { r.TimeoutMS = 9 }), &wf)
	if !vm.FaultPageOnly {
		got, err := fm.KeysIn(wf.Offset, wf.Offset+1)
		require.NoError(t, err)
		assert.Empty(t, got, "the write at %s", wf.Path)
	}
	all, err := fm.KeysIn(0, ^uintptr(0))
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"/a", "/b", "/c"}, all)
}

// A write that Guard catches in what a table's value points to is named
// by the entry's key, in every mode and for every way a table keeps its
// keys (string keys short and long, dense and hashed integers, struct
// keys; tiny tables and large): `Map[string,*route]["/b"].TimeoutMS`,
// not by the table's internal slot array.
func TestMapFaultNamesTheEntry(t *testing.T) {
	if vm.FaultPageOnly {
		t.Skip("the kernel gives only the page of a fault here: no field is named")
	}
	type route struct {
		Name      string
		TimeoutMS int32
	}
	type key struct{ A, B int32 }
	long := strings.Repeat("a key longer than sixteen bytes ", 2)
	many := func(n int, k func(i int) string) map[string]*route {
		m := map[string]*route{}
		for i := range n {
			m[k(i)] = &route{Name: fmt.Sprint("r", i), TimeoutMS: int32(i)}
		}
		return m
	}
	for _, m := range modes() {
		t.Run(m.String(), func(t *testing.T) {
			// faultPath writes through p under Guard and returns the path.
			faultPath := func(t *testing.T, write func()) string {
				t.Helper()
				var wf *freeze.WriteFault
				require.ErrorAs(t, freeze.Guard(write), &wf)
				return wf.Path
			}
			t.Run("string keys", func(t *testing.T) {
				for _, n := range []int{3, 1000} { // tiny, open addressing
					want := many(n, func(i int) string { return fmt.Sprintf("/r%d", i) })
					want[long] = &route{Name: "long"}
					fm := newMapIn(t, want, m)
					r, _ := fm.Get("/r2")
					assert.Equal(t, `Map[string,*route]["/r2"].TimeoutMS`, faultPath(t, func() { r.TimeoutMS = 9 }), "n=%d", n)
					r, _ = fm.Get(long)
					assert.Equal(t, `Map[string,*route][`+fmt.Sprintf("%q", long)+`].TimeoutMS`, faultPath(t, func() { r.TimeoutMS = 9 }), "n=%d", n)
					// A string's bytes, which only unsafe code can write.
					name := unsafe.Slice(unsafe.StringData(r.Name), len(r.Name))
					assert.Equal(t, `Map[string,*route][`+fmt.Sprintf("%q", long)+`].Name[2]`, faultPath(t, func() { name[2] = 'x' }), "n=%d", n)
					require.NoError(t, fm.Close())
				}
			})
			t.Run("integer keys", func(t *testing.T) {
				for _, step := range []int64{1, 7919} { // dense, hashed
					want := map[int64][]int{}
					for i := range int64(1000) {
						want[i*step-500] = []int{int(i), 1, 2}
					}
					fm := newMapIn(t, want, m)
					v, _ := fm.Get(3*step - 500)
					assert.Equal(t, fmt.Sprintf("Map[int64,[]int][%d][2]", 3*step-500), faultPath(t, func() { v[2] = 9 }), "step %d, %s", step, fm.Strategy())
					require.NoError(t, fm.Close())
				}
			})
			t.Run("struct keys and interface values", func(t *testing.T) {
				want := map[key]any{}
				for i := range int32(100) {
					want[key{i, -i}] = &route{TimeoutMS: i}
				}
				fm := newMapIn(t, want, m)
				v, _ := fm.Get(key{7, -7})
				r := v.(*route)
				assert.Equal(t, `Map[key,interface {}][{7 -7}].(*route).TimeoutMS`, faultPath(t, func() { r.TimeoutMS = 9 }))
				require.NoError(t, fm.Close())
			})
		})
	}
}

// The table's own parts are named through the Map, never by the type
// that holds them inside the library: a write to a key's bytes in its
// slot names the entry (`key "/r2" of Map[string,int64]`), one to a tag
// the Map's array (`Map[string,int64].tags[…]`), and Allocations and
// Verify name the table itself `Map[string,int64]`, in every mode (whose
// layouts place the table's parts in different orders).
func TestMapNamesItsOwnParts(t *testing.T) {
	want := map[string]int64{}
	for i := range 1000 {
		want[fmt.Sprintf("/r%d", i)] = int64(i)
	}
	for _, m := range modes() {
		t.Run(m.String(), func(t *testing.T) {
			fm := newMapIn(t, want, m)
			require.NoError(t, fm.Region().Wait())
			all, err := fm.Region().Allocations(0, uintptr(fm.Size()))
			require.NoError(t, err)
			var paths []string
			tags := -1
			for i, al := range all {
				paths = append(paths, al.Path)
				if al.Path == "Map[string,int64].tags" {
					tags = i
				}
			}
			assert.Contains(t, paths, "Map[string,int64]")
			assert.Contains(t, paths, "Map[string,int64].sslots")
			require.NotEqual(t, -1, tags, "allocations: %q", paths)
			for _, p := range paths {
				assert.NotContains(t, p, "Table[")
			}
			if vm.FaultPageOnly {
				return // the kernel gives only the page of a fault here
			}
			var k string
			for k = range fm.All() {
				break
			}
			kb := (*byte)(unsafe.Pointer(unsafe.StringData(k)))
			var wf *freeze.WriteFault
			require.ErrorAs(t, freeze.Guard(func() { *kb = 'x' }), &wf)
			assert.Equal(t, fmt.Sprintf("key %q of Map[string,int64]", k), wf.Path)
			_, _, at := tableBytes(t, fm)
			tag := at(all[tags].Offset + 3)
			require.ErrorAs(t, freeze.Guard(func() { *tag = 0 }), &wf)
			assert.Equal(t, "Map[string,int64].tags[3]", wf.Path)
		})
	}
}

// A dense table's slot holds only its value, the key being the table's
// smallest key plus the slot's index: a write into a slot is named by
// the key that its index stands for, a negative one included, in every
// mode, as a write into what the value points to is.
func TestDenseMapNamesAWrittenSlotByItsKey(t *testing.T) {
	if vm.FaultPageOnly {
		t.Skip("the kernel gives only the page of a fault here: no field is named")
	}
	want := map[int16]string{}
	for i := range int16(200) {
		want[i-100] = fmt.Sprint("value ", i-100)
	}
	for _, m := range modes() {
		t.Run(m.String(), func(t *testing.T) {
			fm := newMapIn(t, want, m)
			require.Equal(t, "dense", fm.Strategy())
			s, _ := fm.Get(-3)
			p0 := unsafe.Pointer(unsafe.StringData(s))
			var wf *freeze.WriteFault
			require.ErrorAs(t, freeze.Guard(func() { *(*byte)(p0) = 'x' }), &wf)
			assert.Equal(t, "Map[int16,string][-3][0]", wf.Path)
			base := wf.Addr - wf.Offset

			all, err := fm.Region().Allocations(0, uintptr(fm.Size()))
			require.NoError(t, err)
			i := slices.IndexFunc(all, func(a freeze.Allocation) bool { return a.Path == "Map[int16,string].vslots" })
			require.NotEqual(t, -1, i, "allocations: %v", all)
			assert.Equal(t, uintptr(200)*unsafe.Sizeof(""), all[i].Size, "slots of the value alone")
			for _, k := range []int16{-100, -1, 0, 7, 99} {
				slot := base + all[i].Offset + uintptr(k+100)*unsafe.Sizeof("")
				b := (*byte)(unsafe.Add(p0, int(slot)-int(uintptr(p0))))
				require.ErrorAs(t, freeze.Guard(func() { *b = 1 }), &wf)
				assert.Equal(t, fmt.Sprintf("Map[int16,string][%d]", k), wf.Path)
			}
		})
	}
}

// Verify's description of a changed page, and Allocations, name what the
// table's values point to by the entries' keys too: `Map[string,*plan]["pro"]`.
func TestMapVerifyNamesPointedToValuesByKey(t *testing.T) {
	type plan struct{ RPS, Burst int }
	fm, err := snapshot.NewMap(maps.All(map[string]*plan{"free": {1, 2}, "pro": {3, 4}}), snapshot.WithMode(freeze.Protect))
	require.NoError(t, err)
	defer fm.Close()
	require.NoError(t, fm.Region().Wait())
	p, _ := fm.Get("pro")
	require.NoError(t, backdoor.Reprotect(p, plan{3, 9}))
	var ce *freeze.CorruptionError
	require.ErrorAs(t, fm.Verify(), &ce)
	require.Len(t, ce.Changed, 1)
	// The message lists the first allocations of the page (which come
	// first depends on the layout); Allocations lists them all.
	all, err := fm.Region().Allocations(ce.Changed[0].Start, ce.Changed[0].End)
	require.NoError(t, err)
	var paths []string
	for _, al := range all {
		paths = append(paths, al.Path)
	}
	assert.Contains(t, paths, `Map[string,*plan]["pro"]`)
	assert.Contains(t, paths, `Map[string,*plan]["free"]`)

	// A hashed table without keys of more than 16 bytes has no blob (of
	// their bytes) to list, not even an empty one.
	plans := map[string]*plan{}
	for i := range 50 {
		plans[fmt.Sprint("plan-", i)] = &plan{i, i}
	}
	hm, err := snapshot.NewMap(maps.All(plans), snapshot.WithMode(freeze.Protect))
	require.NoError(t, err)
	defer hm.Close()
	require.Equal(t, "open-addressing", hm.Strategy())
	require.NoError(t, hm.Region().Wait())
	p, _ = hm.Get("plan-7")
	require.NoError(t, backdoor.Reprotect(p, plan{7, 8}))
	require.ErrorAs(t, hm.Verify(), &ce)
	all, err = hm.Region().Allocations(0, uintptr(hm.Size()))
	require.NoError(t, err)
	for _, al := range all {
		assert.NotContains(t, al.Path, ".blob", "allocation %s (%s)", al.Path, al.Type)
	}
	assert.NotContains(t, ce.Error(), ".blob")
}

// Verify names the entries on a changed page as every other error and
// fault path names a key: a struct key as %v prints it, not as Go syntax
// with its unsigned fields in hex, and a long string key by its first 64
// bytes and its length, so that a huge key does not make a huge error.
func TestMapVerifyNamesKeysAsFaultPathsDo(t *testing.T) {
	type pair struct{ A, B uint16 }
	pm, err := snapshot.NewMap(maps.All(map[pair]*int{{1, 2}: new(int)}), snapshot.WithMode(freeze.Protect))
	require.NoError(t, err)
	defer pm.Close()
	p, _ := pm.Get(pair{1, 2})
	require.NoError(t, backdoor.Reprotect(p, 7))
	err = pm.Verify()
	require.Error(t, err)
	assert.True(t, strings.HasSuffix(err.Error(), "; entries with bytes there: {1 2}"), "%v", err)

	long := strings.Repeat("k", 3000)
	lm, err := snapshot.NewMap(maps.All(map[string]*int{long: new(int)}), snapshot.WithMode(freeze.Protect))
	require.NoError(t, err)
	defer lm.Close()
	lp, _ := lm.Get(long)
	require.NoError(t, backdoor.Reprotect(lp, 7))
	err = lm.Verify()
	require.Error(t, err)
	want := fmt.Sprintf("; entries with bytes there: %q… (3000 bytes)", long[:64])
	assert.True(t, strings.HasSuffix(err.Error(), want), "%.300s", err)
	assert.Less(t, len(err.Error()), 1000, "the error repeats the whole key")
}

// Sets, Map[K, struct{}], whose values take no bytes of their slots, in
// every strategy and at a size built in scratch memory, and a zero-size
// key type, whose one value is the only key there can be.
func TestMapOfZeroSizeValuesAndKeys(t *testing.T) {
	for _, n := range []int{3, 100, 1 << 14} {
		strs, dense, hashed, wide := map[string]struct{}{}, map[int16]struct{}{}, map[uint32]struct{}{}, map[int64]struct{}{}
		for i := range n {
			strs[fmt.Sprintf("%0*d", i%40, i)] = struct{}{}
			dense[int16(i-n/2)] = struct{}{}
			hashed[uint32(i)*7919] = struct{}{}
			wide[int64(i)*-7919] = struct{}{}
		}
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			requireSet(t, strs, "", "-")
			requireSet(t, dense, int16(n), int16(-n))
			requireSet(t, hashed, 1, 7920)
			requireSet(t, wide, 1, 7919)
		})
	}
	m, err := snapshot.NewMap(maps.All(map[struct{}]struct{}{{}: {}}))
	require.NoError(t, err)
	_, ok := m.Get(struct{}{})
	assert.True(t, ok)
	assert.Equal(t, 1, len(maps.Collect(m.All())))
	require.NoError(t, m.Close())
	_, err = snapshot.NewMap(func(yield func(struct{}, int) bool) { _ = yield(struct{}{}, 1) && yield(struct{}{}, 2) })
	require.ErrorIs(t, err, snapshot.ErrDuplicateKey)
}

// A set, Map[K, struct{}], takes fewer bytes a slot than a table of the
// same keys with byte values: a value that holds no bytes adds none to a
// slot. (Go pads a struct that ends in a zero-size field, so slots that
// put the value last gave a uint64 set 16 bytes a slot, not 8, and a
// string set 24, more than the 17 of a table of byte values.) The test
// compares bytes a slot, not Size: the number of slots past the last home
// depends on the seed each build draws at random, and a set given a few
// more of them than the byte table was larger in all.
func TestMapOfZeroSizeValuesHasSmallerSlotsThanByteValues(t *testing.T) {
	for _, n := range []int{3, 100, 1 << 14} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			strs, dense, hashed, wide := map[string]byte{}, map[int16]byte{}, map[uint32]byte{}, map[uint64]byte{}
			for i := range n {
				strs[fmt.Sprintf("%0*d", i%20, i)] = 1
				dense[int16(i-n/2)] = 1
				hashed[uint32(i)*7919] = 1
				wide[uint64(i)*7919] = 1
			}
			requireSetSlotsSmaller(t, strs)
			requireSetSlotsSmaller(t, dense)
			requireSetSlotsSmaller(t, hashed)
			requireSetSlotsSmaller(t, wide)
		})
	}
}

// requireSetSlotsSmaller builds a Map of bytes's entries and a set of its
// keys, and checks that the set's slots are smaller.
func requireSetSlotsSmaller[K comparable](t *testing.T, bytes map[K]byte) {
	t.Helper()
	set := map[K]struct{}{}
	for k := range bytes {
		set[k] = struct{}{}
	}
	mb := mustNewMap(t, bytes, "bytes")
	defer func() { require.NoError(t, mb.Close()) }()
	ms := mustNewMap(t, set, "set")
	defer func() { require.NoError(t, ms.Close()) }()
	require.Equal(t, mb.Strategy(), ms.Strategy())
	assert.Less(t, slotBytes(t, ms.Region()), slotBytes(t, mb.Region()), "%T set, %s", *new(K), ms.Strategy())
}

// slotBytes returns the size of one slot of the table r holds, from the
// allocation of its slot array ("Map[K,V].sslots", of type "[n]strSlot[V]",
// and its kslots and hslots siblings).
func slotBytes(t *testing.T, r *freeze.Region) uintptr {
	t.Helper()
	all, err := r.Allocations(0, ^uintptr(0))
	require.NoError(t, err)
	for _, a := range all {
		if !strings.HasSuffix(a.Path, "slots") {
			continue
		}
		var n uintptr
		_, err := fmt.Sscanf(a.Type, "[%d]", &n)
		require.NoError(t, err, a.Type)
		require.NotZero(t, n, a.Type)
		return a.Size / n
	}
	require.Fail(t, "no slot array", "%+v", all)
	return 0
}

// requireSet builds a Map of want and checks Get of every key and of
// misses, and that All yields want.
func requireSet[K comparable](t *testing.T, want map[K]struct{}, misses ...K) {
	t.Helper()
	m, err := snapshot.NewMap(maps.All(want))
	require.NoError(t, err)
	defer func() { require.NoError(t, m.Close()) }()
	for k := range want {
		_, ok := m.Get(k)
		require.True(t, ok, "%v (%s)", k, m.Strategy())
	}
	for _, k := range misses {
		_, in := want[k]
		_, ok := m.Get(k)
		require.Equal(t, in, ok, "%v (%s)", k, m.Strategy())
	}
	require.Equal(t, want, maps.Collect(m.All()))
	require.NoError(t, m.Verify())
}

// mustNewMap builds a map of m's entries named name, or fails t.
func mustNewMap[K comparable, V any](t *testing.T, m map[K]V, name string) *snapshot.Map[K, V] {
	t.Helper()
	fm, err := snapshot.NewMap(maps.All(m), snapshot.WithName(name))
	require.NoError(t, err)
	return fm
}

// newMapIn builds a frozen table of src in mode m, failing the test if
// NewMap fails, and closes it when the test ends (Close is idempotent, so
// a test may close it sooner).
func newMapIn[K comparable, V any](t *testing.T, src map[K]V, m freeze.Mode) *snapshot.Map[K, V] {
	t.Helper()
	fm, err := snapshot.NewMap(maps.All(src), snapshot.WithMode(m))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, fm.Close()) })
	return fm
}
