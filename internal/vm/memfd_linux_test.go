//go:build linux && !frozen_fallback

package vm

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/frozen-go/frozen/internal/childtest"
)

// A kernel without memfd_create (before Linux 3.17), or a seccomp filter
// that refuses it, leaves this backend nothing to map: NewFile fails with
// an error wrapping ErrUnsupportedPlatform and the kernel's errno, not with
// an error a caller cannot tell from running out of descriptors.
func TestNewFileWithoutMemfdCreateIsUnsupportedPlatform(t *testing.T) {
	if !childtest.InChild(t) {
		return
	}
	// Running out of descriptors is not a missing platform (and is
	// tried first: the filters below stay).
	var lim unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &lim))
	none := lim
	none.Cur = 0
	require.NoError(t, unix.Setrlimit(unix.RLIMIT_NOFILE, &none))
	_, err := NewFile("no descriptors")
	require.NoError(t, unix.Setrlimit(unix.RLIMIT_NOFILE, &lim))
	require.ErrorIs(t, err, unix.EMFILE)
	assert.NotErrorIs(t, err, ErrUnsupportedPlatform)

	// The filter binds this thread; locked and never unlocked, the thread
	// ends with the test's goroutine instead of running other goroutines.
	runtime.LockOSThread()
	// A later filter's errno wins over an earlier one's.
	for _, errno := range []unix.Errno{unix.ENOSYS, unix.EPERM} {
		childtest.RefuseSyscall(t, unix.SYS_MEMFD_CREATE, errno)
		f, err := NewFile("refused")
		require.Error(t, err, "memfd_create refused with %v", errno)
		assert.Nil(t, f)
		assert.ErrorIs(t, err, ErrUnsupportedPlatform, "refused with %v", errno)
		assert.ErrorIs(t, err, errno)
		assert.Contains(t, err.Error(), "memfd_create")
	}
}
