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
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"sync/atomic"
	"unsafe"

	"github.com/frozen-go/frozen/internal/layout"
)

// A path climbs from the allocation holding an offset to a root, one
// pointer word at a time. Each record knows the record that first
// reached it while it was cloned (its parent); the word taken is one of
// the parent's words that reaches the offset. A record that pointers
// from several records reach in different parts (an array, one of whose
// elements a pointer reached first) may have no such word in its parent;
// then the path leaves it by a word of another record.

// route is a pointer word by which a path enters a record.
type route struct {
	rec    int          // record holding the word
	slot   uintptr      // arena offset of the word
	target uintptr      // arena offset it points to
	extent uintptr      // bytes it reaches from target
	elem   *layout.Type // the type named from target; nil: nothing is named past the word
	slice  bool         // a slice's or string's data word: elements named by index
	iface  bool         // an interface's data word
	// dyn is the interface's dynamic type, where its type word is one
	// that Clone met (layout.Known); nil if not known.
	dyn *layout.Type
}

// rank orders the kinds of word a path may take, best first: a typed
// pointer (0), an interface's data word of known dynamic type (1), whose
// path is as exact but names a field of the container less often, and
// one of unknown type (2), past which names are guesses from the
// allocation it points into.
func (rt route) rank() int {
	switch {
	case !rt.iface:
		return 0
	case rt.dyn != nil:
		return 1
	}
	return 2
}

// covers reports whether off lies within what rt reaches.
func (rt route) covers(off uintptr) bool { return rt.target <= off && off-rt.target < rt.extent }

// routeWords counts the pointer words eachRoute has read, for the test
// that naming the allocations of many pages reads each about once.
var routeWords atomic.Int64

// indexAfter is how many questions about one parent record a namer
// answers by walking it before it indexes the parent's words by the
// record they lead to: a fault report asks once per level, Verify's
// description of many changed pages may ask thousands of times.
const indexAfter = 4

// maxDetours bounds how often one path looks for a way out of a record
// other than by its parent: each look reads every pointer word of the
// arena when naming one fault (about 50 ms per million records here). In
// an arena of up to freeLooks records and freeWords pointer words, where
// a look costs well under a millisecond, a path may look at every step
// (one whose parent links stop short of the root at some record, which
// its parent reaches only by a pointer to one field, looks at every step
// below it too), and a look keeps only the words from which a path goes
// on to a root, by parent links or by more detours (reaches), searching
// at most maxSearch places.
const (
	maxDetours = 4
	freeLooks  = 1 << 12
	freeWords  = 1 << 16
	maxSearch  = 32
)

// A report that names many offsets indexes every word of an arena of up
// to indexAllBytes before its first detour (the index takes about ten
// times the arena's memory); in a larger one it makes at most
// maxReportDetours detours, each reading the whole arena.
const (
	indexAllBytes    = 4 << 20
	maxReportDetours = 8
)

// namer names offsets; one namer answers the questions of one report.
type namer struct {
	a     *Arena
	views []window                // the arena's used bytes, in each mapping
	asked map[int]int             // questions per parent record
	index map[int]map[int][]route // parent → child → the words leading to it
	// many is set for a report that names many offsets (Verify's): see
	// indexAllBytes.
	many     bool
	all      map[int][]route       // child → every word leading to it (many)
	detours  int                   // detours made by scanning the arena
	sorted   map[[2]int]sortedInto // (parent, child) → the parent's words into child
	rootMemo map[place]bool        // rooted, by word
	smallSet bool                  // small is known
	isSmall  bool
	typed    []typedRun // the runs of typed allocations, in record order (typedIndex)
}

// typedRun is a run of typed allocations, record rec, with the number of
// elements of its type that the runs before it hold.
type typedRun struct {
	rec   int
	first uint64
}

