//go:build unix && !aix

package offheap

import (
	"fmt"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type windowLeaf struct{ V int64 }

type windowElem struct {
	L *windowLeaf
	N int64
}

// windows holds a pointer to each element of a backing array, and
// overlapping windows of it, each starting at one of those elements.
type windows struct {
	P []*windowElem
	W [][]windowElem
}

func newWindows(n, width int) *windows {
	back := make([]windowElem, n+width-1)
	for i := range back {
		back[i] = windowElem{L: &windowLeaf{V: int64(i)}, N: int64(i)}
	}
	v := &windows{}
	for i := range back {
		v.P = append(v.P, &back[i])
	}
	for i := range n {
		v.W = append(v.W, back[i:i+width])
	}
	return v
}

// Each window past the first overlaps the ones before it but for its last
// element, so the backing array's copy is recorded as one record per
// window, and the pointer to an element lies in the record of a window
// met up to width-1 windows before. The leaves are met through those
// pointers, so each leaf's record has for parent the record that holds
// its element, which the pointer's range must learn (containing): a leaf
// is named by the field that points to it.
func TestCloneOfOverlappingWindows(t *testing.T) {
	const n, width = 300, 100
	a, err := NewArena("windows", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	cl, err := Clone(a, newWindows(n, width))
	require.NoError(t, err)
	for i := range n {
		require.Same(t, cl.P[i], &cl.W[i][0], "window %d", i)
		require.Len(t, cl.W[i], width)
	}
	for i, p := range cl.P {
		require.Equal(t, int64(i), p.N)
		require.Equal(t, int64(i), p.L.V)
	}
	at := func(p unsafe.Pointer) uintptr { return uintptr(p) - uintptr(a.Base()) }
	for _, i := range []int{0, 1, width - 1, width, width + 1, n - 1, n + width - 2} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			assert.Equal(t, fmt.Sprintf("*windows.P[%d].N", i), a.PathAt(at(unsafe.Pointer(&cl.P[i].N))))
			assert.Equal(t, fmt.Sprintf("*windows.P[%d].L.V", i), a.PathAt(at(unsafe.Pointer(&cl.P[i].L.V))))
		})
	}
}

// BenchmarkCloneOfOverlappingWindows clones n windows of width n of a
// pointer-free array, and a pointer to each window's first element:
// finding the record that holds each pointer's byte scanned every record
// of the block from the last, n²/2 records in all.
func BenchmarkCloneOfOverlappingWindows(b *testing.B) {
	type flat struct {
		W [][]int64
		P []*int64
	}
	for _, n := range []int{1000, 16000} {
		back := make([]int64, 2*n)
		v := &flat{}
		for i := range n {
			v.W = append(v.W, back[i:i+n])
			v.P = append(v.P, &back[i])
		}
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			for b.Loop() {
				a, err := NewArena("windows", 1<<30)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Clone(a, v); err != nil {
					b.Fatal(err)
				}
				a.Close()
			}
		})
	}
}
