//go:build linux

package proc

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// VmSize grows by what the process maps, and shrinks back when it unmaps.
func TestVmSizeFollowsMappings(t *testing.T) {
	const n = 64 << 20
	var before, during uint64
	var p unsafe.Pointer
	for range 10 { // other threads of the runtime may map meanwhile
		var err error
		before, err = VmSize()
		require.NoError(t, err)
		p, err = unix.MmapPtr(-1, 0, nil, n, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
		require.NoError(t, err)
		during, err = VmSize()
		require.NoError(t, err)
		require.NoError(t, unix.MunmapPtr(p, n))
		if during-before == n {
			break
		}
	}
	assert.Equal(t, uint64(n), during-before, "VmSize grew by the mapping")
}
