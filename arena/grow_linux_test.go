package arena_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/frozen-go/frozen/arena"
)

// When the kernel will not grow an arena's file (here RLIMIT_FSIZE, which
// ftruncate of a memfd obeys; ENOMEM and ENOSPC take the same path), the
// allocators' error wraps ErrExhausted, as documented, and the kernel's
// error; it wrapped neither sentinel before. The arena works again once
// the limit allows.
func TestGrowRefusedByTheKernelIsExhausted(t *testing.T) {
	a := newArena(t)
	arena.MakeSlice[byte](a, 1000) // the first mapping
	var old unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_FSIZE, &old))
	lim := old
	lim.Cur = uint64(a.Len()) + 1<<20
	require.NoError(t, unix.Setrlimit(unix.RLIMIT_FSIZE, &lim))
	panicked := panicErr(t, func() { arena.MakeSlice[byte](a, 8<<20) })
	_, cloneErr := arena.Clone(a, make([]int64, 1<<20))
	require.NoError(t, unix.Setrlimit(unix.RLIMIT_FSIZE, &old))

	for _, err := range []error{panicked, cloneErr} {
		assert.ErrorIs(t, err, arena.ErrExhausted)
		assert.ErrorIs(t, err, unix.EFBIG, "the kernel's error")
		assert.ErrorContains(t, err, `arena "`+t.Name()+`"`)
	}
	assert.Len(t, arena.MakeSlice[byte](a, 8<<20), 8<<20)
}