// typedIndex returns the index of the first element of run j among every
// element of its type that the arena's typed allocations (New, MakeSlice,
// String, Bytes) made: "Point#7" is the eighth Point they made, whichever
// run holds it, so that two runs of one type, split by an allocation of
// another, name their elements apart. One pass over the records, on
// first use.
func (n *namer) typedIndex(j int) uint64 {
	if n.typed == nil {
		n.typed = []typedRun{}
		count := map[uint32]uint64{}
		for k := 0; k < n.a.recs.len(); k++ {
			if rec := n.a.recs.at(k); rec.Parent == RunOfTyped {
				n.typed = append(n.typed, typedRun{rec: k, first: count[rec.Type]})
				count[rec.Type] += rec.N
			}
		}
	}
	i, ok := slices.BinarySearchFunc(n.typed, j, func(r typedRun, j int) int { return cmp.Compare(r.rec, j) })
	if !ok {
		panic(fmt.Sprintf("offheap: typedIndex(%d): not a run of typed allocations", j))
	}
	return n.typed[i].first
}

// small reports whether the arena has at most freeLooks records and
// freeWords pointer words, so that looking at all of them at every step
// of a path is cheap.
func (n *namer) small() bool {
	if !n.smallSet {
		n.smallSet = true
		n.isSmall = n.a.recs.len() <= freeLooks
		words := uint64(0)
		for j := 0; n.isSmall && j < n.a.recs.len(); j++ {
			pt, p := n.recordSlots(j)
			if pt != nil {
				words += p.N * uint64(pt.Edges)
			}
			n.isSmall = words <= freeWords
		}
	}
	return n.isSmall
}

// recordSlots returns record j and its type if its elements have pointer
// slots, and a nil type for a record without pointers or of string bytes.
func (n *namer) recordSlots(j int) (*layout.Type, *Record) {
	p := n.a.recs.at(j)
	pt := layout.ByID(p.Type)
	if p.Parent == RunOfStrings || pt.PtrFree {
		return nil, p
	}
	return pt, p
}

func (a *Arena) newNamer(many bool) *namer {
	return &namer{a: a, views: a.views(0, a.used), many: many}
}

// eachRoute calls f with every word of record j that points into the
// arena. An interface's data word reaches what its dynamic type says,
// where the type word is one Clone met (looked up, never followed: see
// layout.Known). Otherwise, one that points at the start of an element
// of a record reaches that element (a boxed value, or a pointer to it);
// one that points inside an element (a pointer to a field, of a type not
// known here) reaches only the byte it points at, and names nothing past
// the interface.
func (n *namer) eachRoute(j int, f func(route)) {
	a := n.a
	pt, p := n.recordSlots(j)
	if pt == nil || pt.Edges == 0 {
		return
	}
	routeWords.Add(int64(p.N) * int64(pt.Edges))
	base := a.rng.Addr()
	visit := func(slot uintptr, s *layout.Slot) {
		w := unsafe.Add(base, slot)
		rt := route{rec: j, slot: slot}
		switch s.Kind {
		case layout.SlotPointer:
			if s.Elem == nil {
				rt.iface = true
			} else {
				rt.extent, rt.elem = s.Elem.Size, s.Elem
			}
		case layout.SlotSlice:
			rt.extent, rt.slice, rt.elem = sliceLen(w)*s.Elem.Size, true, s.Elem
		case layout.SlotString:
			// Indexed by byte, whatever allocation holds the bytes: the
			// linker gives a string literal and a boxed constant with
			// the same bytes one address, so a string's bytes may lie
			// in a typed allocation of another type.
			rt.extent, rt.slice, rt.elem = sliceLen(w), true, byteType
		case layout.SlotEface, layout.SlotIface:
			tw := *(*uintptr)(w) // the type word, read as an integer only
			if tw == 0 {
				return
			}
			rt.slot, rt.iface, rt.dyn = rt.slot+ptrSize, true, pointeeKnown(layout.Known(tw))
		default:
			return
		}
		off, ok := offsetIn(n.views, *(*uintptr)(unsafe.Add(base, rt.slot)))
		if !ok {
			return
		}
		rt.target = off
		if d := rt.dyn; d != nil {
			rt.elem = d
			if d.Direct {
				rt.elem = d.Slots[0].Elem
			}
			rt.extent = rt.elem.Size
		} else if rt.iface {
			c := a.recordAt(off)
			if c < 0 {
				return
			}
			cr := a.recs.at(c)
			ct := layout.ByID(cr.Type)
			if ct.Size == 0 || (off-uintptr(cr.Off))%ct.Size == 0 {
				rt.elem, rt.extent = ct, ct.Size
			} else {
				rt.extent = 1
			}
		}
		f(rt)
	}
	for k := uint64(0); k < p.N; k++ {
		eachSlot(pt.Slots, uintptr(p.Off)+uintptr(k)*pt.Size, visit)
	}
}

