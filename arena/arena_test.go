//go:build unix && !aix

package arena_test

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/internal/graphtest"
	"github.com/frozen-go/frozen/internal/offheap"
	"github.com/frozen-go/frozen/internal/proc"
	"github.com/frozen-go/frozen/internal/space"
	"github.com/frozen-go/frozen/internal/vm"
)

type Point struct {
	X, Y int32
}

type Aligned struct {
	A byte
	B uint64
	C [3]uint16
}

type WithString struct {
	ID   int
	Name string
}

type WithNested struct {
	ID    int
	Inner struct {
		Vals []int
	}
}

// panicErr runs f and returns the error it panicked with.
func panicErr(t *testing.T, f func()) error {
	t.Helper()
	err := mayPanic(t, f)
	require.Error(t, err, "expected a panic")
	return err
}

// mayPanic runs f and returns the error it panicked with, or nil if it
// returned.
func mayPanic(t *testing.T, f func()) (err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			var ok bool
			err, ok = r.(error)
			require.True(t, ok, "panic value %T is not an error", r)
		}
	}()
	f()
	return nil
}

func TestNewIsZeroedAndAligned(t *testing.T) {
	a := newArena(t)
	_ = arena.New[byte](a) // misalign the bump pointer
	p := arena.New[Aligned](a)
	assert.Zero(t, uintptr(unsafe.Pointer(p))%unsafe.Alignof(*p))
	assert.Equal(t, Aligned{}, *p)
	p.B = 42
	q := arena.New[Point](a)
	assert.Equal(t, Point{}, *q)
	assert.Equal(t, uint64(42), p.B)
	assert.GreaterOrEqual(t, a.Len(), int(unsafe.Sizeof(Aligned{})+unsafe.Sizeof(Point{})))
}

// counter64 is 12 bytes with 4-byte alignment on 32-bit systems, where Go
// still places it at a multiple of 8, so that atomic.AddInt64(&c.N, 1)
// works.
type counter64 struct {
	N int64
	X int32
}

// Values of types of 8 bytes or more start at a multiple of 8 on every
// system, as Go's allocator places them: sync/atomic's 64-bit functions need it
// on 32-bit ones (this test matters in the suite's linux/386 run), for
// New (one value, and one after another), MakeSlice and Clone.
func TestAllocationsAreAlignedForAtomics(t *testing.T) {
	a := newArena(t)
	var got []*int64
	for range 3 {
		_ = arena.New[byte](a) // misalign the bump pointer
		c := arena.New[counter64](a)
		got = append(got, &c.N, &arena.New[counter64](a).N)
		got = append(got, &arena.MakeSlice[counter64](a, 2)[0].N)
		_ = arena.New[byte](a)
		cl, err := arena.Clone(a, &counter64{N: 1})
		require.NoError(t, err)
		got = append(got, &cl.N)
		_ = arena.New[byte](a)
		cs, err := arena.Clone(a, []counter64{{N: 2}, {N: 3}})
		require.NoError(t, err)
		got = append(got, &cs[0].N)
	}
	for i, p := range got {
		assert.Zero(t, uintptr(unsafe.Pointer(p))%8, "allocation %d at %p", i, p)
		atomic.AddInt64(p, 1) // panics on 32-bit systems if misaligned
	}
}

// Ranges of 2 MiB or more start on a 2 MiB boundary, whatever was handed
// out before them, so that Seal can move their page tables a directory at
// a time (1 GiB ones on a 1 GiB boundary, which this test does not
// reserve).
func TestLargeArenasAreAlignedForSeal(t *testing.T) {
	for range 5 {
		newArena(t, arena.WithMaxBytes(4096)) // one page, to knock the next range off any boundary
		a := newArena(t, arena.WithMaxBytes(3<<20))
		assert.Zero(t, uintptr(offheap.Unwrap(a).Base())%(2<<20), "%#x", offheap.Unwrap(a).Base())
	}
}

