//go:build unix && !aix

package freeze_test

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
)

type marker struct{}

func (marker) Name() string { return "marker" }

// A zero-size value that is all an arena holds stays readable once frozen,
// through ReadOnly's pointer in every mode: dereferencing it reads a byte
// (Go's nil check), which must not fault.
func TestAFrozenZeroSizeValueIsReadable(t *testing.T) {
	for _, m := range modes(t) {
		a, err := arena.NewArena(arena.WithName("zero-size"))
		require.NoError(t, err)
		p := arena.New[marker](a)
		r, err := freeze.Freeze(a, m)
		require.NoError(t, err, m)
		ro := freeze.ReadOnly(r, p)
		var got string
		var fault any
		func() {
			defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
			defer func() { fault = recover() }()
			got = ro.Name()
		}()
		assert.Nil(t, fault, "%v: reading the zero-size value faulted", m)
		assert.Equal(t, "marker", got, m)
		assert.NoError(t, r.Verify(), m)
		require.NoError(t, r.Close(), m)
	}
}
