//go:build unix && !aix

package arena_test

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
	"unique"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/internal/graphtest"
)

type Endpoint struct {
	Host string
	Port uint16
	Tags []string
}

type Config struct {
	Name      string
	Version   int
	Endpoints []Endpoint
	Primary   *Endpoint // often points into Endpoints
	Limits    [3]int64
	Extra     any
	Parent    *Config
	secret    string
	weights   []float64
}

// ArrayViews holds views of one array that overlap without lining up.
type ArrayViews struct {
	S    []Endpoint
	A, B *[2]Endpoint
}

type NestedViews struct {
	Rows []([2]*Node)
	Grid *[2][2]*Node
	Cell **Node
}

type Node struct {
	Val  int
	Next *Node
}

type Tree struct {
	Name     string
	Children []*Tree
	Parent   *Tree
}

type Shape interface{ Area() float64 }

type Rect struct{ W, H float64 }

func (r Rect) Area() float64 { return r.W * r.H }

type Circle struct {
	R     float64
	Label string
}

func (c *Circle) Area() float64 { return 3 * c.R * c.R }

type Holder struct {
	Shapes []Shape
	Any    []any
	Err    error
}

type Matrix struct {
	Rows [][]int
	Cols [2][]string
}

type Deep struct {
	Level1 struct {
		Level2 struct {
			Level3 []struct {
				Name *string
				Nums [4]*int
			}
		}
	}
}

type Inner struct {
	A int
	B string
}

type OuterPtr struct {
	Field *int    // points into Whole.A
	Whole *Inner  // the container
	Str   *string // points into Whole.B
}

type bigArray struct {
	Items [20]*Node
}

func newArena(t testing.TB, opts ...arena.Option) *arena.Arena {
	t.Helper()
	a, err := arena.NewArena(append([]arena.Option{arena.WithName(strings.ReplaceAll(t.Name(), "/", "_"))}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, a.Close()) })
	return a
}

