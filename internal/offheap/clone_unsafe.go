// This file is where Clone reads Go values through raw pointers and writes
// their copies into arena memory.
//
// Unsafe, and why it is sound:
//   - Sources are read through unsafe.Pointer derived from the value being
//     cloned (never from integers), at offsets package layout computed from
//     the static or dynamic type of the memory, so checkptr (on under -race)
//     accepts every conversion.
//   - Every range of memory reachable from the root is found before any
//     byte is written; overlapping ranges are merged into blocks, so that a
//     pointer into the middle of something lands in the copy of that thing.
//   - Each block is copied as: pointer-free gaps with memmove, pointer slots
//     with typed stores of translated pointers. A Go-heap pointer is never
//     copied as raw bytes into the arena (invariant 1), and every stored
//     pointer points into this arena's copy (invariant 3).
//   - Interface type words (type descriptors and itabs) are copied as they
//     are: Go never frees them.
//   - Copied slices have cap == len (invariant 5).

package offheap

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unsafe"

	"github.com/frozen-go/frozen/internal/layout"
)

const ptrSize = unsafe.Sizeof(uintptr(0))

// via says how a range was reached, for paths in messages.
type via uint8

const (
	viaRoot via = iota
	viaPointer
	viaSlice
	viaString
	viaBox // the boxed value of an interface
)

// crange is one range of source memory to copy: n elements of t at src.
type crange struct {
	src    unsafe.Pointer
	start  uintptr // uintptr(src), for ordering only
	size   uintptr
	t      *layout.Type
	n      uintptr
	parent int32   // range holding the slot that pointed here; -1 for the root
	slot   uintptr // address of that slot, for paths only (never dereferenced)
	via    via
	rec    int32 // record describing this range's copy
}

func (r *crange) end() uintptr { return r.start + r.size }

// cblock is a maximal set of overlapping ranges, copied as one piece.
type cblock struct {
	start, end uintptr
	src        unsafe.Pointer
	dst        unsafe.Pointer
	off        uintptr // offset of dst in the arena
	lo, hi     int     // the block's ranges are order[lo:hi]
}

type rangeKey struct {
	addr uintptr
	n    uintptr
	id   uint32
}

type cloner struct {
	a        *Arena
	ranges   []crange
	seen     map[rangeKey]int32
	work     []int32
	order    []int32
	blocks   []cblock
	maxAlign uintptr
}

// CloneError is returned when a value cannot be cloned; Path names the field
// where the problem was found.
type CloneError struct {
	Path string
	Err  error
}

func (e *CloneError) Error() string { return fmt.Sprintf("arena: clone: %s: %v", e.Path, e.Err) }

// Unwrap returns the cause.
func (e *CloneError) Unwrap() error { return e.Err }

// Clone deep-copies v into the arena and returns the copy.
func Clone[T any](a *Arena, v T) (T, error) {
	var zero T
	dst, err := a.CloneRoot(layout.For[T](), unsafe.Pointer(&v))
	if err != nil {
		return zero, err
	}
	return *(*T)(dst), nil
}

// CloneRoot deep-copies the value of type t at src into the arena, the root
// value included, and returns the address of the root's copy.
func (a *Arena) CloneRoot(t *layout.Type, src unsafe.Pointer) (unsafe.Pointer, error) {
	a.enter()
	defer a.leave()
	if err := a.usable(); err != nil {
		return nil, err
	}
	if t.Err != nil {
		return nil, fmt.Errorf("arena: clone %s: %w", t.Name(), t.Err)
	}
	if t.PtrFree {
		off, err := a.alloc(max(t.Size, 1), t.Align)
		if err != nil {
			return nil, err
		}
		a.record(off, 1, t, NoParent)
		dst := unsafe.Add(a.rng.Addr(), off)
		copy(unsafe.Slice((*byte)(dst), t.Size), unsafe.Slice((*byte)(src), t.Size))
		return dst, nil
	}
	c := cloner{a: a, seen: make(map[rangeKey]int32), maxAlign: 1}
	c.add(src, t, 1, -1, 0, viaRoot)
	if err := c.discover(); err != nil {
		return nil, err
	}
	c.merge()
	firstRec := len(a.recs)
	if err := c.place(); err != nil {
		return nil, err
	}
	for i := range c.blocks {
		c.copyBlock(&c.blocks[i])
	}
	if Invariants {
		if err := a.validateRecords(firstRec, nil); err != nil {
			panic(fmt.Sprintf("arena: invariant broken after Clone: %v", err))
		}
	}
	return c.translate(src), nil
}

