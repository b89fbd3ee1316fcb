// This file names the Go field at an arena offset, for fault reports and
// Verify's descriptions: "Config.Endpoints[1].Port".
//
// Unsafe, and why it is sound: it reads the pointer, length and interface
// type words of records at the offsets their layouts give, as integers,
// and never follows them: a word that a stray write changed names a wrong
// field at worst. Records lie within the arena's used bytes, which stay
// mapped while the caller holds the region's lock or owns the arena.

package offheap

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/frozen-go/frozen/internal/layout"
)

// route is a pointer word by which a path enters a record.
type route struct {
	slot   uintptr // arena offset of the word
	target uintptr // arena offset it points to
	extent uintptr // bytes it reaches from target: a slice's or string's data, the pointee
	slice  bool    // a slice's or string's data word: its elements are named by index
	// elem is the type it points to: a pointer's pointee, a slice's
	// element, an interface's value (taken to be the type of the record
	// it points into, as its type word is not followed); nil for a
	// string's bytes.
	elem *layout.Type
}

// covers reports whether off lies within what rt reaches.
func (rt route) covers(off uintptr) bool { return rt.target <= off && off-rt.target < rt.extent }

// rank says how well rt names record c, which holds size bytes at arena
// offset lo: 0 if it reaches c's first byte (a slice of a whole array, not
// a pointer to one of its elements, nor an empty slice), 1 if it points
// into c elsewhere, 2 if it does not lead to c. A word that reaches no
// byte leads only to a zero-size record it points at: Freeze points empty
// slices and strings, and pointers to zero-size values, anywhere in the
// region, often at its first byte.
func (rt route) rank(lo, size uintptr) int {
	switch {
	case rt.covers(lo):
		return 0
	case rt.extent == 0 && size != 0:
		return 2
	case rt.target >= lo && rt.target < lo+max(size, 1):
		return 1
	}
	return 2
}

// better reports whether rt names record c (size bytes at lo) better than
// old: a lower rank, then the word pointing lowest; the first found wins
// ties.
func (rt route) better(old route, lo, size uintptr) bool {
	r, o := rt.rank(lo, size), old.rank(lo, size)
	return r < o || r == o && rt.target < old.target
}

// offsetIn returns the arena offset of address v in one of the arena's
// views of its used bytes (a.views(0, a.used)).
func offsetIn(views []window, v uintptr) (uintptr, bool) {
	for _, w := range views {
		if w.has(v) {
			return v - w.lo, true
		}
	}
	return 0, false
}

// eachRoute calls f with every pointer word of record parent that points
// into the arena. An interface's data word (whose type word is not
// followed) reaches one element of the record it points into.
func (a *Arena) eachRoute(parent int, f func(route)) {
	p := a.recs.at(parent)
	pt := layout.ByID(p.Type)
	if pt.PtrFree {
		return
	}
	slots := flatSlots(pt)
	routeWords.Add(int64(p.N) * int64(len(slots)))
	base, views := a.rng.Addr(), a.views(0, a.used)
	for k := uint64(0); k < p.N; k++ {
		elem := uintptr(p.Off) + uintptr(k)*pt.Size
		for _, s := range slots {
			w := unsafe.Add(base, elem+s.Off)
			rt := route{slot: elem + s.Off}
			iface := false
			switch s.Kind {
			case layout.SlotPointer:
				if s.Elem == nil {
					iface = true
				} else {
					rt.extent, rt.elem = s.Elem.Size, s.Elem
				}
			case layout.SlotSlice:
				rt.extent, rt.slice, rt.elem = sliceLen(w)*s.Elem.Size, true, s.Elem
			case layout.SlotString:
				rt.extent, rt.slice = *(*uintptr)(unsafe.Add(w, ptrSize)), true
			case layout.SlotEface, layout.SlotIface:
				if *(*uintptr)(w) == 0 { // the type word, read as an integer only
					continue
				}
				rt.slot, iface = rt.slot+ptrSize, true
			default:
				continue
			}
			off, ok := offsetIn(views, *(*uintptr)(unsafe.Add(base, rt.slot)))
			if !ok {
				continue
			}
			rt.target = off
			if iface {
				if j := a.recordAt(off); j >= 0 {
					rt.elem = layout.ByID(a.recs.at(j).Type)
					rt.extent = rt.elem.Size
				}
			}
			f(rt)
		}
	}
}