// cloneShapes is the table of values Clone must copy with their shape.
func cloneShapes() []struct {
	name string
	make func() any
} {
	return []struct {
		name string
		make func() any
	}{
		{"zero config", func() any { return Config{} }},
		{"zero pointer", func() any { return (*Config)(nil) }},
		{"int", func() any { return 42 }},
		{"string", func() any { return "hello, arena" }},
		{"empty string", func() any { return "" }},
		{"nil slice", func() any { return []int(nil) }},
		{"empty slice", func() any { return []int{} }},
		{"slice of strings", func() any { return []string{"a", "", "ccc"} }},
		{"nested structs", func() any {
			return Config{Name: "svc", Version: 3, Limits: [3]int64{1, 2, 3},
				Endpoints: []Endpoint{{Host: "a", Port: 1, Tags: []string{"x"}}, {Host: "b", Port: 2}}}
		}},
		{"array of structs", func() any {
			return [3]Endpoint{{Host: "a"}, {Host: "b", Tags: []string{}}, {Tags: nil}}
		}},
		{"slices of slices", func() any { return Matrix{Rows: [][]int{{1, 2}, nil, {}, {3}}, Cols: [2][]string{{"a"}, nil}} }},
		{"pointer chain", func() any {
			var n *Node
			for i := 0; i < 10; i++ {
				n = &Node{Val: i, Next: n}
			}
			return n
		}},
		{"self cycle", func() any { n := &Node{Val: 1}; n.Next = n; return n }},
		{"two-node cycle", func() any { a := &Node{Val: 1}; b := &Node{Val: 2, Next: a}; a.Next = b; return a }},
		{"tree with parent links", func() any {
			root := &Tree{Name: "root"}
			for i := 0; i < 3; i++ {
				c := &Tree{Name: fmt.Sprint("c", i), Parent: root}
				c.Children = []*Tree{{Name: "leaf", Parent: c}}
				root.Children = append(root.Children, c)
			}
			return root
		}},
		{"shared pointer", func() any {
			e := &Endpoint{Host: "shared"}
			return []*Endpoint{e, e, {Host: "other"}, e}
		}},
		{"shared string bytes", func() any {
			s := strings.Repeat("abcdef", 10)
			return []string{s, s[3:10], s, s[:0]}
		}},
		{"interior pointer after container", func() any {
			c := &Config{Endpoints: []Endpoint{{Host: "a"}, {Host: "b"}, {Host: "c"}}}
			c.Primary = &c.Endpoints[1] // Endpoints is met first
			return c
		}},
		{"interior pointer before container", func() any {
			in := &Inner{A: 5, B: "bee"}
			return OuterPtr{Field: &in.A, Whole: in, Str: &in.B} // Field is met first
		}},
		{"interior pointers into array", func() any {
			arr := &[5]int{1, 2, 3, 4, 5}
			return []*int{&arr[4], &arr[0], &arr[2]}
		}},
		{"overlapping subslices", func() any {
			backing := []int{0, 1, 2, 3, 4, 5, 6, 7}
			return [][]int{backing[2:5], backing[0:3], backing[4:8], backing[6:6]}
		}},
		{"array view straddling a slice of the same array", func() any {
			// The view's one element, [2]Endpoint, starts inside the
			// slice and ends past it.
			arr := []Endpoint{{Host: "a", Tags: []string{"x"}}, {Host: "b"}, {Host: "c", Tags: []string{"y", "z"}}}
			return ArrayViews{S: arr[0:2], A: (*[2]Endpoint)(arr[1:3])}
		}},
		{"array views one element apart", func() any {
			arr := []Endpoint{{Host: "a"}, {Host: "b"}, {Host: "c"}, {Host: "d"}}
			return ArrayViews{A: (*[2]Endpoint)(arr[0:2]), B: (*[2]Endpoint)(arr[1:3]), S: arr[3:]}
		}},
		{"nested array views one row apart", func() any {
			n := []*Node{{Val: 1}, {Val: 2}, {Val: 3}, {Val: 4}, {Val: 5}, {Val: 6}}
			rows := [][2]*Node{{n[0], n[1]}, {n[2], n[3]}, {n[4], n[5]}}
			return NestedViews{Rows: rows[0:2], Grid: (*[2][2]*Node)(rows[1:3]), Cell: &rows[2][1]}
		}},
		{"subslice beyond len within cap", func() any {
			backing := make([]int, 3, 10)
			tail := backing[5:7]
			return [][]int{backing, tail}
		}},
		{"interfaces holding structs and pointers", func() any {
			c := &Circle{R: 2, Label: "c"}
			return Holder{
				Shapes: []Shape{Rect{1, 2}, c, nil, c},
				Any:    []any{1, "two", 3.0, []int{4}, c, &Rect{5, 6}, Endpoint{Host: "e"}, nil, struct{}{}},
				Err:    errors.New("boom"),
			}
		}},
		{"interfaces holding one-word structs stored directly", func() any {
			// One pointer word and a zero-size field: the runtime stores
			// it in the interface's data word, as it does a *Node.
			type direct struct {
				_ [0]int
				P *Node
			}
			n := &Node{Val: 42}
			return []any{direct{P: n}, struct{ P *Node }{n}, [1]*Node{n}, direct{}}
		}},
		{"interface holding pointer into slice", func() any {
			s := []Endpoint{{Host: "a"}, {Host: "b"}}
			return []any{s, &s[1]}
		}},
		{"deep nesting", func() any {
			var d Deep
			name := "n"
			x, y := 1, 2
			d.Level1.Level2.Level3 = append(d.Level1.Level2.Level3, struct {
				Name *string
				Nums [4]*int
			}{&name, [4]*int{&x, nil, &y, &x}})
			return &d
		}},
		{"unexported fields", func() any {
			return Config{secret: "hidden", weights: []float64{0.5, 0.25}}
		}},
		{"big array of pointers", func() any {
			var b bigArray
			shared := &Node{Val: 7}
			for i := range b.Items {
				if i%3 == 0 {
					b.Items[i] = shared
				}
			}
			return &b
		}},
		{"pointer to zero-size values", func() any {
			type empty struct{}
			return []*empty{{}, {}, nil}
		}},
		{"config with everything", func() any {
			c := &Config{Name: "root", Version: 1, Endpoints: []Endpoint{{Host: "h", Port: 80, Tags: []string{"a", "b"}}}}
			c.Primary = &c.Endpoints[0]
			c.Extra = c // a cycle through an interface
			c.Parent = &Config{Name: "parent", Extra: c.Endpoints}
			return c
		}},
	}
}

