//go:build linux && !frozen_fallback

package vm

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// mapFixed's comment relies on a failed MAP_FIXED mmap leaving the range
// as it was (Linux 6.12 and later), including a failure the kernel finds
// only after it has looked at the old mapping: a shared writable mapping
// of a memfd sealed with F_SEAL_WRITE. Before 6.12 the old mapping was
// gone and the range a hole; here the mapping and its bytes must stay.
func TestFailedMapFixedLeavesTheRange(t *testing.T) {
	fx := newFixture(t, 2)
	fx.m.Bytes()[PageSize+1] = 42
	n := fx.m.Len()
	before, err := ReadMapsWithin(uintptr(fx.m.Addr()), uintptr(fx.m.Addr())+n)
	require.NoError(t, err)

	sealed, err := NewFile(t.Name() + "-sealed")
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, sealed.Close()) })
	require.NoError(t, sealed.Resize(int64(n)))
	require.NoError(t, sealed.AddSeals(SealWrite))

	_, err = unix.MmapPtr(sealed.rw, 0, fx.m.Addr(), n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_FIXED)
	require.ErrorIs(t, err, unix.EPERM, "the kernel refuses a writable shared mapping of a file sealed against writes")

	after, err := ReadMapsWithin(uintptr(fx.m.Addr()), uintptr(fx.m.Addr())+n)
	require.NoError(t, err)
	assert.Equal(t, before, after, "the range is mapped as before the refused mmap")
	assert.Equal(t, byte(42), *(*byte)(unsafe.Add(fx.m.Addr(), PageSize+1)), "and reads the file's bytes")
	fx.m.Bytes()[1] = 7 // still writable: this would fault if the mapping had gone
	buf := make([]byte, 2)
	_, err = unix.Pread(fx.file.rw, buf, 0)
	require.NoError(t, err)
	assert.Equal(t, byte(7), buf[1], "a write through the range reaches the arena's file")
}
