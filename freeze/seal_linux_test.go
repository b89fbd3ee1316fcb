//go:build linux

package freeze_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/backdoor"
	"github.com/frozen-go/frozen/internal/offheap"
	"github.com/frozen-go/frozen/internal/vm"
)

func TestSealedFileCanBeSharedReadOnly(t *testing.T) {
	memfdOnly(t)
	r, _, ro := frozenConfig(t, freeze.Seal)
	f, err := r.File()
	require.NoError(t, err)
	defer f.Close()
	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	require.NoError(t, err)
	// FUTURE_WRITE from the freeze (large arenas), EXEC from creation
	// (Linux 6.3+); no other seal.
	assert.Equal(t, unix.F_SEAL_WRITE|unix.F_SEAL_GROW|unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL,
		seals&^(unix.F_SEAL_FUTURE_WRITE|unix.F_SEAL_EXEC))
	// A receiver maps it and sees the frozen bytes (the same offsets).
	m, err := unix.Mmap(int(f.Fd()), 0, int(vm.PageSize), unix.PROT_READ, unix.MAP_SHARED)
	require.NoError(t, err)
	defer unix.Munmap(m)
	base := uintptr(offheap.Unwrap(r.Arena()).Base())
	off := uintptr(unsafe.Pointer(&ro.Version)) - base
	assert.Equal(t, ro.Version, *(*int)(unsafe.Pointer(&m[off])))
	_, err = unix.Mmap(int(f.Fd()), 0, int(vm.PageSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	assert.Error(t, err, "the receiver cannot map it writable")

	r2, _, _ := frozenConfig(t, freeze.Protect)
	_, err = r2.File()
	assert.ErrorIs(t, err, freeze.ErrModeUnsupported)
}

func TestPermanentRegionCannotBeReleased(t *testing.T) {
	memfdOnly(t)
	if _, mseal, _, _ := vm.Features(); mseal != nil {
		t.Skip(mseal)
	}
	// This leaks a small region for the life of the test binary.
	r, _, ro := frozenConfig(t, freeze.Seal)
	require.NoError(t, r.Permanent())
	require.NoError(t, r.Permanent(), "idempotent")
	assert.ErrorIs(t, r.Close(), freeze.ErrPermanent)
	assert.ErrorIs(t, mprotectRange(unsafe.Pointer(ro), 8, unix.PROT_NONE), unix.EPERM)
	assert.Equal(t, 1, ro.Version, "still readable after the refused Close")

	r2, _, _ := frozenConfig(t, freeze.Protect)
	assert.ErrorIs(t, r2.Permanent(), freeze.ErrModeUnsupported)
}

// Where mseal is missing (Linux before 6.10), Permanent says so with
// ErrModeUnsupported, as every mode the kernel cannot do does, and the
// region stays sealed and can still be closed.
func TestPermanentWithoutMsealIsModeUnsupported(t *testing.T) {
	memfdOnly(t)
	seals, _, mremap, reopen := vm.Features()
	restore := vm.SetFeatures(seals, &vm.FeatureError{Feature: "mseal (Linux 6.10+)", Err: unix.ENOSYS}, mremap, reopen)
	defer restore()
	r, _, ro := frozenConfig(t, freeze.Seal)
	err := r.Permanent()
	require.ErrorIs(t, err, freeze.ErrModeUnsupported)
	assert.ErrorIs(t, err, unix.ENOSYS)
	assert.ErrorContains(t, err, `Permanent of region "TestPermanentWithoutMsealIsModeUnsupported"`)
	assert.Equal(t, 1, ro.Version)
	assert.NoError(t, r.Verify())
	assert.NoError(t, r.Close(), "not permanent: it can be released")
}

func TestLargeSealMovesPageTablesAside(t *testing.T) {
	memfdOnly(t)
	a := newArena(t, arena.WithMaxBytes(64<<20))
	data := arena.MakeSlice[uint64](a, 4<<20) // 32 MiB: above the aside threshold
	for i := range data {
		data[i] = uint64(i)
	}
	r, err := freeze.Freeze(a, freeze.Seal)
	require.NoError(t, err)
	require.NoError(t, r.Wait())
	maps, err := vm.ReadMaps()
	require.NoError(t, err)
	e, ok := maps.Find(uintptr(unsafe.Pointer(&data[0])))
	require.True(t, ok)
	assert.Equal(t, "r--s", e.Perms)
	for _, e := range maps {
		if strings.Contains(e.Path, "memfd:"+a.Name()) {
			assert.Equal(t, "r--s", e.Perms, "the moved-aside writable mapping is gone: %+v", e)
		}
	}
	s, err := offheap.Unwrap(a).File().Seals()
	require.NoError(t, err)
	assert.Equal(t, vm.SealWrite|vm.SealGrow|vm.SealShrink|vm.SealSeal|vm.SealFutureWrite, s)
	assert.Equal(t, uint64(12345), data[12345])
	require.NoError(t, r.Verify())
}

// TestSealedFileInAnotherProcess hands the sealed memfd to a child process,
// which checks the seals, maps it read-only and reads the frozen value, and
// cannot map it writable or write to it.
func TestSealedFileInAnotherProcess(t *testing.T) {
	memfdOnly(t)
	if os.Getenv("FROZEN_SEALED_CHILD") != "" {
		sealedChild(t)
		return
	}
	r, _, ro := frozenConfig(t, freeze.Seal)
	f, err := r.File()
	require.NoError(t, err)
	defer f.Close()
	off := uintptr(unsafe.Pointer(&ro.Version)) - uintptr(offheap.Unwrap(r.Arena()).Base())
	args := []string{os.Args[0], "-test.run=^TestSealedFileInAnotherProcess$", "-test.v"}
	if w := strings.Fields(os.Getenv("FROZEN_TEST_EXEC_WRAPPER")); len(w) > 0 {
		args = append(w, args...) // an emulator and its flags, for a test binary of another GOARCH
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.ExtraFiles = []*os.File{f} // fd 3 in the child
	cmd.Env = append(os.Environ(), fmt.Sprintf("FROZEN_SEALED_CHILD=%d:%d", off, ro.Version))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child failed:\n%s", out)
	assert.Contains(t, string(out), "child: sealed, read-only, value ok")
}

func sealedChild(t *testing.T) {
	var off, want int
	_, err := fmt.Sscanf(os.Getenv("FROZEN_SEALED_CHILD"), "%d:%d", &off, &want)
	require.NoError(t, err)
	const fd = 3
	seals, err := unix.FcntlInt(fd, unix.F_GET_SEALS, 0)
	require.NoError(t, err)
	require.Equal(t, unix.F_SEAL_WRITE|unix.F_SEAL_GROW|unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL,
		seals&(unix.F_SEAL_WRITE|unix.F_SEAL_GROW|unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL))
	m, err := unix.Mmap(fd, 0, off+int(vm.PageSize), unix.PROT_READ, unix.MAP_SHARED)
	require.NoError(t, err)
	require.Equal(t, want, *(*int)(unsafe.Pointer(&m[off])))
	_, err = unix.Mmap(fd, 0, int(vm.PageSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	require.Error(t, err)
	// Even reopened read-write, the seals refuse the write.
	require.ErrorIs(t, backdoor.Pwrite(fd, 0, []byte{1}), unix.EPERM)
	fmt.Println("child: sealed, read-only, value ok")
}
