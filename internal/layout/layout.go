// Package layout analyses Go types once and caches the result: size and
// alignment, whether a type holds pointers, where its pointer slots are, the
// plan Clone follows to copy it, and the field paths used in error messages
// and fault reports.
//
// Every analysed type gets a small integer ID, so that allocation records in
// arenas can name their type without holding a Go pointer.
//
// All functions are safe for concurrent use.
package layout

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
)

// ErrUnsupported is wrapped by every *UnsupportedError.
var ErrUnsupported = errors.New("arena: unsupported type")

// UnsupportedError says which field of which type cannot be stored in an
// arena, and why.
type UnsupportedError struct {
	// Path leads from the analysed type to the offending field, starting
	// with the analysed type's name: "Config.Index", "Config.Routes[].Index".
	// When the analysed type itself is refused, Path is its name and equals
	// Type.
	Path   string
	Type   string // the offending field's type, e.g. "map[string]int"
	Reason string // e.g. "maps are not supported (use snapshot.Map)"
}

// Error names the path and the type once each:
// "Config.Index: map[string]int: maps are not supported …", or
// "map[string]int: maps are not supported …" when the type analysed is
// the one refused. Whoever wraps it should not name the analysed type
// again, since Path begins with it.
func (e *UnsupportedError) Error() string {
	if e.Path == e.Type {
		return fmt.Sprintf("%s: %s", e.Type, e.Reason)
	}
	return fmt.Sprintf("%s: %s: %s", e.Path, e.Type, e.Reason)
}

// Unwrap returns ErrUnsupported.
func (e *UnsupportedError) Unwrap() error { return ErrUnsupported }

// SlotKind is the kind of a pointer-bearing slot.
type SlotKind uint8

// Slot kinds.
const (
	SlotPointer SlotKind = iota + 1 // *T: one word
	SlotString                      // string: data word, length word
	SlotSlice                       // []T: data word, length, capacity
	SlotEface                       // interface{}: type word, data word
	SlotIface                       // non-empty interface: itab word, data word
	SlotArray                       // [Len]Elem whose elements hold pointers
)

// String names the kind of slot.
func (k SlotKind) String() string {
	return [...]string{"?", "pointer", "string", "slice", "eface", "iface", "array"}[k]
}

// Slot is one pointer-bearing word group inside a value.
type Slot struct {
	Off  uintptr  // byte offset in the value
	Kind SlotKind //
	Elem *Type    // pointee (SlotPointer), element (SlotSlice, SlotArray)
	Len  uintptr  // number of elements (SlotArray)
	// RType is the static type of the slot (the interface type for
	// SlotEface and SlotIface).
	RType reflect.Type
}

// Type is the analysis of one Go type.
type Type struct {
	RType reflect.Type
	ID    uint32
	Size  uintptr
	Align uintptr
	// PtrFree reports that values hold no pointer words at all (strings,
	// slices and interfaces count as pointers).
	PtrFree bool
	// Slots lists the pointer-bearing slots of one value, by offset.
	// Small arrays are flattened; larger ones are one SlotArray.
	Slots []Slot
	// Edges is the number of pointer words one value holds: one per
	// pointer, string, slice and interface slot, Len times the element's
	// for an array slot.
	Edges int
	// Direct reports that the type is stored directly in an interface's
	// data word (pointer-shaped) rather than boxed.
	Direct bool
	// Err is non-nil (an *UnsupportedError) when values of the type, or
	// anything reachable from them by type, cannot be cloned into an arena.
	Err error
	// PtrFreeErr is non-nil (an *UnsupportedError naming the first
	// pointer-bearing field) when the type is not pointer-free.
	PtrFreeErr error
}

// Name returns a short name for paths: the type's name without package
// qualifier, or its literal form.
func (t *Type) Name() string { return ShortName(t.RType) }

// Assertion names the way from an interface holding a value of type t to
// that value, as a type assertion: ".(Config)" for a boxed value, and
// for a pointer-shaped one, to its pointee: ".(*T)", ".(S).P" for a
// struct S whose one field P is a pointer, ".([1]*T)[0]".
func Assertion(t *Type) string {
	s := ".(" + t.Name() + ")"
	if t.Direct {
		s += FieldPath(t.RType, 0)
	}
	return s
}

// ShortName is reflect.Type.String without package qualifiers:
// "*main.Config" becomes "*Config", "map[string]pkg.T" becomes "map[string]T".
func ShortName(rt reflect.Type) string { return unqualified(rt.String()) }

