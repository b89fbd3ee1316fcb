//go:build unix && !aix

package offheap

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type backRef struct{ Back *twoWay }

type twoWay struct {
	Fwd *backRef
	N   int64
}

type twoWayRoot struct{ Items *[2]twoWay }

// A record's parent is that of the range discovered first among those it
// holds, which lies on a shortest path from the root, not that of a range
// reached later from elsewhere. Here the array's second element is also
// reached back from the object its first element points to; taking that
// later range's parent for the array's record makes the two records each
// other's parent, and a byte of the array is then named by a detour
// through the object instead of by the root's own field.
func TestRecordParentIsTheFirstDiscoveredRange(t *testing.T) {
	items := new([2]twoWay)
	ref := &backRef{Back: &items[1]}
	items[0] = twoWay{Fwd: ref, N: 1}
	items[1] = twoWay{N: 2}

	a, err := NewArena("record-parents", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	cl, err := Clone(a, twoWayRoot{Items: items})
	require.NoError(t, err)
	require.Same(t, &cl.Items[1], cl.Items[0].Fwd.Back, "the back pointer leads into the array's copy")

	for _, tc := range []struct {
		name string
		addr unsafe.Pointer
		want string
	}{
		{"first element", unsafe.Pointer(&cl.Items[0].N), "twoWayRoot.Items[0].N"},
		{"second element", unsafe.Pointer(&cl.Items[1].N), "twoWayRoot.Items[1].N"},
		{"object between", unsafe.Pointer(&cl.Items[0].Fwd.Back), "twoWayRoot.Items[0].Fwd.Back"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, a.PathAt(uintptr(tc.addr)-uintptr(a.Base())))
		})
	}
}
