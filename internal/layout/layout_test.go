package layout

import (
	"errors"
	"reflect"
	"sync"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type point struct{ X, Y int32 }

type endpoint struct {
	Host string
	Port uint16
}

type config struct {
	Name      string
	Endpoints []endpoint
	Limits    [4]int64
	Next      *config
	Extra     any
}

type withMap struct {
	A     int
	Index map[string]int
}

type deep struct {
	Inner struct {
		List []struct {
			Fn func()
		}
	}
}

// Mutually recursive types where the bad field is only reachable through
// the cycle from one side.
type cycA struct {
	B *cycB
}
type cycB struct {
	A  *cycA
	Ch chan int
}

type bigArr struct {
	Names [32]string
}

func TestPointerFree(t *testing.T) {
	for _, tc := range []struct {
		v    any
		free bool
	}{
		{int64(0), true}, {point{}, true}, {[8]point{}, true}, {struct{}{}, true}, {uintptr(0), true},
		{"", false}, {[]int{}, false}, {new(int), false}, {config{}, false}, {withMap{}, false},
		{[1]string{}, false}, {struct{ A [0]*int }{}, true}, {any(nil), false},
	} {
		rt := reflect.TypeOf(tc.v)
		if rt == nil {
			rt = reflect.TypeFor[any]()
		}
		t.Run(rt.String(), func(t *testing.T) {
			lt := Of(rt)
			assert.Equal(t, tc.free, lt.PtrFree)
			if tc.free {
				assert.NoError(t, lt.PtrFreeErr)
			} else {
				assert.ErrorIs(t, lt.PtrFreeErr, ErrUnsupported)
			}
		})
	}
}

func TestSlots(t *testing.T) {
	lt := For[config]()
	var kinds []SlotKind
	var offs []uintptr
	for _, s := range lt.Slots {
		kinds = append(kinds, s.Kind)
		offs = append(offs, s.Off)
	}
	assert.Equal(t, []SlotKind{SlotString, SlotSlice, SlotPointer, SlotEface}, kinds)
	rt := reflect.TypeFor[config]()
	for i, name := range []string{"Name", "Endpoints", "Next", "Extra"} {
		f, _ := rt.FieldByName(name)
		assert.Equal(t, f.Offset, offs[i], name)
	}
	assert.Same(t, lt, lt.Slots[2].Elem, "a recursive pointer refers to the same analysis")
	assert.Same(t, For[endpoint](), lt.Slots[1].Elem)

	small := For[[2]endpoint]()
	require.Len(t, small.Slots, 2, "small arrays are flattened")
	assert.Equal(t, unsafe.Sizeof(endpoint{}), small.Slots[1].Off)

	big := For[bigArr]()
	require.Len(t, big.Slots, 1)
	assert.Equal(t, SlotArray, big.Slots[0].Kind)
	assert.Equal(t, uintptr(32), big.Slots[0].Len)

	assert.Equal(t, SlotIface, For[struct{ E error }]().Slots[0].Kind)
}

func TestUnsupportedPaths(t *testing.T) {
	for _, tc := range []struct {
		rt   reflect.Type
		path string
		typ  string
	}{
		{reflect.TypeFor[withMap](), "withMap.Index", "map[string]int"},
		{reflect.TypeFor[deep](), "deep.Inner.List[].Fn", "func()"},
		{reflect.TypeFor[cycA](), "cycA.B.Ch", "chan int"},
		{reflect.TypeFor[*cycB](), "*cycB.Ch", "chan int"},
		{reflect.TypeFor[[]unsafe.Pointer](), "[]unsafe.Pointer[]", "unsafe.Pointer"},
		{reflect.TypeFor[map[int]int](), "map[int]int", "map[int]int"},
	} {
		t.Run(tc.rt.String(), func(t *testing.T) {
			err := Of(tc.rt).Err
			var ue *UnsupportedError
			require.True(t, errors.As(err, &ue), "got %v", err)
			assert.Equal(t, tc.path, ue.Path)
			assert.Equal(t, tc.typ, ue.Type)
			assert.ErrorIs(t, err, ErrUnsupported)
			assert.Contains(t, err.Error(), tc.path)
		})
	}
	assert.NoError(t, For[config]().Err)
	assert.NoError(t, For[*config]().Err)
	// Analysing the other side of the cycle first gives the same answer.
	assert.Equal(t, "cycB.Ch", Of(reflect.TypeFor[cycB]()).Err.(*UnsupportedError).Path)
}

type route struct {
	Name  string
	Index map[string]int
}

type named struct {
	N    int
	Name string
}

type routing struct {
	Routes []route
}

// TestUnsupportedMessageNamesPathAndTypeOnce: the message gives the path
// (which begins with the analysed type) and the refused type once each,
// however deep the field and whether or not the analysed type is itself
// the refused one.
func TestUnsupportedMessageNamesPathAndTypeOnce(t *testing.T) {
	const maps = "maps are not supported (build a snapshot.Map instead)"
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"the type itself", For[map[string]int]().Err, "map[string]int: " + maps},
		{"depth 1: a field", For[withMap]().Err, "withMap.Index: map[string]int: " + maps},
		{"depth 3: a field of a slice element of a field", For[routing]().Err, "routing.Routes[].Index: map[string]int: " + maps},
		{"pointer to the type", For[*map[string]int]().Err, "*map[string]int: map[string]int: " + maps},
		{"pointer-free: the type itself", For[*int]().PtrFreeErr,
			"*int: holds pointers (strings, slices, pointers and interfaces count); use Clone"},
		{"pointer-free: a field", For[named]().PtrFreeErr, "named.Name: string: holds pointers; use Clone for values with pointers"},
		// Clone refuses route too: the typed allocators' error says why,
		// rather than advise Clone.
		{"pointer-free: a type Clone refuses", For[route]().PtrFreeErr, "route.Index: map[string]int: " + maps},
		{"pointer-free: a func", For[func()]().PtrFreeErr, "func(): funcs are not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, tc.err, ErrUnsupported)
			assert.EqualError(t, tc.err, tc.want)
		})
	}
}

