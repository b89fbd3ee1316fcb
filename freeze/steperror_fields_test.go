//go:build unix && !aix

package freeze_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/offheap"
)

// The *StepError Freeze returns carries the arena's name and the step's
// own error itself, not an error wrapping it, and says so once: "freeze:
// arena "name": Protect: step "protect" failed: <the error>". A caller
// compares Err, or logs the message, to tell which arena failed and why.
func TestStepErrorCarriesTheArenaAndTheStepsOwnError(t *testing.T) {
	a := newArena(t, arena.WithName("steps"))
	_, err := arena.Clone(a, newConfig())
	require.NoError(t, err)
	injected := errors.New("injected failure")
	offheap.SetFailpoint(failAt("protect", injected))
	r, err := freeze.Freeze(a, freeze.Protect)
	offheap.SetFailpoint(nil)
	require.Nil(t, r)
	var se *freeze.StepError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "steps", se.Arena)
	assert.Equal(t, freeze.Protect, se.Mode)
	assert.Equal(t, "protect", se.Step)
	assert.Same(t, injected, se.Err, "the step's error itself")
	assert.NoError(t, se.Rollback)
	assert.Equal(t, fmt.Sprintf("freeze: arena %q: Protect: step %q failed: injected failure", "steps", "protect"), err.Error())
}
