//go:build unix && !aix

package freeze_test

import (
	"cmp"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/vm"
)

// Shapes whose fault paths once came out wrong: a pointer into the middle
// of an array met before the slice of the whole array; a subslice met
// before the slice it is cut from; slices that overlap in part; an empty
// slice that Freeze points at the region's first byte, met before the
// pointer to the allocation there; a cycle through the elements of two
// arrays.
type (
	PrimaryFirst struct {
		Primary   *Endpoint // &Endpoints[1]
		Endpoints []Endpoint
	}
	TailFirst struct {
		Tail []int64 // All[2:]
		All  []int64
	}
	Overlap struct {
		S1 []int64 // big[0:3]
		S2 []int64 // big[2:5]
	}
	EmptyFirst struct {
		Empty []int64 // empty, not nil
		P     *Point
	}
	Ring struct{ Q *RingNode }
	// RingNode arrays point at each other from their second elements.
	RingNode struct {
		P *[2]RingNode
		V int64
	}
	// Loop arrays: x[1].P = &y[0], y[0].A = x, x[0].A = y.
	Loop     struct{ Q *LoopNode }
	LoopNode struct {
		P *LoopNode
		A *[2]LoopNode
		V int64
	}
	// IfaceFirst's I points at W.E's Port.
	IfaceFirst struct {
		I any
		W *struct{ E *Endpoint }
	}
)

// dataPoint lives in the binary's data, below any heap address, so that
// Clone places it first, at the region's offset 0.
var dataPoint = Point{X: 1, Y: 2}

func TestGuardNamesTheFieldWrittenWhateverTheGraphsShape(t *testing.T) {
	if vm.FaultPageOnly {
		t.Skip("the kernel reports only the page of a fault")
	}
	for _, m := range modes(t) {
		t.Run(m.String(), func(t *testing.T) {
			a := newArena(t)
			pf := &PrimaryFirst{Endpoints: []Endpoint{{"a", 80}, {"b", 443}, {"c", 8080}}}
			pf.Primary = &pf.Endpoints[1]
			all := []int64{0, 1, 2, 3, 4, 5}
			big := []int64{0, 1, 2, 3, 4}
			var a1, a2 [2]RingNode
			a1[1].P, a2[1].P = &a2, &a1
			ef, err := arena.Clone(a, &EmptyFirst{P: &dataPoint})
			require.NoError(t, err)
			ef.Empty = []int64{}
			pfc, err := arena.Clone(a, pf)
			require.NoError(t, err)
			tf, err := arena.Clone(a, &TailFirst{Tail: all[2:], All: all})
			require.NoError(t, err)
			ov, err := arena.Clone(a, &Overlap{S1: big[0:3], S2: big[2:5]})
			require.NoError(t, err)
			ring, err := arena.Clone(a, &Ring{Q: &a1[1]})
			require.NoError(t, err)
			x, y := new([2]LoopNode), new([2]LoopNode)
			x[1].P, y[0].A, x[0].A = &y[0], x, y
			loop, err := arena.Clone(a, &Loop{Q: &x[1]})
			require.NoError(t, err)
			e := &Endpoint{"h", 1}
			iff, err := arena.Clone(a, &IfaceFirst{I: &e.Port, W: &struct{ E *Endpoint }{e}})
			require.NoError(t, err)
			r, err := freeze.Freeze(a, m)
			require.NoError(t, err)

			pfr, tfr, ovr := freeze.ReadOnly(r, pfc), freeze.ReadOnly(r, tf), freeze.ReadOnly(r, ov)
			efr, ringr := freeze.ReadOnly(r, ef), freeze.ReadOnly(r, ring)
			loopr, iffr := freeze.ReadOnly(r, loop), freeze.ReadOnly(r, iff)
			assertFaultPaths(t, map[string]func(){
				"*PrimaryFirst.Endpoints[2].Port": func() { pfr.Endpoints[2].Port = 1 },
				"*PrimaryFirst.Endpoints[1].Port": func() { pfr.Primary.Port = 1 },
				"*TailFirst.All[3]":               func() { tfr.All[3] = 9 },
				"*TailFirst.All[0]":               func() { tfr.All[0] = 9 },
				"*Overlap.S2[2]":                  func() { ovr.S2[2] = 9 },
				"*Overlap.S1[2]":                  func() { ovr.S2[0] = 9 },
				"*EmptyFirst.P.Y":                 func() { efr.P.Y = 9 },
				"*Ring.Q.P[1].P[0].V":             func() { ringr.Q.P[1].P[0].V = 1 },
				"*Ring.Q.V":                       func() { ringr.Q.V = 1 },
				"*Loop.Q.P.V":                     func() { loopr.Q.P.V = 1 },
				"*Loop.Q.P.A[0].V":                func() { loopr.Q.P.A[0].V = 1 },
				// Not I, which points at the Port written: a typed
				// pointer comes before an interface.
				"*IfaceFirst.W.E.Port": func() { iffr.W.E.Port = 1 },
				"*IfaceFirst.W.E.Host": func() { iffr.W.E.Host = "" },
			})
		})
	}
}

