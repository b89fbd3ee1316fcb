//go:build linux && !race

// Not under the race detector, whose shadow memory counts against
// RLIMIT_AS as it grows.

package arena_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/internal/childtest"
	"github.com/frozen-go/frozen/internal/proc"
)

// An arena of 1 GiB (the default on 64-bit systems) asks for a 1 GiB-aligned
// range, which the kernel reserves by mapping 1 GiB more and giving the
// slack back: under an RLIMIT_AS that leaves room for the 1 GiB but not
// for 2, NewArena failed with ErrExhausted, saying that the kernel would not
// reserve that much, where it would, unaligned. The alignment only speeds
// up Seal's move of page tables and lets the kernel use huge pages, so
// NewArena takes less where the limit leaves no room for it. In a child
// process, whose address space holds no chunk yet.
func TestArenaUnderALimitTooSmallForItsAlignment(t *testing.T) {
	if !childtest.InChild(t) {
		return
	}
	vmSize, err := proc.VmSize()
	require.NoError(t, err)
	lim := vmSize + 1<<30 + 768<<20
	require.NoError(t, unix.Setrlimit(unix.RLIMIT_AS, &unix.Rlimit{Cur: lim, Max: lim}))
	a, err := arena.NewArena(arena.WithName("limited"), arena.WithMaxBytes(1<<30))
	require.NoError(t, err)
	b := arena.MakeSlice[byte](a, 4<<20)
	b[len(b)-1] = 7
	assert.Equal(t, byte(7), b[len(b)-1])
	assert.Equal(t, 1<<30, a.Cap())
	require.NoError(t, a.Close())
}
