//go:build unix && !aix

package offheap

import (
	"testing"
	"unsafe"

	"github.com/frozen-go/frozen/internal/layout"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type lineElem struct {
	P *int64
	N int64
}

type arrayViews struct {
	All *[4]lineElem
	Low *[2]lineElem // the first two elements
	Mid *[2]lineElem // the middle two
}

// Array pointers converted from subslices of one array (Go allows it
// without unsafe) lie inside the pointer to the whole array, on its
// element boundaries: nothing straddles, and the array is recorded as
// the type it has, one [4]lineElem, not counted in its elements as views
// that do not line up are. A view that ends before another (Low before
// Mid) does not hide the whole array's end from the check: the middle
// view, straddling the end of the low one, lies well inside the array.
func TestArrayViewsInsideTheWholeArrayKeepItsType(t *testing.T) {
	n := int64(9)
	arr := &[4]lineElem{{P: &n, N: 0}, {N: 1}, {P: &n, N: 2}, {N: 3}}
	v := &arrayViews{All: arr, Low: (*[2]lineElem)(arr[0:2]), Mid: (*[2]lineElem)(arr[1:3])}

	a, err := NewArena("array-views", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	cl, err := Clone(a, v)
	require.NoError(t, err)
	require.Same(t, &cl.All[0], &cl.Low[0])
	require.Same(t, &cl.All[1], &cl.Mid[0])
	require.Same(t, cl.All[0].P, cl.Mid[1].P)
	assert.Equal(t, int64(9), *cl.Mid[1].P)

	off := uintptr(unsafe.Pointer(cl.All)) - uintptr(a.Base())
	j := a.recordAt(off)
	require.GreaterOrEqual(t, j, 0)
	rec := a.recs.at(j)
	assert.Equal(t, uint64(off), rec.Off)
	assert.Equal(t, "[4]lineElem", layout.ByID(rec.Type).Name())
	assert.Equal(t, uint64(1), rec.N)
}
