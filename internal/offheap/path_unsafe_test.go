//go:build unix && !aix

// This test writes frozen bytes through the owner's writable mapping, as
// a stray write would, by address arithmetic on the arena's base.

package offheap

import (
	"errors"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/internal/vm"
)

type item struct{ A, B int64 }

// Verify names the allocations of every changed page. Naming each one by
// walking its parent record from the start, as it once did, read the
// parent's pointer words once per allocation: with 20,000 items behind
// one slice and every page changed, about 10^7 words, and 2.3 s at
// 100,000 items. Now each parent record is read a few times at most.
func TestDescribingManyPagesReadsEachParentAFewTimes(t *testing.T) {
	const n = 20_000
	items := make([]*item, n)
	for i := range items {
		items[i] = &item{int64(i), 0}
	}
	a, err := NewArena("describe", 64<<20)
	require.NoError(t, err)
	defer a.Close()
	cl, err := Clone(a, items)
	require.NoError(t, err)
	offs := make([]uintptr, n)
	for i, p := range cl {
		offs[i] = uintptr(unsafe.Pointer(p)) - uintptr(a.Base())
	}
	r, err := a.Freeze(Alias)
	require.NoError(t, err)
	require.NoError(t, r.Wait())
	// Change every item's B (not the pointers that lead to the items).
	b := unsafe.Slice((*byte)(a.Base()), a.Len())
	pages := map[uintptr]bool{}
	for _, off := range offs {
		b[off+8] ^= 1
		pages[(off+8)/PageSize] = true
	}
	before := routeWords.Load()
	changed, err := r.Verify(MaxListed + 1)
	require.NoError(t, err)
	words := routeWords.Load() - before
	require.Len(t, changed, len(pages))
	listed := 0
	for _, c := range changed {
		listed += len(c.Allocs)
		for _, al := range c.Allocs {
			if al.Type == "item" {
				assert.Regexp(t, `^\[\]\*item\[\d+\]$`, al.Path)
			}
		}
	}
	assert.Greater(t, listed, 500)
	assert.LessOrEqual(t, words, int64(10*n), "%d allocations listed", listed)
}

type holder struct {
	Recent []*item // All[:1], declared first
	All    []*item
}

// The same with a shorter subslice of each array beside it: the word that
// best names an array (the first to reach its first byte) does not reach
// the rest, and the words that do are looked up in the index, not by
// walking the parent again for each allocation.
func TestDescribingManyPagesWithSubslicesReadsEachParentAFewTimes(t *testing.T) {
	const n, per = 2_000, 10
	top := make([]holder, n)
	for i := range top {
		top[i].All = make([]*item, per)
		for j := range top[i].All {
			top[i].All[j] = &item{int64(j), 0}
		}
		top[i].Recent = top[i].All[:1]
	}
	a, err := NewArena("describe-subslices", 64<<20)
	require.NoError(t, err)
	defer a.Close()
	cl, err := Clone(a, top)
	require.NoError(t, err)
	var offs []uintptr
	for i := range cl {
		for _, p := range cl[i].All {
			offs = append(offs, uintptr(unsafe.Pointer(p))-uintptr(a.Base()))
		}
	}
	r, err := a.Freeze(Alias)
	require.NoError(t, err)
	require.NoError(t, r.Wait())
	b := unsafe.Slice((*byte)(a.Base()), a.Len())
	for _, off := range offs {
		b[off+8] ^= 1
	}
	before := routeWords.Load()
	changed, err := r.Verify(MaxListed + 1)
	require.NoError(t, err)
	words := routeWords.Load() - before
	named := 0
	for _, c := range changed {
		for _, al := range c.Allocs {
			if al.Type == "item" {
				assert.Regexp(t, `^\[\]holder\[\d+\]\.(All\[\d\]|Recent\[0\])$`, al.Path)
				named++
			}
		}
	}
	assert.Greater(t, named, 500)
	assert.LessOrEqual(t, words, int64(20*n*per), "%d items named", named)
}