// Strings that share their bytes are chosen between as slices are: the
// one pointing lowest, whichever field comes first (the first header
// found was taken, so the name followed the order of the fields).
type (
	TailStrFirst struct{ Tail, Full string }
	FullStrFirst struct{ Full, Tail string }
)

func TestGuardNamesSharedStringBytesByTheStringPointingLowest(t *testing.T) {
	if vm.FaultPageOnly {
		t.Skip("the kernel reports only the page of a fault")
	}
	s := strings.Repeat("x", 6) + "world"
	for _, m := range modes(t) {
		t.Run(m.String(), func(t *testing.T) {
			_, tf := frozenClone(t, m, &TailStrFirst{Tail: s[6:], Full: s})
			_, ff := frozenClone(t, m, &FullStrFirst{Full: s, Tail: s[6:]})
			require.Equal(t, unsafe.Pointer(unsafe.StringData(tf.Tail)), unsafe.Add(unsafe.Pointer(unsafe.StringData(tf.Full)), 6), "the bytes are shared")
			assertFaultPaths(t, map[string]func(){
				"*TailStrFirst.Full[7]": func() { unsafe.Slice(unsafe.StringData(tf.Full), len(tf.Full))[7] = 'y' },
				"*FullStrFirst.Full[7]": func() { unsafe.Slice(unsafe.StringData(ff.Full), len(ff.Full))[7] = 'y' },
			})
		})
	}
}

// Verify names each allocation on a changed page by a word that reaches
// its first byte, even where the record that first reached the allocation
// while it was cloned reaches only one of its elements.
type (
	Elem struct {
		Ptr *Point
		V   int64
	}
	PartRoot struct {
		P *Elem // &arr[1]
		W *struct{ S []Elem }
	}
)

func TestVerifyNamesAllocationsReachedInPartFirst(t *testing.T) {
	a := newArena(t)
	arr := []Elem{{&Point{1, 1}, 0}, {&Point{2, 2}, 0}, {&Point{3, 3}, 0}}
	c, err := arena.Clone(a, &PartRoot{P: &arr[1], W: &struct{ S []Elem }{arr}})
	require.NoError(t, err)
	owner := c.W.S
	r, err := freeze.Freeze(a, freeze.Alias)
	require.NoError(t, err)
	require.NoError(t, r.Wait()) // the owner's mapping is writable again
	owner[2].V = 7               // through the owner's writable mapping
	got := allocationPaths(t, r)
	assert.Equal(t, []string{"*PartRoot.W.S"}, got["[3]Elem"])
	// Allocations come in address order, which a clone keeps from the
	// originals: the order in which the Go heap placed the Points.
	names := map[*Point]string{arr[0].Ptr: "*PartRoot.W.S[0].Ptr", arr[1].Ptr: "*PartRoot.P.Ptr", arr[2].Ptr: "*PartRoot.W.S[2].Ptr"}
	points := []*Point{arr[0].Ptr, arr[1].Ptr, arr[2].Ptr}
	slices.SortFunc(points, func(x, y *Point) int {
		return cmp.Compare(uintptr(unsafe.Pointer(x)), uintptr(unsafe.Pointer(y)))
	})
	assert.Equal(t, []string{names[points[0]], names[points[1]], names[points[2]]}, got["Point"])
}