func TestPointerPathNamesFirstPointerField(t *testing.T) {
	err := For[config]().PtrFreeErr
	var ue *UnsupportedError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, "config.Name", ue.Path)
	assert.Equal(t, "string", ue.Type)
}

// The field named is the first in declaration order, even when a later
// field holds a pointer less deep.
func TestPointerPathNamesFirstPointerFieldEvenWhenNested(t *testing.T) {
	type inner struct {
		N int
		P *int
	}
	type outer struct {
		X   int
		In  inner
		Arr [2]inner
		Q   *int
	}
	type arrFirst struct {
		A [3][1]string
		S string
	}
	for _, tc := range []struct {
		err       error
		path, typ string
	}{
		{For[outer]().PtrFreeErr, "outer.In.P", "*int"},
		{For[arrFirst]().PtrFreeErr, "arrFirst.A[][]", "string"},
		{For[*outer]().PtrFreeErr, "*outer", "*outer"},
	} {
		var ue *UnsupportedError
		require.ErrorAs(t, tc.err, &ue)
		assert.Equal(t, tc.path, ue.Path)
		assert.Equal(t, tc.typ, ue.Type)
	}
}

func TestFieldPath(t *testing.T) {
	rt := reflect.TypeFor[[3]config]()
	size := unsafe.Sizeof(config{})
	f, _ := reflect.TypeFor[config]().FieldByName("Limits")
	assert.Equal(t, "[2].Limits[1]", FieldPath(rt, 2*size+f.Offset+8+3))
	assert.Equal(t, "[0].Name", FieldPath(rt, 1))
	type padded struct {
		A byte
		B int64
	}
	assert.Equal(t, "", FieldPath(reflect.TypeFor[padded](), 3), "padding has no field")
	assert.Equal(t, ".B", FieldPath(reflect.TypeFor[padded](), 9))
}

func TestShortName(t *testing.T) {
	assert.Equal(t, "*config", ShortName(reflect.TypeFor[*config]()))
	assert.Equal(t, "map[string]endpoint", ShortName(reflect.TypeFor[map[string]endpoint]()))
	assert.Equal(t, "[]*WaitGroup", ShortName(reflect.TypeFor[[]*sync.WaitGroup]()))
	assert.Equal(t, "int", ShortName(reflect.TypeFor[int]()))
	// Struct tags are kept as they are: "a.b" is not a qualified name.
	assert.Equal(t, `struct { M map[string]int "json:\"a.b\""; W WaitGroup "x:\"q\\\"sync.W\"" }`,
		ShortName(reflect.TypeFor[struct {
			M map[string]int `json:"a.b"`
			W sync.WaitGroup `x:"q\"sync.W"`
		}]()))
}

