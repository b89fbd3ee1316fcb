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

// A StepError whose rollback failed too says so in its message, after the
// step's error, and matches both errors: the arena is then not as it was,
// and whoever reads the log must learn that from the message alone.
func TestStepErrorSaysWhenRollingBackFailed(t *testing.T) {
	step, rollback := errors.New("step broke"), errors.New("undo broke")
	se := &freeze.StepError{Arena: "a", Mode: freeze.Alias, Step: "map", Err: step, Rollback: rollback}
	assert.Equal(t, `freeze: arena "a": Alias: step "map" failed: step broke (and rolling back failed: undo broke)`, se.Error())
	assert.ErrorIs(t, se, step)
	assert.ErrorIs(t, se, rollback)
	se.Rollback = nil
	assert.Equal(t, `freeze: arena "a": Alias: step "map" failed: step broke`, se.Error())
}

// Unwrap never returns a nil among its errors, which the errors package
// does not allow: a StepError whose rollback succeeded unwraps to the
// step's error alone, so that code walking the tree of errors by hand
// (not only errors.Is and errors.As, which skip a nil) meets no nil.
func TestStepErrorUnwrapHoldsNoNil(t *testing.T) {
	step, rollback := errors.New("step broke"), errors.New("undo broke")
	for _, tc := range []struct {
		name string
		se   *freeze.StepError
		want []error
	}{
		{"step only", &freeze.StepError{Err: step}, []error{step}},
		{"step and rollback", &freeze.StepError{Err: step, Rollback: rollback}, []error{step, rollback}},
		{"neither", &freeze.StepError{}, []error{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.se.Unwrap())
		})
	}
}
