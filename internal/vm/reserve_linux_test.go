//go:build linux && !race

// Not under the race detector, whose shadow memory counts against
// RLIMIT_AS as it grows.

package vm

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/frozen-go/frozen/internal/childtest"
	"github.com/frozen-go/frozen/internal/proc"
)

// Reserve asks the kernel for no more address space than a range and its
// alignment need: n bytes aligned to align fit in n+align-PageSize bytes
// from any page. Under an RLIMIT_AS that leaves exactly that much, it
// succeeds; it asked for a page more, and failed with ENOMEM where a plain
// mmap of the same space succeeded (for align == PageSize, where nothing
// needs trimming, a page more than the range itself). In a child process,
// since the limit is the whole process's.
func TestReserveAsksForNoMoreThanTheRangeNeeds(t *testing.T) {
	if !childtest.InChild(t) {
		return
	}
	runtime.MemProfileRate = 0
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var old unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_AS, &old))
	n := 16 * PageSize
	for _, align := range []uintptr{PageSize, 4 * PageSize} {
		headroom := n + align - PageSize
		var err error
		for range 100 {
			size, verr := proc.VmSize()
			require.NoError(t, verr)
			require.NoError(t, unix.Setrlimit(unix.RLIMIT_AS, &unix.Rlimit{Cur: size + uint64(headroom), Max: old.Max}))
			var r *Reservation
			r, err = Reserve(n, align)
			if err == nil {
				require.NoError(t, unix.Setrlimit(unix.RLIMIT_AS, &old))
				require.Zero(t, uintptr(r.Addr())%align)
				require.NoError(t, r.Release())
				break
			}
			// Did the headroom hold? A plain mmap of it says so; if it
			// fails too, the runtime mapped memory meanwhile: try again.
			p, perr := unix.MmapPtr(-1, 0, nil, headroom, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
			require.NoError(t, unix.Setrlimit(unix.RLIMIT_AS, &old))
			if perr == nil {
				require.NoError(t, unix.MunmapPtr(p, headroom))
				break
			}
		}
		require.NoError(t, err, fmt.Sprintf("Reserve(%d, %d) with %d bytes of address space left", n, align, headroom))
	}
}