// add records a range; pointer-bearing ranges are deduplicated and queued
// for scanning.
func (c *cloner) add(src unsafe.Pointer, t *layout.Type, n uintptr, parent int32, slot uintptr, v via) {
	if !t.PtrFree {
		key := rangeKey{uintptr(src), n, t.ID}
		if _, ok := c.seen[key]; ok {
			return
		}
		c.seen[key] = int32(len(c.ranges))
		c.work = append(c.work, int32(len(c.ranges)))
	}
	c.maxAlign = max(c.maxAlign, t.Align)
	c.ranges = append(c.ranges, crange{src: src, start: uintptr(src), size: t.Size * n, t: t, n: n,
		parent: parent, slot: slot, via: v, rec: -1})
}

// discover scans queued ranges until every reachable range is known. It
// uses an explicit stack, so a million-node list needs no deep recursion.
func (c *cloner) discover() error {
	for len(c.work) > 0 {
		i := c.work[len(c.work)-1]
		c.work = c.work[:len(c.work)-1]
		r := c.ranges[i]
		for k := uintptr(0); k < r.n; k++ {
			if err := c.scan(i, unsafe.Add(r.src, k*r.t.Size), r.t.Slots); err != nil {
				return err
			}
		}
	}
	return nil
}

// scan queues what the slots of one value at base point to.
func (c *cloner) scan(i int32, base unsafe.Pointer, slots []layout.Slot) error {
	for _, s := range slots {
		p := unsafe.Add(base, s.Off)
		switch s.Kind {
		case layout.SlotPointer:
			if q := *(*unsafe.Pointer)(p); q != nil {
				c.add(q, s.Elem, 1, i, uintptr(p), viaPointer)
			}
		case layout.SlotString:
			if str := *(*string)(p); len(str) > 0 {
				c.add(unsafe.Pointer(unsafe.StringData(str)), byteType, uintptr(len(str)), i, uintptr(p), viaString)
			}
		case layout.SlotSlice:
			// A slice is (data, len, cap); only len elements are copied.
			if data := *(*unsafe.Pointer)(p); data != nil {
				n := *(*int)(unsafe.Add(p, ptrSize))
				c.add(data, s.Elem, uintptr(n), i, uintptr(p), viaSlice)
			}
		case layout.SlotEface, layout.SlotIface:
			dt := layout.Dynamic(p, s.RType)
			if dt == nil {
				continue // nil interface
			}
			if dt.Err != nil {
				return &CloneError{Path: c.path(i, uintptr(p)) + ".(" + dt.Name() + ")", Err: dt.Err}
			}
			data := unsafe.Add(p, ptrSize)
			if dt.Direct {
				// The data word holds the (pointer-shaped) value itself.
				if err := c.scan(i, data, dt.Slots); err != nil {
					return err
				}
			} else if box := *(*unsafe.Pointer)(data); box != nil {
				c.add(box, dt, 1, i, uintptr(p), viaBox)
			}
		case layout.SlotArray:
			for j := uintptr(0); j < s.Len; j++ {
				if err := c.scan(i, unsafe.Add(p, j*s.Elem.Size), s.Elem.Slots); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// merge sorts the ranges by address (larger first on ties, so that an empty
// range at the start of another joins it) and groups overlapping ranges.
func (c *cloner) merge() {
	c.order = make([]int32, len(c.ranges))
	for i := range c.order {
		c.order[i] = int32(i)
	}
	slices.SortFunc(c.order, func(x, y int32) int {
		a, b := &c.ranges[x], &c.ranges[y]
		if r := cmp.Compare(a.start, b.start); r != 0 {
			return r
		}
		return cmp.Compare(b.size, a.size)
	})
	for k, i := range c.order {
		r := &c.ranges[i]
		if n := len(c.blocks); n > 0 {
			b := &c.blocks[n-1]
			if r.start < b.end || r.start == b.start {
				b.end = max(b.end, r.end())
				b.hi = k + 1
				continue
			}
		}
		c.blocks = append(c.blocks, cblock{start: r.start, end: r.end(), src: r.src, lo: k, hi: k + 1})
	}
}

// place allocates one piece of arena memory for all blocks, keeping each
// block's address modulo the largest alignment, and writes the records.
func (c *cloner) place() error {
	a := c.a
	var total uintptr
	for i := range c.blocks {
		b := &c.blocks[i]
		total = alignUp(total, c.maxAlign) + b.start%c.maxAlign
		b.off = total
		total += max(b.end-b.start, 1) // an empty block still gets an address of its own
	}
	off, err := a.alloc(total, c.maxAlign)
	if err != nil {
		return err
	}
	base := unsafe.Add(a.rng.Addr(), off)
	first := len(a.recs)
	var owners []int32 // owners[j] is the range whose record is a.recs[first+j]
	for i := range c.blocks {
		b := &c.blocks[i]
		b.dst = unsafe.Add(base, b.off)
		b.off += off
		owners = c.recordBlock(b, owners)
	}
	// Parent links, now that every range knows its record.
	for j, i := range owners {
		if p := c.ranges[i].parent; p >= 0 {
			a.recs[first+j].Parent = uint32(c.ranges[p].rec)
		}
	}
	return nil
}

// recordBlock writes the records of one block: one per range not covered
// by earlier ranges of the block; a range overlapping earlier ones only in
// part is recorded from its first element past the overlap. Every range
// learns the index of the record that holds its first byte.
func (c *cloner) recordBlock(b *cblock, owners []int32) []int32 {
	a := c.a
	first := len(a.recs)
	cursor := b.start
	for _, i := range c.order[b.lo:b.hi] {
		r := &c.ranges[i]
		off := b.off + (r.start - b.start)
		k := uintptr(0)
		if cursor > r.start && r.t.Size > 0 {
			k = min((cursor-r.start+r.t.Size-1)/r.t.Size, r.n)
		}
		if len(a.recs) > first && (r.end() <= cursor || k == r.n) {
			r.rec = int32(c.containing(first, off))
			continue
		}
		if k == 0 {
			r.rec = int32(len(a.recs))
		} else {
			r.rec = int32(c.containing(first, off))
		}
		a.record(off+k*r.t.Size, r.n-k, r.t, NoParent)
		owners = append(owners, i)
		cursor = max(cursor, r.end())
	}
	return owners
}

// containing returns the index of the record (from first on) whose memory
// holds arena offset off.
func (c *cloner) containing(first int, off uintptr) int {
	recs := c.a.recs
	for j := len(recs) - 1; j >= first; j-- {
		rec := recs[j]
		size := rec.N * uint64(layout.ByID(rec.Type).Size)
		if uint64(off) >= rec.Off && uint64(off) < rec.Off+max(size, 1) {
			return j
		}
	}
	return first
}

// translate maps a source address inside some block to its copy.
func (c *cloner) translate(p unsafe.Pointer) unsafe.Pointer {
	u := uintptr(p)
	// The last block starting at or before u.
	j, found := slices.BinarySearchFunc(c.blocks, u, func(b cblock, u uintptr) int { return cmp.Compare(b.start, u) })
	if !found {
		j--
	}
	b := &c.blocks[j]
	if u >= b.end && !(u == b.start) {
		panic(fmt.Sprintf("arena: clone: internal error: %#x is in no block", u))
	}
	return unsafe.Add(b.dst, u-b.start)
}

// copyBlock copies one block: pointer-free bytes with memmove, pointer slots
// translated, in address order.
func (c *cloner) copyBlock(b *cblock) {
	w := blockWriter{c: c, b: b, done: b.start}
	cursor := b.start
	for _, i := range c.order[b.lo:b.hi] {
		r := &c.ranges[i]
		if r.end() <= cursor || r.t.PtrFree {
			cursor = max(cursor, r.end())
			continue
		}
		k := uintptr(0)
		if cursor > r.start && r.t.Size > 0 {
			k = (cursor - r.start + r.t.Size - 1) / r.t.Size
		}
		for ; k < r.n; k++ {
			w.slots(unsafe.Add(r.src, k*r.t.Size), r.t.Slots)
		}
		cursor = max(cursor, r.end())
	}
	w.raw(b.end)
}

type blockWriter struct {
	c    *cloner
	b    *cblock
	done uintptr // source bytes before this are written
}

func (w *blockWriter) dst(u uintptr) unsafe.Pointer { return unsafe.Add(w.b.dst, u-w.b.start) }
func (w *blockWriter) src(u uintptr) unsafe.Pointer { return unsafe.Add(w.b.src, u-w.b.start) }

// raw copies the pointer-free source bytes [done, to).
func (w *blockWriter) raw(to uintptr) {
	if to > w.done {
		n := int(to - w.done)
		copy(unsafe.Slice((*byte)(w.dst(w.done)), n), unsafe.Slice((*byte)(w.src(w.done)), n))
		w.done = to
	}
}

// ptr stores the translated form of the source pointer q at dst.
func (w *blockWriter) ptr(dst unsafe.Pointer, q unsafe.Pointer) {
	if q != nil {
		q = w.c.translate(q)
	}
	// A typed store: if q were ever a Go-heap pointer, the cgocheck2 build
	// would abort here.
	*(*unsafe.Pointer)(dst) = q
}

// slots writes one value's pointer slots (and the raw bytes before them).
func (w *blockWriter) slots(base unsafe.Pointer, slots []layout.Slot) {
	for _, s := range slots {
		p := unsafe.Add(base, s.Off)
		u := uintptr(p)
		if u < w.done {
			continue // written by an overlapping range already
		}
		w.raw(u)
		d := w.dst(u)
		switch s.Kind {
		case layout.SlotPointer:
			w.ptr(d, *(*unsafe.Pointer)(p))
			w.done = u + ptrSize
		case layout.SlotString:
			str := *(*string)(p)
			if len(str) == 0 {
				w.ptr(d, nil)
			} else {
				w.ptr(d, unsafe.Pointer(unsafe.StringData(str)))
			}
			*(*int)(unsafe.Add(d, ptrSize)) = len(str)
			w.done = u + 2*ptrSize
		case layout.SlotSlice:
			n := *(*int)(unsafe.Add(p, ptrSize))
			w.ptr(d, *(*unsafe.Pointer)(p))
			*(*int)(unsafe.Add(d, ptrSize)) = n
			*(*int)(unsafe.Add(d, 2*ptrSize)) = n // cap == len
			w.done = u + 3*ptrSize
		case layout.SlotEface, layout.SlotIface:
			// The type or itab word is immortal runtime metadata: copied as
			// an integer so that no write barrier or cgocheck sees it.
			*(*uintptr)(d) = *(*uintptr)(p)
			data := unsafe.Add(p, ptrSize)
			dt := layout.Dynamic(p, s.RType)
			if dt != nil && dt.Direct {
				// Pointer-shaped value in the data word: its one slot.
				w.done = u + ptrSize
				w.slots(data, dt.Slots)
				w.raw(u + 2*ptrSize)
			} else {
				w.ptr(unsafe.Add(d, ptrSize), *(*unsafe.Pointer)(data))
			}
			w.done = u + 2*ptrSize
		case layout.SlotArray:
			for j := uintptr(0); j < s.Len; j++ {
				w.slots(unsafe.Add(p, j*s.Elem.Size), s.Elem.Slots)
			}
		}
	}
}

// maxPathDepth bounds how many steps of a path are spelled out.
const maxPathDepth = 12

// path describes the slot at address slot inside range i, from the root.
func (c *cloner) path(i int32, slot uintptr) string {
	var parts []string
	for depth := 0; i >= 0; depth++ {
		r := &c.ranges[i]
		if depth == maxPathDepth {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, c.local(r, slot))
		if r.parent < 0 {
			parts = append(parts, r.t.Name())
		}
		slot, i = r.slot, r.parent
	}
	slices.Reverse(parts)
	return strings.Join(parts, "")
}

// local names the byte at address u inside range r.
func (c *cloner) local(r *crange, u uintptr) string {
	off := u - r.start
	s := ""
	if r.via == viaBox {
		s = ".(" + r.t.Name() + ")"
	}
	if r.via == viaSlice || r.n != 1 {
		if r.t.Size == 0 {
			return s + "[0]"
		}
		return s + fmt.Sprintf("[%d]", off/r.t.Size) + layout.FieldPath(r.t.RType, off%r.t.Size)
	}
	return s + layout.FieldPath(r.t.RType, off)
}