// Inside generic type arguments reflect writes import paths in full, and
// escapes a dot in the last element of one (gopkg.in/yaml.v3): the
// escape is part of the qualifier, which was cut at the '%' and left
// names such as "Box[in/yaml%Node]" in fault paths.
func TestShortNameOfTypeArgumentsFromDottedPackages(t *testing.T) {
	assert.Equal(t, "Box[Node]", unqualified("pkg.Box[gopkg.in/yaml%2ev3.Node]"))
	assert.Equal(t, "*Pair[Node,[]Value]",
		unqualified("*main.Pair[gopkg.in/yaml%2ev3.Node,[]example.com/my-mod/x%2ey.Value]"))
	type box[T any] struct{ V T }
	assert.Equal(t, "box[WaitGroup]", ShortName(reflect.TypeFor[box[sync.WaitGroup]]()))
}

// A variadic parameter keeps its dots, which are no qualifier's: a func
// field was reported as "func(string, interface {})".
func TestShortNameKeepsVariadicDots(t *testing.T) {
	assert.Equal(t, "func(...int)", ShortName(reflect.TypeFor[func(...int)]()))
	assert.Equal(t, "func(string, ...WaitGroup)", ShortName(reflect.TypeFor[func(string, ...sync.WaitGroup)]()))
	assert.Equal(t, "interface { Printf(string, ...interface {}) }",
		ShortName(reflect.TypeFor[interface{ Printf(string, ...any) }]()))
	type hooks struct {
		Log func(format string, args ...any)
	}
	assert.EqualError(t, For[hooks]().Err, "hooks.Log: func(string, ...interface {}): funcs are not supported")
}

func TestDirectMatchesRuntime(t *testing.T) {
	x := 5
	type onePtr struct{ P *int }
	type ptrArr [1]*int
	type twoWords struct{ P, Q *int }
	type oneInt struct{ N int }
	for _, v := range []any{&x, onePtr{&x}, ptrArr{&x}, twoWords{&x, &x}, oneInt{7}, 7, "s", point{1, 2}, struct{}{}} {
		rt := reflect.TypeOf(v)
		t.Run(rt.String(), func(t *testing.T) {
			words := (*[2]unsafe.Pointer)(unsafe.Pointer(&v))
			// A direct value's data word is the pointer itself.
			runtimeDirect := words[1] == unsafe.Pointer(&x)
			assert.Equal(t, runtimeDirect, Of(rt).Direct)
		})
	}
}

func TestIDsAreStable(t *testing.T) {
	lt := For[config]()
	assert.Same(t, lt, ByID(lt.ID))
	assert.Same(t, lt, Of(reflect.TypeFor[config]()))
	assert.Nil(t, ByID(1<<31))
}

func TestConcurrentAnalysis(t *testing.T) {
	type fresh struct {
		A []string
		B *fresh
	}
	var wg sync.WaitGroup
	got := make([]*Type, 16)
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i] = For[fresh]() }()
	}
	wg.Wait()
	for _, g := range got {
		assert.Same(t, got[0], g)
	}
}

func TestEdges(t *testing.T) {
	assert.Equal(t, 4, For[config]().Edges)
	assert.Equal(t, 32, For[bigArr]().Edges)
	assert.Equal(t, 0, For[point]().Edges)
	assert.Equal(t, 2, For[[2]endpoint]().Edges)
}

// genericBox is a generic type, whose type string names its argument with
// the full import path of this module, which holds a '-'.
type genericBox[T any] struct {
	V T
	M map[string]int
}

func TestShortNameOfGenericTypesDropsImportPaths(t *testing.T) {
	assert.Equal(t, "genericBox[Slot]", ShortName(reflect.TypeFor[genericBox[Slot]]()))
	assert.Equal(t, "map[string]genericBox[*Slot]", ShortName(reflect.TypeFor[map[string]genericBox[*Slot]]()))
	err := For[genericBox[Slot]]().Err
	var ue *UnsupportedError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, "genericBox[Slot].M", ue.Path)
}

