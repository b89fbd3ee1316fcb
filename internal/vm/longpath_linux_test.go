//go:build linux

package vm

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// mapDeepFile maps a page of a file whose path is longer than 64 KiB, as
// /proc/self/maps prints it: PATH_MAX bounds the paths system calls take,
// not the ones the kernel prints, and a file opened relative to a
// directory descriptor can lie deeper.
func mapDeepFile(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	require.NoError(t, err)
	name := strings.Repeat("d", 250)
	const depth = 300
	// TempDir's own cleanup (os.RemoveAll) holds a descriptor for each
	// level it descends, and fails with EMFILE under a low RLIMIT_NOFILE
	// (ulimit -n 64): the tree is taken down here, deepest first, with
	// one descriptor at a time, before that cleanup runs.
	t.Cleanup(func() { removeDeep(t, dir, name, depth) })
	for range depth {
		require.NoError(t, unix.Mkdirat(fd, name, 0o700))
		next, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		require.NoError(t, unix.Close(fd))
		require.NoError(t, err)
		fd = next
	}
	f, err := unix.Openat(fd, "f", unix.O_RDWR|unix.O_CREAT, 0o600)
	require.NoError(t, unix.Close(fd))
	require.NoError(t, err)
	defer unix.Close(f)
	require.NoError(t, unix.Ftruncate(f, int64(PageSize)))
	b, err := unix.Mmap(f, 0, int(PageSize), unix.PROT_READ, unix.MAP_SHARED)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Munmap(b) })
}

// removeDeep removes what mapDeepFile made under dir: the file "f" at
// depth levels of name, then each level from the deepest up, walking
// down from dir anew for each so that at most two descriptors are open.
func removeDeep(t *testing.T, dir, name string, depth int) {
	t.Helper()
	for d := depth; d >= 0; d-- {
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Errorf("remove deep tree: %v", err)
			return
		}
		for i := 0; i < d && err == nil; i++ {
			var next int
			next, err = unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
			unix.Close(fd)
			fd = next
		}
		if err == nil {
			if d == depth {
				err = unix.Unlinkat(fd, "f", 0)
			} else {
				err = unix.Unlinkat(fd, name, unix.AT_REMOVEDIR)
			}
			unix.Close(fd)
		}
		if err != nil && err != unix.ENOENT {
			t.Errorf("remove deep tree at depth %d: %v", d, err)
			return
		}
	}
}

// A line of /proc/self/maps longer than 64 KiB, for a mapping anywhere in
// the process, made ReadMapsWithin fail for every range ("token too
// long"); and then a move the kernel refused before touching anything
// (overlapping ranges) was reported as losing the range, whose address
// space a caller then gave up for good.
func TestReadMapsWithinReadsPastALineOfAnyLength(t *testing.T) {
	mapDeepFile(t)
	res, err := Reserve(4*PageSize, PageSize)
	require.NoError(t, err)
	defer res.Release()
	lo := uintptr(res.Addr())
	maps, err := ReadMapsWithin(lo, lo+PageSize)
	require.NoError(t, err)
	require.True(t, maps.Covers(lo, lo+PageSize))
	all, err := ReadMaps()
	require.NoError(t, err)
	long := 0
	for _, e := range all {
		if len(e.Path) > 64<<10 {
			long++
		}
	}
	require.Equal(t, 1, long, "the long line is read whole where it is asked for")

	f, err := NewFile("long-path")
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.Resize(int64(2*PageSize)))
	m, err := Map(f, 0, res.Addr(), 2*PageSize, ProtReadWrite, FromReadWrite)
	require.NoError(t, err)
	_, err = m.MoveAside(unsafe.Add(res.Addr(), PageSize)) // onto itself: EINVAL, nothing unmapped
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrRangeLost)
	require.NoError(t, m.Release())
}