func TestMakeSliceCapEqualsLen(t *testing.T) {
	a := newArena(t)
	s := arena.MakeSlice[Point](a, 10)
	require.Len(t, s, 10)
	assert.Equal(t, 10, cap(s))
	for i := range s {
		assert.Equal(t, Point{}, s[i])
		s[i] = Point{int32(i), int32(-i)}
	}
	grown := append(s, Point{99, 99})
	grown[0].X = 1000
	assert.Equal(t, int32(0), s[0].X, "append copied to the heap")
	empty := arena.MakeSlice[Point](a, 0)
	assert.NotNil(t, empty)
	assert.Empty(t, empty)
}

func TestStringAndBytes(t *testing.T) {
	a := newArena(t)
	s := arena.String(a, "hello")
	assert.Equal(t, "hello", s)
	assert.Equal(t, "", arena.String(a, ""))
	b := arena.Bytes(a, []byte("bytes"))
	assert.Equal(t, []byte("bytes"), b)
	assert.Equal(t, len(b), cap(b))
	assert.Nil(t, arena.Bytes(a, nil))
	e := arena.Bytes(a, []byte{})
	assert.NotNil(t, e)
	assert.Empty(t, e)
	graphtest.RequireInArena(t, s, a.Name())
	graphtest.RequireInArena(t, b, a.Name())
}

func TestTypedAllocationRefusesPointers(t *testing.T) {
	a := newArena(t)
	for _, tc := range []struct {
		name string
		f    func()
		path string
	}{
		{"string field", func() { arena.New[WithString](a) }, "WithString.Name: string"},
		{"nested slice", func() { arena.New[WithNested](a) }, "WithNested.Inner.Vals: []int"},
		{"pointer", func() { arena.MakeSlice[*int](a, 3) }, "arena: *int: holds pointers"},
		{"interface", func() { arena.New[error](a) }, "arena: error: holds pointers"},
		{"map", func() { arena.New[map[int]int](a) }, "map[int]int"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := panicErr(t, tc.f)
			assert.ErrorIs(t, err, arena.ErrUnsupported)
			assert.Contains(t, err.Error(), tc.path)
		})
	}
	assert.Equal(t, 0, a.Len())
}

func TestAllocationAfterCloseAndFreezePanicsTyped(t *testing.T) {
	a := newArena(t)
	arena.New[int](a)
	require.NoError(t, offheap.Unwrap(a).Close())
	for _, f := range []func(){
		func() { arena.New[int](a) },
		func() { arena.MakeSlice[int](a, 1) },
		func() { arena.String(a, "x") },
		func() { arena.Bytes(a, []byte("x")) },
	} {
		assert.ErrorIs(t, panicErr(t, f), arena.ErrClosed)
	}
	require.NoError(t, a.Close(), "Close is idempotent")

	b := newArena(t)
	arena.New[int](b)
	_, err := offheap.Unwrap(b).Freeze(offheap.Protect)
	require.NoError(t, err)
	for _, f := range []func(){
		func() { arena.New[int](b) },
		func() { arena.MakeSlice[int](b, 1) },
		func() { arena.String(b, "x") },
	} {
		err := panicErr(t, f)
		assert.ErrorIs(t, err, arena.ErrFrozen)
		assert.Contains(t, err.Error(), b.Name())
	}
	_, err = arena.Clone(b, []int{1})
	assert.ErrorIs(t, err, arena.ErrFrozen)
}

// A zero-value Arena, and (but in New) a nil *Arena, is refused with a
// typed error that says what to do, not a nil dereference.
func TestZeroAndNilArenasAreRefused(t *testing.T) {
	const msg = "arena: closed: a nil or zero-value *Arena is not an arena (create one with NewArena)"
	for name, a := range map[string]*arena.Arena{"zero": {}, "nil": nil} {
		t.Run(name, func(t *testing.T) {
			panics := map[string]func(){
				"MakeSlice": func() { arena.MakeSlice[int](a, 1) },
				"String":    func() { arena.String(a, "x") },
				"Bytes":     func() { arena.Bytes(a, []byte("x")) },
				"Name":      func() { a.Name() },
				"Len":       func() { a.Len() },
				"Cap":       func() { a.Cap() },
			}
			if a != nil {
				panics["New"] = func() { arena.New[int](a) }
			}
			for op, f := range panics {
				assert.PanicsWithError(t, msg, f, op)
			}
			_, err := arena.Clone(a, []int{1})
			assert.ErrorIs(t, err, arena.ErrClosed)
			assert.EqualError(t, err, msg)
			assert.ErrorIs(t, a.Close(), arena.ErrClosed)
		})
	}
}