// knownAndAssertionRuns counts runs of TestKnownAndAssertion: under
// -count=N the later runs find onlyHere in the cache the first one filled.
var knownAndAssertionRuns int

// Known answers only for type words Dynamic has met, and Assertion names
// the way into each kind of dynamic type.
func TestKnownAndAssertion(t *testing.T) {
	type onlyHere struct{ P *endpoint }
	var v any = onlyHere{&endpoint{}}
	w := *(*uintptr)(unsafe.Pointer(&v)) // the type word
	if knownAndAssertionRuns++; knownAndAssertionRuns == 1 {
		assert.Nil(t, Known(w), "no interface holding onlyHere was analysed yet")
	}
	dt := Dynamic(unsafe.Pointer(&v), reflect.TypeFor[any]())
	assert.Same(t, dt, Known(w))
	assert.Nil(t, Known(w+1))

	assert.Equal(t, ".(onlyHere).P", Assertion(dt))
	assert.Equal(t, ".(*endpoint)", Assertion(For[*endpoint]()))
	assert.Equal(t, ".([1]*point)[0]", Assertion(For[[1]*point]()))
	assert.Equal(t, ".(endpoint)", Assertion(For[endpoint]()))
}

// A zero-length array holds no value, so an array of zero maps (or of
// zero pointers) is neither refused by Clone nor a pointer: the struct
// around it is pointer-free, and its path search never reaches the map.
func TestZeroLengthArraysHoldNothing(t *testing.T) {
	type zeroMaps struct {
		N     int
		Index [0]map[string]int
		Hooks [0]func()
	}
	lt := For[zeroMaps]()
	assert.NoError(t, lt.Err, "Clone accepts it")
	assert.True(t, lt.PtrFree, "New accepts it")
	assert.NoError(t, lt.PtrFreeErr)
	assert.Empty(t, lt.Slots)
	assert.NoError(t, For[[0]chan int]().Err)
	assert.True(t, For[[0]chan int]().PtrFree)
}

// Edges counts every pointer word of an array too large to flatten whose
// elements are arrays themselves: Clone steps through a value's edges by
// Edges per element, so a count of one per inner array would have a clone
// of two overlapping slices read the second one's strings from the wrong
// elements.
func TestEdgesCountNestedArrays(t *testing.T) {
	assert.Equal(t, 32, For[[16][2]string]().Edges)
	assert.Equal(t, 12, For[struct{ G [3][4]*int }]().Edges)
	assert.Equal(t, 3*2*4, For[[3][2][4]any]().Edges)
	big := For[[16][2]string]()
	require.Len(t, big.Slots, 1)
	assert.Equal(t, SlotArray, big.Slots[0].Kind, "not flattened, so its Edges come from the element's")
}

// InterfaceAt finds an interface in any element of an array, not only the
// first: the offset is taken within the element it falls in.
func TestInterfaceAtFindsInterfacesInLaterElements(t *testing.T) {
	type cell struct {
		N int
		E any
		R error
	}
	rt := reflect.TypeFor[[3]cell]()
	size := unsafe.Sizeof(cell{})
	e, _ := reflect.TypeFor[cell]().FieldByName("E")
	r, _ := reflect.TypeFor[cell]().FieldByName("R")
	assert.Equal(t, reflect.TypeFor[any](), InterfaceAt(rt, e.Offset))
	assert.Equal(t, reflect.TypeFor[any](), InterfaceAt(rt, 2*size+e.Offset))
	assert.Equal(t, reflect.TypeFor[error](), InterfaceAt(rt, size+r.Offset))
	assert.Nil(t, InterfaceAt(rt, size), "an int, not an interface")
	assert.Nil(t, InterfaceAt(rt, 2*size+e.Offset+1), "inside an interface, not where it begins")
}

// IDs are handed out densely from 0, and ByID of the first ID not handed
// out yet is nil, not an index out of range.
func TestByIDJustPastTheLastIsNil(t *testing.T) {
	For[config]()
	id := uint32(0)
	for ; ; id++ {
		var lt *Type
		require.NotPanics(t, func() { lt = ByID(id) }, "ByID(%d)", id)
		if lt == nil {
			break
		}
		assert.Equal(t, id, lt.ID)
	}
	assert.NotZero(t, id)
	assert.Nil(t, ByID(id+1))
}

