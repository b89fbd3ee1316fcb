// This test reads the data words of values that the runtime gives no
// memory of their own, as integers.

package offheap

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

var escaped struct {
	p *[0]int
	s []int64
	x any
}

// validateForFreeze and Update accept a pointer to zeroBase as addressing
// no memory: the runtime must put every zero-size allocation and every
// zero-size value stored in an interface there.
func TestZeroBase(t *testing.T) {
	escaped.p = new([0]int)
	escaped.s = []int64{}
	escaped.x = struct{}{}
	assert.Equal(t, zeroBase, uintptr(unsafe.Pointer(escaped.p)), "new([0]int)")
	assert.Equal(t, zeroBase, uintptr(unsafe.Pointer(unsafe.SliceData(escaped.s))), "[]int64{}")
	assert.Equal(t, zeroBase, (*[2]uintptr)(unsafe.Pointer(&escaped.x))[1], "any(struct{}{})")
	escaped.x = [0]string{}
	assert.Equal(t, zeroBase, (*[2]uintptr)(unsafe.Pointer(&escaped.x))[1], "any([0]string{})")
	escaped.x = 1
	assert.NotEqual(t, zeroBase, (*[2]uintptr)(unsafe.Pointer(&escaped.x))[1], "any(1) has memory of its own")
}
