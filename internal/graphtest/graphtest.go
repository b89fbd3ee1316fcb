// Package graphtest walks Go values for tests: it lists every reference a
// value holds (pointers, slices, strings, interfaces), so that tests can
// compare a clone's sharing structure with the original's and check, against
// /proc/self/maps, where every reference points. It also holds the fuzz
// catalogue, graphs of node types built from fuzz bytes. It is used by
// tests only.
//
// Unsafe: Walk and Refs take addresses as integers (unsafe.StringData, a boxed
// value's data word) only to compare them and to look them up in
// /proc/self/maps; no integer is made a pointer again. The one pointer it
// reads, an interface's data word, is read through the interface's own
// address (v.UnsafeAddr, converted to unsafe.Pointer in the same
// expression, as unsafe.Pointer's rules allow for reflect's addresses) as
// the second of the interface's two words, and followed only for a type
// that layout says is boxed, so that the word points to a value of that
// type.
package graphtest

import (
	"fmt"
	"path"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/frozen-go/frozen/internal/layout"
	"github.com/frozen-go/frozen/internal/vm"
)

// Ref is one reference met while walking a value: where it points and how
// many bytes it covers.
type Ref struct {
	Kind string // "ptr", "slice", "string", "iface:T", or "nil…" for nil ones
	Path string // how it was reached, e.g. "root.*.Endpoints[1]"
	Addr uintptr
	Size uintptr // bytes it covers
	Len  int
	Cap  int
}

// Walk visits v and every value reachable from it (iteratively, in a
// fixed order), with the path by which it was reached ("root.*.Kids[1]"):
// each value when it is met, and what a pointer, slice or boxed interface
// refers to only the first time that pointer (address and type), slice
// (address, length and type) or interface is met. What a boxed interface
// holds is visited where it lies, addressable; so is everything reached
// through a pointer or a slice.
func Walk(v any, visit func(v reflect.Value, path string)) {
	type item struct {
		v    reflect.Value
		path string
	}
	seen := map[string]bool{}
	stack := []item{{reflect.ValueOf(&v).Elem(), "root"}}
	push := func(v reflect.Value, path string) { stack = append(stack, item{v, path}) }
	first := func(key string) bool {
		if seen[key] {
			return false
		}
		seen[key] = true
		return true
	}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		v := it.v
		visit(v, it.path)
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() && first(fmt.Sprint("p", v.Pointer(), v.Type())) {
				push(v.Elem(), it.path+".*")
			}
		case reflect.Slice:
			if !v.IsNil() && first(fmt.Sprint("s", v.Pointer(), v.Len(), v.Type())) {
				for i := v.Len() - 1; i >= 0; i-- {
					push(v.Index(i), fmt.Sprintf("%s[%d]", it.path, i))
				}
			}
		case reflect.Interface:
			if v.IsNil() {
				continue
			}
			if box, ok := boxOf(v); ok {
				push(reflect.NewAt(v.Elem().Type(), box).Elem(), it.path+".(i)")
			} else {
				// A value stored directly (one word that is a pointer, as
				// the runtime decides; layout.Type.Direct) is the data
				// word itself: what it points to is visited when it is.
				push(v.Elem(), it.path+".(i)")
			}
		case reflect.Struct:
			// Unexported fields are read too: reflect allows every
			// accessor used here on them.
			for i := v.NumField() - 1; i >= 0; i-- {
				push(v.Field(i), it.path+"."+v.Type().Field(i).Name)
			}
		case reflect.Array:
			for i := v.Len() - 1; i >= 0; i-- {
				push(v.Index(i), fmt.Sprintf("%s[%d]", it.path, i))
			}
		}
	}
}

// boxOf returns the box that the interface v (not nil) points to, if its
// dynamic value is boxed and v is addressable: reflect does not give the
// box's address; the interface's own words do.
func boxOf(v reflect.Value) (unsafe.Pointer, bool) {
	if !v.CanAddr() || layout.Of(v.Elem().Type()).Direct {
		return nil, false
	}
	return (*[2]unsafe.Pointer)(unsafe.Pointer(v.UnsafeAddr()))[1], true
}

// Refs walks v (see Walk) and returns every reference it holds, each time
// it is met. Objects already visited are not walked again, so an original
// and a clone give the same sequence exactly when they share the same way.
func Refs(v any) []Ref {
	var out []Ref
	Walk(v, func(v reflect.Value, path string) {
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() {
				out = append(out, Ref{Kind: "nil", Path: path})
				return
			}
			out = append(out, Ref{Kind: "ptr", Path: path, Addr: v.Pointer(), Size: v.Type().Elem().Size()})
		case reflect.Slice:
			if v.IsNil() {
				out = append(out, Ref{Kind: "nilslice", Path: path})
				return
			}
			out = append(out, Ref{Kind: "slice", Path: path, Addr: v.Pointer(), Size: uintptr(v.Len()) * v.Type().Elem().Size(), Len: v.Len(), Cap: v.Cap()})
		case reflect.String:
			if s := v.String(); len(s) > 0 {
				out = append(out, Ref{Kind: "string", Path: path, Addr: uintptr(unsafe.Pointer(unsafe.StringData(s))), Size: uintptr(len(s)), Len: len(s)})
			}
		case reflect.Interface:
			if v.IsNil() {
				out = append(out, Ref{Kind: "nilif", Path: path})
				return
			}
			et := v.Elem().Type()
			r := Ref{Kind: "iface:" + et.String(), Path: path}
			// A boxed value's box is listed like a pointer's target; the
			// root's box is the one Refs's caller made to pass the value,
			// no part of it: not listed.
			if box, ok := boxOf(v); ok && path != "root" {
				r.Addr, r.Size = uintptr(box), et.Size()
			}
			out = append(out, r)
		}
	})
	return out
}

