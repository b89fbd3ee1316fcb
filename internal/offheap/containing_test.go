//go:build unix && !aix

package offheap

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"unsafe"

	"github.com/frozen-go/frozen/internal/layout"
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
// of the block from the last, n²/2 records in all. The ptrs case clones
// n windows of width n of an array of pointers, which discover scanned
// whole, n² pointer words and ranges: at n = 4,000, 3.3 s and 1.2 GB of
// heap a clone, against 2-3 ms and at most 1.1 MB since windows share
// the edges of the one before. The items case holds each window in a
// struct beside a pointer to a node of its own, scanned between the
// windows: 1.3 s and 382 MB a clone at n = 2,000 before windows shared
// edges across other ranges, 3-6 ms and 0.5 MB at n = 4,000 after. The
// backward case meets the windows from the last: 1.7 s at n = 2,000
// before windows shared edges with those after them, 1-4 ms at n =
// 4,000 after. The pairs case meets windows of two slices in turn: 11.3
// s and 1.7 GB at n = 4,000 while discover kept one span a type, 7-12
// ms and 3.4 MB with spanWays (go test -bench OverlappingWindows
// ./internal/offheap/).
func BenchmarkCloneOfOverlappingWindows(b *testing.B) {
	type flat struct {
		W [][]int64
		P []*int64
	}
	clone := func(b *testing.B, v any) {
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
	}
	for _, n := range []int{1000, 16000} {
		back := make([]int64, 2*n)
		v := &flat{}
		for i := range n {
			v.W = append(v.W, back[i:i+n])
			v.P = append(v.P, &back[i])
		}
		b.Run(fmt.Sprintf("flat/n=%d", n), func(b *testing.B) { clone(b, v) })
	}
	for _, n := range []int{1000, 4000} {
		leaves, back := pointedLeaves(2*n, 2*n)
		var w [][]*int64
		for i := range n {
			w = append(w, back[i:i+n])
		}
		b.Run(fmt.Sprintf("ptrs/n=%d", n), func(b *testing.B) { clone(b, w) })
		items := make([]windowItem, n)
		for i := range items {
			items[i] = windowItem{W: back[i : i+n], Node: &windowNode{P: &leaves[i]}}
		}
		b.Run(fmt.Sprintf("items/n=%d", n), func(b *testing.B) { clone(b, items) })
		var backward [][]*int64
		for i := range n {
			backward = append(backward, back[n-i:2*n-i])
		}
		b.Run(fmt.Sprintf("backward/n=%d", n), func(b *testing.B) { clone(b, backward) })
		_, back2 := pointedLeaves(2*n, 2*n)
		pairs := make([]windowPair, n)
		for i := range pairs {
			pairs[i] = windowPair{A: back[i : i+n], B: back2[i : i+n]}
		}
		b.Run(fmt.Sprintf("pairs/n=%d", n), func(b *testing.B) { clone(b, pairs) })
	}
}

