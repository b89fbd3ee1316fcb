//go:build unix && !aix

package freeze_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/freeze"
)

// The root checksum is a function of the frozen bytes alone, however it
// was taken: the baseline hashed at Freeze and the one each Update takes
// again agree, so an Update that puts back the bytes of another gives
// the checksum Freeze took, and one that changes them another.
func TestUpdateThatRestoresTheBytesRestoresTheChecksum(t *testing.T) {
	r, _, ro := frozenConfig(t, freeze.Alias)
	sum := r.Checksum()
	require.NoError(t, freeze.Update(r, ro, func(w *Config) {}))
	assert.Equal(t, sum, r.Checksum(), "nothing changed")
	require.NoError(t, freeze.Update(r, ro, func(w *Config) { w.Version = 5 }))
	assert.NotEqual(t, sum, r.Checksum())
	require.NoError(t, freeze.Update(r, ro, func(w *Config) { w.Version = 1 }))
	assert.Equal(t, sum, r.Checksum(), "the bytes are those Freeze hashed")
	require.NoError(t, r.Verify())
}
