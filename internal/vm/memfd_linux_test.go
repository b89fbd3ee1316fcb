//go:build linux && !frozen_fallback

package vm

import (
	"errors"
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

// rawSeals returns the seals of the file's read-write descriptor, every
// bit the kernel reports (File.Seals reports only those it names).
func rawSeals(t *testing.T, f *File) int {
	t.Helper()
	rw, _ := f.FDs()
	seals, err := unix.FcntlInt(uintptr(rw), unix.F_GET_SEALS, 0)
	require.NoError(t, err)
	return seals
}

// Arena memory is never executed, and from Linux 6.3 its memfd says so:
// F_SEAL_EXEC keeps the file's execute bits off, so it cannot be run as
// a program through /proc/self/fd.
func TestMemfdIsNotExecutable(t *testing.T) {
	probe, err := unix.MemfdCreate("probe", unix.MFD_CLOEXEC|unix.MFD_NOEXEC_SEAL)
	if errors.Is(err, unix.EINVAL) {
		t.Skip("this kernel (before Linux 6.3) has no MFD_NOEXEC_SEAL")
	}
	require.NoError(t, err)
	require.NoError(t, unix.Close(probe))

	f, err := NewFile("noexec")
	require.NoError(t, err)
	defer f.Close()
	assert.NotZero(t, rawSeals(t, f)&unix.F_SEAL_EXEC, "F_SEAL_EXEC")
	rw, _ := f.FDs()
	var st unix.Stat_t
	require.NoError(t, unix.Fstat(rw, &st))
	assert.Zero(t, st.Mode&0o111, "execute bits of mode %#o", st.Mode)
	assert.ErrorIs(t, unix.Fchmod(rw, 0o755), unix.EPERM, "chmod +x")
	// The seals Seal mode adds are still allowed with it.
	require.NoError(t, f.AddSeals(SealWrite|SealGrow|SealShrink|SealSeal))
	s, err := f.Seals()
	require.NoError(t, err)
	assert.Equal(t, SealWrite|SealGrow|SealShrink|SealSeal, s)
}

// A kernel before Linux 6.3 refuses MFD_NOEXEC_SEAL as an unknown flag
// (EINVAL): NewFile makes the memfd without it, and so does every later
// call, without asking again; the memfd still allows seals.
func TestNewFileOnKernelWithoutNoexecSeal(t *testing.T) {
	if !childtest.InChild(t) {
		return
	}
	runtime.LockOSThread() // the filter binds this thread (see above)
	childtest.RefuseSyscallFlag(t, unix.SYS_MEMFD_CREATE, 1, unix.MFD_NOEXEC_SEAL, true, unix.EINVAL)
	for range 2 {
		f, err := NewFile("before 6.3")
		require.NoError(t, err)
		assert.Zero(t, rawSeals(t, f)&unix.F_SEAL_EXEC)
		assert.True(t, noexecUnknown.Load())
		// Without MFD_NOEXEC_SEAL, which allows sealing by itself,
		// the memfd still takes the seals Seal mode adds.
		require.NoError(t, f.AddSeals(SealWrite|SealGrow|SealShrink|SealSeal))
		require.NoError(t, f.Close())
	}
	// Any other refusal still reaches the caller, after one call.
	childtest.RefuseSyscall(t, unix.SYS_MEMFD_CREATE, unix.EMFILE)
	_, err := NewFile("refused")
	assert.ErrorIs(t, err, unix.EMFILE)
}

// Linux 6.3 to 6.5 with vm.memfd_noexec=2 refuse a memfd_create without
// MFD_NOEXEC_SEAL (EACCES); NewFile asks for it, so it works there.
func TestNewFileWhereNoexecSealIsRequired(t *testing.T) {
	if !childtest.InChild(t) {
		return
	}
	runtime.LockOSThread()
	childtest.RefuseSyscallFlag(t, unix.SYS_MEMFD_CREATE, 1, unix.MFD_NOEXEC_SEAL, false, unix.EACCES)
	f, err := NewFile("noexec enforced")
	require.NoError(t, err)
	defer f.Close()
	assert.NotZero(t, rawSeals(t, f)&unix.F_SEAL_EXEC)
	assert.False(t, noexecUnknown.Load())
}

// mseal refused by a seccomp filter (EPERM, as the probe in Features
// takes it) or missing from the kernel (ENOSYS) is a missing feature, and
// Mseal says so with a *FeatureError wrapping ErrUnsupported, as the
// probe does: a caller whose probe could not tell (a transient failure)
// learns it from the call, not from a bare errno.
func TestMsealRefusedIsAFeatureError(t *testing.T) {
	if !childtest.InChild(t) {
		return
	}
	f, err := NewFile("mseal refused")
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.Resize(int64(PageSize)))
	// The filter binds this thread; locked and never unlocked, the thread
	// ends with the test's goroutine instead of running other goroutines.
	runtime.LockOSThread()
	// A later filter's errno wins over an earlier one's.
	for _, errno := range []unix.Errno{unix.ENOSYS, unix.EPERM} {
		childtest.RefuseSyscall(t, unix.SYS_MSEAL, errno)
		res, err := Reserve(PageSize, PageSize)
		require.NoError(t, err)
		m, err := Map(f, 0, res.Addr(), PageSize, ProtRead, FromReadWrite)
		require.NoError(t, err)
		err = m.Mseal()
		require.Error(t, err, "mseal refused with %v", errno)
		assert.ErrorIs(t, err, ErrUnsupported, "refused with %v", errno)
		assert.ErrorIs(t, err, errno)
		var fe *FeatureError
		assert.ErrorAs(t, err, &fe, "refused with %v", errno)
		// Nothing was sealed: the range is released as any other.
		require.NoError(t, m.Release())
		require.NoError(t, res.Release())
	}
}
