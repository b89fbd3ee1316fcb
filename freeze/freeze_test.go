//go:build unix && !aix

package freeze_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/backdoor"
	"github.com/frozen-go/frozen/internal/fixture"
	"github.com/frozen-go/frozen/internal/graphtest"
	"github.com/frozen-go/frozen/internal/offheap"
	"github.com/frozen-go/frozen/internal/vm"
)

var allModes = []freeze.Mode{freeze.Protect, freeze.Alias, freeze.Seal}

// modes returns the modes this platform supports.
func modes(t testing.TB) []freeze.Mode {
	if seals, _, _, _ := vm.Features(); seals != nil {
		return []freeze.Mode{freeze.Protect, freeze.Alias}
	}
	return allModes
}

func memfdOnly(t testing.TB) {
	if vm.Backend != "memfd" {
		t.Skipf("needs the memfd backend (have %s)", vm.Backend)
	}
}

type Endpoint struct {
	Host string
	Port uint16
}

type Config struct {
	Name      string
	Version   int
	Endpoints []Endpoint
	Primary   *Endpoint
	Limits    [4]int32
	Nested    *Nested
}

type Nested struct {
	Deep struct {
		Counters [3]uint64
	}
}

type Point struct{ X, Y int64 }

func newConfig() *Config {
	c := &Config{Name: "svc", Version: 1, Endpoints: []Endpoint{{"a", 80}, {"b", 443}, {"c", 8080}},
		Limits: [4]int32{1, 2, 3, 4}, Nested: &Nested{}}
	c.Primary = &c.Endpoints[1]
	return c
}