func TestCloneShapes(t *testing.T) {
	for _, tc := range cloneShapes() {
		t.Run(tc.name, func(t *testing.T) {
			a := newArena(t)
			orig := tc.make()
			clone, err := arena.Clone(a, orig)
			require.NoError(t, err)
			require.True(t, reflect.DeepEqual(orig, clone), "clone differs:\n%#v\n%#v", orig, clone)
			graphtest.RequireSameShape(t, orig, clone)
			graphtest.RequireInArena(t, clone, a.Name())
			// A second clone of the same value is equal too (cached plan).
			again, err := arena.Clone(a, orig)
			require.NoError(t, err)
			require.True(t, reflect.DeepEqual(orig, again))
		})
	}
}

func TestCloneOfTypedValue(t *testing.T) {
	a := newArena(t)
	c := &Config{Name: "svc", Endpoints: []Endpoint{{Host: "a"}, {Host: "b"}}}
	c.Primary = &c.Endpoints[1]
	got, err := arena.Clone(a, c)
	require.NoError(t, err)
	assert.NotSame(t, c, got)
	assert.Same(t, &got.Endpoints[1], got.Primary, "interior pointer kept")
	assert.Equal(t, len(got.Endpoints), cap(got.Endpoints))
	// The clone is independent of the original.
	c.Endpoints[1].Host = "changed"
	assert.Equal(t, "b", got.Primary.Host)
	// Appending to a cloned slice copies to the heap.
	more := append(got.Endpoints, Endpoint{Host: "z"})
	more[0].Host = "heap copy"
	assert.Equal(t, "a", got.Endpoints[0].Host)
}

func TestCloneNilAndEmptyStayDistinct(t *testing.T) {
	a := newArena(t)
	got, err := arena.Clone(a, Matrix{Rows: [][]int{nil, {}}})
	require.NoError(t, err)
	assert.Nil(t, got.Rows[0])
	assert.NotNil(t, got.Rows[1])
	assert.Empty(t, got.Rows[1])
}

func TestCloneInterfacesKeepDynamicType(t *testing.T) {
	a := newArena(t)
	circle := &Circle{R: 1}
	got, err := arena.Clone(a, Holder{Shapes: []Shape{Rect{2, 3}, circle}, Err: fmt.Errorf("wrapped: %w", arena.ErrClosed)})
	require.NoError(t, err)
	assert.IsType(t, Rect{}, got.Shapes[0])
	assert.IsType(t, &Circle{}, got.Shapes[1])
	assert.Equal(t, 6.0, got.Shapes[0].Area())
	assert.NotSame(t, circle, got.Shapes[1])
	assert.Equal(t, "wrapped: arena: closed", got.Err.Error())
	// Pointer identity with objects outside the arena is not kept: the
	// clone wraps a copy of the sentinel (doc.go, Caveats).
	assert.NotErrorIs(t, got.Err, arena.ErrClosed)
}

func TestCloneMillionNodeList(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const n = 1_000_000
	var head *Node
	for i := 0; i < n; i++ {
		head = &Node{Val: i, Next: head}
	}
	a := newArena(t, arena.WithMaxBytes(256<<20))
	got, err := arena.Clone(a, head)
	require.NoError(t, err)
	count := 0
	for p := got; p != nil; p = p.Next {
		require.Equal(t, n-1-count, p.Val)
		count++
	}
	assert.Equal(t, n, count)
}

