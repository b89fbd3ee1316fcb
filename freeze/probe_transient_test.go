//go:build unix && !aix

package freeze_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/vm"
)

// A probe of the read-only reopen that failed for want of descriptors
// says nothing of the kernel: Alias and Seal, which map the file from that
// reopen, fail at the "probe" step with the probe's error, never with
// ErrModeUnsupported (on which a caller would fall back to another mode
// for good), and change nothing, with the seals' probe fine.
func TestATransientReopenProbeFailureIsNotAMissingMode(t *testing.T) {
	seals, mseal, _, _ := vm.Features()
	emfile := &vm.FeatureError{Feature: "memfd", Err: unix.EMFILE}
	restore := vm.SetFeatures(seals, mseal, emfile, emfile)
	defer restore()
	a, _, _, before := clonedConfig(t)
	for _, m := range []freeze.Mode{freeze.Alias, freeze.Seal} {
		_, err := freeze.Freeze(a, m)
		require.ErrorIs(t, err, unix.EMFILE, "%s", m)
		assert.False(t, errors.Is(err, freeze.ErrModeUnsupported), "%s: %v", m, err)
		var se *freeze.StepError
		require.ErrorAs(t, err, &se, "%s", m)
		assert.Equal(t, "probe", se.Step, "%s", m)
		assert.Equal(t, before, arenaMaps(t, a), "%s changed nothing", m)
	}
}