type (
	IfaceArr struct {
		I any                    // &arr[1], an *int64
		W *struct{ P *[3]int64 } // &arr
	}
	IfaceHost struct {
		I any // &e.Host, a *string
		W *struct{ E *Endpoint }
	}
	IfaceStr struct {
		I any    // a string boxed, sharing B's bytes
		B string // met after I
	}
)

// A path goes through a typed pointer to the same bytes where there is
// one, before an interface holding a pointer to them, and never names an
// interface's pointee by the type of the allocation around it.
func TestGuardPrefersTypedPointersToInterfaces(t *testing.T) {
	if vm.FaultPageOnly {
		t.Skip("the kernel reports only the page of a fault")
	}
	a := newArena(t)
	arr := new([3]int64)
	c, err := arena.Clone(a, &IfaceArr{I: &arr[1], W: &struct{ P *[3]int64 }{arr}})
	require.NoError(t, err)
	e := &Endpoint{"h", 1}
	h, err := arena.Clone(a, &IfaceHost{I: &e.Host, W: &struct{ E *Endpoint }{e}})
	require.NoError(t, err)
	// A string boxed in an interface sharing a field's bytes, the box
	// allocated before the struct and after it (Clone orders records by
	// source address).
	str := strings.Repeat("x", 10)
	var shared []*IfaceStr
	for _, v := range []*IfaceStr{{I: str, B: str}, func() *IfaceStr { v := &IfaceStr{B: str}; v.I = str; return v }()} {
		sh, err := arena.Clone(a, v)
		require.NoError(t, err)
		shared = append(shared, sh)
	}
	r, err := freeze.Freeze(a, freeze.Protect)
	require.NoError(t, err)
	ro, hr := freeze.ReadOnly(r, c), freeze.ReadOnly(r, h)
	assertFaultPaths(t, map[string]func(){
		"*IfaceArr.W.P[1]":    func() { *ro.I.(*int64) = 1 },
		"*IfaceArr.W.P[2]":    func() { ro.W.P[2] = 1 },
		"*IfaceHost.W.E.Port": func() { hr.W.E.Port = 1 },
		"*IfaceHost.W.E.Host": func() { *hr.I.(*string) = "" },
	})
	for _, sh := range shared {
		sr := freeze.ReadOnly(r, sh)
		require.Equal(t, unsafe.StringData(sr.B), unsafe.StringData(sr.I.(string)), "Clone keeps the bytes shared")
		assertFaultPaths(t, map[string]func(){
			"*IfaceStr.B[2]": func() { unsafe.Slice(unsafe.StringData(sr.B), len(sr.B))[2] = 'y' },
		})
	}
}

type Node struct {
	Next *Node
	V    int64
}

// A node that an Update unlinks no longer names what it pointed to: the
// path and Verify's description go by the list as it is now.
func TestPathsFollowTheGraphAfterUpdate(t *testing.T) {
	a := newArena(t)
	c, err := arena.Clone(a, &Node{Next: &Node{V: 1, Next: &Node{V: 2, Next: &Node{V: 3}}}})
	require.NoError(t, err)
	last := c.Next.Next.Next // the owner's pointer, taken before Freeze
	r, err := freeze.Freeze(a, freeze.Alias)
	require.NoError(t, err)
	ro := freeze.ReadOnly(r, c)
	require.NoError(t, freeze.Update(r, ro.Next, func(w *Node) { w.Next = w.Next.Next }))
	if !vm.FaultPageOnly {
		assertFaultPaths(t, map[string]func(){"*Node.Next.Next.V": func() { ro.Next.Next.V = 9 }})
	}
	last.V = 7 // through the owner's writable mapping
	assert.Contains(t, allocationPaths(t, r)["Node"], "*Node.Next.Next")
}