// unqualified is ShortName of a type string.
func unqualified(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == '"' {
			// A struct tag, quoted: copied as it is ("json:\"a.b\"").
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(s))
			b.WriteString(s[i:j])
			i = j
			continue
		}
		if strings.HasPrefix(s[i:], "...") {
			// A variadic parameter's dots, not a qualifier's.
			b.WriteString("...")
			i += 3
			continue
		}
		j := i
		for j < len(s) && isQualifiedChar(s[j]) {
			j++
		}
		if j == i {
			b.WriteByte(s[i])
			i++
			continue
		}
		tok := s[i:j]
		if k := strings.LastIndexByte(tok, '.'); k >= 0 && tok != "unsafe.Pointer" {
			tok = tok[k+1:]
		}
		b.WriteString(tok)
		i = j
	}
	return b.String()
}

// isQualifiedChar reports whether c can be part of a qualified name in a
// type string: identifiers, and the import paths that reflect writes in
// full inside generic type arguments ("pkg.Box[example.com/my-mod/x.T]"),
// whose elements may also hold '-', '~' and non-ASCII letters, and '%',
// as reflect escapes a dot in the last element ("gopkg.in/yaml%2ev3.Node"),
// none of which appears elsewhere in a type string.
func isQualifiedChar(c byte) bool {
	return c == '_' || c == '.' || c == '/' || c == '-' || c == '~' || c == '%' || c >= 0x80 ||
		c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

var (
	cache   sync.Map // reflect.Type -> *Type
	buildMu sync.Mutex
	byID    atomic.Pointer[[]*Type]
)

// Of returns the analysis of rt, computing it on first use.
func Of(rt reflect.Type) *Type {
	if t, ok := cache.Load(rt); ok {
		return t.(*Type)
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if t, ok := cache.Load(rt); ok {
		return t.(*Type)
	}
	b := builder{fresh: map[reflect.Type]*Type{}}
	t := b.build(rt)
	for _, nt := range b.order {
		nt.Err = unsupportedPath(nt)
		nt.PtrFreeErr = pointerPath(nt)
	}
	// Publish: IDs first, then the cache.
	ids := byID.Load()
	var list []*Type
	if ids != nil {
		list = *ids
	}
	list = append(list[:len(list):len(list)], b.order...)
	byID.Store(&list)
	for _, nt := range b.order {
		cache.Store(nt.RType, nt)
	}
	return t
}

// For returns the analysis of T.
func For[T any]() *Type { return Of(reflect.TypeFor[T]()) }

// ByID returns the type with the given ID, or nil.
func ByID(id uint32) *Type {
	ids := byID.Load()
	if ids == nil || uint64(id) >= uint64(len(*ids)) { // int(id) is negative on 32-bit systems from 1<<31
		return nil
	}
	return (*ids)[id]
}

type builder struct {
	fresh map[reflect.Type]*Type
	order []*Type
}

func (b *builder) get(rt reflect.Type) *Type {
	if t, ok := cache.Load(rt); ok {
		return t.(*Type)
	}
	if t, ok := b.fresh[rt]; ok {
		return t
	}
	return b.build(rt)
}

func (b *builder) build(rt reflect.Type) *Type {
	n := uint32(0)
	if ids := byID.Load(); ids != nil {
		n = uint32(len(*ids))
	}
	t := &Type{RType: rt, ID: n + uint32(len(b.order)), Size: rt.Size(), Align: uintptr(rt.Align())}
	b.fresh[rt] = t
	b.order = append(b.order, t)
	t.Slots = b.slots(rt, 0, nil)
	for _, s := range t.Slots {
		if s.Kind == SlotArray {
			t.Edges += int(s.Len) * edges(s.RType.Elem())
		} else {
			t.Edges++
		}
	}
	t.PtrFree = len(t.Slots) == 0 && !holdsUnsupportedPointer(rt)
	t.Direct = isDirect(rt)
	return t
}

// edges counts pointer words in a value of rt (see Type.Edges), without
// needing rt's analysis to be finished (recursive types).
func edges(rt reflect.Type) int {
	switch rt.Kind() {
	case reflect.Pointer, reflect.String, reflect.Slice, reflect.Interface:
		return 1
	case reflect.Struct:
		n := 0
		for i := 0; i < rt.NumField(); i++ {
			n += edges(rt.Field(i).Type)
		}
		return n
	case reflect.Array:
		return rt.Len() * edges(rt.Elem())
	}
	return 0
}

// maxFlatten is the largest number of slots an array is flattened into.
const maxFlatten = 8

func (b *builder) slots(rt reflect.Type, off uintptr, out []Slot) []Slot {
	switch rt.Kind() {
	case reflect.Pointer:
		return append(out, Slot{Off: off, Kind: SlotPointer, Elem: b.get(rt.Elem()), RType: rt})
	case reflect.String:
		return append(out, Slot{Off: off, Kind: SlotString, RType: rt})
	case reflect.Slice:
		return append(out, Slot{Off: off, Kind: SlotSlice, Elem: b.get(rt.Elem()), RType: rt})
	case reflect.Interface:
		k := SlotIface
		if rt.NumMethod() == 0 {
			k = SlotEface
		}
		return append(out, Slot{Off: off, Kind: k, RType: rt})
	case reflect.Struct:
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			out = b.slots(f.Type, off+f.Offset, out)
		}
		return out
	case reflect.Array:
		if rt.Len() == 0 {
			return out
		}
		elem := b.slots(rt.Elem(), 0, nil)
		if len(elem) == 0 {
			return out
		}
		if rt.Len()*len(elem) <= maxFlatten {
			size := rt.Elem().Size()
			for i := 0; i < rt.Len(); i++ {
				for _, s := range elem {
					s.Off += off + uintptr(i)*size
					out = append(out, s)
				}
			}
			return out
		}
		return append(out, Slot{Off: off, Kind: SlotArray, Elem: b.get(rt.Elem()), Len: uintptr(rt.Len()), RType: rt})
	}
	return out
}

// holdsUnsupportedPointer reports whether rt has pointer words that slots
// do not describe (maps, channels, funcs, unsafe.Pointer), so that it is not
// pointer-free either.
func holdsUnsupportedPointer(rt reflect.Type) bool {
	switch rt.Kind() {
	case reflect.Map, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return true
	case reflect.Struct:
		for i := 0; i < rt.NumField(); i++ {
			if holdsUnsupportedPointer(rt.Field(i).Type) {
				return true
			}
		}
	case reflect.Array:
		return rt.Len() > 0 && holdsUnsupportedPointer(rt.Elem())
	}
	return false
}

// reason says why a kind cannot be cloned, or "" if it can.
func reason(rt reflect.Type) string {
	switch rt.Kind() {
	case reflect.Map:
		return "maps are not supported (build a snapshot.Map instead)"
	case reflect.Chan:
		return "channels are not supported"
	case reflect.Func:
		return "funcs are not supported"
	case reflect.UnsafePointer:
		return "unsafe.Pointer is not supported"
	case reflect.Struct:
		if IsUniqueHandle(rt) {
			return "unique handles are compared by identity, which a copy cannot keep (netip.Addr holds one: store addresses as strings or byte arrays)"
		}
		if h := libraryHandle(rt); h != "" {
			return h + " is a handle to memory this library maps and releases, not data: a copy would own none of it (keep the handle beside the value)"
		}
	}
	return ""
}

// modulePath is the path of this module, whose packages are the
// directories under it.
var modulePath = strings.TrimSuffix(reflect.TypeFor[Type]().PkgPath(), "/internal/layout")

// libraryHandle names rt as package.Type if it is one of the handles the
// library's packages hand out (an Arena, Region, Snapshot, Map or Store),
// and returns "" otherwise. Copied into a value, such a handle would not
// own what it refers to; Clone would otherwise refuse it for one of its
// unexported fields (a func, a channel, an unsafe.Pointer), an error that
// names a field the caller never wrote.
func libraryHandle(rt reflect.Type) string {
	pkg, ok := strings.CutPrefix(rt.PkgPath(), modulePath+"/")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rt.Name(), "[")
	switch pkg + "." + name {
	case "arena.Arena", "freeze.Region", "snapshot.Snapshot", "snapshot.Map", "snapshot.Store":
		return pkg + "." + name
	}
	return ""
}

