//go:build linux && !race

// Not under the race detector, whose shadow memory counts against
// RLIMIT_AS as it grows.

package freeze_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/childtest"
	"github.com/frozen-go/frozen/internal/proc"
)

// Seal moves the page tables of a mapping of 2 MiB or more aside into a
// range of the mapping's size, which needs the mapping's alignment. It
// asked for the alignment of the arena's whole reservation instead (1 GiB
// for an arena of 1 GiB, however little of it is mapped), so that moving
// 4 MiB aside took a fresh 1 GiB-aligned reservation of 1 GiB: 2 GiB of
// address space, which an address-space limit (or a 32-bit process,
// whatever its limit) did not leave once the arena had its own, and
// Freeze failed at step "reserve". In a child process, whose address
// space holds no chunk yet.
func TestSealMovesAsideWithinTheAlignmentOfTheMapping(t *testing.T) {
	needSealsAndMremap(t)
	if !childtest.InChild(t) {
		return
	}
	vmSize, err := proc.VmSize()
	require.NoError(t, err)
	// Room for the arena's 1 GiB, reserved 1 GiB-aligned, and for the Go
	// heap; not for a second such reservation.
	lim := vmSize + 2<<30 + 512<<20
	require.NoError(t, unix.Setrlimit(unix.RLIMIT_AS, &unix.Rlimit{Cur: lim, Max: lim}))
	a := newArena(t, arena.WithMaxBytes(1<<30))
	b := arena.MakeSlice[byte](a, 4<<20)
	b[len(b)-1] = 7
	r, err := freeze.Freeze(a, freeze.Seal)
	require.NoError(t, err)
	require.NoError(t, r.Wait())
	assert.Equal(t, byte(7), *freeze.ReadOnly(r, &b[len(b)-1]))
	require.NoError(t, r.Verify())
}

// A mapping of 1 GiB or more is moved aside (Seal), or viewed (Alias),
// through a 1 GiB-aligned range, which the kernel reserves by reserving
// 1 GiB more and giving the slack back. Where an address-space limit
// leaves room for the range but not for that slack, Freeze takes a
// smaller alignment (page tables then move entry by entry) rather than
// fail at "reserve". The limit leaves room for the arena's 1 GiB, which
// it reserves 1 GiB-aligned, and for one more GiB and the Go heap's
// growth, not for two. In a child process, whose address space holds no
// chunk yet.
func TestFreezeOfAGiBUnderALimitTooSmallForItsAlignment(t *testing.T) {
	needSealsAndMremap(t)
	for _, mode := range []freeze.Mode{freeze.Seal, freeze.Alias} {
		t.Run(mode.String(), func(t *testing.T) {
			if !childtest.InChild(t) {
				return
			}
			vmSize, err := proc.VmSize()
			require.NoError(t, err)
			lim := vmSize + 2<<30 + 512<<20
			require.NoError(t, unix.Setrlimit(unix.RLIMIT_AS, &unix.Rlimit{Cur: lim, Max: lim}))
			a := newArena(t, arena.WithMaxBytes(1<<30))
			b := arena.MakeSlice[byte](a, 1<<30)
			b[len(b)-1] = 7
			r, err := freeze.Freeze(a, mode)
			require.NoError(t, err)
			require.NoError(t, r.Wait())
			assert.Equal(t, byte(7), *freeze.ReadOnly(r, &b[len(b)-1]))
		})
	}
}
