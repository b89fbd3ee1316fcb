//go:build unix && !aix

package offheap

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/internal/vm"
)

// TestPermanentTwiceAsksTheKeeperOnce: a second Permanent of a region
// already permanent returns nil at once, without asking the keeper again
// (which may refuse by then: a keeper decides whether a region may become
// permanent, not whether it stays so) or sealing again. The region maps
// nothing here, so that mseal, made to look present, is never called
// (the arena, which cannot be closed then, is left for the life of the
// test binary).
func TestPermanentTwiceAsksTheKeeperOnce(t *testing.T) {
	if err := ModeMissing(Seal); err != nil {
		t.Skip(err)
	}
	seals, _, mremap, reopen := vm.Features()
	defer vm.SetFeatures(seals, nil, mremap, reopen)()
	a, err := NewArena("permanent-twice", 1<<20)
	require.NoError(t, err)
	r, err := a.Freeze(Seal)
	require.NoError(t, err)
	require.Nil(t, a.w, "an empty arena maps nothing")
	asked, refused := 0, errors.New("refused")
	r.SetKeeper(func(permanent bool) error {
		if !permanent {
			return nil
		}
		if asked++; asked > 1 {
			return refused
		}
		return nil
	})
	require.NoError(t, r.Permanent())
	require.NoError(t, r.Permanent(), "already permanent")
	assert.Equal(t, 1, asked)
	assert.ErrorIs(t, a.Close(), ErrPermanent)
}