// pointeeKnown returns d if a path can name what an interface of dynamic
// type d points to (a boxed d, or the pointee of a pointer-shaped d), and
// nil otherwise (a type Clone refuses, met by its error path).
func pointeeKnown(d *layout.Type) *layout.Type {
	if d == nil || d.Err != nil || d.Direct && (len(d.Slots) == 0 || d.Slots[0].Elem == nil) {
		return nil
	}
	return d
}

// offsetIn returns the arena offset of address v in one of the arena's
// views of its used bytes.
func offsetIn(views []window, v uintptr) (uintptr, bool) {
	for _, w := range views {
		if w.has(v) {
			return v - w.lo, true
		}
	}
	return 0, false
}

// leadsTo calls f(k) for every record k that rt leads into: the one it
// points into, and those starting further on within its reach (a slice
// overlapping another in part, whose record starts past the overlap).
// A word that reaches no byte leads only to a zero-size record it points
// at: Freeze points empty slices and strings, and pointers to zero-size
// values, anywhere in the region, often at its first byte.
func (a *Arena) leadsTo(rt route, f func(k int)) {
	j := a.recordAt(rt.target)
	if j < 0 {
		return
	}
	if lo, size := a.recSpan(j); rt.extent > 0 || size == 0 && rt.target == lo {
		f(j)
	}
	for k := j + 1; k < a.recs.len() && uintptr(a.recs.at(k).Off) < rt.target+rt.extent; k++ {
		f(k)
	}
}

// recSpan returns record j's arena offset and size in bytes.
func (a *Arena) recSpan(j int) (lo, size uintptr) {
	rec := a.recs.at(j)
	return uintptr(rec.Off), uintptr(rec.N) * layout.ByID(rec.Type).Size
}

// into returns the words of record parent that lead into record child.
func (n *namer) into(parent, child int) []route {
	if parent < 0 || parent >= n.a.recs.len() {
		return nil
	}
	if m, ok := n.index[parent]; ok {
		return m[child]
	}
	if n.asked == nil {
		n.asked = map[int]int{}
	}
	n.asked[parent]++
	if n.asked[parent] > indexAfter {
		m := map[int][]route{}
		n.eachRoute(parent, func(rt route) {
			n.a.leadsTo(rt, func(k int) { m[k] = append(m[k], rt) })
		})
		if n.index == nil {
			n.index = map[int]map[int][]route{}
		}
		n.index[parent] = m
		return m[child]
	}
	var out []route
	n.eachRoute(parent, func(rt route) {
		n.a.leadsTo(rt, func(k int) {
			if k == child {
				out = append(out, rt)
			}
		})
	})
	return out
}

// rooted reports whether the path can go on from rt's word to a root by
// parent links alone: its record is a root, or a word of the record's
// parent reaches the word and is rooted itself. (A node that an Update
// unlinked still has its parent's word, which leads nowhere.)
func (n *namer) rooted(rt route) bool { return n.rootedAt(rt.rec, rt.slot, 0) }

type place struct {
	rec int
	off uintptr
}

func (n *namer) rootedAt(j int, off uintptr, depth int) bool {
	rec := n.a.recs.at(j)
	switch {
	case rec.Parent == NoParent:
		return true
	case rec.Parent == RunOfStrings || rec.Parent == RunOfTyped:
		return false
	case depth == maxPathDepth:
		return true // as far as a path is spelled out
	}
	key := place{j, off}
	if v, ok := n.rootMemo[key]; ok {
		return v
	}
	if n.rootMemo == nil {
		n.rootMemo = map[place]bool{}
	}
	n.rootMemo[key] = false // going round a cycle leads to no root
	res := false
	parent := int(rec.Parent)
	n.eachCovering(parent, j, off, func(up route) bool {
		res = n.rootedAt(parent, up.slot, depth+1)
		return !res
	})
	n.rootMemo[key] = res
	return res
}