func TestSizesAndLimits(t *testing.T) {
	a := newArena(t, arena.WithMaxBytes(100<<10+1)) // exactly, whatever the page size
	assert.Equal(t, 100<<10+1, a.Cap())
	assert.ErrorIs(t, panicErr(t, func() { arena.MakeSlice[int](a, -1) }), arena.ErrInvalidSize)
	assert.ErrorContains(t, panicErr(t, func() { arena.MakeSlice[int](a, -1) }), `arena "TestSizesAndLimits"`)
	assert.ErrorIs(t, panicErr(t, func() { arena.MakeSlice[byte](a, 200<<10) }), arena.ErrExhausted)
	assert.ErrorIs(t, panicErr(t, func() { arena.MakeSlice[[1 << 20]byte](a, math.MaxInt>>10) }), arena.ErrExhausted,
		"a size that overflows")
	// The arena still works after refused allocations.
	s := arena.MakeSlice[byte](a, 90<<10)
	assert.Len(t, s, 90<<10)
	assert.ErrorIs(t, panicErr(t, func() { arena.MakeSlice[byte](a, 20<<10) }), arena.ErrExhausted)
	// Up to the last byte allowed, and not one more, though the mapping
	// ends on a page boundary beyond it.
	rest := a.Cap() - a.Len()
	assert.Len(t, arena.MakeSlice[byte](a, rest), rest)
	assert.ErrorIs(t, panicErr(t, func() { arena.New[byte](a) }), arena.ErrExhausted)
	assert.Equal(t, a.Cap(), a.Len())

	for _, n := range []int64{0, -1} {
		before := arena.ReadStats()
		b, err := arena.NewArena(arena.WithMaxBytes(n))
		assert.Nil(t, b)
		assert.ErrorIs(t, err, arena.ErrInvalidSize, "WithMaxBytes(%d)", n)
		assert.ErrorContains(t, err, fmt.Sprintf("WithMaxBytes(%d)", n))
		assert.Equal(t, before.Arenas, arena.ReadStats().Arenas, "a refused NewArena leaves no arena")
	}
	// More than any address space, or more than the kernel reserves
	// (user space on 64-bit Linux is at most 2^57 bytes).
	// On 32-bit systems 1<<62 is more than half the address space too.
	huge := map[int64]error{math.MaxInt64: arena.ErrInvalidSize, 1 << 62: arena.ErrExhausted}
	if strconv.IntSize == 32 {
		huge[1<<62] = arena.ErrInvalidSize
	}
	for n, want := range huge {
		before := arena.ReadStats()
		b, err := arena.NewArena(arena.WithName("huge"), arena.WithMaxBytes(n))
		assert.Nil(t, b)
		assert.ErrorIs(t, err, want, "WithMaxBytes(%d)", n)
		assert.ErrorContains(t, err, fmt.Sprintf("WithMaxBytes(%d)", n))
		assert.ErrorContains(t, err, `arena "huge"`)
		// The sentinel first, then the arena, as in every other message
		// (this one read `arena "huge": arena: exhausted: …`).
		assert.True(t, strings.HasPrefix(err.Error(), want.Error()+`: arena "huge": WithMaxBytes(`), "%v", err)
		// The size once, and no internal package's name.
		assert.Equal(t, 1, strings.Count(err.Error(), fmt.Sprint(n)), "%v", err)
		assert.NotContains(t, err.Error(), "space:")
		assert.NotContains(t, err.Error(), "vm:")
		assert.Equal(t, before.Arenas, arena.ReadStats().Arenas, "a refused NewArena leaves no arena")
		assert.Equal(t, before.ReservedBytes, arena.ReadStats().ReservedBytes)
	}
	one := newArena(t, arena.WithMaxBytes(1))
	assert.Equal(t, 1, one.Cap())
	arena.New[byte](one)
	assert.ErrorIs(t, panicErr(t, func() { arena.New[byte](one) }), arena.ErrExhausted)
	dflt := newArena(t)
	assert.Equal(t, arena.DefaultMaxBytes, dflt.Cap(), "without WithMaxBytes")

	// New's fast path stops at the ceiling too, inside the last page.
	c := newArena(t, arena.WithMaxBytes(5000))
	for range 5000 {
		arena.New[byte](c)
	}
	assert.ErrorIs(t, panicErr(t, func() { arena.New[byte](c) }), arena.ErrExhausted)
	assert.Equal(t, 5000, c.Len())
}