// boxHoldingInt and boxHoldingString return two types that reflect names
// alike ("layout.box"), one pointer-free and one not.
func boxHoldingInt() reflect.Type {
	type box struct{ V int }
	return reflect.TypeFor[box]()
}

func boxHoldingString() reflect.Type {
	type box struct{ V string }
	return reflect.TypeFor[box]()
}

// The cache is keyed by the type itself, not by its name: two types that
// print alike, as types of one name declared in two functions do, each
// get their own analysis.
func TestTypesOfOneNameAreAnalysedApart(t *testing.T) {
	ri, rs := boxHoldingInt(), boxHoldingString()
	require.Equal(t, ri.String(), rs.String())
	require.NotEqual(t, ri, rs)
	li, ls := Of(ri), Of(rs)
	assert.Same(t, ri, li.RType)
	assert.Same(t, rs, ls.RType)
	assert.True(t, li.PtrFree)
	assert.False(t, ls.PtrFree)
	assert.NotEqual(t, li.ID, ls.ID)
	assert.Same(t, li, Of(ri), "and each is found again")
	assert.Same(t, ls, Of(rs))
}

// A blank field is a field like any other: a pointer in one makes the
// type hold pointers (the garbage collector scans it, and unsafe code or
// a copy of a whole struct can fill it), so the type is not pointer-free,
// its pointer slot is listed, and the path names it.
func TestBlankPointerFieldsCount(t *testing.T) {
	type blank struct {
		N int
		_ *int
	}
	lt := For[blank]()
	assert.False(t, lt.PtrFree)
	require.Len(t, lt.Slots, 1)
	assert.Equal(t, unsafe.Sizeof(int(0)), lt.Slots[0].Off)
	assert.Equal(t, SlotPointer, lt.Slots[0].Kind)
	assert.EqualError(t, lt.PtrFreeErr, "blank._: *int: holds pointers; use Clone for values with pointers")
}

// Embedded fields appear in paths by their type's name, as Go selectors
// spell them in full: "withBase.base.Index", not "withBase.Index".
func TestPathsNameEmbeddedFields(t *testing.T) {
	type base struct {
		ID    int
		Index map[string]int
	}
	type withBase struct {
		N int
		base
	}
	type withNamed struct {
		N int
		*named
	}
	var ue *UnsupportedError
	require.ErrorAs(t, For[withBase]().Err, &ue)
	assert.Equal(t, "withBase.base.Index", ue.Path)
	assert.EqualError(t, For[withNamed]().PtrFreeErr, "withNamed.named: *named: holds pointers; use Clone for values with pointers")
	rt := reflect.TypeFor[withBase]()
	b, _ := rt.FieldByName("base")
	idx, _ := rt.FieldByName("Index") // its offset is within base
	assert.Equal(t, ".base.Index", FieldPath(rt, b.Offset+idx.Offset))
}

// An array too large to flatten is one slot at the array's own offset in
// the value, however deep it lies, not at the start of the value.
func TestArraySlotsSitAtTheArraysOffset(t *testing.T) {
	type inner struct {
		M     int
		Names [16]string
	}
	type outer struct {
		N  int
		In inner
	}
	lt := For[outer]()
	require.Len(t, lt.Slots, 1)
	in, _ := reflect.TypeFor[outer]().FieldByName("In")
	names, _ := reflect.TypeFor[inner]().FieldByName("Names")
	assert.Equal(t, SlotArray, lt.Slots[0].Kind)
	assert.Equal(t, in.Offset+names.Offset, lt.Slots[0].Off)
	assert.Equal(t, uintptr(16), lt.Slots[0].Len)
}

// Clone's error names the refused field on the shortest path from the
// analysed type, not the first found by going deep.
func TestUnsupportedPathIsTheShortest(t *testing.T) {
	type shallowLast struct {
		Index map[string]int
		Deep  struct{ Inner struct{ Ch chan int } }
	}
	type shallowFirst struct {
		Deep  struct{ Inner struct{ Ch chan int } }
		Index map[string]int
	}
	var ue *UnsupportedError
	require.ErrorAs(t, For[shallowLast]().Err, &ue)
	assert.Equal(t, "shallowLast.Index", ue.Path)
	require.ErrorAs(t, For[shallowFirst]().Err, &ue)
	assert.Equal(t, "shallowFirst.Index", ue.Path)
}