// sortedInto holds the words of a parent record leading into a child,
// sorted by target, and the longest reach among them.
type sortedInto struct {
	words  []route
	maxExt uintptr
}

// eachCovering calls f with the words of record parent leading into
// record child that reach off, nearest target first, until f returns
// false. With the words sorted by target, it looks only at those whose
// target lies within the longest reach below off.
func (n *namer) eachCovering(parent, child int, off uintptr, f func(route) bool) {
	key := [2]int{parent, child}
	s, ok := n.sorted[key]
	if !ok {
		s.words = slices.Clone(n.into(parent, child))
		slices.SortStableFunc(s.words, func(x, y route) int { return cmp.Compare(x.target, y.target) })
		for _, w := range s.words {
			s.maxExt = max(s.maxExt, w.extent)
		}
		if n.sorted == nil {
			n.sorted = map[[2]int]sortedInto{}
		}
		n.sorted[key] = s
	}
	i, _ := slices.BinarySearchFunc(s.words, off+1, func(w route, v uintptr) int { return cmp.Compare(w.target, v) })
	for i--; i >= 0 && off-s.words[i].target < s.maxExt; i-- {
		if s.words[i].covers(off) && !f(s.words[i]) {
			return
		}
	}
}

// choose returns, of the words in cands that reach off, the best: the
// best rank (a typed word before an interface's), then one from which
// the path goes on by parent links (rooted), then the one pointing
// lowest (the container, not a pointer to one of its elements); the
// first found wins ties. rooted reports whether the word returned is.
func (n *namer) choose(cands []route, off uintptr) (best route, found, rooted bool) {
	for _, rt := range cands {
		if !rt.covers(off) {
			continue
		}
		r := n.rooted(rt)
		switch {
		case !found, rt.rank() < best.rank():
		case rt.rank() > best.rank():
			continue
		case r && !rooted:
		case rooted && !r, rt.target >= best.target:
			continue
		}
		best, found, rooted = rt, true, r
	}
	return best, found, rooted
}

// step returns the word by which the path leaves record j at offset off:
// one of its parent's, or, where none of those goes on to the root or
// only an interface's does, one of another record's that does better (a
// detour, at most maxDetours per path, counted in *detours): one that
// goes on to the root where the parent's does not, or else a better
// rank. A detour never leads back, by parent links, to a place the path
// has passed through (seen, off in j last), which would take the path
// round a cycle, as far as a path is spelled out; nor, where the
// parent's word goes on to the root, into j at all, which would bring it
// back only to leave j by a longer way. In a small arena (see small), a
// word goes on to the root where reaches finds a way on from it, detours
// included; in a larger one, by parent links alone.
func (n *namer) step(j int, off uintptr, seen []place, detours *int) (route, bool) {
	rt, ok, rooted := n.choose(n.into(int(n.a.recs.at(j).Parent), j), off)
	small := n.small()
	if (!rooted || rt.iface) && (*detours < maxDetours || small) {
		*detours++
		cands := slices.DeleteFunc(n.detour(j, off), func(d route) bool { return n.leadsBack(d, seen, rooted) })
		if small {
			budget := maxSearch
			rooted = rooted || ok && n.reaches(rt, seen, -1, &budget)
			// Where the parent's word goes on to the root, a detour
			// must do so without coming back into j, as leadsBack
			// keeps parent links from doing.
			avoid := -1
			if rooted {
				avoid = j
			}
			cands = slices.DeleteFunc(cands, func(d route) bool {
				return !n.rootedAvoiding(d, avoid) && !n.reaches(d, seen, avoid, &budget)
			})
		}
		d, dok, drooted := n.choose(cands, off)
		drooted = drooted || small && dok
		// A rooted word before one that is not, then a better rank (a
		// typed word before an interface's).
		if dok && (!ok || drooted && !rooted || drooted == rooted && d.rank() < rt.rank()) {
			return d, true
		}
	}
	return rt, ok
}