// Windows of a slice of pointers share the edges of the elements they
// have in common with the windows scanned before them: cloning n windows
// of width w scans each element once, in whatever order the windows are
// met, as long as each overlaps one met before it (moving forward or
// backward, the same window twice, one inside another, one starting at
// another's end), and the clone keeps every window over one copy of the
// backing array.
func TestCloneOfOverlappingWindowsOfPointers(t *testing.T) {
	const n, width = 200, 150
	leaves, back := pointedLeaves(n+width, n+width/2) // some leaves pointed to twice
	type shape struct {
		name  string
		start []int // window i is back[start[i]:start[i]+len[i]]
		len   []int
		// linear: each element is scanned once (edges are counted).
		linear bool
	}
	var shapes []shape
	forward, backward, mixed := shape{name: "forward", linear: true}, shape{name: "backward", linear: true}, shape{name: "inside-adjacent-repeated", linear: true}
	for i := range n {
		forward.start, forward.len = append(forward.start, i), append(forward.len, width)
		backward.start, backward.len = append(backward.start, n-1-i), append(backward.len, width)
	}
	// The whole array, a window inside it, one at its end, the same twice.
	mixed.start = []int{0, 10, 0, n, 3, 3}
	mixed.len = []int{n, 20, 0, 5, 100, 100}
	shapes = append(shapes, forward, backward, mixed)
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			var w [][]*int64
			for i, s := range sh.start {
				w = append(w, back[s:s+sh.len[i]])
			}
			p, err := PlanClone(layout.For[[][]*int64](), unsafe.Pointer(&w))
			require.NoError(t, err)
			edges := uint64(len(p.c.edges)) + p.c.nbuf
			p.Release()
			if sh.linear {
				// One edge per window and per element of the backing array;
				// and the copies of the edges moved to buffers, which at
				// most double their number.
				assert.LessOrEqual(t, edges, 3*uint64(len(w)+len(back)), "edges: each element of the backing array counted once")
			}

			a, err := NewArena("windows", 1<<22)
			require.NoError(t, err)
			defer a.Close()
			cl, err := Clone(a, w)
			require.NoError(t, err)
			require.NoError(t, a.Validate(), "every pointer of the clone points into the arena")
			require.Len(t, cl, len(w))
			// Overlapping windows lie over one copy of the backing array,
			// and elements pointing to one leaf point to one copy of it.
			leafCopy := map[int]*int64{}
			for i, s := range sh.start {
				require.Len(t, cl[i], sh.len[i], "window %d", i)
				if i > 0 && sh.len[i] > 0 && sh.len[i-1] > 0 && s < sh.start[i-1]+sh.len[i-1] && sh.start[i-1] < s+sh.len[i] {
					require.Equal(t, (s-sh.start[i-1])*int(ptrSize), int(uintptr(unsafe.Pointer(&cl[i][0]))-uintptr(unsafe.Pointer(&cl[i-1][0]))),
						"window %d starts where it does in the copy of window %d", i, i-1)
				}
				for j, q := range cl[i] {
					leaf := (s + j) % (n + width/2)
					require.Equal(t, leaves[leaf], *q, "window %d, element %d", i, j)
					if c, ok := leafCopy[leaf]; ok {
						require.Same(t, c, q, "window %d, element %d", i, j)
					}
					leafCopy[leaf] = q
				}
			}
		})
	}
}

type windowItem struct {
	W    []*int64
	Node *windowNode // scanned between one window and the next
}

type windowNode struct{ P *int64 }

// windowPair holds windows of two slices of one type, met in turn.
type windowPair struct{ A, B []*int64 }

// Windows each held beside a pointer, in a slice of structs, are scanned
// one after another with the pointees in between: they share edges all
// the same, from a buffer of their own, and the clone is the same.
func TestCloneOfInterleavedWindowsOfPointers(t *testing.T) {
	const n, width = 200, 150
	leaves, back := pointedLeaves(n+width, n+width)
	items := make([]windowItem, n)
	for i := range items {
		items[i] = windowItem{W: back[i : i+width], Node: &windowNode{P: &leaves[i]}}
	}
	p, err := PlanClone(layout.For[[]windowItem](), unsafe.Pointer(&items))
	require.NoError(t, err)
	edges, spilled := uint64(len(p.c.edges))+p.c.nbuf, p.c.nbuf
	p.Release()
	// Each item's two words, its node's, each element of the backing
	// array, and the first window's elements once more, in the buffer
	// they move to.
	assert.LessOrEqual(t, edges, uint64(3*n+len(back)+width), "edges: each element of the backing array counted once")
	assert.NotZero(t, spilled, "the windows' edges moved to a buffer of their own")

	a, err := NewArena("windows", 1<<22)
	require.NoError(t, err)
	defer a.Close()
	cl, err := Clone(a, items)
	require.NoError(t, err)
	require.NoError(t, a.Validate())
	for i := range cl {
		require.Same(t, cl[i].W[0], cl[i].Node.P, "item %d: one copy of the leaf", i)
		require.Len(t, cl[i].W, width)
		for j, q := range cl[i].W {
			require.Equal(t, int64(i+j), *q, "item %d, element %d", i, j)
			if i > 0 && j+1 < width {
				require.Same(t, &cl[i].W[j], &cl[i-1].W[j+1], "item %d, element %d: one copy of the backing array", i, j)
				require.Same(t, q, cl[i-1].W[j+1], "item %d, element %d: one copy of the leaf", i, j)
			}
		}
	}
}

// slotNode and slotItem are TestCloneOfWindowsBesideValuesOfEveryTypeSlot's:
// each T makes node types of their own, whose IDs, and so whose slots
// in discover's spans, follow one another.
type (
	slotNode[T any] struct {
		P *int64
		_ [0]T
	}
	slotItem[T any] struct {
		W    []*int64
		Node *slotNode[T]
	}
)

