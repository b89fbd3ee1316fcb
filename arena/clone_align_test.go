//go:build unix && !aix

package arena_test

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
)

type rawInt struct {
	Raw []byte
	N   *int64
}

// Each block of a clone keeps its address modulo the largest alignment of
// the value, so that a value inside it keeps its alignment: here an int64
// inside a []byte view (made with unsafe) that starts one byte into its
// 8-aligned allocation, the view's first byte being the lowest the block
// holds. Placed on an 8-byte boundary, the block would put the int64 on
// an odd one, where 64-bit atomic operations fault on some systems.
func TestCloneKeepsAlignmentInsideAnUnalignedView(t *testing.T) {
	a := newArena(t)
	obj := &struct {
		B [8]byte
		N int64
	}{B: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, N: 42}
	raw := unsafe.Slice(&obj.B[1], 15)
	got, err := arena.Clone(a, rawInt{Raw: raw, N: &obj.N})
	require.NoError(t, err)
	assert.Equal(t, int64(42), *got.N)
	assert.Equal(t, byte(2), got.Raw[0])
	assert.Same(t, &got.Raw[7], (*byte)(unsafe.Pointer(got.N)), "one copy of the bytes")
	assert.Zero(t, uintptr(unsafe.Pointer(got.N))%unsafe.Alignof(int64(0)), "the int64's copy is aligned")
}

type apart struct {
	B *[3]byte
	N *int64
}

// Each block of a clone starts on the value's largest alignment (plus its
// own address modulo it): an int64 copied after a block of three bytes
// is aligned, as Go allocates it.
func TestCloneAlignsTheBlockAfterAnOddSizedOne(t *testing.T) {
	a := newArena(t)
	obj := &struct {
		B [3]byte
		N int64
	}{B: [3]byte{1, 2, 3}, N: 42}
	got, err := arena.Clone(a, apart{B: &obj.B, N: &obj.N})
	require.NoError(t, err)
	assert.Equal(t, [3]byte{1, 2, 3}, *got.B)
	assert.Equal(t, int64(42), *got.N)
	assert.Zero(t, uintptr(unsafe.Pointer(got.N))%unsafe.Alignof(int64(0)), "the int64's copy is aligned")
}