// RequireSameShape checks that clone has the sharing structure of orig:
// same sequence of references; two references are equal in the clone iff
// they are equal in the original; a reference points inside another's
// range in the clone iff it does in the original, at the same offset;
// clone slices have cap == len.
func RequireSameShape(t testing.TB, orig, clone any) {
	t.Helper()
	// Plain comparisons, and t.Fatalf only on a mismatch: a require call
	// per reference and per nested pair (each one a t.Helper stack walk)
	// was nine tenths of the tests that check large graphs, under the
	// race detector and under emulation.
	a, b := Refs(orig), Refs(clone)
	if len(a) != len(b) {
		t.Fatalf("reference count differs: %d, clone %d:\norig  %v\nclone %v", len(a), len(b), kinds(a), kinds(b))
	}
	for i := range a {
		if a[i].Kind != b[i].Kind || a[i].Len != b[i].Len {
			t.Fatalf("reference %d (%s) is a %s of length %d, in the clone a %s of length %d",
				i, a[i].Path, a[i].Kind, a[i].Len, b[i].Kind, b[i].Len)
		}
		if b[i].Kind == "slice" && b[i].Len != b[i].Cap {
			t.Fatalf("clone slice %s has cap %d != len %d", b[i].Path, b[i].Cap, b[i].Len)
		}
	}
	for i := range a {
		if a[i].Addr == 0 {
			continue
		}
		for j := range a {
			if a[j].Addr == 0 {
				continue
			}
			if (a[i].Addr == a[j].Addr) != (b[i].Addr == b[j].Addr) {
				t.Fatalf("sharing differs between %s and %s", a[i].Path, a[j].Path)
			}
			if a[i].Addr >= a[j].Addr && a[i].Addr < a[j].Addr+a[j].Size && a[i].Addr-a[j].Addr != b[i].Addr-b[j].Addr {
				t.Fatalf("%s points %d bytes into %s; the clone does not", a[i].Path, a[i].Addr-a[j].Addr, a[j].Path)
			}
			// And the other way: the clone does not put one value inside
			// another that the original keeps apart (two copies that
			// overlap, where writing one would change the other).
			if b[i].Addr >= b[j].Addr && b[i].Addr < b[j].Addr+b[j].Size &&
				(a[i].Addr < a[j].Addr || a[i].Addr-a[j].Addr != b[i].Addr-b[j].Addr) {
				t.Fatalf("in the clone %s points %d bytes into %s; in the original it does not", b[i].Path, b[i].Addr-b[j].Addr, b[j].Path)
			}
		}
	}
}

func kinds(rs []Ref) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.Kind)
	}
	return strings.Join(s, " ")
}

// RequireInArena checks, against /proc/self/maps, that every reference in
// the clone points into a shared mapping of the named arena's memfd (or
// temporary file).
func RequireInArena(t testing.TB, clone any, name string) {
	t.Helper()
	requireRefsIn(t, clone, name, "")
}

// RequireReadOnlyInArena checks, as RequireInArena does, that every
// reference in v points into a shared mapping of the named arena, and
// that the mapping is read-only ("r--s"): a frozen graph, read from its
// read-only root, reaches no writable memory. It returns the number of
// references checked.
func RequireReadOnlyInArena(t testing.TB, v any, name string) int {
	t.Helper()
	return requireRefsIn(t, v, name, "r--s")
}

// requireRefsIn checks each non-nil reference in v with requireMappedIn,
// and that its mapping has permissions perms unless perms is "", and
// returns how many it checked.
func requireRefsIn(t testing.TB, v any, name, perms string) int {
	t.Helper()
	maps, err := vm.ReadMaps()
	if err != nil {
		t.Skipf("no /proc/self/maps: %v", err)
	}
	n := 0
	for _, r := range Refs(v) {
		if r.Addr == 0 {
			continue
		}
		e := requireMappedIn(t, maps, r.Addr, r.Path, name)
		if perms != "" && e.Perms != perms {
			t.Fatalf("%s (%#x) is reachable from the root but lies in %+v, not in a %s mapping", r.Path, r.Addr, e, perms)
		}
		n++
	}
	return n
}

// RequireAddrInArena checks, against /proc/self/maps, that addr (what
// names it in messages) lies in a shared memfd mapping of the named
// arena: for addresses Refs cannot see, such as an interface's boxed
// value.
func RequireAddrInArena(t testing.TB, addr uintptr, what, name string) {
	t.Helper()
	maps, err := vm.ReadMaps()
	if err != nil {
		t.Skipf("no /proc/self/maps: %v", err)
	}
	requireMappedIn(t, maps, addr, what, name)
}

// requireMappedIn checks that addr lies in a shared mapping of the named
// arena's file, and returns that mapping.
func requireMappedIn(t testing.TB, maps vm.Maps, addr uintptr, what, name string) vm.MapsEntry {
	t.Helper()
	// Called once per reference: plain tests, t.Fatalf only on failure.
	e, ok := maps.Find(addr)
	if !ok {
		t.Fatalf("%s (%#x) is not mapped", what, addr)
	}
	if !e.Shared() {
		t.Fatalf("%s (%#x) is in a private mapping %+v", what, addr, e)
	}
	switch vm.Backend {
	case "memfd":
		if !strings.Contains(e.Path, "memfd:"+vm.KernelName(name)) {
			t.Fatalf("%s (%#x) is in %q, not in memfd %q", what, addr, e.Path, vm.KernelName(name))
		}
	case "tempfile":
		if !strings.HasPrefix(path.Base(e.Path), "frozen-"+vm.KernelName(name)+"-") {
			t.Fatalf("%s (%#x) is in %q, not in a temporary file of %q", what, addr, e.Path, vm.KernelName(name))
		}
	}
	return e
}