type (
	StrNode struct {
		S   string
		Pad int64
	}
	StrRoot struct {
		P *StrNode // unlinked by an Update
		B string   // the same bytes as P.S
	}
)

// The bytes of a string that two headers share are named through the one
// still reachable: a node an Update unlinked keeps its header, which
// leads nowhere. (Clone orders its records by source address; the node
// is allocated before the root in one case and after it in the other, so
// that its header comes first in one of them.)
func TestPathsNameSharedStringBytesThroughAReachableHeader(t *testing.T) {
	if vm.FaultPageOnly {
		t.Skip("the kernel reports only the page of a fault")
	}
	str := strings.Repeat("x", 10)
	for name, build := range map[string]func() *StrRoot{
		"node first": func() *StrRoot { n := &StrNode{S: str}; return &StrRoot{P: n, B: str} },
		"root first": func() *StrRoot { r := &StrRoot{B: str}; r.P = &StrNode{S: str}; return r },
	} {
		t.Run(name, func(t *testing.T) {
			a := newArena(t)
			c, err := arena.Clone(a, build())
			require.NoError(t, err)
			r, err := freeze.Freeze(a, freeze.Alias)
			require.NoError(t, err)
			ro := freeze.ReadOnly(r, c)
			require.Equal(t, unsafe.StringData(ro.B), unsafe.StringData(ro.P.S), "Clone keeps the bytes shared")
			write := func() { unsafe.Slice(unsafe.StringData(ro.B), len(ro.B))[2] = 'y' }
			var wf *freeze.WriteFault
			require.ErrorAs(t, freeze.Guard(write), &wf)
			assert.Contains(t, []string{"*StrRoot.P.S[2]", "*StrRoot.B[2]"}, wf.Path)
			require.NoError(t, freeze.Update(r, ro, func(w *StrRoot) { w.P = nil }))
			assertFaultPaths(t, map[string]func(){"*StrRoot.B[2]": write})
		})
	}
}

type (
	Addr    struct{ Port, Weight int64 }
	Backend struct {
		Name      string
		Fallbacks []*Addr
	}
	Service  struct{ Backends []Backend }
	Services struct {
		Primary *Backend // &Backends[0], met first
		PortRef *int64   // &Fallbacks[0].Port of Backends[1], met next
		Svc     *Service
	}
	Rec       struct{ ID, V int64 }
	KeyHolder struct{ R *Rec }
	KeyRoot   struct {
		Key  any        // &x.ID: an *int64 at x's first byte
		Main *KeyHolder // &hs[0]
		All  *struct{ Hs []KeyHolder }
	}
)