// A fault on another goroutine may be named while the arena's owner sets
// the namer of its values (SetValueName, which snapshot.NewMap calls
// once Freeze has returned): a stray write through a pointer kept past
// the Close of the range the arena took faults as soon as Freeze has
// published the region. A path sees no namer or the namer, the same one
// from its first step to its last, and all that the owner wrote before
// setting it. The race detector saw the namer, a plain field, read while
// it was set, and the namer's own reads race what the owner wrote first.
func TestSetValueNameRacingAFaultElsewhere(t *testing.T) {
	if vm.FaultPageOnly {
		t.Skip("the kernel gives only the page of a fault here: Resolve names no path")
	}
	a, err := NewArena("named", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	it, err := Clone(a, &item{1, 2})
	require.NoError(t, err)
	r, err := a.Freeze(Protect)
	require.NoError(t, err)
	require.NoError(t, r.Wait())
	addr := uintptr(unsafe.Pointer(&it.B))
	plain := a.PathAt(addr - uintptr(a.Base()))
	require.NotEmpty(t, plain)
	started, done := make(chan struct{}), make(chan []string)
	go func() {
		close(started)
		var paths []string
		for range 1000 {
			f, ok := Resolve(addr)
			if !ok {
				break
			}
			paths = append(paths, f.Path)
		}
		done <- paths
	}()
	<-started
	name := strings.Repeat("entry", 2) // written before SetValueName
	a.SetValueName(func(uintptr) (string, bool) { return name, true })
	paths := <-done
	require.Len(t, paths, 1000)
	for _, p := range paths {
		if p != plain {
			assert.Equal(t, name, p)
		}
	}
	assert.Equal(t, name, a.PathAt(addr-uintptr(a.Base())))
}

// A fault named while Freeze fails: Resolve has loaded the region that
// Freeze published, and Freeze then withdraws it and returns before
// Resolve takes the region's lock. The arena is its owner's again (who
// may be allocating, changing what naming a field reads), and the
// address was never frozen after all: Resolve must say it knows nothing
// of it, not name a write into a frozen region.
func TestResolveRacingAFreezeThatFails(t *testing.T) {
	a, err := NewArena("withdrawn", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	p := New[uint64](a)
	addr := uintptr(unsafe.Pointer(p))
	type result struct {
		f  Fault
		ok bool
	}
	loaded, resume, done := make(chan struct{}), make(chan struct{}), make(chan result, 1)
	injected := errors.New("injected failure")
	SetFailpoint(func(s string) error {
		switch s {
		case "protect": // the region is published; the memory still writable
			go func() {
				f, ok := Resolve(addr)
				done <- result{f, ok}
			}()
			<-loaded
			return injected
		case "resolve-loaded":
			close(loaded)
			<-resume
		}
		return nil
	})
	t.Cleanup(func() { SetFailpoint(nil) })
	_, err = a.Freeze(Protect)
	close(resume)
	// Checked before waiting: a Freeze that failed before "protect"
	// started no Resolve to wait for.
	require.ErrorIs(t, err, injected)
	res := <-done
	SetFailpoint(nil)
	assert.False(t, res.ok, "a fault in an arena whose Freeze failed was named: %+v", res.f)
	assert.Equal(t, Fault{}, res.f)
	*p = 7 // writable again
	_, ok := Resolve(addr)
	assert.False(t, ok)
}

type arrayHolder struct {
	Items *[1 << 16]*item
}

// A path through a large array of pointers walks the array's words where
// they lie: it once expanded the array's one slot into a slot per element
// first (a 32 MiB array of pointers took 1.2 GB and 4 million
// allocations to name one field behind it), in the arena's small check
// too.
func TestPathThroughLargeArrayDoesNotExpandIt(t *testing.T) {
	arr := new([1 << 16]*item)
	for i := range arr {
		arr[i] = &item{int64(i), 0}
	}
	a, err := NewArena("large-array", 64<<20)
	require.NoError(t, err)
	defer a.Close()
	cl, err := Clone(a, arrayHolder{arr})
	require.NoError(t, err)
	off := uintptr(unsafe.Pointer(&cl.Items[1234].B)) - uintptr(a.Base())
	var path string
	allocs := testing.AllocsPerRun(1, func() { path = a.PathAt(off) })
	assert.Equal(t, "arrayHolder.Items[1234].B", path)
	assert.Less(t, allocs, float64(1000))
}

type chainNode struct {
	Next *chainNode
	V    int64
}

// A path is spelled out for maxPathDepth steps from the field written and
// no further: a field that many steps from the root is named in full, one
// a step deeper from "…" on, by the steps nearest the field. (The root is
// the cloned pointer, a step above the first node.)
func TestPathsStopAtMaxPathDepthWithAnEllipsis(t *testing.T) {
	var head *chainNode
	for i := maxPathDepth + 2; i >= 0; i-- {
		head = &chainNode{Next: head, V: int64(i)}
	}
	a, err := NewArena("deep", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	cl, err := Clone(a, head)
	require.NoError(t, err)
	node := func(k int) *chainNode {
		n := cl
		for range k {
			n = n.Next
		}
		require.Equal(t, int64(k), n.V)
		return n
	}
	pathOf := func(p unsafe.Pointer) string { return a.PathAt(uintptr(p) - uintptr(a.Base())) }
	nexts := func(k int) string { return strings.Repeat(".Next", k) }
	assert.Equal(t, "*chainNode"+nexts(1)+".V", pathOf(unsafe.Pointer(&node(1).V)))
	assert.Equal(t, "*chainNode"+nexts(maxPathDepth-2)+".V", pathOf(unsafe.Pointer(&node(maxPathDepth-2).V)), "the deepest field named in full")
	assert.Equal(t, "…"+nexts(maxPathDepth-1)+".V", pathOf(unsafe.Pointer(&node(maxPathDepth-1).V)))
	assert.Equal(t, "…"+nexts(maxPathDepth-1)+".V", pathOf(unsafe.Pointer(&node(maxPathDepth+2).V)))
	assert.Equal(t, "…"+nexts(maxPathDepth), pathOf(unsafe.Pointer(&node(maxPathDepth+1).Next)))
}

type twinPointers struct{ First, Second *item }

// Of two words equally good that reach a field, the path takes the one
// found first, in the order of the fields: both point at the same item.
func TestPathsTakeTheFirstOfEquallyGoodWords(t *testing.T) {
	it := &item{1, 2}
	a, err := NewArena("twins", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	cl, err := Clone(a, &twinPointers{First: it, Second: it})
	require.NoError(t, err)
	require.Same(t, cl.First, cl.Second, "Clone keeps the item shared")
	assert.Equal(t, "*twinPointers.First.B", a.PathAt(uintptr(unsafe.Pointer(&cl.Second.B))-uintptr(a.Base())))
}

type keyAndItem struct {
	Key any // &It.A, an *int64
	It  *item
}

// A field that no word reaches any more (the only pointer to its item
// was cleared, and an interface left holding a pointer to the item's
// first field reaches only that field) is named from "(?)", with the
// field's own name, while the field the interface reaches is named
// through it.
func TestPathsOfUnreachedFieldsStartWithAQuestionMark(t *testing.T) {
	it := &item{1, 2}
	a, err := NewArena("unreached", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	cl, err := Clone(a, &keyAndItem{Key: &it.A, It: it})
	require.NoError(t, err)
	itc := cl.It
	require.Same(t, &itc.A, cl.Key.(*int64), "Key points into the item's copy")
	pathOf := func(p *int64) string { return a.PathAt(uintptr(unsafe.Pointer(p)) - uintptr(a.Base())) }
	require.Equal(t, "*keyAndItem.It.B", pathOf(&itc.B))
	cl.It = nil // the arena is open: its owner may still write it
	assert.Equal(t, "(**keyAndItem.Key.(*int64))", pathOf(&itc.A))
	assert.Equal(t, "(?).B", pathOf(&itc.B))
}

type unmetPointer *item

type twoInterfaces struct {
	Late any // set after Clone, to a type Clone never met
	Key  any // &It.A, an *int64
	It   *item
}

// Of two interfaces reaching a field, the path takes the one whose
// dynamic type Clone met, and names it, before one of a type it never
// met, declared first: past that one, names are guesses from the
// allocation it points into.
func TestPathsTakeAnInterfaceOfKnownTypeBeforeOneOfUnknownType(t *testing.T) {
	it := &item{1, 2}
	a, err := NewArena("known-first", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	cl, err := Clone(a, &twoInterfaces{Key: &it.A, It: it})
	require.NoError(t, err)
	itc := cl.It
	cl.Late, cl.It = unmetPointer(itc), nil // the arena is open: its owner may still write it
	assert.Equal(t, "(**twoInterfaces.Key.(*int64))", a.PathAt(uintptr(unsafe.Pointer(&itc.A))-uintptr(a.Base())))
	assert.Equal(t, "*twoInterfaces.Late.B", a.PathAt(uintptr(unsafe.Pointer(&itc.B))-uintptr(a.Base())), "only Late reaches B")
}

type triple struct{ A, B, C int64 }

type midPointers struct {
	ToC, ToB *int64 // &It.C, &It.B
	It       *triple
}

// An allocation that no word reaches from its first byte (its only
// pointer cleared, two pointers to later fields left) is named by the one
// of its parent's words that points lowest into it, whatever the order
// of the fields.
func TestAllocationsReachedOnlyInPartAreNamedByTheLowestWord(t *testing.T) {
	tr := &triple{1, 2, 3}
	a, err := NewArena("in-part", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	cl, err := Clone(a, &midPointers{ToC: &tr.C, ToB: &tr.B, It: tr})
	require.NoError(t, err)
	trc := cl.It
	cl.It = nil // the arena is open: its owner may still write it
	off := uintptr(unsafe.Pointer(trc)) - uintptr(a.Base())
	allocs := a.AllocationsIn(off, off+1, MaxListed)
	require.Len(t, allocs, 1)
	assert.Equal(t, Allocation{Offset: off, Size: unsafe.Sizeof(triple{}), Type: "triple", Path: "*midPointers.ToB"}, allocs[0])
}

type emptyAndItem struct {
	E []int64 // empty, not nil
	I *item
	B *bool // one byte, then padding before what follows
}

// AllocationsIn lists the allocations overlapping [lo, hi), up to its
// limit: one that ends
// at lo or starts at hi does not, nor one ending before lo in padding,
// and a zero-size one (an empty slice's array) counts as holding the byte
// it is given.
func TestAllocationsInListsThoseOverlappingTheRange(t *testing.T) {
	a, err := NewArena("overlap", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	cl, err := Clone(a, &emptyAndItem{E: []int64{}, I: &item{1, 2}, B: new(bool)})
	require.NoError(t, err)
	offOf := func(p unsafe.Pointer) uintptr { return uintptr(p) - uintptr(a.Base()) }
	empty, it := offOf(unsafe.Pointer(unsafe.SliceData(cl.E))), offOf(unsafe.Pointer(cl.I))
	size := unsafe.Sizeof(item{})
	types := func(lo, hi uintptr) []string {
		var out []string
		for _, al := range a.AllocationsIn(lo, hi, MaxListed) {
			out = append(out, al.Type)
		}
		return out
	}
	assert.Equal(t, []string{"item"}, types(it, it+size))
	assert.Equal(t, []string{"item"}, types(it+size-1, it+size))
	assert.NotContains(t, types(it+size, it+size+1), "item", "the item ends where the range starts")
	assert.NotContains(t, types(it-1, it), "item", "the item starts where the range ends")
	b := offOf(unsafe.Pointer(cl.B))
	assert.Equal(t, []string{"bool"}, types(b, b+1))
	assert.NotContains(t, types(b+1, b+2), "bool", "the bool ends where the range starts")
	all := a.AllocationsIn(0, a.used, MaxListed)
	require.Greater(t, len(all), 2)
	assert.Equal(t, all[:2], a.AllocationsIn(0, a.used, 2), "at most limit, the first in address order")
	got := a.AllocationsIn(empty, empty+1, MaxListed)
	require.NotEmpty(t, got)
	assert.Equal(t, Allocation{Offset: empty, Size: 0, Type: "[0]int64", Path: "*emptyAndItem.E"}, got[0])
}

type ringNode struct {
	I    int64
	Any  any
	Next *ringNode
	IP   *int64
	Kids []*ringNode
}

// A path leaves a node by the word its parent record reached it by, or by
// a better word of another record that goes on to the root: never one
// that gets there only by coming back into the node. Here x is reached
// from the root only through an interface (root.Any), and also, typed,
// through q.Kids; q's parent word (x.IP) reaches only q.I, so the way
// from q.Kids on goes through b.Next, whose record's parent is x. Taking
// q.Kids[0] for x went round that loop, and the paths of x and of all
// that hangs below it ended in a step that could not be found ("(?)").
func TestPathsDoNotDetourBackIntoTheNodeTheyLeave(t *testing.T) {
	x, b, q := &ringNode{I: 1}, &ringNode{I: 2}, &ringNode{I: 3}
	x.IP, x.Next, b.Next, q.Kids = &q.I, b, q, []*ringNode{x}
	root := &ringNode{Any: x}
	a, err := NewArena("loop", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	cl, err := Clone(a, root)
	require.NoError(t, err)
	cx := cl.Any.(*ringNode)
	pathOf := func(p unsafe.Pointer) string { return a.PathAt(uintptr(p) - uintptr(a.Base())) }
	assert.Equal(t, "*ringNode.Any.(*ringNode).I", pathOf(unsafe.Pointer(&cx.I)))
	assert.Equal(t, "*ringNode.Any.(*ringNode).Next.I", pathOf(unsafe.Pointer(&cx.Next.I)))
	assert.Equal(t, "*ringNode.Any.(*ringNode).Next.Next.Kids", pathOf(unsafe.Pointer(&cx.Next.Next.Kids)))
	for off := uintptr(0); off < a.used; off++ {
		assert.NotContains(t, a.PathAt(off), "(?)", "offset %#x", off)
	}
}
