//go:build unix && !aix

package backdoor

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// The back doors store v with no write barrier the garbage collector
// could rely on, into memory it does not scan: a T with pointers is
// refused before anything is written.
func TestBackDoorsRefuseTypesWithPointers(t *testing.T) {
	x, s := new(int), new(string)
	assert.PanicsWithValue(t, "backdoor: *int holds pointers: it would store Go-heap pointers in arena memory",
		func() { _ = Reprotect(&x, new(int)) })
	assert.Panics(t, func() { _ = ProcMem(s, "heap") })
	v := 1
	assert.NoError(t, ProcMem(&v, 2), "a pointer-free T on the Go heap")
	assert.Equal(t, 2, v)
}
