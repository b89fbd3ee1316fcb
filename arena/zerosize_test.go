//go:build unix && !aix

package arena_test

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
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