// IsUniqueHandle reports whether rt is a unique.Handle. A handle is a
// pointer to a canonical value, and equal handles are the same pointer:
// a clone's handle points to a copy, equal to no handle made by
// unique.Make, so that a cloned netip.Addr is neither Is4 nor equal to
// the address it was copied from, and prints wrongly.
func IsUniqueHandle(rt reflect.Type) bool {
	return rt.PkgPath() == "unique" && strings.HasPrefix(rt.Name(), "Handle[")
}

// step is one edge of the type graph: from a value of the parent type to a
// field, element or pointee, with the path text it adds.
type step struct {
	rt   reflect.Type
	text string
}

// children lists the edges out of rt, including unsupported leaves.
func children(rt reflect.Type) []step {
	switch rt.Kind() {
	case reflect.Pointer:
		return []step{{rt.Elem(), ""}}
	case reflect.Slice, reflect.Array:
		if rt.Kind() == reflect.Array && rt.Len() == 0 {
			return nil
		}
		return []step{{rt.Elem(), "[]"}}
	case reflect.Struct:
		out := make([]step, 0, rt.NumField())
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			out = append(out, step{f.Type, "." + f.Name})
		}
		return out
	}
	return nil
}

// search walks the type graph breadth-first from t and returns the shortest
// path to a type for which bad returns a reason.
func search(t *Type, bad func(reflect.Type, int) string) error {
	type node struct {
		rt    reflect.Type
		path  string
		depth int
	}
	seen := map[reflect.Type]bool{t.RType: true}
	queue := []node{{t.RType, t.Name(), 0}}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if why := bad(n.rt, n.depth); why != "" {
			return &UnsupportedError{Path: n.path, Type: ShortName(n.rt), Reason: why}
		}
		for _, c := range children(n.rt) {
			if !seen[c.rt] {
				seen[c.rt] = true
				queue = append(queue, node{c.rt, n.path + c.text, n.depth + 1})
			}
		}
	}
	return nil
}

