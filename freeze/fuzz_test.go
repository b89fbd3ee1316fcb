//go:build unix && !aix

package freeze_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/backdoor"
	"github.com/frozen-go/frozen/internal/graphtest"
	"github.com/frozen-go/frozen/internal/layout"
	"github.com/frozen-go/frozen/internal/vm"
)

// FuzzFaultPath writes single bytes into a frozen clone of a catalogue
// graph, each under Guard, and checks that the write faults at the byte
// written and that the WriteFault's Path, followed from the root of the
// read-only view, names a field, element or string byte whose memory
// holds that byte. The bytes are picked from the references the view
// holds: every one lies in an allocation reachable from the root, so
// every one must get a path. Then it changes one of those bytes that
// holds data (not a pointer or length word) by a route around the
// protection (the owner's mapping in Alias mode, a brief mprotect in
// Protect mode; sealed memory must refuse both that and /proc/self/mem)
// and checks that Verify reports that byte's page and
// names each allocation there by a path leading to it.
func FuzzFaultPath(f *testing.F) {
	if vm.FaultPageOnly {
		f.Skip("the kernel reports only the page of a fault")
	}
	ms := modes(f)
	f.Fuzz(func(t *testing.T, data, probes []byte) {
		if len(data) > 4096 || len(probes) > 64 {
			return
		}
		m := freeze.Protect
		if len(probes) > 0 {
			m, probes = ms[int(probes[0])%len(ms)], probes[1:]
		}
		a, err := arena.NewArena(arena.WithName("fuzzpath"))
		require.NoError(t, err)
		defer a.Close()
		c, err := arena.Clone(a, graphtest.Build(data))
		require.NoError(t, err)
		r, err := freeze.Freeze(a, m)
		require.NoError(t, err)
		ro := freeze.ReadOnly(r, c)
		var refs []graphtest.Ref
		for _, ref := range graphtest.Refs(ro) {
			if ref.Addr != 0 && ref.Size > 0 {
				refs = append(refs, ref)
			}
		}
		if len(refs) == 0 || len(probes) < 2 {
			return
		}
		var base uintptr // the view's address of arena offset 0
		var scalar *byte // a byte named as data, no pointer or length word
		for i := 0; i+1 < len(probes); i += 2 {
			ref := refs[int(probes[i])%len(refs)]
			k := uintptr(probes[i+1]) % ref.Size
			p := (*byte)(unsafe.Add(unsafe.Pointer(nil), ref.Addr+k))
			var wf *freeze.WriteFault
			require.ErrorAs(t, freeze.Guard(func() { *p = 0 }), &wf, "byte %d of %s", k, ref.Path)
			require.Equal(t, ref.Addr+k, wf.Addr)
			base = wf.Addr - wf.Offset
			v, named, err := resolvePath(ro, wf.Path, holds(wf.Addr))
			require.NoError(t, err, "byte %d of %s (%s, offset %#x) named %q", k, ref.Path, m, wf.Offset, wf.Path)
			named = ends(v, named)
			require.True(t, holds(wf.Addr)(v, named),
				"byte %d of %s (%s, offset %#x) named %q, which spans %v, not %#x",
				k, ref.Path, m, wf.Offset, wf.Path, named, wf.Addr)
			if scalar == nil && (!v.IsValid() && len(named) == 1 && named[0].hi-named[0].lo == 1 ||
				v.IsValid() && v.Kind() >= reflect.Int && v.Kind() <= reflect.Uint64) {
				scalar = p
			}
		}
		// Any byte of the region: between allocations, or in the root
		// word, which no path from the view reaches, the path may be ""
		// or the root's type; elsewhere it names memory holding the byte.
		root := layout.ShortName(reflect.TypeOf(ro))
		for i := 0; i+1 < len(probes); i += 2 {
			off := (uintptr(probes[i])<<8 | uintptr(probes[i+1])) % uintptr(r.Size())
			p := (*byte)(unsafe.Add(unsafe.Pointer(nil), base+off))
			var wf *freeze.WriteFault
			require.ErrorAs(t, freeze.Guard(func() { *p = 0 }), &wf, "offset %#x", off)
			require.Equal(t, off, wf.Offset)
			if wf.Path == "" || wf.Path == root {
				continue
			}
			v, named, err := resolvePath(ro, wf.Path, holds(wf.Addr))
			require.NoError(t, err, "offset %#x (%s) named %q", off, m, wf.Path)
			named = ends(v, named)
			require.True(t, holds(wf.Addr)(v, named),
				"offset %#x (%s) named %q, which spans %v, not %#x", off, m, wf.Path, named, wf.Addr)
		}
		require.NoError(t, r.Verify(), "writes that faulted changed nothing")
		if scalar == nil {
			return
		}

		// Change a data byte by a route around the protection, through
		// the owner's address of it, leaving the graph's words alone: the
		// paths below follow them.
		off := uintptr(unsafe.Pointer(scalar)) - base
		p := (*byte)(unsafe.Add(unsafe.Pointer(c), int(off)-int(uintptr(unsafe.Pointer(ro))-base)))
		if m == freeze.Seal { // no route around the protection
			require.Error(t, backdoor.Reprotect(p, ^*p))
			require.Error(t, backdoor.ProcMem(p, ^*p))
			require.NoError(t, r.Verify())
			return
		}
		writeAround(t, m, p, ^*p)
		var ce *freeze.CorruptionError
		require.ErrorAs(t, r.Verify(), &ce, "byte at offset %#x changed (%s)", off, m)
		i := slices.IndexFunc(ce.Changed, func(pg freeze.ChangedPage) bool { return pg.Start <= off && off < pg.End })
		require.GreaterOrEqual(t, i, 0, "the page of offset %#x is not reported: %v", off, ce)
		for _, al := range ce.Changed[i].Allocations {
			if al.Path == "string data" || al.Path == root {
				continue // the strings of one Clone, packed; the root word
			}
			lo, hi := base+al.Offset, base+al.Offset+max(al.Size, 1)
			v, named, err := resolvePath(ro, al.Path, func(v reflect.Value, named []span) bool {
				tgt, ok := target(v)
				return named == nil && ok && tgt.lo < hi && lo < max(tgt.hi, tgt.lo+1)
			})
			require.NoError(t, err, "allocation %+v (%s)", al, m)
			require.Nil(t, named, "allocation %+v names no reference (%s)", al, m)
			tgt, ok := target(v)
			require.True(t, ok, "allocation %+v is named by a %s (%s)", al, v.Type(), m)
			require.True(t, tgt.lo < hi && lo < max(tgt.hi, tgt.lo+1),
				"allocation %+v at %#x is named by a reference to %v (%s)", al, lo, tgt, m)
		}
	})
}

