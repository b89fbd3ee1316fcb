//go:build !race

// Not under the race detector, whose shadow memory counts against
// RLIMIT_AS as it grows.

package space

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/frozen-go/frozen/internal/childtest"
	"github.com/frozen-go/frozen/internal/proc"
	"github.com/frozen-go/frozen/internal/vm"
)

// Under an RLIMIT_AS that leaves less than a chunk (64 GiB) of address
// space, Alloc reserves smaller chunks instead of failing: no arena of any
// size could be made there, with advice to reserve less. In a child
// process, whose address space holds no chunk yet.
func TestAllocUnderAnAddressSpaceLimit(t *testing.T) {
	if strconv.IntSize < 64 {
		t.Skip("a 32-bit address space holds no 64 GiB chunk to begin with")
	}
	gib := uint64(1) << 30 // a variable: the sizes below overflow a 32-bit uintptr as constants
	if !childtest.InChild(t) {
		return
	}
	vmSize, err := proc.VmSize()
	require.NoError(t, err)
	require.NotZero(t, vmSize)
	lim := unix.Rlimit{Cur: vmSize + 4<<30 + 512<<20, Max: vmSize + 4<<30 + 512<<20}
	require.NoError(t, unix.Setrlimit(unix.RLIMIT_AS, &lim))
	_, err = vm.Reserve(chunkSize, chunkAlign)
	require.Error(t, err, "the limit leaves no room for a whole chunk")
	// 3 GiB fits, not the power of two above it with a chunk's
	// alignment: the halving ends at what the range needs.
	big, err := Alloc(uintptr(3*gib), 0, nil, "three")
	require.NoError(t, err)
	assert.Equal(t, uintptr(3*gib), big.Len())
	for range 3 {
		r, err := Alloc(16*vm.PageSize, 0, nil, "limited")
		require.NoError(t, err)
		assert.NotZero(t, r.Start())
	}
	assert.LessOrEqual(t, ReadStats().ReservedBytes, uintptr(4*gib+512<<20))
}

// Under an RLIMIT_AS that leaves room for less than the quarantine's
// budget, Alloc reuses the oldest quarantined ranges before it reserves
// more, and reserves a quarter of what the kernel would give, so that the
// Go heap can still grow: Alloc failed with ErrAddressSpace for good once
// the quarantine held every byte the limit left, and then, reserving all
// it could get before reusing any, it left the runtime no room (a fatal
// "cannot allocate memory" at its next heap growth). In a child process,
// whose address space holds no chunk yet.
func TestAllocUnderALimitReusesTheOldestQuarantinedRanges(t *testing.T) {
	if !childtest.InChild(t) {
		return
	}
	const headroom, size = 2 << 30, 64 << 20
	vmSize, err := proc.VmSize()
	require.NoError(t, err)
	lim := unix.Rlimit{Cur: vmSize + headroom, Max: vmSize + headroom}
	require.NoError(t, unix.Setrlimit(unix.RLIMIT_AS, &lim))
	var last Range
	for i := range 4 * headroom / size {
		r, err := Alloc(size, 0, nil, fmt.Sprint("cycle", i))
		require.NoError(t, err, "cycle %d with nothing live: %+v", i, ReadStats())
		require.NoError(t, Release(r))
		last = r
	}
	st := ReadStats()
	assert.Zero(t, st.LiveRanges)
	assert.LessOrEqual(t, st.ReservedBytes, uintptr(headroom/2), "reserved more than half of the address space the limit left")
	e, ok := Lookup(last.Start())
	assert.True(t, ok && e.Released, "the range released last left the quarantine")
	assert.Greater(t, st.QuarantineRanges, 1, "more ranges left the quarantine than Alloc needed")
	heap := make([]byte, headroom/4) // the runtime maps it: a fatal error if it cannot
	heap[len(heap)-1] = 1
	assert.Equal(t, byte(1), heap[len(heap)-1])
}

// Under an address-space limit that leaves no room at all, an Alloc of a
// size that overflows the address space once aligned fails with
// ErrAddressSpace. It halved the chunk it could not reserve down to what
// the overflowed size seemed to need, zero bytes, and panicked on a
// negative shift computing an alignment for a chunk of zero bytes. In a
// child process, since the limit is the whole process's.
func TestAllocOfAnOverflowingSizeUnderALimitFails(t *testing.T) {
	if !childtest.InChild(t) {
		return
	}
	n := ^uintptr(0) &^ (vm.PageSize - 1)
	var err error
	restore := childtest.TightAddressSpace(t)
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v", p)
			}
		}()
		_, err = Alloc(n, 2*vm.PageSize, nil, "overflow")
	}()
	restore()
	require.ErrorIs(t, err, ErrAddressSpace)
}