type withMap struct {
	Name  string
	Index map[string]int
}

type withChan struct{ C chan int }

// shaped is stored in an interface's data word: one pointer.
type shaped struct{ P *Config }

func ptrTo[T any](v T) *T { return &v }

type withFunc struct {
	Hooks []struct{ OnChange func() }
}

type withUnsafe struct{ P unsafe.Pointer }

func TestCloneRefusesUnsupportedTypesWithPath(t *testing.T) {
	for _, tc := range []struct {
		v    any
		path string
	}{
		{withMap{}, "withMap.Index: map[string]int"},
		{&withChan{}, "*withChan.C: chan int"},
		{withFunc{}, "withFunc.Hooks[].OnChange: func()"},
		{withUnsafe{}, "withUnsafe.P: unsafe.Pointer"},
		{Holder{Any: []any{1, map[string]int{"a": 1}}}, "Holder.Any[1]: map[string]int: "},
		{&Config{Extra: make(chan int)}, "*Config.Extra: chan int: "},
		{Holder{Any: []any{withMap{}}}, "Holder.Any[0].(withMap).Index: map[string]int: "},
		// A pointer-shaped value is stored in the interface word itself;
		// the path still names its dynamic type (it lost it, and once
		// named the interface as holding the refused value).
		{&Config{Extra: &Config{Extra: make(chan int)}}, "*Config.Extra.(*Config).Extra: chan int: "},
		{&Config{Extra: shaped{P: &Config{Extra: make(chan int)}}}, "*Config.Extra.(shaped).P.Extra: chan int: "},
		{&Config{Extra: [1]*Config{{Extra: make(chan int)}}}, "*Config.Extra.([1]*Config)[0].Extra: chan int: "},
		{&Config{Extra: ptrTo(any(make(chan int)))}, "*Config.Extra.(*interface {}): chan int: "},
	} {
		t.Run(fmt.Sprintf("%T", tc.v), func(t *testing.T) {
			a := newArena(t)
			before := a.Len()
			_, err := cloneAny(a, tc.v)
			require.ErrorIs(t, err, arena.ErrUnsupported)
			assert.Contains(t, err.Error(), tc.path)
			assert.Equal(t, before, a.Len(), "a refused clone allocates nothing")
		})
	}
}

type withAddr struct {
	Name  string
	Allow []netip.Addr
}

// TestCloneRefusesUniqueHandles: a unique.Handle is equal only to the very
// pointer unique.Make gave, so a cloned one matched no other. A netip.Addr
// holds one: its clone was not Is4, not equal to the address it was copied
// from, and printed "::ffff:10.1.2.3%" for 10.1.2.3. It is refused like a
// func, with the path, rather than copied wrong.
func TestCloneRefusesUniqueHandles(t *testing.T) {
	a := newArena(t)
	v := withAddr{Name: "lan", Allow: []netip.Addr{netip.MustParseAddr("10.1.2.3")}}
	_, err := arena.Clone(a, v)
	require.ErrorIs(t, err, arena.ErrUnsupported)
	assert.Contains(t, err.Error(), "withAddr.Allow[].z: Handle[addrDetail]: unique handles are compared by identity")

	_, err = arena.Clone(a, Holder{Any: []any{netip.MustParseAddr("::1")}})
	require.ErrorIs(t, err, arena.ErrUnsupported)
	assert.Contains(t, err.Error(), "Holder.Any[0].(Addr).z: Handle[addrDetail]: ")

	_, err = arena.Clone(a, unique.Make("x"))
	require.ErrorIs(t, err, arena.ErrUnsupported)
	assert.Equal(t, 0, a.Len(), "a refused clone allocates nothing")
}

type mapRouting struct {
	Routes []withMap
}