func unsupportedPath(t *Type) error {
	return search(t, func(rt reflect.Type, _ int) string { return reason(rt) })
}

// pointerPath names the first pointer-bearing field of a type that is not
// pointer-free, advising Clone; or, when Clone refuses the type too (t.Err,
// set first), says what it refuses.
func pointerPath(t *Type) error {
	if t.PtrFree {
		return nil
	}
	if t.Err != nil {
		return t.Err
	}
	return firstPointer(t.RType, t.Name(), 0)
}

// firstPointer returns the error for the first pointer-bearing field of
// rt in declaration order (the lowest offset), or nil if it has none.
// Unlike search's breadth-first walk, which names the shallowest
// (struct{ A struct{ P *int }; Q *int } would be named by Q), it goes
// depth-first: a pointer-bearing kind stops it, so it only descends
// through structs and arrays, which cannot nest without end.
func firstPointer(rt reflect.Type, path string, depth int) error {
	switch rt.Kind() {
	case reflect.Pointer, reflect.String, reflect.Slice, reflect.Interface,
		reflect.Map, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		why := "holds pointers; use Clone for values with pointers"
		if depth == 0 {
			why = "holds pointers (strings, slices, pointers and interfaces count); use Clone"
		}
		return &UnsupportedError{Path: path, Type: ShortName(rt), Reason: why}
	}
	for _, c := range children(rt) {
		if err := firstPointer(c.rt, path+c.text, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// InterfaceAt returns the interface type of the field or element of rt that
// begins at byte off, or nil if none does.
func InterfaceAt(rt reflect.Type, off uintptr) reflect.Type {
	for {
		if off == 0 && rt.Kind() == reflect.Interface {
			return rt
		}
		switch rt.Kind() {
		case reflect.Struct:
			var next reflect.Type
			for i := 0; i < rt.NumField(); i++ {
				if f := rt.Field(i); off >= f.Offset && off < f.Offset+f.Type.Size() {
					next, off = f.Type, off-f.Offset
					break
				}
			}
			if next == nil {
				return nil
			}
			rt = next
		case reflect.Array:
			size := rt.Elem().Size()
			if size == 0 {
				return nil
			}
			rt, off = rt.Elem(), off%size
		default:
			return nil
		}
	}
}

// FieldPath describes the byte at offset off inside a value of type rt, as
// Go selector text: ".Endpoints", "[3].Port". Offsets inside a pointer-sized
// word name the word's field.
func FieldPath(rt reflect.Type, off uintptr) string {
	var b strings.Builder
	for {
		switch rt.Kind() {
		case reflect.Struct:
			found := false
			for i := 0; i < rt.NumField(); i++ {
				f := rt.Field(i)
				if off >= f.Offset && off < f.Offset+f.Type.Size() {
					b.WriteString("." + f.Name)
					off -= f.Offset
					rt = f.Type
					found = true
					break
				}
			}
			if !found {
				return b.String() // padding
			}
		case reflect.Array:
			size := rt.Elem().Size()
			if size == 0 {
				return b.String()
			}
			fmt.Fprintf(&b, "[%d]", off/size)
			off %= size
			rt = rt.Elem()
		default:
			return b.String()
		}
	}
}