func TestGrowthKeepsAddressesAndData(t *testing.T) {
	a := newArena(t, arena.WithMaxBytes(64<<20))
	first := arena.MakeSlice[uint64](a, 8)
	for i := range first {
		first[i] = uint64(i) * 3
	}
	addr := &first[0]
	for i := 0; i < 200; i++ {
		chunk := arena.MakeSlice[byte](a, 100<<10) // grows the mapping many times
		chunk[len(chunk)-1] = byte(i)
	}
	assert.Same(t, addr, &first[0])
	for i := range first {
		assert.Equal(t, uint64(i)*3, first[i])
	}
	if vm.Backend == "memfd" {
		maps, err := vm.ReadMaps()
		require.NoError(t, err)
		lines := 0
		for _, e := range maps {
			if e.Path == "/memfd:"+a.Name()+" (deleted)" {
				lines++
			}
		}
		assert.Equal(t, 1, lines, "grown pieces merge into one mapping")
	}
}

func TestConcurrentUseIsDetectedUnderInvariants(t *testing.T) {
	if !offheap.Invariants {
		t.Skip("needs -race or -tags invariants")
	}
	a := newArena(t)
	// Hold the arena busy from inside an allocation's own critical
	// section: a Clone whose value is being walked while another
	// goroutine allocates. Simulated directly: two Clones racing many
	// times until one observes the other.
	done := make(chan any, 2)
	big := make([]*Node, 20000)
	for i := range big {
		big[i] = &Node{Val: i}
	}
	for g := 0; g < 2; g++ {
		go func() {
			defer func() { done <- recover() }()
			for i := 0; i < 20; i++ {
				if _, err := arena.Clone(a, big); err != nil {
					return
				}
			}
		}()
	}
	var got []any
	for g := 0; g < 2; g++ {
		if r := <-done; r != nil {
			got = append(got, r)
		}
	}
	require.NotEmpty(t, got, "two goroutines cloning into one arena were not detected")
	assert.Contains(t, fmt.Sprint(got[0]), "concurrent use")
}

// String and Bytes hold the arena busy while they copy, not only while
// they allocate: a Close or Freeze on another goroutine during the copy
// unmapped or protected the memory being written, and the process died
// of the fault instead of the check panicking. Each round copies a large
// string while another goroutine closes the arena a moment after; a round
// where the copy ended first shows nothing, and another is tried.
func TestConcurrentUseDuringStringOrBytesCopyIsDetectedUnderInvariants(t *testing.T) {
	if !offheap.Invariants {
		t.Skip("needs -race or -tags invariants")
	}
	big := strings.Repeat("x", 128<<20)
	for name, copyIn := range map[string]func(*arena.Arena){
		"String": func(a *arena.Arena) { arena.String(a, big) },
		"Bytes":  func(a *arena.Arena) { arena.Bytes(a, unsafe.Slice(unsafe.StringData(big), len(big))) },
	} {
		t.Run(name, func(t *testing.T) {
			for range 10 {
				a, err := arena.NewArena(arena.WithMaxBytes(256 << 20))
				require.NoError(t, err)
				closed := make(chan any, 1)
				go func() {
					defer func() { closed <- recover() }()
					time.Sleep(5 * time.Millisecond)
					a.Close()
				}()
				copied := func() (p any) {
					defer func() { p = recover() }()
					copyIn(a)
					return nil
				}()
				p := <-closed
				if strings.Contains(fmt.Sprint(p, copied), "concurrent use") {
					require.NoError(t, a.Close())
					return
				}
				require.Nil(t, p, "Close")
				if copied != nil { // Close came first
					require.ErrorIs(t, copied.(error), arena.ErrClosed)
				}
			}
			t.Skip("the copy ended before Close began in every round")
		})
	}
}

