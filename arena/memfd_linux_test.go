//go:build linux && !frozen_fallback

package arena_test

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/internal/childtest"
)

// Where the kernel has no memfd_create (before Linux 3.17) or a seccomp
// filter refuses it (here with ENOSYS, as one that emulates an old kernel
// does), NewArena fails as on a platform without a backend, and nothing is
// left behind.
func TestNewArenaWithoutMemfdCreateIsUnsupportedPlatform(t *testing.T) {
	if !childtest.InChild(t) {
		return
	}
	runtime.LockOSThread() // the filter binds this thread, to the end
	childtest.RefuseSyscall(t, unix.SYS_MEMFD_CREATE, unix.ENOSYS)
	before := arena.ReadStats()
	a, err := arena.NewArena(arena.WithName("config"))
	assert.Nil(t, a)
	require.ErrorIs(t, err, arena.ErrUnsupportedPlatform)
	assert.ErrorIs(t, err, unix.ENOSYS)
	assert.Contains(t, err.Error(), `arena "config"`)
	after := arena.ReadStats()
	assert.Equal(t, before.Arenas, after.Arenas)
	assert.Equal(t, before.MappedBytes, after.MappedBytes)
}
