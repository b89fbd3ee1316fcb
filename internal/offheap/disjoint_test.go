//go:build unix && !aix

package offheap

import (
	"reflect"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

type zeroPtrs3 struct{ X, Y, Z *int }

type zeroWithArr struct {
	Pad [8]byte
	Arr [2]zeroPtrs3
}

// A clone's records never overlap: each byte of the copy is described by
// one record at most, so that a fault or a changed page is named once.
// Overlapping views of one array are recorded from the first element past
// the bytes already recorded; so are reflect's zero values boxed apart,
// whose elements straddle each other's (a struct's zero value and its
// field's, 8 bytes in).
func TestCloneRecordsDoNotOverlap(t *testing.T) {
	x, y, z := 1, 2, 3
	arr := []*int{&x, &y, &z, &x}
	zeros := []any{
		reflect.Zero(reflect.TypeFor[zeroPtrs3]()).Interface(),
		reflect.Zero(reflect.TypeFor[zeroWithArr]()).Field(1).Interface(),
	}
	box := func(v *any) uintptr { return uintptr((*[2]unsafe.Pointer)(unsafe.Pointer(v))[1]) }
	require.Equal(t, box(&zeros[0])+8, box(&zeros[1]), "the test needs reflect's shared zero value")

	for _, tc := range []struct {
		name  string
		clone func(a *Arena) error
	}{
		{"overlapping subslices", func(a *Arena) error {
			_, err := Clone(a, [][]*int{arr[0:3], arr[1:4], arr[2:3]})
			return err
		}},
		{"straddling zero boxes", func(a *Arena) error {
			_, err := Clone(a, zeros)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := NewArena("disjoint-records", 1<<20)
			require.NoError(t, err)
			defer a.Close()
			require.NoError(t, tc.clone(a))
			end := uintptr(0)
			for j := range a.recs.len() {
				lo, size := a.recSpan(j)
				require.GreaterOrEqual(t, lo, end, "record %d begins inside the one before it", j)
				end = lo + size
			}
		})
	}
}
