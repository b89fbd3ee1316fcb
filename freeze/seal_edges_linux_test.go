//go:build linux

package freeze_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/offheap"
	"github.com/frozen-go/frozen/internal/vm"
)

// A Seal region's File, asked for after Close, is refused with an error
// wrapping arena.ErrClosed, like every other read of a closed region: the
// memfd it would hand out has been let go, and a receiver would be given
// some other file or none.
func TestSealedFileAfterCloseIsErrClosed(t *testing.T) {
	memfdOnly(t)
	r, _, _ := frozenConfig(t, freeze.Seal)
	require.NoError(t, r.Close())
	f, err := r.File()
	assert.ErrorIs(t, err, arena.ErrClosed)
	assert.Nil(t, f)
}

// Seal moves aside the page tables of a mapping as long as the threshold
// (SetAsideMin), not only of a longer one, and remaps a shorter one in
// place: told by the seals the file ends with, the moved-aside path's
// F_SEAL_FUTURE_WRITE among them. Either way the region verifies.
func TestSealMovesAsideAMappingOfExactlyTheThreshold(t *testing.T) {
	memfdOnly(t)
	if _, _, mremap, _ := vm.Features(); mremap != nil {
		t.Skip(mremap)
	}
	for _, tc := range []struct {
		name  string
		extra uintptr // the threshold past the mapping's length
		aside bool
	}{
		{"as long", 0, true},
		{"a byte longer", 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _, _, _ := clonedConfig(t)
			n := uintptr(offheap.Unwrap(a).Mapped())
			require.NotZero(t, n)
			defer offheap.SetAsideMin(offheap.SetAsideMin(n + tc.extra))
			r, err := freeze.Freeze(a, freeze.Seal)
			require.NoError(t, err)
			require.NoError(t, r.Wait())
			s, err := offheap.Unwrap(a).File().Seals()
			require.NoError(t, err)
			assert.Equal(t, tc.aside, s&vm.SealFutureWrite != 0, "seals %#x", s)
			assert.Equal(t, vm.SealWrite|vm.SealGrow|vm.SealShrink|vm.SealSeal, s&^vm.SealFutureWrite)
			require.NoError(t, r.Verify())
		})
	}
}
