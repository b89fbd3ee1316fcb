//go:build linux

package freeze_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
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