// resolvePath follows a path ("*FNode.Kids[1].Any.(FVal).Name[2]") from
// root, a pointer to the root's type. It returns the value the path ends
// at (addressable), or, where the path ends at a byte of a string or at
// what an interface points to, the bytes of those. A path cut short at
// its maximum depth begins with "…" where the root would be: its rest is
// followed from each value reachable from root in turn (graphtest.Walk), and the first
// end that fits (given the value and the bytes, as returned) is
// returned; nil fits refuses cut paths.
func resolvePath(root any, path string, fits func(reflect.Value, []span) bool) (reflect.Value, []span, error) {
	var none reflect.Value
	rv := reflect.ValueOf(&root).Elem().Elem()
	v := reflect.New(rv.Type()).Elem() // addressable, as the arena's root word
	v.Set(rv)
	name := layout.ShortName(v.Type())
	derefs := 0 // "(*" opened before the root, each closed by a ")"
	for strings.HasPrefix(path, "(*") {
		path = path[2:]
		derefs++
	}
	if rest, ok := strings.CutPrefix(path, "…"); ok {
		if fits == nil {
			return none, nil, errors.New("path cut short")
		}
		var froms []reflect.Value
		graphtest.Walk(v.Interface(), func(from reflect.Value, _ string) { froms = append(froms, from) })
		for _, from := range froms {
			if end, named, err := follow(from, rest, derefs); err == nil && fits(end, named) {
				return end, named, nil
			}
		}
		return none, nil, fmt.Errorf("no value reachable from the root leads by %q to what the path should name", rest)
	}
	if !strings.HasPrefix(path, name) {
		return none, nil, fmt.Errorf("path does not start at the root %s", name)
	}
	return follow(v, path[len(name):], derefs)
}