// routeWords counts the pointer words eachRoute has read, for the test
// that naming the allocations of many pages reads each about once.
var routeWords atomic.Int64

// indexAfter is how many questions about one parent record a namer
// answers by walking it before it indexes the parent's words by the
// record they lead to: a fault report asks once per level, Verify's
// description of many changed pages may ask thousands of times.
const indexAfter = 4

// namer names offsets; one namer answers the questions of one report.
type namer struct {
	a     *Arena
	asked map[int]int           // questions per parent record
	index map[int]map[int]route // parent → child → the best route to it
	// wide lets a path leave a record by a word outside its parent
	// record (see anyRoute), which walks the whole arena: for naming one
	// offset, not for describing every allocation of many pages.
	wide bool
}

func (a *Arena) newNamer() *namer { return &namer{a: a} }

// recSpan returns record j's arena offset and size in bytes.
func (a *Arena) recSpan(j int) (lo, size uintptr) {
	rec := a.recs.at(j)
	return uintptr(rec.Off), uintptr(rec.N) * layout.ByID(rec.Type).Size
}

// best returns the word of record parent that best names record child
// (see route.better).
func (n *namer) best(parent, child int) (route, bool) {
	if parent < 0 || parent >= n.a.recs.len() {
		return route{}, false
	}
	if m, ok := n.index[parent]; ok {
		rt, ok := m[child]
		return rt, ok
	}
	if n.asked == nil {
		n.asked = map[int]int{}
	}
	if n.asked[parent]++; n.asked[parent] > indexAfter {
		n.buildIndex(parent)
		return n.best(parent, child)
	}
	lo, size := n.a.recSpan(child)
	var out route
	found := false
	n.a.eachRoute(parent, func(rt route) {
		if rt.rank(lo, size) < 2 && (!found || rt.better(out, lo, size)) {
			out, found = rt, true
		}
	})
	return out, found
}

// buildIndex walks record parent once and keeps, for every record its
// words lead to, the best of them.
func (n *namer) buildIndex(parent int) {
	a := n.a
	m := map[int]route{}
	consider := func(j int, rt route) {
		lo, size := a.recSpan(j)
		if rt.rank(lo, size) == 2 {
			return
		}
		if old, ok := m[j]; !ok || rt.better(old, lo, size) {
			m[j] = rt
		}
	}
	a.eachRoute(parent, func(rt route) {
		j := a.recordAt(rt.target)
		if j < 0 {
			return
		}
		consider(j, rt)
		// Records that start further on within its reach: a slice
		// overlapping another in part, whose record starts past the
		// overlap.
		for k := j + 1; k < a.recs.len() && uintptr(a.recs.at(k).Off) < rt.target+rt.extent; k++ {
			consider(k, rt)
		}
	})
	if n.index == nil {
		n.index = map[int]map[int]route{}
	}
	n.index[parent] = m
}

// route returns the word of record parent by which to name arena offset
// off in record child: the one that best names child, or, if that one
// does not reach off (a pointer to one element of an array that other
// pointers reach elsewhere), the word reaching off that points lowest.
func (n *namer) route(parent, child int, off uintptr) (route, bool) {
	rt, ok := n.best(parent, child)
	if ok && rt.covers(off) {
		return rt, true
	}
	var cover route
	covered := false
	n.a.eachRoute(parent, func(c route) {
		if c.covers(off) && (!covered || c.target < cover.target) {
			cover, covered = c, true
		}
	})
	if covered {
		return cover, true
	}
	return rt, ok
}

// PathAt names the Go field at arena offset off, from the root of the value
// that holds it: "Config.Endpoints[1].Port". Offsets outside any allocation
// give "".
func (a *Arena) PathAt(off uintptr) string { return (&namer{a: a, wide: true}).path(off) }

