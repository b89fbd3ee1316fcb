//go:build linux

package proc

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// VmSize grows by what the process maps: by the mapping's size, or a
// little more where other threads map meanwhile or an emulator (qemu-user,
// which runs the suite for other CPUs) maps its own bookkeeping beside it.
func TestVmSizeFollowsMappings(t *testing.T) {
	const n = 64 << 20
	var grew uint64
	for range 10 {
		before, err := VmSize()
		require.NoError(t, err)
		p, err := unix.MmapPtr(-1, 0, nil, n, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
		require.NoError(t, err)
		during, err := VmSize()
		require.NoError(t, err)
		require.NoError(t, unix.MunmapPtr(p, n))
		if grew = during - before; grew == n {
			break
		}
	}
	assert.GreaterOrEqual(t, grew, uint64(n), "VmSize grew by the mapping")
	assert.Less(t, grew, uint64(n+n/8), "VmSize grew by the mapping and little else")
}

// OpenFDs counts a descriptor the process opens, and no longer once it is
// closed.
func TestOpenFDsCountsDescriptors(t *testing.T) {
	before, err := OpenFDs()
	require.NoError(t, err)
	fd, err := unix.MemfdCreate("count", unix.MFD_CLOEXEC)
	require.NoError(t, err)
	open, err := OpenFDs()
	require.NoError(t, err)
	require.NoError(t, unix.Close(fd))
	after, err := OpenFDs()
	require.NoError(t, err)
	assert.Equal(t, before+1, open)
	assert.Equal(t, before, after)
}
