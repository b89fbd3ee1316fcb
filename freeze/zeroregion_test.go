package freeze_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
)

// A zero-value Region, which only a declaration makes, counts as closed,
// as a zero-value Arena does: its methods that return an error return one
// wrapping arena.ErrClosed, and the others, and ReadOnly, panic with one,
// rather than with the runtime's nil dereference. So does a nil *Region,
// as a nil *Arena does.
func TestZeroRegionCountsAsClosed(t *testing.T) {
	for name, r := range map[string]*freeze.Region{"zero": new(freeze.Region), "nil": nil} {
		t.Run(name, func(t *testing.T) { requireClosedRegion(t, r) })
	}
}

// requireClosedRegion checks that every method of r, and ReadOnly and
// Update of it, fail or panic with an error wrapping arena.ErrClosed.
func requireClosedRegion(t *testing.T, r *freeze.Region) {
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"Verify", r.Verify},
		{"Wait", r.Wait},
		{"Permanent", r.Permanent},
		{"Close", r.Close},
		{"File", func() error { f, err := r.File(); assert.Nil(t, f); return err }},
		{"Allocations", func() error { as, err := r.Allocations(0, 1); assert.Nil(t, as); return err }},
		{"Update", func() error { return freeze.Update(r, new(int), func(*int) { t.Error("f ran") }) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			require.ErrorIs(t, err, arena.ErrClosed)
			assert.Contains(t, err.Error(), "nil or zero-value *Region")
		})
	}
	for _, tc := range []struct {
		name string
		call func()
	}{
		{"Name", func() { r.Name() }},
		{"Mode", func() { r.Mode() }},
		{"Size", func() { r.Size() }},
		{"Checksum", func() { r.Checksum() }},
		{"ReadOnly", func() { freeze.ReadOnly(r, new(int)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				err, ok := recover().(error)
				require.True(t, ok, "panics with an error")
				require.ErrorIs(t, err, arena.ErrClosed)
				assert.Contains(t, err.Error(), "nil or zero-value *Region")
			}()
			tc.call()
		})
	}
	assert.Nil(t, r.Arena())
}
