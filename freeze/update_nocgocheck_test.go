//go:build unix && !goexperiment.cgocheck2

package freeze_test

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
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
	assert.Equal(t, 1, ro.Version, "the whole update was undone")
	assert.Same(t, &ro.Endpoints[1], ro.Primary)
	assert.True(t, reflect.DeepEqual(&want, ro))
	require.NoError(t, r.Verify())
}
