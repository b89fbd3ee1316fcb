//go:build unix && !aix

package offheap

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type builtName struct {
	B    strings.Builder
	Tail string
}

// A string that shares its bytes with a []byte (strings.Builder.String
// returns its buffer's bytes as they are, here from the eighth on) is
// copied within the buffer's copy, which stays a typed allocation: its
// bytes are named as the buffer's elements, not packed away with the
// strings' bytes. Packing them would give the buffer's copy no record of
// its own, so that a fault in it, or a changed page, would name a string
// instead of the field a program writes through.
func TestStringSharingABuffersBytesStaysInTheBuffer(t *testing.T) {
	v := &builtName{}
	v.B.WriteString("hello, world")
	v.Tail = v.B.String()[7:]

	a, err := NewArena("shared-bytes", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	cl, err := Clone(a, v)
	require.NoError(t, err)
	require.Equal(t, "hello, world", cl.B.String())
	require.Equal(t, "world", cl.Tail)
	buf := unsafe.StringData(cl.B.String())
	require.Same(t, (*byte)(unsafe.Add(unsafe.Pointer(buf), 7)), unsafe.StringData(cl.Tail), "the tail lies in the buffer's copy")

	at := func(p unsafe.Pointer) uintptr { return uintptr(p) - uintptr(a.Base()) }
	assert.Equal(t, "*builtName.B.buf[0]", a.PathAt(at(unsafe.Pointer(buf))))
	assert.Equal(t, "*builtName.B.buf[8]", a.PathAt(at(unsafe.Add(unsafe.Pointer(buf), 8))))
	j := a.recordAt(at(unsafe.Pointer(buf)))
	require.GreaterOrEqual(t, j, 0)
	assert.NotEqual(t, RunOfStrings, a.recs.at(j).Parent, "the buffer's bytes are a typed allocation")
	assert.Equal(t, uint64(12), a.recs.at(j).N)
}
