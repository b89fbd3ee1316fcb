//go:build unix && !aix && !goexperiment.cgocheck2

package freeze_test

import (
	"errors"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/offheap"
)

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

// zeroSlice holds a slice whose elements have no size.
type zeroSlice struct {
	Z []struct{}
	N int
}

// A slice of zero-size elements holds no memory whatever its length, and
// its data word may point anywhere (make([]struct{}, 3) points at the
// runtime's zero-size base): Freeze and Update accept it as Clone does,
// pointing it at the region with its length (and cap == len) kept. They
// refused it as a foreign pointer, for only an empty slice was known to
// hold no memory.
func TestFreezeAndUpdateAcceptSlicesOfZeroSizeElements(t *testing.T) {
	for _, m := range modes(t) {
		t.Run(m.String(), func(t *testing.T) {
			a := newArena(t)
			c, err := arena.Clone(a, &zeroSlice{N: 1})
			require.NoError(t, err)
			c.Z = make([]struct{}, 3, 5)
			r, err := freeze.Freeze(a, m)
			require.NoError(t, err)
			require.NoError(t, r.Wait())
			ro := freeze.ReadOnly(r, c)
			assert.Len(t, ro.Z, 3)
			assert.Equal(t, 3, cap(ro.Z), "an append copies")
			require.NoError(t, offheap.Unwrap(a).Validate(), "a pointer left outside the region")
			require.NoError(t, r.Verify())
			if m != freeze.Alias {
				return
			}
			require.NoError(t, freeze.Update(r, ro, func(w *zeroSlice) { w.Z, w.N = make([]struct{}, 7), 2 }))
			assert.Len(t, ro.Z, 7)
			assert.Equal(t, 7, cap(ro.Z))
			assert.Equal(t, 2, ro.N)
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
	offheap.SetFailpoint(failAt("protect", errors.New("injected failure")))
	_, err := freeze.Freeze(a, freeze.Protect)
	offheap.SetFailpoint(nil)
	require.Error(t, err)
	assert.Zero(t, cap(c.Endpoints))
	c.Endpoints = append(c.Endpoints, Endpoint{"x", 1}, Endpoint{"y", 2})
	assert.Equal(t, "svc", c.Name, "the append wrote nothing of the arena")
}