// TestCloneErrorNamesPathAndTypeOnce: the error for a refused type gives
// the path (from the type passed to Clone) and the refused type once each.
func TestCloneErrorNamesPathAndTypeOnce(t *testing.T) {
	const maps = "maps are not supported (build a snapshot.Map instead)"
	a := newArena(t)
	for _, tc := range []struct {
		name  string
		clone func() error
		want  string
	}{
		{"the type itself", func() error { _, err := arena.Clone(a, map[string]int{"a": 1}); return err },
			"arena: clone: map[string]int: " + maps},
		{"depth 1: a field", func() error { _, err := arena.Clone(a, withMap{}); return err },
			"arena: clone: withMap.Index: map[string]int: " + maps},
		{"depth 3: a field of a slice element of a field", func() error { _, err := arena.Clone(a, &mapRouting{}); return err },
			"arena: clone: *mapRouting.Routes[].Index: map[string]int: " + maps},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.clone()
			require.ErrorIs(t, err, arena.ErrUnsupported)
			assert.EqualError(t, err, tc.want)
		})
	}
	assert.Equal(t, 0, a.Len(), "a refused clone allocates nothing")
}

type ptrFirst struct {
	P *int
	X int
}

type ptrSecond struct {
	X int
	P *int
}

type skewed struct {
	S []ptrFirst
	Q *ptrSecond
}

// Views whose elements cannot line up (a struct read at an offset of
// another, which only unsafe code makes) are refused instead of copied
// with a pointer word left untranslated.
func TestCloneRefusesViewsThatDoNotLineUp(t *testing.T) {
	a := newArena(t)
	x, y := 1, 2
	arr := []ptrFirst{{P: &x}, {P: &y}}
	// Q's P is arr[1].P; Q begins inside arr[0] and ends inside arr[1].
	q := (*ptrSecond)(unsafe.Add(unsafe.Pointer(&arr[0]), unsafe.Offsetof(ptrFirst{}.X)))
	_, err := arena.Clone(a, skewed{S: arr[:1], Q: q})
	require.ErrorIs(t, err, arena.ErrUnsupported)
	assert.EqualError(t, err, "arena: clone: skewed.Q: ptrSecond: overlaps other memory of the value without lining up with its elements (only unsafe code makes such views)")
	assert.Equal(t, 0, a.Len(), "a refused clone allocates nothing")
}

type ptrHolder struct{ Q *ptrSecond }

// gridMemory holds, in one allocation, rows of holders below the structs
// a holder's view straddles, so that Clone meets the rows' block first.
type gridMemory struct {
	Rows [3][2]ptrHolder
	Arr  [2]ptrFirst
}

type gridViews struct {
	A     []ptrFirst
	G, G2 *[2][2]ptrHolder // one row apart: Clone counts them in holders
}

type skewedArray struct {
	S []ptrFirst
	Q *[2]ptrSecond
}

// A refused view is named by the types the value has, not by the element
// types Clone counts views that overlap each other in: a path through a
// grid of [2][2] holders names the cell by two indices, and a view of two
// structs is named as the array it is.
func TestCloneRefusalNamesFlattenedViewsAsTheirTypes(t *testing.T) {
	a := newArena(t)
	const why = ": overlaps other memory of the value without lining up with its elements (only unsafe code makes such views)"
	m := new(gridMemory)
	x, y := 1, 2
	m.Arr = [2]ptrFirst{{P: &x}, {P: &y}}
	m.Rows[2][1].Q = (*ptrSecond)(unsafe.Add(unsafe.Pointer(&m.Arr[0]), unsafe.Offsetof(ptrFirst{}.X)))
	_, err := arena.Clone(a, gridViews{A: m.Arr[:1], G: (*[2][2]ptrHolder)(m.Rows[0:2]), G2: (*[2][2]ptrHolder)(m.Rows[1:3])})
	require.ErrorIs(t, err, arena.ErrUnsupported)
	assert.EqualError(t, err, "arena: clone: gridViews.G2[1][1].Q: ptrSecond"+why)

	arr := []ptrFirst{{P: &x}, {P: &y}, {P: &x}}
	q := (*[2]ptrSecond)(unsafe.Add(unsafe.Pointer(&arr[0]), unsafe.Offsetof(ptrFirst{}.X)))
	_, err = arena.Clone(a, skewedArray{S: arr[:1], Q: q})
	require.ErrorIs(t, err, arena.ErrUnsupported)
	assert.EqualError(t, err, "arena: clone: skewedArray.Q: [2]ptrSecond"+why)
	assert.Equal(t, 0, a.Len(), "a refused clone allocates nothing")
}

