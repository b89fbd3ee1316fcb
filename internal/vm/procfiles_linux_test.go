//go:build linux

package vm

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/frozen-go/frozen/internal/childtest"
	"github.com/frozen-go/frozen/internal/proc"
)

// The files of /proc and /sys that the library reads on paths a program
// takes (arena.ReadStats, a Close at the mapping limit, a new arena's
// huge-page advice, the address-space check) are read without os.Open:
// the first file a Go program opens through os makes the runtime set up
// its poller, which takes a descriptor of its own, and where the open
// took the process's last one, that setup fails and the runtime ends the
// process ("netpollinit failed"). With one descriptor left, each read
// must succeed, and the poller must still not exist afterwards (in a
// child process that has set up none before).
func TestProcFilesAreReadWithOneDescriptorLeft(t *testing.T) {
	if !childtest.InChildWithoutPoller(t) {
		return
	}
	const limit = 256
	pollers := func() (n int) {
		for fd := range limit {
			if l, err := readlink(fmt.Sprintf("/proc/self/fd/%d", fd)); err == nil && l == "anon_inode:[eventpoll]" {
				n++
			}
		}
		return n
	}
	require.Zero(t, pollers(), "the runtime's poller was set up before the test: it cannot tell")
	var lim unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &lim))
	low := lim
	low.Cur = min(lim.Cur, limit)
	require.NoError(t, unix.Setrlimit(unix.RLIMIT_NOFILE, &low))
	var fds []int
	for {
		fd, err := unix.Dup(0)
		if err != nil {
			require.ErrorIs(t, err, unix.EMFILE)
			break
		}
		fds = append(fds, fd)
	}
	require.NotEmpty(t, fds)
	require.NoError(t, unix.Close(fds[len(fds)-1])) // the one left
	fds = fds[:len(fds)-1]

	maps, mapsErr := ReadMaps()
	var smapsErr error
	if len(maps) > 0 {
		_, smapsErr = SmapsField(maps[0].Start, "Size:")
	}
	huge := ShmemHugePages()
	vmSize, vmSizeErr := proc.VmSize()
	left := pollers()

	for _, fd := range fds {
		require.NoError(t, unix.Close(fd))
	}
	require.NoError(t, unix.Setrlimit(unix.RLIMIT_NOFILE, &lim))
	require.NoError(t, mapsErr)
	assert.NotEmpty(t, maps)
	assert.NoError(t, smapsErr)
	assert.Equal(t, ShmemHugePages(), huge, "read with one descriptor left")
	assert.NoError(t, vmSizeErr)
	assert.NotZero(t, vmSize)
	assert.Zero(t, left, "a read went through os, which set up the runtime's poller")
}

// readlink returns the target of the symbolic link at path, without
// opening anything.
func readlink(path string) (string, error) {
	buf := make([]byte, 256)
	n, err := unix.Readlink(path, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
