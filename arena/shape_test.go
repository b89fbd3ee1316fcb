package arena_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/internal/vm"
)

// ref is one reference met while walking a value: where it points and how
// many bytes it covers.
type ref struct {
	kind string
	path string
	addr uintptr
	size uintptr
	len  int
	cap  int
}

// refs walks v (iteratively, in a fixed order) and returns every reference
// it holds. Objects already visited are not walked again, so an original
// and a clone give the same sequence exactly when they share the same way.
func refs(v any) []ref {
	type item struct {
		v    reflect.Value
		path string
	}
	var out []ref
	seen := map[string]bool{}
	stack := []item{{reflect.ValueOf(&v).Elem(), "root"}}
	push := func(v reflect.Value, path string) { stack = append(stack, item{v, path}) }
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		v := it.v
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() {
				out = append(out, ref{kind: "nil", path: it.path})
				continue
			}
			r := ref{kind: "ptr", path: it.path, addr: v.Pointer(), size: v.Type().Elem().Size()}
			out = append(out, r)
			key := fmt.Sprint("p", r.addr, v.Type())
			if !seen[key] {
				seen[key] = true
				push(v.Elem(), it.path+".*")
			}
		case reflect.Slice:
			if v.IsNil() {
				out = append(out, ref{kind: "nilslice", path: it.path})
				continue
			}
			r := ref{kind: "slice", path: it.path, addr: v.Pointer(), size: uintptr(v.Len()) * v.Type().Elem().Size(), len: v.Len(), cap: v.Cap()}
			out = append(out, r)
			key := fmt.Sprint("s", r.addr, r.len, v.Type())
			if !seen[key] {
				seen[key] = true
				for i := v.Len() - 1; i >= 0; i-- {
					push(v.Index(i), fmt.Sprintf("%s[%d]", it.path, i))
				}
			}
		case reflect.String:
			s := v.String()
			if len(s) > 0 {
				out = append(out, ref{kind: "string", path: it.path, addr: uintptr(unsafe.Pointer(unsafe.StringData(s))), size: uintptr(len(s)), len: len(s)})
			}
		case reflect.Interface:
			if v.IsNil() {
				out = append(out, ref{kind: "nilif", path: it.path})
				continue
			}
			out = append(out, ref{kind: "iface:" + v.Elem().Type().String(), path: it.path})
			// The boxed value's address is not observable through
			// reflect; its contents are walked.
			push(v.Elem(), it.path+".(i)")
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
	return out
}

// requireSameShape checks that clone has the sharing structure of orig:
// same sequence of references; two references are equal in the clone iff
// they are equal in the original; a reference pointing inside another's
// range keeps its offset; clone slices have cap == len.
func requireSameShape(t *testing.T, orig, clone any) {
	t.Helper()
	a, b := refs(orig), refs(clone)
	require.Equal(t, len(a), len(b), "reference count differs:\norig  %v\nclone %v", kinds(a), kinds(b))
	for i := range a {
		require.Equal(t, a[i].kind, b[i].kind, "reference %d (%s)", i, a[i].path)
		require.Equal(t, a[i].len, b[i].len, "reference %d (%s)", i, a[i].path)
		if b[i].kind == "slice" {
			require.Equal(t, b[i].len, b[i].cap, "clone slice %s has cap != len", b[i].path)
		}
	}
	for i := range a {
		if a[i].addr == 0 {
			continue
		}
		for j := range a {
			if a[j].addr == 0 {
				continue
			}
			if (a[i].addr == a[j].addr) != (b[i].addr == b[j].addr) {
				t.Fatalf("sharing differs between %s and %s", a[i].path, a[j].path)
			}
			if a[i].addr >= a[j].addr && a[i].addr < a[j].addr+a[j].size {
				require.Equal(t, a[i].addr-a[j].addr, b[i].addr-b[j].addr,
					"%s points %d bytes into %s; the clone does not", a[i].path, a[i].addr-a[j].addr, a[j].path)
			}
		}
	}
}

func kinds(rs []ref) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.kind)
	}
	return strings.Join(s, " ")
}

// requireInArena checks, against /proc/self/maps, that every reference in
// the clone points into a shared memfd mapping of the named arena.
func requireInArena(t *testing.T, clone any, name string) {
	t.Helper()
	maps, err := vm.ReadMaps()
	if err != nil {
		t.Skipf("no /proc/self/maps: %v", err)
	}
	for _, r := range refs(clone) {
		if r.addr == 0 {
			continue
		}
		e, ok := maps.Find(r.addr)
		require.True(t, ok, "%s (%#x) is not mapped", r.path, r.addr)
		require.True(t, e.Shared(), "%s (%#x) is in a private mapping %+v", r.path, r.addr, e)
		if vm.Backend == "memfd" {
			require.Contains(t, e.Path, "memfd:"+name, "%s (%#x) is in %q", r.path, r.addr, e.Path)
		}
	}
}