// anyRoute finds a word reaching arena offset off of record child from
// any other record, for an offset that no word of child's parent record
// reaches (a record that pointers from several records reach in
// different parts: a cycle through an array's elements, say). Of those
// words it takes one in the record nearest the root (fewest parent
// links), and returns it with its record.
func (n *namer) anyRoute(child int, off uintptr) (route, int, bool) {
	a := n.a
	var out route
	at, depth := -1, 0
	for j := range a.recs.len() {
		if j == child || a.recs.at(j).Parent == RunOfStrings {
			continue
		}
		d := -1
		a.eachRoute(j, func(rt route) {
			if !rt.covers(off) {
				return
			}
			if d < 0 {
				d = a.depth(j)
			}
			if at < 0 || d < depth || d == depth && rt.target < out.target {
				out, at, depth = rt, j, d
			}
		})
	}
	return out, at, at >= 0
}

// depth counts the parent links from record j to a root, up to a bound.
func (a *Arena) depth(j int) int {
	d := 0
	for ; d < 4*maxPathDepth; d++ {
		p := a.recs.at(j).Parent
		if p == NoParent || p == RunOfStrings || p == RunOfTyped || int(p) >= a.recs.len() {
			break
		}
		j = int(p)
	}
	return d
}

func (n *namer) path(off uintptr) string {
	a := n.a
	j := a.recordAt(off)
	if j < 0 {
		return ""
	}
	var parts []string
	for depth := 0; ; depth++ {
		if depth == maxPathDepth {
			parts = append(parts, "…")
			break
		}
		rec := a.recs.at(j)
		t := layout.ByID(rec.Type)
		local := off - uintptr(rec.Off)
		if rec.Parent == RunOfStrings {
			// A run holds the bytes of many strings: name the string
			// that holds this byte, as its field indexed by the byte.
			slot, i, ok := a.stringHolding(off)
			if !ok {
				parts = append(parts, "string data")
				break
			}
			parts = append(parts, fmt.Sprintf("[%d]", i))
			if j = a.recordAt(slot); j < 0 {
				parts = append(parts, "(?)")
				break
			}
			off = slot
			continue
		}
		if rec.Parent == RunOfTyped {
			// One of a run of typed allocations: "Point#3.X".
			if t.Size == 0 {
				parts = append(parts, t.Name())
			} else {
				parts = append(parts, fmt.Sprintf("%s#%d", t.Name(), local/t.Size)+layout.FieldPath(t.RType, local%t.Size))
			}
			break
		}
		if rec.Parent == NoParent {
			parts = append(parts, elemPath(t, local, rec.N != 1))
			name := t.Name()
			if rec.N != 1 {
				name = "[]" + name
			}
			parts = append(parts, name)
			break
		}
		rt, ok := n.route(int(rec.Parent), j, off)
		next := int(rec.Parent)
		if n.wide && (!ok || !rt.covers(off)) {
			if w, k, found := n.anyRoute(j, off); found {
				rt, next, ok = w, k, true
			}
		}
		if !ok || !rt.covers(off) {
			parts = append(parts, elemPath(t, local, rec.N != 1), "(?)")
			break
		}
		// Named from where the word points, in the type it points to: a
		// slice's elements by index, a pointee's fields (its elements,
		// if it is an array).
		e := rt.elem
		if e == nil {
			e = t
		}
		parts = append(parts, elemPath(e, off-rt.target, rt.slice))
		j, off = next, rt.slot
	}
	slices.Reverse(parts)
	return strings.Join(parts, "")
}

// elemPath names offset local in elements of type t: "[2].Port" if
// indexed, ".Port" if not.
func elemPath(t *layout.Type, local uintptr, indexed bool) string {
	switch {
	case !indexed:
		return layout.FieldPath(t.RType, local)
	case t.Size == 0:
		return "[0]"
	}
	return fmt.Sprintf("[%d]", local/t.Size) + layout.FieldPath(t.RType, local%t.Size)
}

// allocationPath names record j as a whole: the field that points to it
// (a path from the root), or its type where nothing does.
func (n *namer) allocationPath(j int) string {
	a := n.a
	rec := a.recs.at(j)
	t := layout.ByID(rec.Type)
	switch rec.Parent {
	case RunOfStrings:
		return "string data"
	case RunOfTyped:
		return fmt.Sprintf("%s#0…%d", t.Name(), rec.N-1)
	case NoParent:
		if rec.N != 1 {
			return "[]" + t.Name()
		}
		return t.Name()
	}
	if rt, ok := n.best(int(rec.Parent), j); ok {
		return n.path(rt.slot)
	}
	return t.Name()
}