type ptrElem struct {
	P *[64]byte
	N int
}

type byteView struct {
	S   []ptrElem
	Raw []byte // unsafe.Slice over S's backing array, e.g. kept for hashing
}

type intView struct {
	N uintptr
	P *int
}

type punned struct {
	A *intView // the same memory as B, its words read the other way round
	B *ptrElem
}

// Views of the same memory whose pointer words differ where they overlap
// (only unsafe code makes them) are refused, whichever comes first. A
// []byte view met first owned the shared bytes, and Clone copied the
// pointers under it raw: a Go-heap address in the arena that no record
// describes and Freeze could not see, freed by the garbage collector.
func TestCloneRefusesViewsWithOtherPointerWords(t *testing.T) {
	a := newArena(t)
	obj := new([64]byte)
	s := []ptrElem{{P: obj, N: 1}, {P: obj, N: 2}}
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(ptrElem{})))
	const why = "overlaps other memory of the value as a type with other pointer words there (only unsafe code makes such views)"
	for name, v := range map[string]byteView{
		"byte view first":       {S: s[:1], Raw: raw},
		"byte view inside":      {S: s, Raw: raw[:8]},
		"byte view of the same": {S: s, Raw: raw},
	} {
		_, err := arena.Clone(a, v)
		require.ErrorIs(t, err, arena.ErrUnsupported, name)
		assert.Contains(t, err.Error(), why, name)
	}
	x := 42
	e := &ptrElem{P: (*[64]byte)(unsafe.Pointer(&x)), N: 5}
	_, err := arena.Clone(a, punned{A: (*intView)(unsafe.Pointer(e)), B: e})
	require.ErrorIs(t, err, arena.ErrUnsupported, "read as intView, e.N would be a pointer")
	assert.Contains(t, err.Error(), why)

	// So are views whose pointer words differ only where they are nil,
	// whichever comes first: the records follow the view met first, and
	// a []byte view first left the other's pointer words in no record,
	// so a pointer stored into the clone through the typed view
	// afterwards went unchecked by Freeze, and unrelocated in Alias mode.
	nils := []ptrElem{{N: 1}, {N: 2}}
	nilRaw := unsafe.Slice((*byte)(unsafe.Pointer(&nils[0])), len(nils)*int(unsafe.Sizeof(ptrElem{})))
	zero := new(ptrElem)
	for name, v := range map[string]any{
		"byte view first":       byteView{S: nils[:1], Raw: nilRaw},
		"byte view of the same": byteView{S: nils, Raw: nilRaw},
		"read the other way":    punned{A: (*intView)(unsafe.Pointer(zero)), B: zero},
	} {
		var err error
		switch v := v.(type) {
		case byteView:
			_, err = arena.Clone(a, v)
		case punned:
			_, err = arena.Clone(a, v)
		}
		require.ErrorIs(t, err, arena.ErrUnsupported, name)
		assert.Contains(t, err.Error(), why, name)
	}
	assert.Equal(t, 0, a.Len(), "a refused clone allocates nothing")

	// Views that agree are cloned as before: a byte view of pointer-free
	// bytes of the value, and pointers converted between types of one
	// underlying type, which Go allows without unsafe.
	type celsius struct {
		V    float64
		Name *string
	}
	type kelvin celsius
	name := "t"
	c := &celsius{V: 1, Name: &name}
	got, err := arena.Clone(a, struct {
		C *celsius
		K *kelvin
		N []byte
	}{C: c, K: (*kelvin)(c), N: unsafe.Slice((*byte)(unsafe.Pointer(&c.V)), 8)})
	require.NoError(t, err)
	assert.Same(t, got.C, (*celsius)(got.K), "one copy")
	assert.Same(t, (*byte)(unsafe.Pointer(&got.C.V)), &got.N[0])
	assert.Equal(t, "t", *got.K.Name)
}

