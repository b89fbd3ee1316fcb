//go:build unix && !aix

package freeze_test

import (
	"math/rand"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/graphtest"
	"github.com/frozen-go/frozen/internal/vm"
)

// Graphs whose only way from the root into a cycle is an interface, and
// whose cycle also holds a typed pointer back into the record a path
// leaves. Paths preferred the typed pointer, went round the cycle and
// came back, until they were cut at their maximum depth ("…") or ran
// out of detours ("(?)").
type (
	BackNode struct {
		Cells []BackCell
		I     any // the root's: &y.Cells[0]
		Next  *BackNode
	}
	BackCell struct {
		P *BackNode
		V int64
	}
	CycleNode struct {
		Cells []CycleCell
		I     any    // the root's: &n.Cells[0]
		Q     *int64 // the root's: &n.X, which reaches X alone
		X     int64
		W     int64
	}
	CycleCell struct{ P *CycleNode }
)

// backGraph: root.I holds &y.Cells[0], whose P is x, and x.Next is y.
func backGraph() *BackNode {
	x, y := &BackNode{}, &BackNode{}
	y.Cells = []BackCell{{P: x}}
	x.Next = y
	return &BackNode{I: &y.Cells[0]}
}

// cycleGraph: root.I holds &n.Cells[0], whose P is n; root.Q points at
// n.X.
func cycleGraph() *CycleNode {
	n := &CycleNode{}
	n.Cells = []CycleCell{{P: n}}
	return &CycleNode{Q: &n.X, I: &n.Cells[0]}
}

// frozenClone clones v into a new arena, freezes it in mode m, and
// returns the region and the readers' root.
func frozenClone[T any](t *testing.T, m freeze.Mode, v *T) (*freeze.Region, *T) {
	t.Helper()
	a := newArena(t)
	c, err := arena.Clone(a, v)
	require.NoError(t, err)
	r, err := freeze.Freeze(a, m)
	require.NoError(t, err)
	return r, freeze.ReadOnly(r, c)
}

func TestFaultPathDoesNotGoRoundACycle(t *testing.T) {
	if vm.FaultPageOnly {
		t.Skip("the kernel reports only the page of a fault")
	}
	for _, m := range modes(t) {
		t.Run(m.String(), func(t *testing.T) {
			_, ro := frozenClone(t, m, backGraph())
			var wf *freeze.WriteFault
			require.ErrorAs(t, freeze.Guard(func() { ro.I.(*BackCell).V = 1 }), &wf)
			assert.Equal(t, "*BackNode.I.(*BackCell).V", wf.Path)

			_, d := frozenClone(t, m, cycleGraph())
			n := d.I.(*CycleCell).P
			require.Same(t, n, n.Cells[0].P)
			require.ErrorAs(t, freeze.Guard(func() { n.W = 1 }), &wf)
			assert.Equal(t, "*CycleNode.I.(*CycleCell).P.W", wf.Path)
		})
	}
}

// Verify names the allocations of a changed page by the same paths.
func TestVerifyNamesAllocationsInACycle(t *testing.T) {
	a := newArena(t)
	c, err := arena.Clone(a, cycleGraph())
	require.NoError(t, err)
	n := c.I.(*CycleCell).P // the owner's, before Freeze moves the pointers to the view
	r, err := freeze.Freeze(a, freeze.Alias)
	require.NoError(t, err)
	require.NoError(t, r.Wait())
	n.W = 7 // through the owner's writable mapping
	got := allocationPaths(t, r)
	// n and the root, in the order Clone placed them, which follows their
	// heap addresses.
	assert.ElementsMatch(t, []string{"*CycleNode.I.(*CycleCell).P", "*CycleNode"}, got["CycleNode"])
	assert.Equal(t, []string{"*CycleNode.I"}, got["CycleCell"])
}

// Random graphs of a few nodes, rich in cycles, interior pointers,
// overlapping slices and interfaces: a write to the first, middle and
// last byte of everything the read-only root reaches faults with a path
// that starts at the root, is spelled out in full, and names memory
// holding the byte written.
func TestFaultPathsOfRandomGraphsLeadToTheByteWritten(t *testing.T) {
	if vm.FaultPageOnly {
		t.Skip("the kernel reports only the page of a fault")
	}
	seeds := 1000
	if testing.Short() {
		seeds = 100
	}
	for _, m := range modes(t) {
		t.Run(m.String(), func(t *testing.T) {
			for seed := range seeds {
				a, err := arena.NewArena(arena.WithName("random-paths"))
				require.NoError(t, err)
				c, err := arena.Clone(a, randomPathGraph(rand.New(rand.NewSource(int64(seed)))))
				require.NoError(t, err)
				r, err := freeze.Freeze(a, m)
				require.NoError(t, err)
				ro := freeze.ReadOnly(r, c)
				for _, ref := range graphtest.Refs(ro) {
					if ref.Addr == 0 || ref.Size == 0 {
						continue
					}
					for _, k := range []uintptr{0, ref.Size / 2, ref.Size - 1} {
						p := (*byte)(unsafe.Add(unsafe.Pointer(nil), ref.Addr+k))
						var wf *freeze.WriteFault
						require.ErrorAs(t, freeze.Guard(func() { *p = 0 }), &wf, "seed %d: byte %d of %s", seed, k, ref.Path)
						require.False(t, strings.Contains(wf.Path, "…") || strings.Contains(wf.Path, "(?)"),
							"seed %d: byte %d of %s named %q", seed, k, ref.Path, wf.Path)
						v, named, err := resolvePath(ro, wf.Path, nil)
						require.NoError(t, err, "seed %d: byte %d of %s named %q", seed, k, ref.Path, wf.Path)
						named = ends(v, named)
						require.True(t, holds(wf.Addr)(v, named),
							"seed %d: byte %d of %s named %q, which spans %v, not %#x", seed, k, ref.Path, wf.Path, named, wf.Addr)
					}
				}
				require.NoError(t, a.Close())
			}
		})
	}
}

