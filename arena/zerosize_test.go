//go:build unix && !aix

package arena_test

import (
	"runtime/debug"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/internal/offheap"
	"github.com/frozen-go/frozen/internal/vm"
)

type marker struct{}

func (marker) Name() string { return "marker" }

// faultOf runs f and returns the memory fault it raised, if any.
func faultOf(f func()) (fault any) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() { fault = recover() }()
	f()
	return nil
}

// A pointer to a zero-size value can be dereferenced: Go's nil check reads
// a byte through it (on amd64, TESTB AX, (AX)), so it must point at
// readable memory even when it is the arena's first allocation, before
// anything else is mapped.
func TestZeroSizeValuesAreReadableAsTheFirstAllocation(t *testing.T) {
	for name, get := range map[string]func(a *arena.Arena) func() string{
		"New": func(a *arena.Arena) func() string {
			p := arena.New[marker](a)
			return func() string { return p.Name() }
		},
		"MakeSlice": func(a *arena.Arena) func() string {
			s := arena.MakeSlice[marker](a, 3)
			return func() string { return s[1].Name() }
		},
		"Clone": func(a *arena.Arena) func() string {
			p, err := arena.Clone(a, &marker{})
			require.NoError(t, err)
			return func() string { return p.Name() }
		},
	} {
		a, err := arena.NewArena(arena.WithName("zero-size"))
		require.NoError(t, err)
		read := get(a)
		var got string
		assert.Nil(t, faultOf(func() { got = read() }), "%s: reading the zero-size value faulted", name)
		assert.Equal(t, "marker", got, name)
		require.NoError(t, a.Close())
	}
}

// Zero-size values point at the arena's first address, whatever was
// allocated before them, and take no memory: not at the end of the used
// bytes, which in a full arena is past its last mapped page, where
// reading one through Go's nil check would fault.
func TestZeroSizeValuesPointAtTheArenasFirstAddress(t *testing.T) {
	a, err := arena.NewArena(arena.WithName("zero-size-full"), arena.WithMaxBytes(int64(vm.PageSize)))
	require.NoError(t, err)
	defer func() { require.NoError(t, a.Close()) }()
	base := offheap.Unwrap(a).Base()
	_ = arena.New[int64](a)
	_ = arena.String(a, "abc")
	used := a.Len()
	assert.Equal(t, base, unsafe.Pointer(arena.New[marker](a)))
	assert.Equal(t, base, unsafe.Pointer(arena.New[[0]int64](a)))
	assert.Equal(t, base, unsafe.Pointer(unsafe.SliceData(arena.MakeSlice[marker](a, 3))))
	assert.Equal(t, used, a.Len(), "zero-size values take no memory")

	_ = arena.MakeSlice[byte](a, a.Cap()-a.Len())
	require.Equal(t, a.Cap(), a.Len(), "the arena is full")
	p := arena.New[marker](a)
	assert.Equal(t, base, unsafe.Pointer(p))
	var got string
	assert.Nil(t, faultOf(func() { got = p.Name() }), "reading the zero-size value faulted")
	assert.Equal(t, "marker", got)
}