// boxed returns the data word of an interface: where its boxed value is.
func boxed(v *any) unsafe.Pointer { return (*[2]unsafe.Pointer)(unsafe.Pointer(v))[1] }

// The runtime boxes "" and nil slices without allocating: an interface
// holding one points to a zero value the runtime shares, met by Clone as
// a string, a []int and a []string at one address, whose pointer words
// differ in kind. All of them are nil, so the views agree on what the
// copy holds: it is cloned, one copy shared as the original shares the
// zero value. (Fuzzing found it refused, as views only unsafe code makes.)
// Interfaces made with unsafe to point to one zeroed block are cloned
// too; views that are not boxes are refused if their pointer words differ
// at all (TestCloneRefusesViewsWithOtherPointerWords).
func TestCloneBoxesThatDifferOnlyInZeroWords(t *testing.T) {
	a := newArena(t)
	var empty string
	var nilInts []int
	var nilStrs []string
	// The same, whatever a Go release does: interfaces whose boxes are
	// one zeroed block, made to point there with unsafe.
	var zero [3]uintptr
	str, ints := any(""), any([]int(nil))
	(*[2]unsafe.Pointer)(unsafe.Pointer(&str))[1] = unsafe.Pointer(&zero)
	(*[2]unsafe.Pointer)(unsafe.Pointer(&ints))[1] = unsafe.Pointer(&zero)
	for name, v := range map[string][2]any{
		"runtime's zero value":           {empty, nilInts},
		"runtime's zero value, []string": {nilStrs, empty},
		"one zeroed block":               {str, ints},
	} {
		got, err := arena.Clone(a, v)
		require.NoError(t, err, name)
		assert.Equal(t, v, got, name)
		for i := range got {
			graphtest.RequireAddrInArena(t, uintptr(boxed(&got[i])), fmt.Sprintf("%s: boxed value %d", name, i), a.Name())
		}
		if boxed(&v[0]) == boxed(&v[1]) {
			assert.Equal(t, boxed(&got[0]), boxed(&got[1]), "%s: one copy, as the original shares one block", name)
		}
	}

	// reflect.Zero's values share one zeroed block too: a struct's zero
	// value and, 8 bytes in, its field's, boxed as they are, whose
	// elements straddle each other's. They were refused as views only
	// unsafe code makes.
	type ptrs3 struct{ X, Y, Z *int }
	type withArr struct {
		Pad [8]byte
		Arr [2]ptrs3
	}
	v := []any{
		reflect.Zero(reflect.TypeFor[ptrs3]()).Interface(),
		reflect.Zero(reflect.TypeFor[withArr]()).Field(1).Interface(),
	}
	require.Equal(t, uintptr(boxed(&v[0]))+8, uintptr(boxed(&v[1])), "the test needs reflect's shared zero value")
	got, err := arena.Clone(a, v)
	require.NoError(t, err)
	assert.Equal(t, v, got)
	assert.Equal(t, uintptr(boxed(&got[0]))+8, uintptr(boxed(&got[1])), "one copy, as the original shares one block")
	graphtest.RequireAddrInArena(t, uintptr(boxed(&got[0])), "reflect.Zero's box", a.Name())
}

