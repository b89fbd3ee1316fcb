//go:build unix && !aix

package snapshot_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/backdoor"
	"github.com/frozen-go/frozen/snapshot"
)

// TestTakeBaselineIsExactWhenItReturns: Take hashes what it copies, so a
// snapshot's baseline describes its bytes from the moment Take returns,
// with no background window in Protect mode: a write the moment after,
// by mprotect back to writable, fails Verify and is named. (Freezing an
// arena filled by other means takes the Protect baseline in the
// background, and such a write could enter it.)
func TestTakeBaselineIsExactWhenItReturns(t *testing.T) {
	const n = 8 << 20 // 64 MiB of keys: a baseline of some milliseconds
	v := table{Name: "big", Keys: make([]uint64, n), Vals: make([]uint32, 4)}
	for i := range v.Keys {
		v.Keys[i] = uint64(i)
	}
	for round := range 3 {
		s, err := snapshot.Take(v, snapshot.WithMode(freeze.Protect), snapshot.WithName("exact"))
		require.NoError(t, err)
		keys := s.Value().Keys
		require.NoError(t, backdoor.Reprotect(&keys[round], ^keys[round]))
		err = s.Verify()
		var ce *freeze.CorruptionError
		require.True(t, errors.As(err, &ce), "round %d: the write right after Take went into the baseline: %v", round, err)
		assert.Contains(t, err.Error(), `"exact"`)
		require.NoError(t, s.Close())
	}
}