type (
	RandNode struct {
		Cells []RandCell
		Views []RandCell
		Pair  *[2]RandCell
		Leaf  *RandLeaf
		Leafs []RandLeaf
		Any   any
		Anys  [3]any
		Rows  [][2]RandLeaf
		Row   []RandLeaf
		Str   string
		IntP  *int32
		Next  *RandNode
		Embed RandEmbed
		N     int64
	}
	RandCell struct {
		V   int32
		S   string
		P   *RandNode
		Arr [3]RandLeaf
	}
	RandLeaf struct {
		K  int16
		Q  *RandLeaf
		IP *int32
	}
	RandEmbed struct {
		RandLeaf
		W int64
	}
)

// randomPathGraph links up to six nodes by up to forty random edits.
func randomPathGraph(rng *rand.Rand) *RandNode {
	nodes := make([]*RandNode, 1+rng.Intn(6))
	for i := range nodes {
		nodes[i] = &RandNode{N: int64(i)}
	}
	text := strings.Repeat("abcdefghij", 5)
	pick := func() *RandNode { return nodes[rng.Intn(len(nodes))] }
	for range rng.Intn(40) {
		n, o := pick(), pick()
		switch rng.Intn(16) {
		case 0:
			k := rng.Intn(6)
			n.Cells = make([]RandCell, k, k+rng.Intn(3))
			for i := range n.Cells {
				n.Cells[i].V, n.Cells[i].S = int32(i), text[rng.Intn(10):10+rng.Intn(30)]
			}
		case 1: // a view of another node's cells, up to their capacity
			if cap(o.Cells) > 0 {
				lo := rng.Intn(cap(o.Cells))
				n.Views = o.Cells[lo : lo+rng.Intn(cap(o.Cells)-lo+1)]
			}
		case 2: // a pointer to two of them, as an array
			if cap(o.Cells) >= 2 {
				lo := rng.Intn(cap(o.Cells) - 1)
				n.Pair = (*[2]RandCell)(o.Cells[lo : lo+2])
			}
		case 3: // pointers into a cell, and from it
			if len(o.Cells) > 0 {
				c := &o.Cells[rng.Intn(len(o.Cells))]
				switch rng.Intn(4) {
				case 0:
					n.Leaf = &c.Arr[rng.Intn(3)]
				case 1:
					n.IntP = &c.V
				case 2:
					n.Any = &c.Arr[rng.Intn(3)].K
				case 3:
					n.Anys[rng.Intn(3)] = c
				}
				c.P = pick()
				c.Arr[rng.Intn(3)].Q = &c.Arr[rng.Intn(3)]
				c.Arr[rng.Intn(3)].IP = &c.V
			}
		case 4:
			n.Rows = make([][2]RandLeaf, rng.Intn(4))
		case 5: // a slice of, or a pointer into, an array inside a slice
			if len(o.Rows) > 0 {
				i := rng.Intn(len(o.Rows))
				n.Row = o.Rows[i][rng.Intn(2):]
				if rng.Intn(2) == 0 {
					n.Leaf = &o.Rows[i][1]
				}
			}
		case 6:
			n.Any = RandCell{V: 5, S: text[3:9], P: o}
		case 7:
			n.Anys[rng.Intn(3)] = n.Any
		case 8:
			n.Next = o
		case 9:
			n.Str = text[rng.Intn(20) : rng.Intn(20)+20]
		case 10: // pointers into an embedded struct
			n.Embed.Q, n.Embed.IP = &o.Embed.RandLeaf, new(int32)
			if rng.Intn(2) == 0 {
				n.Any = &o.Embed
			}
		case 11:
			n.Anys[rng.Intn(3)] = RandEmbed{W: 3}
		case 12:
			if len(o.Views) > 0 {
				n.Anys[rng.Intn(3)] = o.Views
			}
		case 13:
			if len(o.Rows) > 0 {
				n.Anys[rng.Intn(3)] = &o.Rows[rng.Intn(len(o.Rows))]
			}
		case 14: // leaves pointing at each other
			n.Leafs = make([]RandLeaf, rng.Intn(4))
			for i := range n.Leafs {
				n.Leafs[i].Q = &n.Leafs[len(n.Leafs)-1-i]
			}
			if len(n.Leafs) > 0 {
				o.Leaf = &n.Leafs[rng.Intn(len(n.Leafs))]
				o.Any = n.Leafs[rng.Intn(len(n.Leafs)):]
			}
		case 15:
			n.Anys[rng.Intn(3)] = &o.N
			if o.Pair != nil {
				n.IntP = &o.Pair[1].V
			}
		}
	}
	return nodes[0]
}