// The runtime points a one-byte string converted from a []byte, and an
// interface holding a small integer or a bool, into one table of its
// own: a string and a box at one address, which Go code without unsafe
// makes. Both are pointer-free, so they are copied, one copy shared.
func TestCloneOneByteStringBesideABoxedSmallInteger(t *testing.T) {
	a := newArena(t)
	type strAndAny struct {
		S string
		I any
	}
	b := []byte{5}
	n := int(b[0]) // a variable, which the runtime boxes at run time
	for name, v := range map[string]strAndAny{
		"int":   {S: string(b), I: n},
		"uint8": {S: string(b), I: uint8(5)},
		"bool":  {S: string([]byte{1}), I: true},
	} {
		// The string's byte is the box's first byte, or its last on a
		// big-endian CPU.
		at := uintptr(unsafe.Pointer(unsafe.StringData(v.S))) - uintptr(boxed(&v.I))
		require.Less(t, at, uintptr(8), "%s: the test needs the runtime's shared table", name)
		got, err := arena.Clone(a, v)
		require.NoError(t, err, name)
		assert.Equal(t, v, got, name)
		assert.Equal(t, at, uintptr(unsafe.Pointer(unsafe.StringData(got.S)))-uintptr(boxed(&got.I)), "%s: one copy", name)
		graphtest.RequireAddrInArena(t, uintptr(boxed(&got.I)), name, a.Name())
	}
}

// cloneAny clones v with its dynamic type as T.
func cloneAny(a *arena.Arena, v any) (any, error) {
	switch v := v.(type) {
	case withMap:
		return arena.Clone(a, v)
	case *withChan:
		return arena.Clone(a, v)
	case withFunc:
		return arena.Clone(a, v)
	case withUnsafe:
		return arena.Clone(a, v)
	case Holder:
		return arena.Clone(a, v)
	case *Config:
		return arena.Clone(a, v)
	}
	panic(fmt.Sprintf("add %T to cloneAny", v))
}

func TestCloneErrorsOnClosedAndExhausted(t *testing.T) {
	a := newArena(t, arena.WithMaxBytes(64<<10))
	_, err := arena.Clone(a, make([]int64, 100_000))
	assert.ErrorIs(t, err, arena.ErrExhausted)
	assert.Equal(t, 0, a.Len())
	small, err := arena.Clone(a, []int{1, 2, 3})
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2, 3}, small)
	require.NoError(t, a.Close())
	_, err = arena.Clone(a, 1)
	assert.ErrorIs(t, err, arena.ErrClosed)
}

// TestCloneKeepsNoSourceAlive checks that Clone's recycled scratch space
// holds no pointer into the value it copied: after one collection the
// source is unreachable and its cleanup runs. (A pooled cloner that kept
// such pointers would keep the whole source graph alive for another
// collection, or as long as the pool kept it.)
func TestCloneKeepsNoSourceAlive(t *testing.T) {
	a := newArena(t)
	type node struct {
		Name string
		Next *node
		Tags []string
	}
	cleaned := make(chan struct{})
	func() {
		src := &node{Name: "head", Next: &node{Name: "tail", Tags: []string{"a", "b"}}}
		src.Next.Next = src
		runtime.AddCleanup(src, func(ch chan struct{}) { close(ch) }, cleaned)
		_, err := arena.Clone(a, src)
		require.NoError(t, err)
	}()
	runtime.GC() // one collection only: a second would empty the pool anyway
	select {
	case <-cleaned:
	case <-time.After(5 * time.Second):
		t.Fatal("the cloned source is still reachable after a collection")
	}
}

// Two slices of one array that overlap, whose elements are arrays of
// arrays holding strings: the second slice's elements past the overlap
// are copied with their own strings. (Clone steps through them by the
// element's count of pointer words, which must count the inner arrays'.)
func TestCloneOfOverlappingSlicesOfNestedArrays(t *testing.T) {
	type grid [16][2]string // too many strings to flatten, in arrays of two
	type views struct{ A, B []grid }
	s := make([]grid, 3)
	for i := range s {
		for j := range s[i] {
			for k := range s[i][j] {
				s[i][j][k] = fmt.Sprintf("%d.%d.%d", i, j, k)
			}
		}
	}
	a := newArena(t)
	got, err := arena.Clone(a, views{A: s[0:2], B: s[1:3]})
	require.NoError(t, err)
	assert.Equal(t, s[0:2], got.A)
	assert.Equal(t, s[1:3], got.B)
	assert.Same(t, &got.A[1], &got.B[0], "the overlap is one copy")
	graphtest.RequireInArena(t, got, a.Name())
}
