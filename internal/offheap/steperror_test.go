//go:build unix && !aix

package offheap

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStepErrorWrapsTheRollbacksErrorToo: a freeze step that failed and
// a rollback that failed after it are both in the StepError's chain, so
// that a caller can tell, with errors.Is, that the arena could not be
// made writable again (and is left to Close), not only why the step
// failed.
func TestStepErrorWrapsTheRollbacksErrorToo(t *testing.T) {
	a, err := NewArena("rollback-failed", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	*New[uint64](a) = 1
	injected, rollback := errors.New("injected failure"), errors.New("injected rollback failure")
	SetFailpoint(func(s string) error {
		switch s {
		case "protect":
			return injected
		case "writable-again":
			return rollback
		}
		return nil
	})
	_, err = a.Freeze(Protect)
	SetFailpoint(nil)
	var se *StepError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "protect", se.Step)
	assert.ErrorIs(t, err, injected)
	assert.ErrorIs(t, err, rollback)
	assert.ErrorContains(t, err, "rolling back failed: injected rollback failure")
}

// Unwrap leaves out a nil rollback error: the errors package does not
// allow a nil in the slice an Unwrap returns.
func TestStepErrorUnwrapHoldsNoNil(t *testing.T) {
	step := errors.New("step broke")
	assert.Equal(t, []error{step}, (&StepError{Err: step}).Unwrap())
}