// reaches reports whether a path goes on from word d to a root, by parent
// links or detours, without passing through a place in seen or into
// record avoid (-1: none), looking at no more than *budget places; one as
// long as a path is spelled out counts as reaching.
func (n *namer) reaches(d route, seen []place, avoid int, budget *int) bool {
	j, off := d.rec, d.slot
	parent := n.a.recs.at(j).Parent
	switch {
	case j == avoid, slices.Contains(seen, place{j, off}):
		return false
	case parent == NoParent, len(seen) >= maxPathDepth:
		return true
	case parent == RunOfTyped || parent == RunOfStrings || *budget <= 0:
		return false
	}
	*budget--
	seen = append(seen[:len(seen):len(seen)], place{j, off})
	up, ok, _ := n.choose(n.into(int(parent), j), off)
	if ok && (n.rootedAvoiding(up, avoid) || n.reaches(up, seen, avoid, budget)) {
		return true
	}
	for _, c := range n.detour(j, off) {
		if n.reaches(c, seen, avoid, budget) {
			return true
		}
	}
	return false
}

// rootedAvoiding reports whether the path goes on from word d to a root
// by parent links (rooted) without coming into record avoid (-1: none).
func (n *namer) rootedAvoiding(d route, avoid int) bool {
	return n.rooted(d) && (avoid < 0 || !n.leadsBack(d, []place{{avoid, ^uintptr(0)}}, true))
}

// leadsBack reports whether the path, going on from word d by parent
// links as far as a path is spelled out, comes to a place in seen, or,
// with intoLast, into the record of the last of them.
func (n *namer) leadsBack(d route, seen []place, intoLast bool) bool {
	last := seen[len(seen)-1].rec
	j, off := d.rec, d.slot
	for range maxPathDepth {
		if intoLast && j == last || slices.Contains(seen, place{j, off}) {
			return true
		}
		parent := n.a.recs.at(j).Parent
		if parent == NoParent || parent == RunOfTyped || parent == RunOfStrings {
			return false
		}
		up, ok, _ := n.choose(n.into(int(parent), j), off)
		if !ok {
			return false
		}
		j, off = up.rec, up.slot
	}
	return false
}

// detour returns the words that reach off from records other than child,
// or from other elements of child itself (nodes[1].Sl = nodes, with only
// &nodes[1] reaching the array from outside).
func (n *namer) detour(child int, off uintptr) []route {
	var out []route
	if n.many && n.a.used <= indexAllBytes {
		if n.all == nil {
			n.all = map[int][]route{}
			for j := range n.a.recs.len() {
				n.eachRoute(j, func(rt route) {
					n.a.leadsTo(rt, func(k int) { n.all[k] = append(n.all[k], rt) })
				})
			}
		}
		for _, rt := range n.all[child] {
			if (rt.rec != child || n.otherElem(child, rt.slot, off)) && rt.covers(off) {
				out = append(out, rt)
			}
		}
		return out
	}
	if n.many {
		if n.detours == maxReportDetours {
			return nil
		}
		n.detours++
	}
	for j := range n.a.recs.len() {
		n.eachRoute(j, func(rt route) {
			if (j != child || n.otherElem(child, rt.slot, off)) && rt.covers(off) {
				out = append(out, rt)
			}
		})
	}
	return out
}

// otherElem reports whether offsets slot and off lie in different
// elements of record j.
func (n *namer) otherElem(j int, slot, off uintptr) bool {
	rec := n.a.recs.at(j)
	size := layout.ByID(rec.Type).Size
	return size != 0 && (slot-uintptr(rec.Off))/size != (off-uintptr(rec.Off))/size
}

// PathAt names the Go field at arena offset off, from the root of the value
// that holds it: "Config.Endpoints[1].Port". Offsets outside any allocation
// (the byte a zero-size allocation of a Clone is given included) give "".
func (a *Arena) PathAt(off uintptr) string { return a.newNamer(false).path(off, nil) }

