package arena

import "github.com/frozen-go/frozen/internal/offheap"

// New allocates a zeroed T in the arena and returns a pointer to it. T must
// be pointer-free (no pointers, strings, slices, maps, channels, funcs or
// interfaces, at any depth): use Clone for values with pointers. A
// zero-size T (struct{}, [0]int) takes no memory: New, like MakeSlice of
// it, returns the arena's first address, mapped even when nothing else is
// allocated, since dereferencing the pointer reads a byte through it (Go's
// nil check). (Clone instead gives each
// zero-size value it copies, a pointee or an empty slice's array, an
// address of its own, and so a byte of arena memory; pointers to one
// address are one value to Clone, so zero-size values that Go placed at
// one address, as it may, share one copy.)
//
// New panics, with an error wrapping ErrUnsupported, ErrFrozen, ErrClosed
// or ErrExhausted, when T holds pointers or the arena cannot allocate. The
// ErrUnsupported error names T's first pointer-bearing field, advising
// Clone, or, when Clone refuses T too (a map, channel, func or
// unsafe.Pointer at any depth), what it refuses. A zero-value Arena counts
// as closed; a nil *Arena makes New panic with the runtime's nil
// dereference.
func New[T any](a *Arena) *T { return offheap.New[T](a.a) }

// MakeSlice allocates n zeroed elements of the pointer-free type T, with
// len == cap == n, so that append copies instead of writing past the end.
// MakeSlice(a, 0) returns an empty, non-nil slice that uses no arena
// memory. It panics like New, and with ErrInvalidSize when n < 0.
func MakeSlice[T any](a *Arena, n int) []T {
	s, err := offheap.MakeSlice[T](a.core(), n)
	if err != nil {
		panic(err)
	}
	return s
}

// String copies s into the arena. It panics like New.
func String(a *Arena, s string) string {
	c, err := offheap.String(a.core(), s)
	if err != nil {
		panic(err)
	}
	return c
}

// Bytes copies b into the arena, with len == cap. A nil b gives nil, an
// empty one an empty, non-nil slice. It panics like New.
func Bytes(a *Arena, b []byte) []byte {
	c, err := offheap.Bytes(a.core(), b)
	if err != nil {
		panic(err)
	}
	return c
}

// Clone deep-copies v into the arena and returns the copy, whose pointers,
// strings, slices and interfaces all point into the arena.
//
// The copy has the shape of the original: a cycle stays a cycle, two
// pointers to one object point to one copy, and a pointer into the middle
// of an array, a slice's backing array or a struct points into the copy of
// that container. Nil slices stay nil and empty ones empty; copied slices
// have len == cap. Interfaces keep their dynamic type. Unexported fields are
// copied. The copy may be changed until the arena is frozen, but its
// pointer, string, slice and interface fields may only be given nil, empty
// values or memory of the same arena: the garbage collector does not see
// what arena memory points to (see the package's Caveats).
//
// Maps, channels, funcs and unsafe.Pointer are refused, and so is
// unique.Handle (held by netip.Addr, Prefix and AddrPort), whose copy
// would equal no handle, and so are the library's own handles (an Arena,
// freeze.Region, snapshot.Snapshot, Map or Store), whose copy would own
// none of the memory they refer to: the error wraps ErrUnsupported and
// names the field path and its type once, for example
// "arena: clone: Config.Index: map[string]int: maps are not supported …";
// one inside an interface is named by the path through its dynamic type,
// "Config.Extra.(Hooks).Index: map[string]int: …" (a pointer stored in it
// too: "Config.Extra.(*Hooks).Index"), or, when the dynamic type is the
// refused one, "Config.Extra: chan int: …". So is memory that the value
// reaches as two types that only unsafe code makes of it, where one has a
// pointer and the other has not, or where elements of two views straddle
// each other (a []byte over structs that hold pointers, say): copied as
// the type without, the pointers would lead back into the Go heap; and so
// are such views whose pointer words differ only where they are nil
// (a pointer stored later through the one with the pointer word would
// escape Freeze's check). Interfaces whose boxes share one zero value, as
// the runtime boxes "" and nil slices and reflect.Zero's values, are
// copied. Unlike New, Clone returns errors (ErrFrozen, ErrClosed,
// ErrExhausted) instead of panicking.
//
// Clone's time and scratch memory grow with the bytes and pointer words
// v reaches, each counted once however many pointers lead to it, with
// one exception: overlapping slices of one backing array of
// pointer-bearing elements (windows, s[i:i+w]) read the elements they
// share once as long as each window Clone meets overlaps those it met
// before it, in whatever order (other values may come between them, as
// in a slice of structs each holding a window and a pointer), and windows
// of up to four arrays of one element type may be met in turn. A window
// that overlaps none met before it, or one met after windows or values of
// four other arrays of its element type (rarely, of other types), starts
// over: windows of five such arrays met in turn each read all their
// elements, n windows of width w n×w words.
//
// Nothing may write what v reaches while Clone copies it (a data race).
// Clone reads the graph once to size the copy and again to copy it: a
// string or slice keeps the length it had the first time, and an
// interface whose type changed in between makes Clone fail, so that the
// copy never claims more memory, or another type, than was copied.
func Clone[T any](a *Arena, v T) (T, error) {
	if a == nil || a.a == nil {
		var zero T
		return zero, errNoArena
	}
	return offheap.Clone(a.a, v)
}