// interleavedEdges clones windows of width w of back, each beside a node
// of type slotNode[T] pointing to a leaf, and returns the edges discover
// counted, and whether the node type shares the windows' span slot.
func interleavedEdges[T any](t *testing.T, back []*int64, leaves []int64, w int) (edges uint64, sameSlot bool) {
	t.Helper()
	items := make([]slotItem[T], len(back)-w)
	for i := range items {
		items[i] = slotItem[T]{W: back[i : i+w], Node: &slotNode[T]{P: &leaves[i]}}
	}
	p, err := PlanClone(layout.For[[]slotItem[T]](), unsafe.Pointer(&items))
	require.NoError(t, err)
	defer p.Release()
	return uint64(len(p.c.edges)) + p.c.nbuf, layout.For[slotNode[T]]().ID%spanSlots == layout.For[*int64]().ID%spanSlots
}

// Windows each beside a node share edges whatever the node's type, even
// one whose span slot is the windows' (the spans of the two share the
// slot's ways): with one span a slot, such a node closed the windows'
// span and every window was scanned whole, which made the edges an
// interleaved test counted depend on which types other tests had
// analysed before it (type IDs are given in that order).
func TestCloneOfWindowsBesideValuesOfEveryTypeSlot(t *testing.T) {
	const n, width = 120, 100
	leaves, back := pointedLeaves(n+width, n+width)
	linear := uint64(3*n + len(back) + width)
	collided := false
	for i, run := range []func() (uint64, bool){
		func() (uint64, bool) { return interleavedEdges[[1]byte](t, back, leaves, width) },
		func() (uint64, bool) { return interleavedEdges[[2]byte](t, back, leaves, width) },
		func() (uint64, bool) { return interleavedEdges[[3]byte](t, back, leaves, width) },
		func() (uint64, bool) { return interleavedEdges[[4]byte](t, back, leaves, width) },
		func() (uint64, bool) { return interleavedEdges[[5]byte](t, back, leaves, width) },
		func() (uint64, bool) { return interleavedEdges[[6]byte](t, back, leaves, width) },
		func() (uint64, bool) { return interleavedEdges[[7]byte](t, back, leaves, width) },
		func() (uint64, bool) { return interleavedEdges[[8]byte](t, back, leaves, width) },
		func() (uint64, bool) { return interleavedEdges[[9]byte](t, back, leaves, width) },
		func() (uint64, bool) { return interleavedEdges[[10]byte](t, back, leaves, width) },
		func() (uint64, bool) { return interleavedEdges[[11]byte](t, back, leaves, width) },
		func() (uint64, bool) { return interleavedEdges[[12]byte](t, back, leaves, width) },
		func() (uint64, bool) { return interleavedEdges[[13]byte](t, back, leaves, width) },
		func() (uint64, bool) { return interleavedEdges[[14]byte](t, back, leaves, width) },
		func() (uint64, bool) { return interleavedEdges[[15]byte](t, back, leaves, width) },
		func() (uint64, bool) { return interleavedEdges[[16]byte](t, back, leaves, width) },
	} {
		edges, same := run()
		collided = collided || same
		assert.LessOrEqual(t, edges, linear, "node type %d (its slot the windows': %v): each element of the backing array counted once", i+1, same)
	}
	require.True(t, collided, "no node type had the windows' slot: the test shows nothing")
}

// Windows of several slices of one type, met in turn (window i of each
// slice, then window i+1 of each), share edges as windows of one slice
// do, up to spanWays (4) slices; past that, each window is scanned
// whole, and the clone is the same.
func TestCloneOfWindowsOfSlicesMetInTurn(t *testing.T) {
	const n, width = 100, 80
	for _, tc := range []struct {
		k      int  // slices
		shared bool // whether windows share edges
	}{{2, true}, {4, true}, {spanWays + 1, false}} {
		k := tc.k
		t.Run(fmt.Sprintf("slices=%d", k), func(t *testing.T) {
			backs := make([][]*int64, k)
			var w [][]*int64 // window i of slice j at i*k+j
			for j := range backs {
				_, backs[j] = pointedLeaves(n+width, n+width)
			}
			for i := range n {
				for j := range backs {
					w = append(w, backs[j][i:i+width])
				}
			}
			p, err := PlanClone(layout.For[[][]*int64](), unsafe.Pointer(&w))
			require.NoError(t, err)
			edges := uint64(len(p.c.edges)) + p.c.nbuf
			p.Release()
			if tc.shared {
				// As in TestCloneOfOverlappingWindowsOfPointers: each
				// element counted once, and at most as many again moved.
				assert.LessOrEqual(t, edges, 3*uint64(len(w)+k*(n+width)), "edges: each element of each backing array counted once")
			} else {
				assert.Greater(t, edges, uint64(len(w)*width/2), "edges: each window scanned whole")
			}

			a, err := NewArena("windows", 1<<22)
			require.NoError(t, err)
			defer a.Close()
			cl, err := Clone(a, w)
			require.NoError(t, err)
			require.NoError(t, a.Validate())
			for i := range n {
				for j := range backs {
					win := cl[i*k+j]
					require.Len(t, win, width)
					require.Equal(t, int64(i), *win[0], "slice %d, window %d", j, i)
					if i > 0 {
						prev := cl[(i-1)*k+j]
						require.Same(t, &prev[1], &win[0], "slice %d, window %d: one copy of the backing array", j, i)
						require.Same(t, prev[1], win[0], "slice %d, window %d: one copy of the leaf", j, i)
					}
				}
			}
		})
	}
}