// path names off from the root; seen holds places that the path must
// not pass through again (see step).
func (n *namer) path(off uintptr, seen []place) string {
	a := n.a
	j := a.recordAt(off)
	if j < 0 {
		return ""
	}
	if _, size := a.recSpan(j); size == 0 && a.recs.at(j).Parent != RunOfTyped {
		// A zero-size allocation of a Clone (an empty slice's array, a
		// zero-size pointee) holds no byte: the one it is given, so that
		// its address is its own, is no part of any value, and no word
		// reaches it. Outside any allocation, then.
		return ""
	}
	var parts []string
	detours := 0
	valueName := a.valueName.Load() // one for the whole path
	for depth := 0; ; depth++ {
		if depth == maxPathDepth {
			parts = append(parts, "…")
			break
		}
		seen = append(seen, place{j, off})
		if valueName != nil {
			if name, ok := (*valueName)(off); ok {
				parts = append(parts, name)
				break
			}
		}
		rec := a.recs.at(j)
		t := layout.ByID(rec.Type)
		local := off - uintptr(rec.Off)
		if rec.Parent == RunOfStrings {
			// A run holds the bytes of many strings: name the string
			// that holds this byte, as its field indexed by the byte.
			slot, i, ok := n.stringHeader(off)
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
				parts = append(parts, fmt.Sprintf("%s#%d", t.Name(), n.typedIndex(j)+uint64(local/t.Size))+layout.FieldPath(t.RType, local%t.Size))
			}
			break
		}
		if rec.Parent == NoParent {
			parts = append(parts, elemPath(t, local, rec.N != 1), n.rootPath(j))
			break
		}
		rt, ok := n.step(j, off, seen, &detours)
		if !ok {
			parts = append(parts, elemPath(t, local, rec.N != 1), "(?)")
			break
		}
		switch name := rt.name(t, off); {
		case rt.explicitDeref():
			parts = append(parts, name, derefMark)
		case rt.dynDeref():
			// The assertion gives the pointer, inside the dereference:
			// "(**Config.Any.(*int))".
			a := layout.Assertion(rt.dyn)
			parts = append(parts, name[len(a):], derefMark, a)
		default:
			parts = append(parts, name)
		}
		j, off = rt.rec, rt.slot
	}
	slices.Reverse(parts)
	var b string
	for _, p := range parts {
		if p == derefMark {
			b = "(*" + b + ")"
		} else {
			b += p
		}
	}
	return b
}

// derefMark stands, among the parts of a path, for the dereference of
// what the parts before it name: they are wrapped in "(*…)".
const derefMark = "\x00*"

// explicitDeref reports whether the path through rt must spell its
// dereference, as Go does: a pointer to a struct or array is followed
// by a field or index as if it were the struct or array itself
// (".Next.Port", ".Arr[2]"), but a pointer to anything else, a pointer
// or a string, say, is not, and without "(*…)" a write to what it points
// to would read as a write to the pointer itself.
func (rt route) explicitDeref() bool {
	if rt.iface || rt.slice || rt.elem == nil {
		return false
	}
	return !followedByName(rt.elem)
}

// dynDeref reports whether rt is an interface's data word holding a
// pointer, of known type, to what Go does not follow by a field or an
// index alone (an *int, a **T): the dereference is spelt out, as for
// a typed pointer.
func (rt route) dynDeref() bool {
	return rt.iface && rt.dyn != nil && rt.dyn.RType.Kind() == reflect.Pointer && !followedByName(rt.elem)
}

// followedByName reports whether a pointer to a value of type t is
// followed by a field or an index as t itself is: t is a struct or an
// array.
func followedByName(t *layout.Type) bool {
	k := t.RType.Kind()
	return k == reflect.Struct || k == reflect.Array
}

// maxHeaders bounds the string headers a path compares when several
// share the bytes it names (Go shares the bytes of equal string
// constants, and Clone keeps them shared).
const maxHeaders = 64

