//go:build unix && !aix

package offheap

import (
	"reflect"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An interface whose box Clone counted in its elements (reflect's zero
// value of a [2]zeroPtrs3 boxed 8 bytes into that of a zeroPtrs3, the
// two straddling) and whose type changed before Apply to a longer array
// of the same element is refused like any other change of type: the
// copy holds the two elements planned, and a type word of four would
// have readers read past it.
func TestApplyRefusesALongerArrayOverABoxCountedInElements(t *testing.T) {
	a, err := NewArena("changed-length", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	// The longer array's type is one Clone has met.
	_, err = Clone[any](a, [4]zeroPtrs3{})
	require.NoError(t, err)

	zeros := []any{
		reflect.Zero(reflect.TypeFor[zeroPtrs3]()).Interface(),
		reflect.Zero(reflect.TypeFor[zeroWithArr]()).Field(1).Interface(),
	}
	box := func(v *any) uintptr { return uintptr((*[2]unsafe.Pointer)(unsafe.Pointer(v))[1]) }
	require.Equal(t, box(&zeros[0])+8, box(&zeros[1]), "the test needs reflect's shared zero value")
	p, err := PlanValue(&zeros)
	require.NoError(t, err)
	defer p.Release()
	zeros[1] = [4]zeroPtrs3{}

	_, err = ApplyValue[[]any](a, p)
	require.ErrorIs(t, err, errChanged)
	var ce *CloneError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "[]interface {}[1]", ce.Path)
	require.NoError(t, a.Validate())
}