type randomWindow struct {
	W    []windowElem
	Node *windowNode // nil, or scanned between the windows
}

// Windows of random bounds, of one to spanWays+1 slices, met in random
// order, some beside pointers scanned between them: whatever edges they
// share or spill, every copied element holds its own values, one copy of
// each element and of each leaf is made, and the clone points only into
// the arena.
func TestCloneOfRandomWindows(t *testing.T) {
	spilled := 0
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		// Element i of slice s, and its leaf, hold s*1000+i.
		backs := make([][]windowElem, 1+rng.IntN(spanWays+1))
		size := 1 + rng.IntN(40)
		leaves, _ := pointedLeaves(size, size)
		for s := range backs {
			backs[s] = make([]windowElem, size)
			for i := range size {
				backs[s][i] = windowElem{L: &windowLeaf{V: int64(s*1000 + i)}, N: int64(s*1000 + i)}
			}
		}
		ws := make([]randomWindow, 1+rng.IntN(30))
		lo := make([]int, len(ws))
		for i := range ws {
			s := rng.IntN(len(backs))
			lo[i] = s*1000 + rng.IntN(size+1)
			ws[i].W = backs[s][lo[i]%1000 : lo[i]%1000+rng.IntN(size-lo[i]%1000+1)]
			if rng.IntN(2) == 0 {
				ws[i].Node = &windowNode{P: &leaves[rng.IntN(len(leaves))]}
			}
		}
		p, err := PlanClone(layout.For[[]randomWindow](), unsafe.Pointer(&ws))
		require.NoError(t, err, "seed %d", seed)
		if p.c.nbuf > 0 {
			spilled++
		}
		p.Release()

		a, err := NewArena("windows", 1<<20)
		require.NoError(t, err)
		// A fresh cloner, whose ranges grow while the scan adds them (the
		// pool's, PlanClone's above, have room to spare), as under -race,
		// whose pool drops some of what it is given.
		cloners = sync.Pool{New: cloners.New}
		cl, err := Clone(a, ws)
		require.NoError(t, err, "seed %d", seed)
		require.NoError(t, a.Validate(), "seed %d", seed)
		elem := map[int]*windowElem{}
		leaf := map[int]*windowLeaf{}
		for i, w := range cl {
			require.Len(t, w.W, len(ws[i].W), "seed %d, window %d", seed, i)
			for j := range w.W {
				e, k := &w.W[j], lo[i]+j
				require.Equal(t, int64(k), e.N, "seed %d, window %d, element %d", seed, i, j)
				require.Equal(t, int64(k), e.L.V, "seed %d, window %d, element %d", seed, i, j)
				if prev, ok := elem[k]; ok {
					require.Same(t, prev, e, "seed %d, window %d, element %d: one copy", seed, i, j)
					require.Same(t, leaf[k], e.L, "seed %d, window %d, element %d: one copy of the leaf", seed, i, j)
				}
				elem[k], leaf[k] = e, e.L
			}
			if ws[i].Node != nil {
				require.Equal(t, *ws[i].Node.P, *w.Node.P, "seed %d, window %d", seed, i)
			}
		}
		require.NoError(t, a.Close())
	}
	assert.NotZero(t, spilled, "some windows' edges moved to a buffer of their own")
}

// pointedLeaves returns n leaves, leaf i holding i, and n pointers to
// them, pointer i to leaf i%distinct.
func pointedLeaves(n, distinct int) ([]int64, []*int64) {
	leaves := make([]int64, n)
	back := make([]*int64, n)
	for i := range back {
		leaves[i] = int64(i)
		back[i] = &leaves[i%distinct]
	}
	return leaves, back
}
