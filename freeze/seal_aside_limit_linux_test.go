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
// range of the mapping's size, and Alias views it through one: a range
// that needs the mapping's alignment, which the kernel gives by reserving
// as much more and giving the slack back. The arena's 1 GiB, reserved
// 1 GiB-aligned, and one more GiB and the Go heap's growth fit under the
// limit here, two more GiB do not:
//   - Seal asked for the alignment of the arena's whole reservation
//     (1 GiB for an arena of 1 GiB, however little of it is mapped), so
//     that moving 4 MiB aside took a fresh 1 GiB-aligned GiB, 2 GiB of
//     address space, which such a limit (or a 32-bit process, whatever
//     its limit) did not leave, and Freeze failed at step "reserve";
//   - a mapping of 1 GiB needs a 1 GiB-aligned range, and where the limit
//     leaves room for the range but not for its slack, Freeze now takes a
//     smaller alignment (page tables then move entry by entry) rather
//     than fail.
//
// Each in a child process, whose address space holds no chunk yet.
func TestFreezeUnderALimitTooSmallForTheAlignment(t *testing.T) {
	needSealsAndMremap(t)
	for _, c := range []struct {
		mode freeze.Mode
		size string // no name a substring of another: the child's -test.run matches unanchored
		n    int
	}{{freeze.Seal, "4MiB", 4 << 20}, {freeze.Seal, "1GiB", 1 << 30}, {freeze.Alias, "1GiB", 1 << 30}} {
		t.Run(c.mode.String()+"/"+c.size, func(t *testing.T) {
			if !childtest.InChild(t) {
				return
			}
			vmSize, err := proc.VmSize()
			require.NoError(t, err)
			lim := vmSize + 2<<30 + 512<<20
			require.NoError(t, unix.Setrlimit(unix.RLIMIT_AS, &unix.Rlimit{Cur: lim, Max: lim}))
			a := newArena(t, arena.WithMaxBytes(1<<30))
			b := arena.MakeSlice[byte](a, c.n)
			b[len(b)-1] = 7
			r, err := freeze.Freeze(a, c.mode)
			require.NoError(t, err)
			require.NoError(t, r.Wait())
			assert.Equal(t, byte(7), *freeze.ReadOnly(r, &b[len(b)-1]))
			require.NoError(t, r.Verify())
		})
	}
}