// Clone holds the arena busy until it has read the root's copy back, and
// MakeSlice for the whole call: a Close that another goroutine tries over
// and over, and that succeeds the moment the arena is left, unmapped the
// root's copy while Clone still read it (the process died of the fault),
// and under -race Close and Freeze were reported as racing with
// MakeSlice's look at the arena's state between its type lookup and its
// allocation, instead of panicking saying so.
func TestConcurrentUseDuringCloneOrMakeSliceIsDetectedUnderInvariants(t *testing.T) {
	if !offheap.Invariants {
		t.Skip("needs -race or -tags invariants")
	}
	type big [4 << 20]byte // a root whose copy takes a while to read back
	v := new(big)
	v[len(v)-1] = 7
	try := func(f func()) (p any) {
		defer func() { p = recover() }()
		f()
		return nil
	}
	busy := func(p any) bool { return strings.Contains(fmt.Sprint(p), "concurrent use") }
	// until calls f until it ends otherwise than in a panic for concurrent
	// use, and returns how it ended: nil, or what it panicked with.
	until := func(f func()) any {
		for {
			if p := try(f); !busy(p) {
				return p
			}
		}
	}
	freeze := func(a *arena.Arena) error { _, err := offheap.Unwrap(a).Freeze(offheap.Protect); return err }
	makeSlices := func(a *arena.Arena) any {
		return until(func() {
			for {
				arena.MakeSlice[int32](a, 3)
			}
		})
	}
	for name, tc := range map[string]struct {
		use  func(a *arena.Arena) any // until the arena is closed or frozen: what ended it
		end  func(a *arena.Arena) error
		want error // what use meets once end is done
	}{
		"Clone/Close": {func(a *arena.Arena) any {
			return until(func() {
				c, err := arena.Clone(a, *v)
				if err == nil && c[len(c)-1] != 7 {
					err = errors.New("the clone's last byte is lost")
				}
				if err == nil {
					err = errors.New("cloned") // the Close had not begun: try again
				}
				panic(err)
			})
		}, (*arena.Arena).Close, arena.ErrClosed},
		"MakeSlice/Close":  {makeSlices, (*arena.Arena).Close, arena.ErrClosed},
		"MakeSlice/Freeze": {makeSlices, freeze, arena.ErrFrozen},
	} {
		t.Run(name, func(t *testing.T) {
			for range 20 {
				a, err := arena.NewArena(arena.WithMaxBytes(256 << 20))
				require.NoError(t, err)
				ended := make(chan any, 1)
				go func() {
					// Once the arena is seen busy (an allocation of one
					// byte panicking for concurrent use), end it as soon
					// as it is left.
					for !busy(try(func() { arena.New[byte](a) })) {
					}
					ended <- until(func() {
						if err := tc.end(a); err != nil {
							panic(err)
						}
					})
				}()
				for {
					p := tc.use(a)
					if err, ok := p.(error); ok && err.Error() == "cloned" {
						continue
					}
					require.ErrorIs(t, p.(error), tc.want)
					break
				}
				require.Nil(t, <-ended)
				require.NoError(t, a.Close())
			}
		})
	}
}

func countFDs(t *testing.T) int {
	n, err := proc.OpenFDs()
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return n
}