// Where the allocations met first reach only parts of what comes after
// them (a pointer to one field, a pointer to one element), the path still
// finds its way to the root; an interface holding a pointer to a struct's
// first field is not taken to hold the struct; and after an Update that
// unlinks two nodes, the path goes by the list as it is.
func TestPathsFindTheRootPastPartialPointers(t *testing.T) {
	if vm.FaultPageOnly {
		t.Skip("the kernel reports only the page of a fault")
	}
	x := &Addr{Port: 1, Weight: 2}
	bs := []Backend{{Name: "a"}, {Name: "b", Fallbacks: []*Addr{x}}}
	rec := &Rec{1, 2}
	hs := []KeyHolder{{}, {R: rec}}
	a := newArena(t)
	svc, err := arena.Clone(a, &Services{Primary: &bs[0], PortRef: &x.Port, Svc: &Service{Backends: bs}})
	require.NoError(t, err)
	key, err := arena.Clone(a, &KeyRoot{Key: &rec.ID, Main: &hs[0], All: &struct{ Hs []KeyHolder }{hs}})
	require.NoError(t, err)
	list, err := arena.Clone(a, &Node{Next: &Node{V: 1, Next: &Node{V: 2, Next: &Node{V: 3, Next: &Node{V: 4}}}}})
	require.NoError(t, err)
	r, err := freeze.Freeze(a, freeze.Alias)
	require.NoError(t, err)
	svcr, keyr, listr := freeze.ReadOnly(r, svc), freeze.ReadOnly(r, key), freeze.ReadOnly(r, list)
	require.NoError(t, freeze.Update(r, listr, func(w *Node) { w.Next = w.Next.Next.Next }))
	assertFaultPaths(t, map[string]func(){
		"*Services.Svc.Backends[1].Fallbacks[0].Weight": func() { svcr.Svc.Backends[1].Fallbacks[0].Weight = 9 },
		"*KeyRoot.All.Hs[1].R.V":                        func() { keyr.All.Hs[1].R.V = 9 },
		"*Node.Next.Next.V":                             func() { listr.Next.Next.V = 9 },
	})
}

type (
	EndpointRef  struct{ E *Endpoint }
	EndpointList struct{ Items []Endpoint }
	Boxes        struct {
		List any // an EndpointList, boxed
		Ref  any // an EndpointRef, stored in the data word
		Key  any // &rec.ID: an *int64 at rec's first byte
		Rec  *Rec
		Nums *[2]Tally
		Late any // set by an Update, to &Nums[1]: a type Clone never met
	}
	Tally int64
)

// A path through an interface names its dynamic type, as a type assertion
// would, and reaches only what that type does: an interface holding a
// pointer to a struct's first field names that field, not the struct. An
// interface whose type Clone never met (an Update stored it) is named
// without it.
func TestGuardNamesInterfacesByTheirDynamicType(t *testing.T) {
	if vm.FaultPageOnly {
		t.Skip("the kernel reports only the page of a fault")
	}
	rec := &Rec{ID: 1, V: 2}
	a := newArena(t)
	c, err := arena.Clone(a, &Boxes{
		List: EndpointList{Items: []Endpoint{{"a", 1}, {"b", 2}}},
		Ref:  EndpointRef{E: &Endpoint{"c", 3}},
		Key:  &rec.ID,
		Rec:  rec,
		Nums: &[2]Tally{1, 2},
	})
	require.NoError(t, err)
	r, err := freeze.Freeze(a, freeze.Alias)
	require.NoError(t, err)
	ro := freeze.ReadOnly(r, c)
	recr := ro.Rec
	assertFaultPaths(t, map[string]func(){
		"*Boxes.List.(EndpointList).Items[1].Port": func() { ro.List.(EndpointList).Items[1].Port = 9 },
		"*Boxes.Ref.(EndpointRef).E.Host":          func() { ro.Ref.(EndpointRef).E.Host = "" },
		"*Boxes.Rec.V":                             func() { recr.V = 9 }, // a typed pointer first
	})
	// With Rec unlinked, only Key reaches rec, and only its ID; with Nums
	// unlinked, only Late reaches Nums[1], and without its type.
	require.NoError(t, freeze.Update(r, ro, func(w *Boxes) { w.Rec, w.Late, w.Nums = nil, &w.Nums[1], nil }))
	assertFaultPaths(t, map[string]func(){
		"(**Boxes.Key.(*int64))": func() { *ro.Key.(*int64) = 9 },
		"*Boxes.Late":            func() { *ro.Late.(*Tally) = 9 },
	})
	var wf *freeze.WriteFault
	require.ErrorAs(t, freeze.Guard(func() { recr.V = 9 }), &wf)
	assert.NotContains(t, wf.Path, "Key", "Key holds an *int64 and does not reach rec.V")
	assert.True(t, strings.HasSuffix(wf.Path, ".V"), wf.Path)
}