// follow follows the steps of a path, rest, from v (addressable), inside
// derefs "(*" opened before v; see resolvePath.
func follow(v reflect.Value, rest string, derefs int) (reflect.Value, []span, error) {
	var none reflect.Value
	deref := func() error {
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return fmt.Errorf("nil pointer before %q", rest)
			}
			v = v.Elem()
		}
		return nil
	}
	for rest != "" {
		switch {
		case rest[0] == ')':
			rest = rest[1:]
			if derefs--; derefs < 0 {
				return none, nil, fmt.Errorf("unopened ) before %q", rest)
			}
			if v.Kind() != reflect.Pointer || v.IsNil() {
				return none, nil, fmt.Errorf("(*…) of a %s", v.Kind())
			}
			if k := v.Type().Elem().Kind(); k == reflect.Struct || k == reflect.Array {
				return none, nil, fmt.Errorf("(*…) of a pointer to a %s, which a field or index follows without it", k)
			}
			v = v.Elem()
		case strings.HasPrefix(rest, ".("):
			end := strings.IndexByte(rest, ')')
			if end < 0 {
				return none, nil, fmt.Errorf("unclosed assertion at %q", rest)
			}
			want := rest[2:end]
			rest = rest[end+1:]
			if v.Kind() != reflect.Interface || v.IsNil() {
				return none, nil, fmt.Errorf("assertion .(%s) on %s", want, v.Kind())
			}
			et := v.Elem().Type()
			if got := layout.ShortName(et); got != want {
				return none, nil, fmt.Errorf("assertion .(%s) on an interface holding %s", want, got)
			}
			if et.Kind() == reflect.Pointer {
				v = v.Elem()
				if k := et.Elem().Kind(); rest == "" && !v.IsNil() && (k == reflect.Struct || k == reflect.Array) {
					return none, []span{pointee(v)}, nil // the pointee, whose field or index is not named
				}
				continue
			}
			// A boxed value: the interface's data word points to the box.
			box := (*[2]unsafe.Pointer)(unsafe.Pointer(v.UnsafeAddr()))[1]
			v = reflect.NewAt(et, box).Elem()
		case rest[0] == '.':
			end := 1
			for end < len(rest) && rest[end] != '.' && rest[end] != '[' && rest[end] != ')' {
				end++
			}
			field := rest[1:end]
			rest = rest[end:]
			if err := deref(); err != nil {
				return none, nil, err
			}
			if v.Kind() != reflect.Struct {
				return none, nil, fmt.Errorf("field %s of a %s", field, v.Kind())
			}
			if v = v.FieldByName(field); !v.IsValid() {
				return none, nil, fmt.Errorf("no field %s", field)
			}
		case rest[0] == '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return none, nil, fmt.Errorf("unclosed index at %q", rest)
			}
			i, err := strconv.Atoi(rest[1:end])
			if err != nil {
				return none, nil, fmt.Errorf("index %q: %v", rest[1:end], err)
			}
			rest = rest[end+1:]
			if err := deref(); err != nil {
				return none, nil, err
			}
			switch v.Kind() {
			case reflect.String:
				s := v.String()
				if i >= len(s) || rest != "" {
					return none, nil, fmt.Errorf("byte %d of a string of %d, then %q", i, len(s), rest)
				}
				p := uintptr(unsafe.Pointer(unsafe.StringData(s))) + uintptr(i)
				return none, []span{{p, p + 1}}, nil
			case reflect.Slice, reflect.Array:
				if i >= v.Len() {
					return none, nil, fmt.Errorf("index %d of %d", i, v.Len())
				}
				v = v.Index(i)
			default:
				return none, nil, fmt.Errorf("index %d of a %s", i, v.Kind())
			}
		default:
			return none, nil, fmt.Errorf("cannot read %q", rest)
		}
	}
	if derefs != 0 {
		return none, nil, fmt.Errorf("%d (*… not closed", derefs)
	}
	return v, nil, nil
}

// holds returns a fits for resolvePath: the end of the path holds the byte
// at addr.
func holds(addr uintptr) func(reflect.Value, []span) bool {
	return func(v reflect.Value, named []span) bool {
		return slices.ContainsFunc(ends(v, named), func(s span) bool { return s.contains(addr) })
	}
}

// ends returns the memory the end of a path names, given what
// resolvePath returned: the bytes, or else the value's spans.
func ends(v reflect.Value, named []span) []span {
	if named == nil && v.IsValid() {
		return spans(v)
	}
	return named
}

// spans returns the memory a path ending at v names: v's, and if v is a
// pointer to a struct or an array, its pointee's too (the namer spells
// the two alike, as a field or index after either reads the same; what
// any other pointer points to is named in "(*…)").
func spans(v reflect.Value) []span {
	named := []span{{v.UnsafeAddr(), v.UnsafeAddr() + v.Type().Size()}}
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		if k := v.Type().Elem().Kind(); k == reflect.Struct || k == reflect.Array {
			named = append(named, pointee(v))
		}
	}
	return named
}

// target returns the memory reference v points to, if v is one.
func target(v reflect.Value) (span, bool) {
	switch v.Kind() {
	case reflect.Pointer:
		return pointee(v), !v.IsNil()
	case reflect.Slice:
		p := v.Pointer()
		return span{p, p + uintptr(v.Len())*v.Type().Elem().Size()}, !v.IsNil()
	case reflect.String:
		p := uintptr(unsafe.Pointer(unsafe.StringData(v.String())))
		return span{p, p + uintptr(v.Len())}, v.Len() > 0
	case reflect.Interface:
		if v.IsNil() {
			return span{}, false
		}
		if et := v.Elem().Type(); et.Kind() == reflect.Pointer {
			return target(v.Elem())
		}
		box := (*[2]unsafe.Pointer)(unsafe.Pointer(v.UnsafeAddr()))[1]
		return span{uintptr(box), uintptr(box) + v.Elem().Type().Size()}, true
	}
	return span{}, false
}

// span is the memory [lo, hi) a path names.
type span struct{ lo, hi uintptr }

func (s span) contains(p uintptr) bool { return s.lo <= p && p < s.hi }

func (s span) String() string { return fmt.Sprintf("[%#x, %#x)", s.lo, s.hi) }

func pointee(v reflect.Value) span {
	p := v.Pointer()
	return span{p, p + v.Type().Elem().Size()}
}