func TestNoLeaksOverThousandsOfArenas(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts /proc entries")
	}
	cycle := func(i int) {
		a, err := arena.NewArena(arena.WithName("leak"), arena.WithMaxBytes(1<<20))
		require.NoError(t, err)
		s := arena.MakeSlice[byte](a, 10000)
		s[0] = byte(i)
		_, err = arena.Clone(a, []string{"x", fmt.Sprint(i)})
		require.NoError(t, err)
		require.NoError(t, a.Close())
	}
	for i := 0; i < 100; i++ { // warm up
		cycle(i)
	}
	fds := countFDs(t)
	lines, err := space.MapsLines()
	require.NoError(t, err)
	for i := 0; i < 5000; i++ {
		cycle(i)
	}
	assert.Equal(t, fds, countFDs(t), "descriptors leaked")
	after, err := space.MapsLines()
	require.NoError(t, err)
	assert.LessOrEqual(t, after, lines+2, "the library's mappings grew: %d -> %d lines", lines, after)
	maps, err := vm.ReadMaps()
	require.NoError(t, err)
	for _, e := range maps {
		assert.NotContains(t, e.Path, "memfd:leak", "a released arena is still mapped")
		assert.NotContains(t, e.Path, "/frozen-leak-", "a released arena's temporary file is still mapped")
	}
}

// TestOptionsApplyInOrderAndNilIsSkipped: the last of two WithMaxBytes
// wins, and a nil Option is ignored rather than called.
func TestOptionsApplyInOrderAndNilIsSkipped(t *testing.T) {
	a, err := arena.NewArena(nil, arena.WithMaxBytes(1<<20), arena.WithName("first"), nil, arena.WithMaxBytes(64), arena.WithName("last"))
	require.NoError(t, err)
	defer a.Close()
	assert.Equal(t, "last", a.Name())
	assert.Equal(t, 64, a.Cap())
	_ = arena.MakeSlice[byte](a, 64)
	_, err = arena.Clone(a, [1]byte{})
	assert.ErrorIs(t, err, arena.ErrExhausted, "the 64-byte limit, given last, holds")
}

// TestNameIsOnlyALabel: the kernel refuses memfd names longer than 249
// bytes or holding NUL; an arena takes any name, keeps it whole, and gives
// the kernel a label cut on a UTF-8 boundary with NUL replaced.
func TestNameIsOnlyALabel(t *testing.T) {
	long := "/etc/myservice/" + strings.Repeat("very-long-directory/", 14) + "config.json" // 306 bytes
	for _, tc := range []struct {
		name, in, memfd string
	}{
		{"306 bytes", long, long[:249]},
		{"NUL", "a\x00b", "a_b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := arena.NewArena(arena.WithName(tc.in))
			require.NoError(t, err)
			defer a.Close()
			assert.Equal(t, tc.in, a.Name())
			c, err := arena.Clone(a, []string{"value"})
			require.NoError(t, err)
			assert.Equal(t, []string{"value"}, c)
			graphtest.RequireInArena(t, c, a.Name())
			if vm.Backend != "memfd" {
				return
			}
			maps, err := vm.ReadMaps()
			require.NoError(t, err)
			e, ok := maps.Find(uintptr(offheap.Unwrap(a).Base()))
			require.True(t, ok)
			assert.Equal(t, "/memfd:"+tc.memfd+" (deleted)", e.Path)
		})
	}
}

func TestErrorsAreDistinct(t *testing.T) {
	all := []error{arena.ErrFrozen, arena.ErrClosed, arena.ErrExhausted, arena.ErrInvalidSize, arena.ErrUnsupported, arena.ErrForeignPointer}
	for i, e := range all {
		assert.Contains(t, e.Error(), "arena: ")
		for j, f := range all {
			assert.Equal(t, i == j, errors.Is(e, f))
		}
	}
}