// assertFaultPaths runs each write under Guard and checks that it faults
// with the path it is keyed by.
func assertFaultPaths(t *testing.T, writes map[string]func()) {
	t.Helper()
	for want, write := range writes {
		var wf *freeze.WriteFault
		require.ErrorAs(t, freeze.Guard(write), &wf, want)
		assert.Equal(t, want, wf.Path)
	}
}

// allocationPaths returns the paths of the allocations Verify lists on
// the changed pages, by type, in page order.
func allocationPaths(t *testing.T, r *freeze.Region) map[string][]string {
	t.Helper()
	var ce *freeze.CorruptionError
	require.ErrorAs(t, r.Verify(), &ce)
	got := map[string][]string{}
	for _, pg := range ce.Changed {
		for _, al := range pg.Allocations {
			got[al.Type] = append(got[al.Type], al.Path)
		}
	}
	return got
}

// BoxOverString holds a boxed constant struct and a string literal that
// the linker gives one address (see arena's
// TestCloneConstantBoxOverAStringLiteral): the string's bytes then lie in
// the box's typed allocation.
type (
	BoxOverString struct {
		I any
		S string
	}
	ConstBox struct {
		P *int
		_ [8 - unsafe.Sizeof(uintptr(0))]byte // so that A starts at 8 everywhere
		A [8]byte
	}
)

// A write to a string's bytes is named by byte index, even where the
// bytes lie in an allocation of another type: it was named in the box's
// fields ("*BoxOverString.S[0].A[2]" for S[10]).
func TestGuardNamesStringBytesInAnotherTypesAllocation(t *testing.T) {
	if vm.FaultPageOnly {
		t.Skip("the kernel reports only the page of a fault")
	}
	v := &BoxOverString{I: ConstBox{A: [8]byte{'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'}}, S: "\x00\x00\x00\x00\x00\x00\x00\x00ABCDEFGH"}
	box := (*[2]unsafe.Pointer)(unsafe.Pointer(&v.I))[1]
	require.Equal(t, unsafe.Pointer(unsafe.StringData(v.S)), box,
		"the toolchain no longer gives the box and the string one address: this test would test nothing")
	_, ro := frozenClone(t, freeze.Protect, v)
	data := unsafe.Pointer(unsafe.StringData(ro.S))
	assertFaultPaths(t, map[string]func(){
		"*BoxOverString.S[10]": func() { *(*byte)(unsafe.Add(data, 10)) = 1 },
		"*BoxOverString.S[3]":  func() { *(*byte)(unsafe.Add(data, 3)) = 1 },
	})
}

// SelfNode arrays reach their other elements only through themselves.
type (
	SelfNode struct {
		X  int64
		Sl []SelfNode
	}
	SelfRoot struct{ P *SelfNode }
)

// An element of an array that only a slice in another element of the
// same array reaches is named through that slice: it came out "(?)[0].X",
// for the path looked for other routes only in other allocations.
func TestGuardNamesElementsReachedFromTheirOwnArray(t *testing.T) {
	if vm.FaultPageOnly {
		t.Skip("the kernel reports only the page of a fault")
	}
	nodes := make([]SelfNode, 3)
	nodes[1].Sl = nodes
	_, ro := frozenClone(t, freeze.Protect, &SelfRoot{P: &nodes[1]})
	sl := ro.P.Sl
	assertFaultPaths(t, map[string]func(){
		"*SelfRoot.P.X":       func() { ro.P.X = 1 },
		"*SelfRoot.P.Sl[0].X": func() { sl[0].X = 1 },
		"*SelfRoot.P.Sl[2].X": func() { sl[2].X = 1 },
	})
}
