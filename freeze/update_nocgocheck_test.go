//go:build unix && !goexperiment.cgocheck2

package freeze_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/offheap"
)

// Under GOEXPERIMENT=cgocheck2 the runtime itself aborts on the store this
// test makes (a Go-heap pointer into arena memory), which is the point of
// that build; here the library must catch it and undo it.
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
	assert.Contains(t, err.Error(), "(Update can store only nil or pointers to what is already in the region, such as ReadOnly's results; the Update was undone)")
	assert.Equal(t, 1, ro.Version, "the whole update was undone")
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

// Freeze's validation checks the data word of every value stored directly
// in an interface, whatever its type: maps, channels, funcs and
// unsafe.Pointer have no pointer slots of their own (Clone refuses them),
// and were let through before.
func TestFreezeRefusesHeapValuesStoredInInterfaces(t *testing.T) {
	for name, v := range heapValuesInInterfaces() {
		t.Run(name, func(t *testing.T) {
			a := newArena(t)
			h, err := arena.Clone(a, &Holder{})
			require.NoError(t, err)
			h.X = v
			_, err = freeze.Freeze(a, freeze.Protect)
			require.ErrorIs(t, err, arena.ErrForeignPointer)
			assert.Contains(t, err.Error(), "Holder.X")
			h.X = nil
			_, err = freeze.Freeze(a, freeze.Protect)
			require.NoError(t, err, "the failed Freeze left the arena as it was")
		})
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

// An Update that panics after storing a Go-heap pointer does not leave it
// in frozen memory: the deferred undo puts the old bytes back before the
// panic goes on, so the string cannot be freed under a reader.
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
// long slice is refused (here; under cgocheck2 the runtime aborts on the
// store itself), and a pointer into the writable mapping is
// relocated to the read-only view.
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
		// A string whose bytes are w's own Port, in the writable mapping.
		require.NoError(t, freeze.Update(r, &ro.Endpoints[i], func(w *Endpoint) {
			w.Host = unsafe.String((*byte)(unsafe.Pointer(&w.Port)), 2)
		}))
		assert.Equal(t, (*byte)(unsafe.Pointer(&ro.Endpoints[i].Port)), unsafe.StringData(ro.Endpoints[i].Host),
			"element %d: the pointer into the writable mapping was relocated to the view", i)
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
// them as foreign pointers. (Outside cgocheck2: f stores a heap-backed
// empty string, on which that runtime aborts before Update can clear it.)
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

// What Update accepts, Freeze accepts in a value changed in place before
// it: empty strings and slices, wherever their data words point, and
// zero-size values in interfaces. Freeze refused them as foreign
// pointers; it now gives them the data words a clone has, so that every
// pointer lies in the region (and, in Alias mode, in the view).
func TestFreezeAcceptsWhatHoldsNoMemory(t *testing.T) {
	for _, m := range modes(t) {
		t.Run(m.String(), func(t *testing.T) {
			a := newArena(t)
			c, err := arena.Clone(a, newConfig())
			require.NoError(t, err)
			hs, err := arena.Clone(a, []Holder{{X: 1}, {X: 2}, {X: 3}})
			require.NoError(t, err)
			_, c.Name, _ = strings.Cut(strings.Clone("name="), "=")
			require.NotNil(t, unsafe.StringData(c.Name))
			c.Endpoints = make([]Endpoint, 0, 4)
			hs[0].X, hs[1].X, hs[2].X = struct{}{}, [0]int{}, new(struct{})

			r, err := freeze.Freeze(a, m)
			require.NoError(t, err)
			require.NoError(t, r.Wait())
			ro, rhs := freeze.ReadOnly(r, c), unsafe.Slice(freeze.ReadOnly(r, &hs[0]), len(hs))
			assert.Equal(t, "", ro.Name)
			assert.Nil(t, unsafe.StringData(ro.Name))
			assert.NotNil(t, ro.Endpoints)
			assert.Zero(t, cap(ro.Endpoints))
			assert.Equal(t, struct{}{}, rhs[0].X)
			assert.Equal(t, [0]int{}, rhs[1].X)
			assert.IsType(t, new(struct{}), rhs[2].X)
			assert.Equal(t, "b", ro.Primary.Host, "the rest of the graph is as it was")
			require.NoError(t, offheap.Unwrap(a).Validate(), "a pointer left outside the region")
			require.NoError(t, r.Verify())
		})
	}
}

// A Go-heap pointer stored through the owner's mapping (a stray write, not
// an Update) stays visible to Verify after an Update of another field of
// the same page: that Update re-baselined the page and made it vanish.
func TestUpdateDoesNotHideAHeapPointerWrittenBesideIt(t *testing.T) {
	r, owner, ro := frozenConfig(t, freeze.Alias)
	owner.Nested = &Nested{} // the Go heap, behind the checksums' back
	require.Error(t, r.Verify())
	err := freeze.Update(r, &ro.Version, func(w *int) { *w = 2 })
	var ce *freeze.CorruptionError
	require.ErrorAs(t, err, &ce, "the Update is refused")
	require.ErrorAs(t, r.Verify(), &ce, "and Verify still reports the page")
	assert.ErrorIs(t, offheap.Unwrap(r.Arena()).Validate(), arena.ErrForeignPointer)
	owner.Nested = nil // the heap pointer out again before the test ends
}

// An empty slice with a foreign data word and spare capacity (make([]T,
// 0, n) on the heap, stored into a clone) is tidied by Freeze: data at the
// region's first byte, capacity 0. A Freeze failing later must not put
// that capacity back, or an append would write over the region's first
// bytes (here c.Name's header). (Outside cgocheck2, which aborts on the
// store of the heap slice.)
func TestFailedFreezeKeepsATidiedSliceEmpty(t *testing.T) {
	a, _, c, _ := clonedConfig(t)
	c.Endpoints = make([]Endpoint, 0, 1<<10)
	offheap.SetFailpoint(func(s string) error {
		if s == "protect" {
			return errors.New("injected failure")
		}
		return nil
	})
	_, err := freeze.Freeze(a, freeze.Protect)
	offheap.SetFailpoint(nil)
	require.Error(t, err)
	assert.Zero(t, cap(c.Endpoints))
	c.Endpoints = append(c.Endpoints, Endpoint{"x", 1}, Endpoint{"y", 2})
	assert.Equal(t, "svc", c.Name, "the append wrote nothing of the arena")
}