// With the quarantine off, a released range may go to another arena at
// once: the invariants build's check that a closed arena's range is
// inaccessible (on under -race) must run before that can happen, or it
// sees the other arena's mapping and panics.
func TestRangesReusedAtOnceWithoutQuarantine(t *testing.T) {
	prevBytes, prevRanges := arena.SetQuarantine(0, 0)
	defer arena.SetQuarantine(prevBytes, prevRanges)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 300 {
				a, err := arena.NewArena(arena.WithName("reused"), arena.WithMaxBytes(1<<20))
				if err != nil {
					t.Error(err)
					return
				}
				arena.MakeSlice[byte](a, 100)[0] = 1
				if err := a.Close(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// Name, Len and Cap keep answering after Close, with what they said before.
func TestAccessorsAfterCloseGiveTheirLastValues(t *testing.T) {
	a := newArena(t, arena.WithName("kept"), arena.WithMaxBytes(1<<20))
	arena.MakeSlice[int64](a, 3)
	name, n, c := a.Name(), a.Len(), a.Cap()
	require.Equal(t, 24, n)
	require.NoError(t, a.Close())
	assert.Equal(t, name, a.Name())
	assert.Equal(t, n, a.Len())
	assert.Equal(t, c, a.Cap())
}

type nineBytes [9]byte

type twoInt16 struct{ A, B int16 }

// On 32-bit systems a clone keeps the original's address modulo 8, as the
// package doc says: a [9]byte that Go's allocator placed off a multiple of
// 8 is copied off one too, though New would place it on one; and a value
// of fewer than 8 bytes, in a graph of such values and pointer words
// (which are 4 bytes there), keeps it too, not its address modulo 4.
func TestCloneKeepsTheOriginalsAlignment(t *testing.T) {
	if strconv.IntSize != 32 {
		t.Skip("8-byte alignment of allocations differs from the type's only on 32-bit systems")
	}
	a := newArena(t)
	var keep []*nineBytes
	var keepSmall []*twoInt16
	for i := range 64 {
		p := new(nineBytes)
		p[0] = byte(i)
		keep = append(keep, p)
		c, err := arena.Clone(a, p)
		require.NoError(t, err)
		assert.Equal(t, uintptr(unsafe.Pointer(p))%8, uintptr(unsafe.Pointer(c))%8)
		assert.Zero(t, uintptr(unsafe.Pointer(arena.New[nineBytes](a)))%8)

		small := &twoInt16{A: int16(i)}
		keepSmall = append(keepSmall, small)
		cs, err := arena.Clone(a, small)
		require.NoError(t, err)
		assert.Equal(t, uintptr(unsafe.Pointer(small))%8, uintptr(unsafe.Pointer(cs))%8, "a 4-byte value at %p", small)
	}
	runtime.KeepAlive(keep)
	runtime.KeepAlive(keepSmall)
}

// Allocations that need no arena memory (a zero-size value, an empty
// slice, string or byte slice, a nil one) are refused after Close and
// after Freeze like any other, rather than handed out as if the arena
// still took allocations.
func TestAllocationsThatNeedNoMemoryAreRefusedWhenClosedOrFrozen(t *testing.T) {
	closed := newArena(t)
	arena.New[int](closed)
	require.NoError(t, closed.Close())
	frozen := newArena(t)
	arena.New[int](frozen)
	_, err := offheap.Unwrap(frozen).Freeze(offheap.Protect)
	require.NoError(t, err)
	for _, tc := range []struct {
		a    *arena.Arena
		want error
	}{{closed, arena.ErrClosed}, {frozen, arena.ErrFrozen}} {
		a := tc.a
		for op, f := range map[string]func(){
			"New[struct{}]":          func() { arena.New[struct{}](a) },
			"New[[0]int64]":          func() { arena.New[[0]int64](a) },
			"MakeSlice[struct{}](3)": func() { arena.MakeSlice[struct{}](a, 3) },
			"MakeSlice[int](0)":      func() { arena.MakeSlice[int](a, 0) },
			`String("")`:             func() { arena.String(a, "") },
			"Bytes(nil)":             func() { arena.Bytes(a, nil) },
			"Bytes([]byte{})":        func() { arena.Bytes(a, []byte{}) },
		} {
			assert.ErrorIs(t, panicErr(t, f), tc.want, "%s on the %v arena", op, tc.want)
		}
	}
}

// A length whose size in bytes wraps around the address space is
// refused with ErrExhausted, whether the size wraps to nothing (which
// would give a slice of that length at the arena's first address) or to a
// few bytes (a slice of that length over eight bytes of memory).
func TestMakeSliceSizesThatWrapAroundAreExhausted(t *testing.T) {
	a := newArena(t)
	wrapsToZero := 1 << (strconv.IntSize - 20) // × 1 MiB is 2^64 (2^32)
	err := panicErr(t, func() { arena.MakeSlice[[1 << 20]byte](a, wrapsToZero) })
	assert.ErrorIs(t, err, arena.ErrExhausted)
	wrapsToEight := int(^uint(0)/24 + 1) // × 24 is 2^64 + 8 (2^32 + 8)
	err = panicErr(t, func() { arena.MakeSlice[[3]uint64](a, wrapsToEight) })
	assert.ErrorIs(t, err, arena.ErrExhausted)
	assert.Equal(t, 0, a.Len(), "nothing was allocated")
}

// WithMaxBytes takes any n that, rounded up to a page, is less than half
// the address space, and refuses from there on: n one byte past the
// largest such (whatever the page size) is an invalid size, while the
// largest itself is only more than the kernel will reserve.
func TestMaxBytesBelowHalfTheAddressSpace(t *testing.T) {
	largest := int64(^uintptr(0) >> 1 &^ (vm.PageSize - 1))
	b, err := arena.NewArena(arena.WithMaxBytes(largest + 1))
	assert.Nil(t, b)
	assert.ErrorIs(t, err, arena.ErrInvalidSize, "WithMaxBytes(%d)", largest+1)
	if strconv.IntSize == 32 {
		return // half of a 32-bit address space may well be reserved, and kept for the rest of the process
	}
	b, err = arena.NewArena(arena.WithMaxBytes(largest))
	assert.Nil(t, b)
	assert.NotErrorIs(t, err, arena.ErrInvalidSize, "WithMaxBytes(%d)", largest)
	assert.ErrorIs(t, err, arena.ErrExhausted, "WithMaxBytes(%d)", largest)
}

// Values of exactly 8 bytes start at a multiple of 8 too, as Go's
// allocator places them, though int64, uint64 and float64 are aligned to 4
// on 32-bit systems (where this test matters), for New, New's run of one
// type and MakeSlice: atomic.AddUint64 needs it.
func TestEightByteValuesStartAtMultiplesOfEight(t *testing.T) {
	a := newArena(t)
	var got []*uint64
	for range 3 {
		_ = arena.New[byte](a) // misalign the bump pointer
		got = append(got, arena.New[uint64](a), arena.New[uint64](a))
		_ = arena.New[byte](a)
		got = append(got, (*uint64)(unsafe.Pointer(&arena.New[struct{ N int64 }](a).N)))
		_ = arena.New[byte](a)
		got = append(got, (*uint64)(unsafe.Pointer(&arena.MakeSlice[float64](a, 2)[0])))
	}
	for i, p := range got {
		if assert.Zero(t, uintptr(unsafe.Pointer(p))%8, "allocation %d at %p", i, p) {
			atomic.AddUint64(p, 1) // panics on 32-bit systems if misaligned
		}
	}
}

// SetQuarantine refuses a negative budget of either kind with
// ErrInvalidSize and keeps the budget it had; a budget in bytes beyond the
// address space is all of it, on 32-bit systems too, where converting
// 1<<40 to a uintptr would give 0, no quarantine at all.
func TestSetQuarantineBudgets(t *testing.T) {
	prevBytes, prevRanges := arena.SetQuarantine(1<<20, 7)
	defer arena.SetQuarantine(prevBytes, prevRanges)
	for _, tc := range []struct {
		bytes  int64
		ranges int
	}{{-1, 7}, {1 << 20, -1}, {math.MinInt64, math.MinInt}} {
		err := panicErr(t, func() { arena.SetQuarantine(tc.bytes, tc.ranges) })
		assert.ErrorIs(t, err, arena.ErrInvalidSize, "SetQuarantine(%d, %d)", tc.bytes, tc.ranges)
	}
	b, r := arena.SetQuarantine(1<<40, 7)
	assert.Equal(t, int64(1<<20), b, "refused budgets left the budget alone")
	assert.Equal(t, 7, r)
	b, _ = arena.SetQuarantine(1<<20, 7)
	assert.Equal(t, int64(min(uint64(1)<<40, uint64(^uintptr(0)))), b)
}