func newArena(t testing.TB, opts ...arena.Option) *arena.Arena {
	t.Helper()
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	a, err := arena.NewArena(append([]arena.Option{arena.WithName(name)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	return a
}

// frozenConfig clones a config into a fresh arena and freezes it.
func frozenConfig(t testing.TB, m freeze.Mode) (*freeze.Region, *Config, *Config) {
	t.Helper()
	a := newArena(t)
	c, err := arena.Clone(a, newConfig())
	require.NoError(t, err)
	r, err := freeze.Freeze(a, m)
	require.NoError(t, err)
	require.NoError(t, r.Wait())
	return r, c, freeze.ReadOnly(r, c)
}

// intBytes returns the bytes of an int in memory.
func intBytes(v int) []byte {
	return slices.Clone(unsafe.Slice((*byte)(unsafe.Pointer(&v)), unsafe.Sizeof(v)))
}

func procMemWrite(addr uintptr, b []byte) error {
	f, err := os.OpenFile("/proc/self/mem", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteAt(b, int64(addr))
	return err
}

// mprotectRange changes the protection of the pages holding [p, p+n):
// the in-process back door a C library could use.
func mprotectRange(p unsafe.Pointer, n uintptr, prot int) error {
	page := uintptr(p) &^ (vm.PageSize - 1)
	end := (uintptr(p) + n + vm.PageSize - 1) &^ (vm.PageSize - 1)
	return unix.Mprotect(unsafe.Slice((*byte)(unsafe.Add(p, -int(uintptr(p)-page))), end-page), prot)
}

func TestReadOnlyGraphIsClosedInEveryMode(t *testing.T) {
	for _, m := range modes(t) {
		t.Run(m.String(), func(t *testing.T) {
			a := newArena(t)
			c, err := arena.Clone(a, fixture.NewConfig(2000))
			require.NoError(t, err)
			r, err := freeze.Freeze(a, m)
			require.NoError(t, err)
			// After the background step: until then an Alias owner's
			// mapping is read-only too, and a pointer left in it, not
			// relocated to the view, would pass as read-only.
			require.NoError(t, r.Wait())
			ro := freeze.ReadOnly(r, c)
			assert.Greater(t, graphtest.RequireReadOnlyInArena(t, ro, a.Name()), 2000)
			if m == freeze.Alias {
				assert.NotEqual(t, uintptr(unsafe.Pointer(c)), uintptr(unsafe.Pointer(ro)), "the reader's root is in the alias")
			} else {
				assert.Same(t, c, ro)
			}
			assert.True(t, reflect.DeepEqual(fixture.NewConfig(2000), ro), "the read-only view shows the same data")
		})
	}
}

func TestGuardNamesTheFieldAtEveryDepth(t *testing.T) {
	for _, m := range modes(t) {
		t.Run(m.String(), func(t *testing.T) {
			a := newArena(t)
			pts := arena.MakeSlice[Point](a, 10)
			c, err := arena.Clone(a, newConfig())
			require.NoError(t, err)
			r, err := freeze.Freeze(a, m)
			require.NoError(t, err)
			ro := freeze.ReadOnly(r, c)
			roPts := freeze.ReadOnly(r, &pts[0])
			roSlice := unsafe.Slice(roPts, len(pts))
			// The bytes of strings, which Go never writes but unsafe code
			// can: named as the string field indexed by the byte.
			host := unsafe.Slice(unsafe.StringData(ro.Endpoints[2].Host), 1)
			name := unsafe.Slice(unsafe.StringData(ro.Name), 3)
			for _, tc := range []struct {
				write func()
				addr  unsafe.Pointer
				path  string
			}{
				{func() { ro.Version = 2 }, unsafe.Pointer(&ro.Version), "*Config.Version"},
				{func() { ro.Limits[3] = 9 }, unsafe.Pointer(&ro.Limits[3]), "*Config.Limits[3]"},
				{func() { ro.Endpoints[2].Port = 1 }, unsafe.Pointer(&ro.Endpoints[2].Port), "*Config.Endpoints[2].Port"},
				{func() { ro.Primary.Port = 1 }, unsafe.Pointer(&ro.Primary.Port), "*Config.Endpoints[1].Port"},
				{func() { ro.Nested.Deep.Counters[2]++ }, unsafe.Pointer(&ro.Nested.Deep.Counters[2]), "*Config.Nested.Deep.Counters[2]"},
				{func() { roSlice[7].Y = 3 }, unsafe.Pointer(&roSlice[7].Y), "Point#7.Y"},
				{func() { copy(ro.Endpoints, []Endpoint{{}}) }, unsafe.Pointer(&ro.Endpoints[0]), "*Config.Endpoints[0].Host"},
				{func() { host[0] = 'x' }, unsafe.Pointer(&host[0]), "*Config.Endpoints[2].Host[0]"},
				{func() { name[2] = 'x' }, unsafe.Pointer(&name[2]), "*Config.Name[2]"},
			} {
				err := freeze.Guard(tc.write)
				var wf *freeze.WriteFault
				require.ErrorAs(t, err, &wf)
				if vm.FaultPageOnly {
					// The kernel gives the page: the field cannot be named.
					assert.Equal(t, uintptr(tc.addr)&^(vm.PageSize-1), wf.Addr, tc.path)
					assert.True(t, wf.PageOnly)
					assert.Empty(t, wf.Path)
					assert.Contains(t, err.Error(), "reports only the page")
					continue
				}
				assert.Equal(t, uintptr(tc.addr), wf.Addr, tc.path)
				assert.Equal(t, tc.path, wf.Path)
				assert.False(t, wf.PageOnly)
				assert.Equal(t, a.Name(), wf.Region)
				require.NotEmpty(t, wf.Stack, "the faulting instruction's frame is reported")
				// The innermost frame is the writer (runtime.memmove for
				// copy, called from the test).
				assert.NotContains(t, wf.Stack[0], "sigpanic")
				assert.Contains(t, strings.Join(wf.Stack, " "), "TestGuardNamesTheFieldAtEveryDepth")
				assert.Equal(t, m, wf.Mode)
				assert.ErrorIs(t, err, arena.ErrFrozen)
				assert.Contains(t, err.Error(), fmt.Sprintf("write to frozen region %q at offset %#x, field %s", a.Name(), wf.Offset, tc.path))
			}
			assert.NoError(t, r.Verify(), "the refused writes changed nothing")
		})
	}
}

// A write into bytes no allocation holds, the padding after one that an
// aligned allocation skipped or the rest of the page after the last, is
// reported at its offset with no field: the byte just past an allocation
// is not named as an element past its end.
func TestGuardNamesNoFieldBetweenOrAfterAllocations(t *testing.T) {
	if vm.FaultPageOnly {
		t.Skip("the kernel reports only the page: no field is named anywhere")
	}
	for _, m := range modes(t) {
		t.Run(m.String(), func(t *testing.T) {
			a := newArena(t)
			b := arena.New[byte](a)
			arena.New[uint64](a) // seven bytes of padding before it
			last := arena.New[uint32](a)
			r, err := freeze.Freeze(a, m)
			require.NoError(t, err)
			roB, roLast := freeze.ReadOnly(r, b), freeze.ReadOnly(r, last)
			for _, tc := range []struct {
				addr unsafe.Pointer
				path string
			}{
				{unsafe.Pointer(roB), "uint8#0"},
				{unsafe.Add(unsafe.Pointer(roB), 1), ""},
				{unsafe.Add(unsafe.Pointer(roB), 7), ""},
				{unsafe.Pointer(roLast), "uint32#0"},
				{unsafe.Add(unsafe.Pointer(roLast), 4), ""},
			} {
				err := freeze.Guard(func() { *(*byte)(tc.addr) = 1 })
				var wf *freeze.WriteFault
				require.ErrorAs(t, err, &wf)
				assert.Equal(t, uintptr(tc.addr), wf.Addr)
				assert.Equal(t, tc.path, wf.Path, "a write at offset %#x", wf.Offset)
				if tc.path == "" {
					all, err := r.Allocations(wf.Offset, wf.Offset+1)
					require.NoError(t, err)
					assert.Empty(t, all, "no allocation holds offset %#x", wf.Offset)
				}
			}
			require.NoError(t, r.Verify())
		})
	}
}

// Typed allocations of one type are numbered in the order the arena made
// them, whatever came between them: two New[Point] split by a Clone and a
// New of another type are Point#0 and Point#1, not both Point#0 of a run
// of their own, and a MakeSlice after them begins at Point#2. Verify and
// Allocations number runs the same way.
func TestTypedAllocationsAreNumberedAcrossRuns(t *testing.T) {
	a := newArena(t)
	p0 := arena.New[Point](a)
	_, err := arena.Clone(a, &Endpoint{Host: "h"})
	require.NoError(t, err)
	p1 := arena.New[Point](a)
	arena.New[int64](a)
	ps := arena.MakeSlice[Point](a, 3)
	ps[2].X = 1
	n := arena.New[int64](a)
	r, err := freeze.Freeze(a, freeze.Protect)
	require.NoError(t, err)
	defer r.Close()
	all, err := r.Allocations(0, uintptr(r.Size()))
	require.NoError(t, err)
	var paths []string
	for _, al := range all {
		if al.Type != "string data" && !strings.HasPrefix(al.Path, "*Endpoint") { // the clone's
			paths = append(paths, al.Path)
		}
	}
	assert.Equal(t, []string{"Point#0", "Point#1", "int64#0", "Point#2…4", "int64#1"}, paths)
	if vm.FaultPageOnly {
		return // the kernel gives the page: no field is named
	}
	for _, tc := range []struct {
		write func()
		path  string
	}{
		{func() { p0.Y = 1 }, "Point#0.Y"},
		{func() { p1.Y = 1 }, "Point#1.Y"},
		{func() { ps[2].X = 2 }, "Point#4.X"},
		{func() { *n = 1 }, "int64#1"},
	} {
		var wf *freeze.WriteFault
		require.ErrorAs(t, freeze.Guard(tc.write), &wf)
		assert.Equal(t, tc.path, wf.Path)
	}
}

func TestGuardPassesOtherPanicsThrough(t *testing.T) {
	assert.PanicsWithValue(t, "boom", func() { _ = freeze.Guard(func() { panic("boom") }) })
	var np *Config
	assert.Panics(t, func() { _ = freeze.Guard(func() { np.Version = 1 }) }, "a nil dereference is not ours")
	assert.NoError(t, freeze.Guard(func() {}))
	assert.PanicsWithError(t, (&runtime.PanicNilError{}).Error(), func() {
		_ = freeze.Guard(func() { panic(nil) })
	})
	// A panic value of the user's with an Addr method, even one inside a
	// frozen region, is no fault.
	_, _, ro := frozenConfig(t, freeze.Protect)
	fake := fakeFault(uintptr(unsafe.Pointer(&ro.Version)))
	assert.PanicsWithValue(t, fake, func() { _ = freeze.Guard(func() { panic(fake) }) })
	// Nor is one that is a runtime.Error too: a fault's type is the
	// runtime's own.
	faker := fakeRuntimeFault(uintptr(unsafe.Pointer(&ro.Version)))
	assert.PanicsWithValue(t, faker, func() { _ = freeze.Guard(func() { panic(faker) }) })
	// Guard restores the goroutine's setting.
	old := debug.SetPanicOnFault(false)
	defer debug.SetPanicOnFault(old)
	_ = freeze.Guard(func() {})
	assert.False(t, debug.SetPanicOnFault(false))
}

// fakeFault is a panic value that looks like a runtime fault but is not a
// runtime.Error.
type fakeFault uintptr

func (f fakeFault) Addr() uintptr { return uintptr(f) }

// fakeRuntimeFault has every method of the runtime's fault value.
type fakeRuntimeFault uintptr

func (f fakeRuntimeFault) Addr() uintptr { return uintptr(f) }
func (fakeRuntimeFault) RuntimeError()   {}
func (fakeRuntimeFault) Error() string   { return "not a fault" }

func TestVerifyAndTheBackDoors(t *testing.T) {
	t.Run("Protect", func(t *testing.T) {
		memfdOnly(t)
		// A descriptor leaked before Freeze (a copy kept by someone).
		a := newArena(t)
		c, err := arena.Clone(a, newConfig())
		require.NoError(t, err)
		leaked := leakedDescriptor(t, a)
		r, err := freeze.Freeze(a, freeze.Protect)
		require.NoError(t, err)
		ro := freeze.ReadOnly(r, c)
		assert.ErrorIs(t, procMemWrite(uintptr(unsafe.Pointer(&ro.Version)), []byte{7}), unix.EIO,
			"/proc/self/mem cannot write a read-only shared mapping")
		_, err = unix.Pwrite(leaked, []byte{7}, 0)
		assert.ErrorIs(t, err, unix.EPERM, "F_SEAL_FUTURE_WRITE refuses writes through any descriptor")
		require.NoError(t, r.Verify())
		// The back door that remains: another mprotect.
		p := unsafe.Pointer(&ro.Endpoints[1].Port)
		require.NoError(t, mprotectRange(p, 2, unix.PROT_READ|unix.PROT_WRITE))
		ro.Endpoints[1].Port = 1
		require.NoError(t, mprotectRange(p, 2, unix.PROT_READ))
		requireCorruption(t, r, "*Config.Endpoints")
	})
	t.Run("Alias", func(t *testing.T) {
		r, owner, ro := frozenConfig(t, freeze.Alias)
		if vm.Backend == "memfd" {
			require.NoError(t, procMemWrite(uintptr(unsafe.Pointer(&owner.Version)), intBytes(9)),
				"the owner's writable mapping can be written through /proc/self/mem")
			assert.Equal(t, 9, ro.Version, "the reader sees the same bytes")
			requireCorruption(t, r, "*Config")
			owner.Version = 1 // put it back
			require.NoError(t, r.Verify())
		}
		owner.Name = "" // a plain write through the owner's mapping, not through Update
		requireCorruption(t, r, "*Config")
	})
	t.Run("Seal", func(t *testing.T) {
		memfdOnly(t)
		r, _, ro := frozenConfig(t, freeze.Seal)
		assert.ErrorIs(t, procMemWrite(uintptr(unsafe.Pointer(&ro.Version)), []byte{7}), unix.EIO)
		requireSealed(t, r.Arena(), unsafe.Pointer(ro))
		require.NoError(t, r.Verify())
	})
}

// requireSealed checks that a's file, frozen in Seal mode, refuses every
// descriptor route (a read-write reopen can neither write it, resize it
// nor map it writable) and that frozen memory at p cannot be made
// writable.
func requireSealed(t *testing.T, a *arena.Arena, p unsafe.Pointer) {
	t.Helper()
	_, ro := offheap.Unwrap(a).File().FDs()
	re, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", ro), os.O_RDWR, 0)
	require.NoError(t, err, "reopening read-write is allowed; writing is not")
	defer re.Close()
	_, err = re.WriteAt([]byte{7}, 0)
	assert.ErrorIs(t, err, unix.EPERM)
	// A shrink that went through would make every later read of the
	// region fault (SIGBUS): stop here if it did.
	require.ErrorIs(t, re.Truncate(0), unix.EPERM)
	require.ErrorIs(t, re.Truncate(1<<30), unix.EPERM)
	_, err = unix.Mmap(int(re.Fd()), 0, int(vm.PageSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	assert.ErrorIs(t, err, unix.EPERM)
	assert.ErrorIs(t, mprotectRange(p, 8, unix.PROT_READ|unix.PROT_WRITE), unix.EACCES)
}

// requireCorruption checks that Verify reports a change and names an
// allocation whose path starts with prefix.
func requireCorruption(t *testing.T, r *freeze.Region, prefix string) {
	t.Helper()
	err := r.Verify()
	var ce *freeze.CorruptionError
	require.ErrorAs(t, err, &ce)
	require.NotEmpty(t, ce.Pages)
	require.Len(t, ce.Changed, len(ce.Pages))
	found := false
	for _, b := range ce.Changed {
		for _, a := range b.Allocations {
			found = found || strings.HasPrefix(a.Path, prefix)
		}
	}
	assert.True(t, found, "no allocation under %q in %v", prefix, err)
	assert.Contains(t, err.Error(), r.Name())
}

// A checksum page of 170 small allocations: Verify lists the first eight
// and says there are more; Region.Allocations lists every one overlapping
// the page, in address order, the one written among them. (Points and
// counters alternate: a run of allocations of one type is one record.)
func TestAllocationsListsWhatVerifyLeftOut(t *testing.T) {
	a := newArena(t)
	type alloc struct {
		p    unsafe.Pointer
		size uintptr
	}
	var allocs []alloc
	for range 400 { // 24 bytes a pair: pages 0 and 1 full, page 2 in part
		allocs = append(allocs, alloc{unsafe.Pointer(arena.New[Point](a)), unsafe.Sizeof(Point{})})
		allocs = append(allocs, alloc{unsafe.Pointer(arena.New[uint64](a)), 8})
	}
	off := func(p unsafe.Pointer) uintptr { return uintptr(p) - uintptr(allocs[0].p) }
	r, err := freeze.Freeze(a, freeze.Protect)
	require.NoError(t, err)
	require.NoError(t, r.Wait())
	first, err := r.Allocations(0, 1)
	require.NoError(t, err)
	require.Len(t, first, 1)
	require.Zero(t, first[0].Offset, "offsets below count from the first allocation")

	victim := (*Point)(allocs[300].p)
	p := unsafe.Pointer(&victim.Y)
	require.NoError(t, mprotectRange(p, 8, unix.PROT_READ|unix.PROT_WRITE))
	victim.Y = 7
	require.NoError(t, mprotectRange(p, 8, unix.PROT_READ))
	var ce *freeze.CorruptionError
	require.ErrorAs(t, r.Verify(), &ce)
	require.Len(t, ce.Changed, 1)
	pg := ce.Changed[0]
	require.Equal(t, int(off(p)/freeze.PageSize), pg.Index)
	assert.True(t, pg.More, "170 allocations overlap the page")
	require.Len(t, pg.Allocations, 8)

	all, err := r.Allocations(pg.Start, pg.End)
	require.NoError(t, err)
	type span struct{ off, size uintptr }
	var want, got []span
	for _, al := range allocs {
		if o := off(al.p); o < pg.End && o+al.size > pg.Start {
			want = append(want, span{o, al.size})
		}
	}
	for _, al := range all {
		got = append(got, span{al.Offset, al.Size})
	}
	require.Greater(t, len(want), 160)
	assert.Equal(t, want, got)
	assert.Equal(t, pg.Allocations, all[:8], "Verify listed the first eight")
	assert.Contains(t, got, span{off(allocs[300].p), unsafe.Sizeof(Point{})})

	everything, err := r.Allocations(0, ^uintptr(0))
	require.NoError(t, err)
	assert.Len(t, everything, len(allocs), "a range past Size is clipped to it")
	for _, empty := range [][2]uintptr{{5, 5}, {9, 3}, {uintptr(r.Size()), ^uintptr(0)}} {
		none, err := r.Allocations(empty[0], empty[1])
		require.NoError(t, err)
		assert.Empty(t, none, "[%#x, %#x)", empty[0], empty[1])
	}

	require.NoError(t, r.Close())
	_, err = r.Allocations(0, pg.End)
	assert.ErrorIs(t, err, arena.ErrClosed)
}

type boxed struct{ A, B int }

type withIface struct {
	Name string
	X    any
}

// A stray write that garbles an interface's type word is reported like any
// other: describing the changed page reads the word as an integer and
// never follows it (following it crashed the process).
func TestVerifyDescribesAGarbledInterface(t *testing.T) {
	const garbage = ^uintptr(0) / 0xff * 0x41 &^ 1 // 0x41…4140
	garble := map[freeze.Mode]func(owner, ro *withIface) error{
		// The owner's writable mapping.
		freeze.Alias: func(owner, _ *withIface) error {
			*(*uintptr)(unsafe.Pointer(&owner.X)) = garbage
			return nil
		},
		// Code that re-protects the page.
		freeze.Protect: func(_, ro *withIface) error {
			return backdoor.Reprotect((*uintptr)(unsafe.Pointer(&ro.X)), garbage)
		},
	}
	for m, write := range garble {
		t.Run(m.String(), func(t *testing.T) {
			a := newArena(t)
			owner, err := arena.Clone(a, &withIface{Name: "n", X: &boxed{1, 2}})
			require.NoError(t, err)
			r, err := freeze.Freeze(a, m)
			require.NoError(t, err)
			require.NoError(t, r.Wait())
			if err := write(owner, freeze.ReadOnly(r, owner)); err != nil {
				t.Skip(err)
			}
			requireCorruption(t, r, "*withIface")
		})
	}
}

func TestAliasViewCannotBeMadeWritable(t *testing.T) {
	r, owner, ro := frozenConfig(t, freeze.Alias)
	assert.NotEqual(t, unsafe.Pointer(owner), unsafe.Pointer(ro))
	assert.ErrorIs(t, mprotectRange(unsafe.Pointer(ro), 8, unix.PROT_READ|unix.PROT_WRITE), unix.EACCES)
	if vm.Backend == "memfd" {
		assert.ErrorIs(t, procMemWrite(uintptr(unsafe.Pointer(ro)), []byte{1}), unix.EIO)
	}
	require.NoError(t, r.Verify())
}

// writeAround writes b at p, the owner's address of a frozen byte, by a
// route around the protection: the owner's writable mapping in Alias
// mode, a brief mprotect in Protect mode.
func writeAround(t testing.TB, m freeze.Mode, p *byte, b byte) {
	t.Helper()
	if m == freeze.Alias {
		*p = b
		return
	}
	require.NoError(t, backdoor.Reprotect(p, b))
}

// Each change is one Verify of the whole arena: 256 KiB, a fraction of a
// checksum chunk, hashed on the calling goroutine as a 1 MiB arena is
// (TestVerifyFindsAChangeOnTheLastPage has arenas of several chunks,
// hashed in parallel); at 1 MiB the test took 15 s on linux/386, whose
// xxhash is Go code.
func TestTenThousandSingleByteChangesAreAllDetected(t *testing.T) {
	a := newArena(t, arena.WithMaxBytes(256<<10))
	data := arena.MakeSlice[byte](a, 256<<10)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	r, err := freeze.Freeze(a, freeze.Alias) // the owner keeps write access
	require.NoError(t, err)
	require.NoError(t, r.Verify())
	n := 10_000
	if testing.Short() {
		n = 1000
	}
	for i := 0; i < n; i++ {
		off := rng.IntN(len(data))
		old := data[off]
		data[off] ^= byte(1 + rng.IntN(255))
		err := r.Verify()
		var ce *freeze.CorruptionError
		require.ErrorAs(t, err, &ce, "change %d at offset %d went unnoticed", i, off)
		require.Equal(t, []int{off / freeze.PageSize}, ce.Pages, "exactly the changed page is named")
		require.LessOrEqual(t, ce.Changed[0].Start, uintptr(off))
		require.Greater(t, ce.Changed[0].End, uintptr(off))
		data[off] = old
	}
	require.NoError(t, r.Verify())
}

func TestVerifyDoesNotAllocate(t *testing.T) {
	for _, m := range modes(t) {
		r, _, _ := frozenConfig(t, m)
		allocs := testing.AllocsPerRun(100, func() {
			if err := r.Verify(); err != nil {
				t.Fatal(err)
			}
		})
		assert.Zero(t, allocs, m.String())
	}
}

// Verify checks every page of a region, not a prefix: a change to the
// last byte of 3 MiB is found and named.
func TestVerifyFindsAChangeOnTheLastPage(t *testing.T) {
	// Whole 1 MiB chunks of hashing, and a last chunk of a few pages and
	// a part of one.
	for _, size := range []int{3 << 20, 3<<20 + 5*freeze.PageSize + 100} {
		for _, m := range []freeze.Mode{freeze.Protect, freeze.Alias} { // Seal refuses every write
			t.Run(fmt.Sprintf("%s/size=%d", m, size), func(t *testing.T) {
				a := newArena(t)
				b := arena.MakeSlice[byte](a, size)
				r, err := freeze.Freeze(a, m)
				require.NoError(t, err)
				require.NoError(t, r.Wait())
				writeAround(t, m, &b[len(b)-1], 1)
				var ce *freeze.CorruptionError
				require.ErrorAs(t, r.Verify(), &ce)
				assert.Equal(t, []int{(size - 1) / freeze.PageSize}, ce.Pages)
			})
		}
	}
}

// In Alias mode the owner's mapping is read-only until the baseline is
// taken in the background (where the file can be sealed), and writable
// once Wait returns: a write made at once, to the page the hashing reaches
// last, either faults, and never lands, or lands after the baseline and is
// caught. Never is it taken into the baseline.
func TestAliasWriteMadeAtOnceFaultsOrIsCaught(t *testing.T) {
	faulted := 0
	for range 20 {
		a := newArena(t)
		b := arena.MakeSlice[byte](a, 16<<20)
		r, err := freeze.Freeze(a, freeze.Alias)
		require.NoError(t, err)
		err = freeze.Guard(func() { b[len(b)-1] = 1 })
		require.NoError(t, r.Wait())
		if err != nil {
			var wf *freeze.WriteFault
			require.ErrorAs(t, err, &wf)
			want := uintptr(len(b) - 1)
			if wf.PageOnly {
				want &^= freeze.PageSize - 1 // the kernel said only the page
			}
			require.Equal(t, want, wf.Offset)
			require.NoError(t, r.Verify(), "the write that faulted left nothing")
			faulted++
		} else {
			var ce *freeze.CorruptionError
			require.ErrorAs(t, r.Verify(), &ce)
		}
		require.NoError(t, r.Close())
	}
	t.Logf("%d of 20 writes faulted, the others were caught", faulted)
}

// holdBackground holds a freeze's background at the named step
// (offheap.SetBackgroundFailpoint) until let is called: held is closed
// when it gets there. The hold ends however the test ends (a failed
// require runs the arena's Close, which waits for the background).
func holdBackground(t *testing.T, step string) (held <-chan struct{}, let func()) {
	h, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	let = func() { once.Do(func() { close(release) }) }
	offheap.SetBackgroundFailpoint(func(s string) error {
		if s == step {
			close(h)
			<-release
		}
		return nil
	})
	t.Cleanup(func() {
		let()
		offheap.SetBackgroundFailpoint(nil)
	})
	return h, let
}

// Held at the background's last step, the window is certain: the owner's
// mapping is read-only (r--s), a write through it faults and Guard names
// it, and /proc/self/mem cannot write it either; then the mapping is
// read-write again (rw-s), and a write through it is caught by Verify.
func TestAliasOwnerIsReadOnlyUntilTheBaselineIsTaken(t *testing.T) {
	memfdOnly(t)
	a := newArena(t)
	type Limits struct{ Max, Min uint64 }
	l := arena.MakeSlice[Limits](a, 1<<16) // 1 MiB
	held, let := holdBackground(t, "writable")
	r, err := freeze.Freeze(a, freeze.Alias)
	require.NoError(t, err)
	<-held
	perms := func() (p []string) {
		for _, e := range arenaMaps(t, a) {
			if e.Perms != "---p" { // the reservation past the mapping
				p = append(p, e.Perms)
			}
		}
		return slices.Compact(p)
	}
	assert.Equal(t, []string{"r--s"}, perms())
	err = freeze.Guard(func() { l[70].Min = 1 })
	var wf *freeze.WriteFault
	require.ErrorAs(t, err, &wf)
	assert.Equal(t, freeze.Alias, wf.Mode)
	addr, off := uintptr(unsafe.Pointer(&l[70].Min)), 70*unsafe.Sizeof(l[0])+8
	if wf.PageOnly { // the kernel said only the page
		addr, off = addr&^(freeze.PageSize-1), off&^(freeze.PageSize-1)
	} else {
		assert.Equal(t, "Limits#70.Min", wf.Path)
	}
	assert.Equal(t, addr, wf.Addr)
	assert.Equal(t, off, wf.Offset)
	assert.ErrorIs(t, backdoor.ProcMem(&l[71].Max, 2), unix.EIO)
	let()
	require.NoError(t, r.Wait())
	assert.Equal(t, []string{"rw-s"}, perms())
	require.NoError(t, r.Verify(), "nothing landed while the mapping was read-only")
	require.NoError(t, freeze.Guard(func() { l[70].Min = 3 }))
	var ce *freeze.CorruptionError
	require.ErrorAs(t, r.Verify(), &ce)
	assert.Equal(t, []int{int(70 * unsafe.Sizeof(l[0]) / freeze.PageSize)}, ce.Pages)
	assert.Equal(t, uint64(3), freeze.ReadOnly(r, &l[70]).Min, "the view shows the owner's write")
}

// Seal's file seals against descriptors hold when Freeze returns, not
// only once its background is done: held before the moved-aside mapping
// goes (an arena of 2 MiB or more; here any arena, SetAsideMin), a
// read-write reopen of the file can neither write it, resize it nor map
// it writable, and the readers' range cannot be made writable.
func TestSealRefusesDescriptorsBeforeItsBackground(t *testing.T) {
	memfdOnly(t)
	defer offheap.SetAsideMin(offheap.SetAsideMin(vm.PageSize))
	a := newArena(t)
	l := arena.MakeSlice[uint64](a, 1<<17) // 1 MiB
	l[5] = 5
	held, let := holdBackground(t, "release-aside")
	r, err := freeze.Freeze(a, freeze.Seal)
	require.NoError(t, err)
	<-held
	requireSealed(t, a, unsafe.Pointer(&l[5]))
	let()
	require.NoError(t, r.Wait())
	assert.Equal(t, uint64(5), l[5])
	require.NoError(t, r.Verify())
}

// A region's checksum is a function of its bytes alone: the same bytes
// give the same checksum in every mode and in every arena (whatever its
// address or name), call after call; one changed byte gives another.
func TestChecksumIsStableAndDescribesTheBytes(t *testing.T) {
	frozen := func(t *testing.T, m freeze.Mode, last uint64) *freeze.Region {
		// Small: six arenas are live at once, which at the default 1 GiB
		// did not fit under an RLIMIT_AS of 8 GiB (ErrExhausted).
		a := newArena(t, arena.WithMaxBytes(1<<20))
		s := arena.MakeSlice[uint64](a, 1000) // two checksum pages
		for i := range s {
			s[i] = uint64(i) * 0x9e3779b97f4a7c15
		}
		s[len(s)-1] = last
		r, err := freeze.Freeze(a, m)
		require.NoError(t, err)
		return r
	}
	var want uint64
	for i, m := range modes(t) {
		sum := frozen(t, m, 7).Checksum()
		if i == 0 {
			want = sum
		}
		assert.Equal(t, want, sum, "%s: the same bytes, another checksum", m)
		r := frozen(t, m, 8)
		assert.NotEqual(t, want, r.Checksum(), "%s: a changed byte, the same checksum", m)
		assert.Equal(t, r.Checksum(), r.Checksum(), "%s: not stable", m)
	}
}

func TestFreezeErrors(t *testing.T) {
	a := newArena(t)
	p := arena.New[int](a)
	r, err := freeze.Freeze(a, freeze.Protect)
	require.NoError(t, err)
	assert.Same(t, p, freeze.ReadOnly(r, p))
	_, err = freeze.Freeze(a, freeze.Alias)
	assert.ErrorIs(t, err, arena.ErrFrozen, "freezing twice")
	assert.EqualError(t, err, fmt.Sprintf("%v: arena %q is already frozen", arena.ErrFrozen, a.Name()),
		"a second Freeze says so, not that the arena accepts no allocations")
	require.NoError(t, r.Close())
	require.NoError(t, r.Close(), "idempotent")
	_, err = freeze.Freeze(a, freeze.Protect)
	assert.ErrorIs(t, err, arena.ErrClosed)
	assert.ErrorIs(t, r.Verify(), arena.ErrClosed)
	assert.PanicsWithError(t, fmt.Sprintf("%v: region %q", arena.ErrClosed, a.Name()), func() { freeze.ReadOnly(r, p) })

	for _, none := range []*arena.Arena{nil, {}} {
		_, err = freeze.Freeze(none, freeze.Protect)
		assert.ErrorIs(t, err, arena.ErrClosed)
		assert.EqualError(t, err, "freeze: arena: closed: a nil or zero-value *Arena is not an arena (create one with NewArena)")
	}

	b := newArena(t)
	for _, m := range []freeze.Mode{0, 42} {
		_, err = freeze.Freeze(b, m)
		assert.ErrorIs(t, err, freeze.ErrModeUnsupported, "mode %d", int(m))
	}
	require.NoError(t, b.Close(), "an unknown mode leaves the arena open")

	if seals, _, _, _ := vm.Features(); seals != nil {
		_, err = freeze.Freeze(newArena(t), freeze.Seal)
		assert.ErrorIs(t, err, freeze.ErrModeUnsupported)
		assert.ErrorIs(t, err, vm.ErrUnsupported)
	}
}

// leakedDescriptor returns a copy of a's read-write memfd descriptor,
// closed when the test ends: one that someone kept from before Freeze.
func leakedDescriptor(t *testing.T, a *arena.Arena) int {
	rw, _ := offheap.Unwrap(a).File().FDs()
	fd, err := unix.Dup(rw)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// A descriptor kept from before Freeze can neither write the frozen file
// nor change its size: truncating it would zero every frozen byte without
// a single write (and make readers fault until it grew back). In Alias
// mode that holds too after a copy that hashed its pages (snapshot.Take),
// whose baseline Freeze adopts by another route than a plain clone's.
func TestLeakedDescriptorCannotResizeTheFile(t *testing.T) {
	memfdOnly(t)
	for _, tc := range []struct {
		name   string
		m      freeze.Mode
		hashed bool
	}{
		{"Protect", freeze.Protect, false},
		{"Alias", freeze.Alias, false},
		{"Alias after a hashing copy", freeze.Alias, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newArena(t)
			var c *Config
			if tc.hashed {
				plan, err := offheap.PlanValue(newConfig())
				require.NoError(t, err)
				defer plan.Release()
				offheap.Unwrap(a).HashWhileCopying()
				c, err = offheap.ApplyValue[Config](offheap.Unwrap(a), plan)
				require.NoError(t, err)
			} else {
				var err error
				c, err = arena.Clone(a, newConfig())
				require.NoError(t, err)
			}
			leaked := leakedDescriptor(t, a)
			r, err := freeze.Freeze(a, tc.m)
			require.NoError(t, err)
			require.NoError(t, r.Wait())
			ro := freeze.ReadOnly(r, c)
			var st unix.Stat_t
			require.NoError(t, unix.Fstat(leaked, &st))
			shrink := unix.Ftruncate(leaked, 0)
			if shrink == nil {
				_ = unix.Ftruncate(leaked, st.Size) // back, so that what follows reads zeros instead of faulting
			}
			assert.ErrorIs(t, shrink, unix.EPERM, "F_SEAL_SHRINK")
			assert.ErrorIs(t, unix.Ftruncate(leaked, st.Size+1<<20), unix.EPERM, "F_SEAL_GROW")
			_, err = unix.Pwrite(leaked, []byte{7}, 0)
			assert.ErrorIs(t, err, unix.EPERM, "F_SEAL_FUTURE_WRITE")
			assert.Equal(t, 1, ro.Version)
			require.NoError(t, r.Verify())
		})
	}
}

// A zero-size allocation made last, or as the arena's only one, came from
// the arena, and ReadOnly accepts it and gives back its own result. (It
// pointed one past the arena's bytes, and then its twin in an Alias
// region's view one past the view's, which ReadOnly refused with
// ErrNotInRegion.)
func TestReadOnlyOfAZeroSizeAllocationAtTheEnd(t *testing.T) {
	for _, m := range modes(t) {
		for _, only := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/only=%v", m, only), func(t *testing.T) {
				a := newArena(t)
				if !only {
					_, err := arena.Clone(a, newConfig())
					require.NoError(t, err)
				}
				e := arena.New[struct{}](a)
				r, err := freeze.Freeze(a, m)
				require.NoError(t, err)
				var ro *struct{}
				require.NotPanics(t, func() { ro = freeze.ReadOnly(r, e) })
				require.NotPanics(t, func() { assert.Same(t, ro, freeze.ReadOnly(r, ro)) })
			})
		}
	}
}

// ReadOnly takes a pointer whose value lies in the region, all of it: one
// starting at the last byte but typed as something larger (made with
// unsafe) is refused, as Update refuses it, rather than handed to readers
// who would read past the frozen bytes; in Alias mode its twin in the view
// is refused too.
func TestReadOnlyRefusesAValueReachingPastTheRegion(t *testing.T) {
	for _, m := range modes(t) {
		t.Run(m.String(), func(t *testing.T) {
			a := newArena(t)
			b := arena.MakeSlice[byte](a, 100)
			require.Equal(t, 100, a.Len(), "the slice is the arena's only allocation")
			last := &b[99]
			wide := (*[8]byte)(unsafe.Pointer(last))
			r, err := freeze.Freeze(a, m)
			require.NoError(t, err)

			ro := freeze.ReadOnly(r, last)
			assert.Equal(t, b[99], *ro)
			whole := freeze.ReadOnly(r, (*[100]byte)(b))
			assert.Equal(t, b, whole[:])
			for _, p := range []*[8]byte{wide, (*[8]byte)(unsafe.Pointer(ro))} {
				assert.PanicsWithError(t, fmt.Sprintf("%s: %p (8 bytes) is not in %q",
					freeze.ErrNotInRegion, p, r.Name()), func() { freeze.ReadOnly(r, p) })
			}
			assert.NotPanics(t, func() { freeze.ReadOnly(r, (*[1]byte)(unsafe.Pointer(ro))) })
		})
	}
}

// ReadOnly of a nil pointer is nil, in every mode, as a nil pointer in
// the frozen graph stays nil: a reader handed an optional field that is
// unset gets nil, not a panic. After Close it still panics with
// arena.ErrClosed, as for any pointer.
func TestReadOnlyOfNilIsNil(t *testing.T) {
	for _, m := range modes(t) {
		t.Run(m.String(), func(t *testing.T) {
			r, c, _ := frozenConfig(t, m)
			var none *Config
			require.NotPanics(t, func() { none = freeze.ReadOnly(r, none) })
			assert.Nil(t, none)
			assert.NotNil(t, freeze.ReadOnly(r, c))
			require.NoError(t, r.Close())
			defer func() {
				err, _ := recover().(error)
				assert.ErrorIs(t, err, arena.ErrClosed)
			}()
			freeze.ReadOnly(r, none)
			t.Error("ReadOnly after Close returned")
		})
	}
}

func TestEmptyArenaFreezes(t *testing.T) {
	for _, m := range modes(t) {
		a := newArena(t)
		r, err := freeze.Freeze(a, m)
		require.NoError(t, err, m)
		assert.Equal(t, 0, r.Size())
		assert.NoError(t, r.Verify())
		assert.NoError(t, r.Close())
	}
}

func TestUseAfterCloseFaultsInEveryMode(t *testing.T) {
	for _, m := range modes(t) {
		t.Run(m.String(), func(t *testing.T) {
			r, _, ro := frozenConfig(t, m)
			// Taken before Close: even &ro.Version touches *ro (nil check).
			lo := uintptr(unsafe.Pointer(ro))
			require.NoError(t, r.Close())
			var v int
			err := freeze.Guard(func() { v = ro.Version })
			var uac *freeze.UseAfterClose
			require.ErrorAs(t, err, &uac, "read after Close returned %d instead of faulting", v)
			assert.Equal(t, r.Name(), uac.Region, "the region's own name, in every mode")
			assert.ErrorIs(t, err, arena.ErrClosed)
			// The first access to fault may be the compiler's nil check of
			// ro rather than the load of the field.
			if vm.FaultPageOnly {
				lo &^= vm.PageSize - 1
			}
			assert.GreaterOrEqual(t, uac.Addr, lo)
			assert.Less(t, uac.Addr, uintptr(unsafe.Pointer(ro))+unsafe.Sizeof(Config{}))
		})
	}
}

func TestErrorsAreTyped(t *testing.T) {
	var wf error = &freeze.WriteFault{Region: "r", Path: "X.Y"}
	assert.ErrorIs(t, wf, arena.ErrFrozen)
	assert.NotErrorIs(t, wf, arena.ErrClosed)
	page := &freeze.WriteFault{Region: "r", Offset: 0x2000, PageOnly: true}
	assert.Contains(t, page.Error(), fmt.Sprintf("field unknown (this platform reports only the page: offsets 0x2000 to %#x)", 0x2000+vm.PageSize-1))
	se := &freeze.StepError{Arena: "a", Mode: freeze.Seal, Step: "seal", Err: unix.EBUSY}
	assert.ErrorIs(t, se, unix.EBUSY)
	assert.Contains(t, se.Error(), `step "seal" failed`)
	assert.True(t, errors.Is(fmt.Errorf("wrapped: %w", se), unix.EBUSY))
}

// adjacentArenas returns two arenas of one page each, the second starting
// where the first ends: arenas are carved from one reservation.
func adjacentArenas(t *testing.T) (*arena.Arena, *arena.Arena) {
	t.Helper()
	var prev *arena.Arena
	for range 64 {
		x := newArena(t, arena.WithMaxBytes(int64(vm.PageSize)))
		if prev != nil && uintptr(offheap.Unwrap(x).Base()) == uintptr(offheap.Unwrap(prev).Base())+vm.PageSize {
			return prev, x
		}
		prev = x
	}
	t.Skip("no two adjacent arenas")
	return nil, nil
}

type intHolder struct {
	N int64
	P *int64
}

// A pointer one past the region's last byte is the first byte of whatever
// lies next, such as another arena carved after it: Freeze and Update
// refuse it like any other foreign pointer. (Accepting it there as a
// pointer to a zero-size value, and pointing it into the region, made a
// *int64 into the next arena read the region's first word.)
func TestAPointerJustPastTheRegionIsForeign(t *testing.T) {
	for _, m := range modes(t) {
		t.Run(m.String(), func(t *testing.T) {
			a, b := adjacentArenas(t)
			h, err := arena.Clone(a, &intHolder{N: 7})
			require.NoError(t, err)
			arena.MakeSlice[byte](a, a.Cap()-a.Len()) // a is full: its end is b's start
			x := arena.New[int64](b)
			*x = 42
			h.P = x
			_, err = freeze.Freeze(a, m)
			require.ErrorIs(t, err, arena.ErrForeignPointer)
			h.P = nil
			r, err := freeze.Freeze(a, m)
			require.NoError(t, err)
			if m == freeze.Alias {
				ro := freeze.ReadOnly(r, h)
				err = freeze.Update(r, ro, func(w *intHolder) { w.P = x })
				require.ErrorIs(t, err, arena.ErrForeignPointer)
				assert.Nil(t, ro.P)
			}
		})
	}
}

// Name, Mode and Size keep answering after Close, with what they said
// before.
func TestRegionAccessorsAfterCloseGiveTheirLastValues(t *testing.T) {
	for _, m := range modes(t) {
		a := newArena(t, arena.WithName("kept"))
		arena.MakeSlice[int64](a, 5)
		r, err := freeze.Freeze(a, m)
		require.NoError(t, err)
		require.Equal(t, 40, r.Size())
		require.NoError(t, r.Close())
		assert.Equal(t, "kept", r.Name(), m)
		assert.Equal(t, m, r.Mode(), m)
		assert.Equal(t, 40, r.Size(), m)
	}
}

// Freeze refuses a string or slice whose header claims more memory than
// lies in the arena after its data pointer (only unsafe code, or a bug in
// the library, makes one): readers would read other allocations, or past
// the mapping.
func TestFreezeRefusesHeadersReachingPastTheArena(t *testing.T) {
	for _, m := range modes(t) {
		t.Run(m.String(), func(t *testing.T) {
			a := newArena(t)
			c, err := arena.Clone(a, newConfig())
			require.NoError(t, err)
			name, eps := c.Name, c.Endpoints
			for _, tc := range []struct {
				field string
				set   func()
			}{
				{"Config.Name", func() { c.Name = unsafe.String(unsafe.StringData(name), 1<<20) }},
				{"Config.Endpoints", func() { c.Endpoints = unsafe.Slice(&eps[0], 1<<20)[:1] }},
			} {
				tc.set()
				_, err := freeze.Freeze(a, m)
				require.ErrorIs(t, err, arena.ErrForeignPointer, tc.field)
				assert.ErrorContains(t, err, tc.field)
				assert.ErrorContains(t, err, "reaches past the arena's used bytes")
				c.Name, c.Endpoints = name, eps
			}
			r, err := freeze.Freeze(a, m)
			require.NoError(t, err, "headers that fit are frozen")
			require.NoError(t, r.Close())
		})
	}
}

// A plain pointer is held to the same bound as a header: what it points
// to must end within the used bytes, to the byte, and a pointer one past
// the used bytes is outside the arena even to a zero-size value. So is
// one in the last element of an array walked element by element (and in
// Alias mode it is pointed into the view).
func TestFreezeRefusesPointeesReachingPastTheArena(t *testing.T) {
	type holder struct {
		Two  *[2]byte
		None *struct{}
		Arr  [9]*[2]byte // too long to be flattened: the last element's pointer is checked too
	}
	// setup gives a holder and the end of the arena's used bytes, which
	// its last allocation, two bytes, reaches.
	setup := func(t *testing.T) (*arena.Arena, *holder, unsafe.Pointer) {
		a := newArena(t)
		h, err := arena.Clone(a, &holder{})
		require.NoError(t, err)
		last := arena.MakeSlice[byte](a, 2)
		end := unsafe.Add(unsafe.Pointer(&last[0]), 2)
		require.Equal(t, offheap.Unwrap(a).Range().Start()+uintptr(a.Len()), uintptr(end), "last ends the used bytes")
		return a, h, end
	}
	for _, m := range modes(t) {
		t.Run(m.String(), func(t *testing.T) {
			for _, tc := range []struct {
				name, field string
				set         func(h *holder, end unsafe.Pointer)
			}{
				{"a pointee one byte past", "holder.Two", func(h *holder, end unsafe.Pointer) { h.Two = (*[2]byte)(unsafe.Add(end, -1)) }},
				{"a zero-size pointee one past", "holder.None", func(h *holder, end unsafe.Pointer) { h.None = (*struct{})(end) }},
				{"a pointee one byte past, from an array's last element", "holder.Arr[8]", func(h *holder, end unsafe.Pointer) { h.Arr[8] = (*[2]byte)(unsafe.Add(end, -1)) }},
			} {
				t.Run(tc.name, func(t *testing.T) {
					a, h, end := setup(t)
					tc.set(h, end)
					_, err := freeze.Freeze(a, m)
					require.ErrorIs(t, err, arena.ErrForeignPointer)
					assert.ErrorContains(t, err, tc.field)
				})
			}
			t.Run("a pointee ending at the last used byte", func(t *testing.T) {
				a, h, end := setup(t)
				h.Two = (*[2]byte)(unsafe.Add(end, -2))
				h.Arr[8] = h.Two
				r, err := freeze.Freeze(a, m)
				require.NoError(t, err)
				assert.Same(t, freeze.ReadOnly(r, h.Two), freeze.ReadOnly(r, h).Two)
				assert.Same(t, freeze.ReadOnly(r, h.Two), freeze.ReadOnly(r, h).Arr[8], "the array's last element is in the view too")
				require.NoError(t, r.Verify())
			})
		})
	}
}

// Update refuses the same of what its function stored, and writes nothing.
func TestUpdateRefusesHeadersReachingPastTheRegion(t *testing.T) {
	r, _, ro := frozenConfig(t, freeze.Alias)
	err := freeze.Update(r, ro, func(w *Config) {
		w.Name = unsafe.String(unsafe.StringData(ro.Name), 1<<20)
	})
	require.ErrorIs(t, err, arena.ErrForeignPointer)
	assert.ErrorContains(t, err, "Config.Name")
	assert.ErrorContains(t, err, "reaches past the region")
	assert.Equal(t, "svc", ro.Name)
	require.NoError(t, r.Verify())
}

// Zero-size values allocated last, when nothing follows them, are still
// in the region: Freeze accepts pointers to them in every mode (they
// pointed one past the used bytes, which Freeze refused as outside the
// arena), ReadOnly gives their twins, and Update may store them.
func TestFreezeAcceptsZeroSizeAllocationsAtTheEnd(t *testing.T) {
	type empty struct{}
	type holder struct {
		E  *empty
		Es []empty
		N  int64
	}
	for _, m := range modes(t) {
		t.Run(m.String(), func(t *testing.T) {
			a := newArena(t)
			h, err := arena.Clone(a, &holder{N: 1})
			require.NoError(t, err)
			h.E, h.Es = arena.New[empty](a), arena.MakeSlice[empty](a, 3)
			r, err := freeze.Freeze(a, m)
			require.NoError(t, err)
			ro := freeze.ReadOnly(r, h)
			assert.Same(t, freeze.ReadOnly(r, h.E), ro.E)
			assert.Len(t, ro.Es, 3)
			assert.Equal(t, 3, cap(ro.Es))
			require.NoError(t, r.Verify())
			if m == freeze.Alias {
				require.NoError(t, freeze.Update(r, ro, func(w *holder) { w.E, w.N = freeze.ReadOnly(r, h.E), 2 }))
				assert.Equal(t, int64(2), ro.N)
				require.NoError(t, r.Verify())
			}
		})
	}
}

// File and Permanent check the mode before whether the region is closed:
// in Protect and Alias modes they fail with ErrModeUnsupported, closed
// or not, and never with ErrClosed.
func TestFileAndPermanentCheckTheModeFirst(t *testing.T) {
	for _, m := range []freeze.Mode{freeze.Protect, freeze.Alias} {
		r, _, _ := frozenConfig(t, m)
		require.NoError(t, r.Close())
		_, err := r.File()
		assert.ErrorIs(t, err, freeze.ErrModeUnsupported, "File in %s mode", m)
		assert.NotErrorIs(t, err, arena.ErrClosed, "File in %s mode", m)
		err = r.Permanent()
		assert.ErrorIs(t, err, freeze.ErrModeUnsupported, "Permanent in %s mode", m)
		assert.NotErrorIs(t, err, arena.ErrClosed, "Permanent in %s mode", m)
	}
}
