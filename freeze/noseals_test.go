//go:build unix && !aix

package freeze_test

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/vm"
)

// Where the file cannot be sealed (here a probe made to say so), a
// descriptor kept from before Freeze can still write the frozen bytes, so
// Protect and Alias hash them before Freeze returns, on a path of their
// own: a write through such a descriptor just after Freeze returns is
// reported by Verify, by its page's index, even though a background
// (were one started) is held until after the write; once the byte is
// put back, Verify finds the region unchanged.
func TestWithoutSealsTheBaselineIsTakenBeforeFreezeReturns(t *testing.T) {
	_, mseal, mremap, reopen := vm.Features()
	if reopen != nil {
		t.Skip("no read-only reopen here:", reopen)
	}
	missing := &vm.FeatureError{Feature: "memfd seals", Err: syscall.ENOSYS}
	restore := vm.SetFeatures(missing, mseal, mremap, reopen)
	defer restore()
	for _, m := range []freeze.Mode{freeze.Protect, freeze.Alias} {
		t.Run(m.String(), func(t *testing.T) {
			a, _, _, _ := clonedConfig(t)
			kept := leakedDescriptor(t, a)
			var b [1]byte
			_, err := unix.Pread(kept, b[:], 0)
			require.NoError(t, err)
			_, let := holdBackground(t, "start")
			r, err := freeze.Freeze(a, m)
			require.NoError(t, err)
			b[0] ^= 0xff
			_, err = unix.Pwrite(kept, b[:], 0)
			require.NoError(t, err, "nothing sealed the file")
			let()
			var ce *freeze.CorruptionError
			require.ErrorAs(t, r.Verify(), &ce)
			assert.Equal(t, []int{0}, ce.Pages)
			b[0] ^= 0xff
			_, err = unix.Pwrite(kept, b[:], 0)
			require.NoError(t, err)
			require.NoError(t, r.Verify())
		})
	}
}