// stringHeader returns the header of a string whose bytes include arena
// offset off, by which a path leaves them, and the index of that byte in
// it. Of the headers that share those bytes it takes the best by
// headerRank (one in a root or reached by a typed word, then one reached
// by an interface's, then one that no parent links lead to from a root,
// as in a node an Update unlinked), and among equals the one pointing
// lowest (the whole string rather than a substring of it: the largest
// index), as a path chooses between slices; the first found of those.
// It reads every string header in the arena (as a detour reads every
// word), and ranks at most maxHeaders of them: only those that could do
// better than the best so far.
func (n *namer) stringHeader(off uintptr) (slot, index uintptr, ok bool) {
	best, ranked := 0, 0
	n.a.eachStringHolding(off, func(s, i uintptr) bool {
		if ok && best == 0 && i <= index {
			return true // no better rank, and pointing no lower
		}
		ranked++
		if r := n.headerRank(s); !ok || r < best || r == best && i > index {
			slot, index, ok, best = s, i, true, r
		}
		return ranked < maxHeaders
	})
	return slot, index, ok
}

// headerRank ranks the string header at arena offset slot as a way out
// of its bytes, best first: in a root, or in a record whose parent
// reaches it by a typed word (0); by an interface's (1); in a record
// that parent links do not lead to from a root (2); in none (3).
func (n *namer) headerRank(slot uintptr) int {
	j := n.a.recordAt(slot)
	switch {
	case j < 0:
		return 3
	case n.a.recs.at(j).Parent == NoParent:
		return 0
	case !n.rootedAt(j, slot, 0):
		return 2
	}
	rt, ok, _ := n.choose(n.into(int(n.a.recs.at(j).Parent), j), slot)
	if !ok || rt.iface {
		return 1
	}
	return 0
}

// name names off, which rt reaches, in a record of type t: from where the
// word points, in the type it points to (a slice's elements by index, a
// pointee's fields, or its elements if it is an array). An interface's
// word of known dynamic type is named with it: ".(*Endpoint).Port".
func (rt route) name(t *layout.Type, off uintptr) string {
	e := rt.elem
	switch {
	case rt.dyn != nil:
		return layout.Assertion(rt.dyn) + elemPath(e, off-rt.target, false)
	case e != nil:
	case rt.iface:
		return "" // a pointer to a field of a type not known here
	default:
		e = t
	}
	return elemPath(e, off-rt.target, rt.slice)
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

// rootPath names record j, a root: by the name SetRootName gave it, or
// else by its type, as a slice for a run of values.
func (n *namer) rootPath(j int) string {
	rec := n.a.recs.at(j)
	if rn := n.a.rootName.Load(); rn != nil && rn.off == uintptr(rec.Off) {
		return rn.name
	}
	name := layout.ByID(rec.Type).Name()
	if rec.N != 1 {
		name = "[]" + name
	}
	return name
}

// allocationPath names record j as a whole: the field that points to it
// (a path from the root), or its type where nothing does. The word is one
// that reaches the record's first byte, from its parent or else from any
// record, and failing those one of its parent's that points into it.
func (n *namer) allocationPath(j int) string {
	a := n.a
	rec := a.recs.at(j)
	t := layout.ByID(rec.Type)
	switch rec.Parent {
	case RunOfStrings:
		return "string data"
	case RunOfTyped:
		// As a fault in it is named: "Point#3.X".
		first := n.typedIndex(j)
		if rec.N == 1 {
			return fmt.Sprintf("%s#%d", t.Name(), first)
		}
		return fmt.Sprintf("%s#%d…%d", t.Name(), first, first+rec.N-1)
	case NoParent:
		return n.rootPath(j)
	}
	detours := 0
	here := []place{{j, uintptr(rec.Off)}}
	rt, ok := n.step(j, uintptr(rec.Off), here, &detours)
	if cands := n.into(int(rec.Parent), j); !ok && len(cands) > 0 {
		rt, ok = slices.MinFunc(cands, func(x, y route) int { return cmp.Compare(x.target, y.target) }), true
	}
	if !ok {
		if rec.N != 1 {
			return fmt.Sprintf("[%d]%s", rec.N, t.Name()) // the array, as Allocation.Type names it
		}
		return t.Name()
	}
	return n.path(rt.slot, here)
}
