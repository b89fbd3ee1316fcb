// This file is where the pointer graph stored in an arena is walked: to
// validate it (invariant 1: no pointer leaves the arena), to relocate it to
// a read-only alias (invariant 3), and to name the field at an offset.
//
// Unsafe: the walk reads arena memory at offsets taken from the arena's own
// allocation records and the layouts of their types, so every word read is
// a slot of the type that was stored there. Pointer words are read as
// integers for comparisons and rewritten only with unsafe.Add on the
// pointer read from the same word, or with nil or the region's own base
// address (tidy), so no integer becomes a pointer.

package offheap

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/frozen-go/frozen/internal/layout"
)

// ErrForeignPointer is wrapped by a *GraphError: a pointer stored in arena
// memory points outside the memory it may point to.
var ErrForeignPointer = errors.New("arena: pointer outside the arena")

// GraphError reports a pointer that breaks the arena's pointer graph.
type GraphError struct {
	Arena string
	Path  string  // the field holding the pointer
	Off   uintptr // its offset in the arena
	Value uintptr // the pointer
	Hint  string  // what to do instead, if anything
}

// Error names the word that points outside the arena, and its value.
func (e *GraphError) Error() string {
	msg := fmt.Sprintf("%v: arena %q: %s (offset %#x) holds %#x", ErrForeignPointer, e.Arena, e.Path, e.Off, e.Value)
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

// Unwrap returns ErrForeignPointer.
func (e *GraphError) Unwrap() error { return ErrForeignPointer }

// visitor is called with the address of each pointer word in arena memory
// that must point into the arena (or be nil), the kind of slot it begins
// (a string's length is the word after it), or, for an interface's data
// word, the second of its slot, SlotEface or SlotIface, and elemSize of
// that slot (0 for an interface: its dynamic type is not looked at).
type visitor func(word unsafe.Pointer, kind layout.SlotKind, elem uintptr) error

// walkPointers visits every pointer word of the records from index from on:
// pointer slots, string and slice data, and interface data words holding
// pointers (boxed values, or pointer-shaped values stored directly).
func (a *Arena) walkPointers(from int, visit visitor) error {
	return a.walkRecords(from, a.recs.len(), visit)
}

// walkRecords visits the pointer words of records [from, to).
func (a *Arena) walkRecords(from, to int, visit visitor) error {
	return a.walkWithin(from, to, 0, ^uintptr(0), visit)
}

// walkWithin visits the pointer words of records [from, to), skipping
// the elements that lie wholly outside arena offsets [lo, hi): an Update
// of one element of a large slice walks that element, not the slice.
func (a *Arena) walkWithin(from, to int, lo, hi uintptr, visit visitor) error {
	base := a.rng.Addr()
	for j := from; j < to; j++ {
		rec := a.recs.at(j)
		t := layout.ByID(rec.Type)
		if t.PtrFree {
			continue
		}
		// Types with pointers are never zero-size, so t.Size > 0.
		start, k0, k1 := uintptr(rec.Off), uint64(0), rec.N
		if lo > start {
			k0 = uint64((lo - start) / t.Size)
		}
		switch {
		case hi <= start:
			continue
		case hi-start < uintptr(k1)*t.Size:
			k1 = uint64((hi - start + t.Size - 1) / t.Size)
		}
		for k := k0; k < k1; k++ {
			elem := unsafe.Add(base, uintptr(rec.Off)+uintptr(k)*t.Size)
			if err := walkSlots(elem, t.Slots, visit); err != nil {
				return err
			}
		}
	}
	return nil
}

// elemSize returns the size of what a slot's pointer word addresses, per
// element: 1 for a string's bytes, a slice's element size, a pointer's
// pointee size. An interface's data word gets 0 (its type is not looked
// at).
func elemSize(s *layout.Slot) uintptr {
	switch {
	case s.Kind == layout.SlotString:
		return 1
	case s.Elem != nil:
		return s.Elem.Size
	}
	return 0
}

// fits reports whether the memory the pointer word at word addresses lies
// inside w, given that its value v does: a string's length in bytes, a
// slice's capacity in elements of elem bytes, or elem bytes for the
// others. Go code without unsafe cannot make a header that claims more
// than its memory, so this guards against the library's own mistakes: a
// header reaching past the arena's used bytes would let readers into
// other allocations or past the mapping. The word may lie in arena memory
// or, for Update's check, in a copy on the Go heap.
func fits(word unsafe.Pointer, kind layout.SlotKind, elem, v uintptr, w window) bool {
	room := w.hi - v
	switch kind {
	case layout.SlotString:
		return sliceLen(word) <= room
	case layout.SlotSlice:
		return elem == 0 || sliceCap(word) <= room/elem
	}
	return elem <= room
}

// overrun returns the error for a pointer word that does not fit.
func (a *Arena) overrun(word unsafe.Pointer) *GraphError {
	e := a.foreign(word)
	e.Hint = "what it addresses reaches past the arena's used bytes"
	return e
}

func walkSlots(base unsafe.Pointer, slots []layout.Slot, visit visitor) error {
	for _, s := range slots {
		p := unsafe.Add(base, s.Off)
		var err error
		switch s.Kind {
		case layout.SlotPointer, layout.SlotString, layout.SlotSlice:
			err = visit(p, s.Kind, elemSize(&s)) // the first word is the pointer
		case layout.SlotEface, layout.SlotIface:
			// A non-nil interface's data word is a pointer either way: to
			// the boxed value, or, for a type stored directly, the value
			// itself, one pointer word (a pointer, a struct or array of
			// one, or a map, channel, func or unsafe.Pointer, which
			// layout refuses and has no slots for but which must be
			// checked all the same). Only whether the type word is nil
			// matters here: it is read as an integer and never followed,
			// so a type word that a stray write changed (Verify then
			// describes the page holding it) cannot crash the walk.
			if *(*uintptr)(p) != 0 {
				err = visit(unsafe.Add(p, ptrSize), s.Kind, 0)
			}
		case layout.SlotArray:
			for j := uintptr(0); j < s.Len && err == nil; j++ {
				err = walkSlots(unsafe.Add(p, j*s.Elem.Size), s.Elem.Slots, visit)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// window is a range of addresses pointers may point into.
type window struct{ lo, hi uintptr }

func (w window) has(v uintptr) bool { return v >= w.lo && v < w.hi }

// writable returns the window of the arena's used bytes in its own mapping.
func (a *Arena) writable() window {
	lo := uintptr(a.rng.Addr())
	return window{lo, lo + max(a.used, 1)}
}

// validateRecords checks that every pointer word of the records from index
// from on is nil or points into allowed (the arena's writable mapping when
// allowed is nil), and that what it addresses fits there.
func (a *Arena) validateRecords(from int, allowed *window) error {
	w := a.writable()
	if allowed != nil {
		w = *allowed
	}
	return a.walkPointers(from, func(word unsafe.Pointer, kind layout.SlotKind, elem uintptr) error {
		switch v := *(*uintptr)(word); {
		case v == 0:
			return nil
		case !w.has(v):
			return a.foreign(word)
		case !fits(word, kind, elem, v, w):
			return a.overrun(word)
		}
		return nil
	})
}

// foreign returns the error for the pointer word at word.
func (a *Arena) foreign(word unsafe.Pointer) *GraphError {
	off := uintptr(word) - uintptr(a.rng.Addr())
	return &GraphError{Arena: a.name, Path: a.PathAt(off), Off: off, Value: *(*uintptr)(word)}
}

// validateForFreeze is Freeze's check of the whole graph: validateRecords,
// except that it accepts the words that address no memory (holdsNoMemory)
// wherever they point, as Update does, and then tidies them. A value
// cloned into the arena and then changed in place before Freeze may hold
// them ([]T{} and any(struct{}{}) point at the runtime's zero-size base,
// a "" cut from a heap string into the heap). It also cuts the capacity
// of every slice to its length (invariant 5), which a re-slice stored
// in place (c.Hosts = c.Hosts[:1]) may have left larger: a reader's
// append would write past the slice into frozen memory and fault.
//
// Both happen only once the whole graph has passed, in a second walk
// that the usual graph, which needs neither, never pays for. The
// capacities cut are returned, for Freeze to put back if a later step
// fails; tidied words are not put back (Go code cannot tell them apart
// without unsafe), nor the capacity of a tidied slice, which would then
// reach over the region's first bytes.
func (a *Arena) validateForFreeze() ([]savedCap, error) {
	w, untidy := a.writable(), 0
	err := a.walkPointers(0, func(word unsafe.Pointer, kind layout.SlotKind, elem uintptr) error {
		if kind == layout.SlotSlice && sliceCap(word) > sliceLen(word) {
			untidy++
		}
		switch v := *(*uintptr)(word); {
		case v == 0:
			return nil
		case w.has(v):
			if !fits(word, kind, elem, v, w) {
				return a.overrun(word)
			}
			return nil
		case holdsNoMemory(word, kind, elem):
			untidy++
			return nil
		}
		return a.foreign(word)
	})
	if err != nil || untidy == 0 {
		return nil, err
	}
	var cut []savedCap
	_ = a.walkPointers(0, func(word unsafe.Pointer, kind layout.SlotKind, elem uintptr) error {
		if v := *(*uintptr)(word); v != 0 && !w.has(v) {
			// Tidied for good: an empty slice then points at the region's
			// first byte, and the capacity it had there must not come back.
			tidy(word, kind, a.rng.Addr())
			return nil
		}
		if kind == layout.SlotSlice && sliceCap(word) > sliceLen(word) {
			cut = append(cut, savedCap{word, sliceCap(word)})
			(*[3]uintptr)(word)[2] = sliceLen(word)
		}
		return nil
	})
	a.copied.reset() // the walk changed bytes the copy may have hashed
	return cut, nil
}

// savedCap is a slice's capacity before Freeze cut it.
type savedCap struct {
	word unsafe.Pointer // the slice header, in arena memory
	cap  uintptr
}

// restoreCaps puts back capacities that validateForFreeze cut, after a
// failed Freeze left the arena writable again.
func restoreCaps(cut []savedCap) {
	for _, c := range cut {
		(*[3]uintptr)(c.word)[2] = c.cap
	}
}

// sliceLen returns the length of the string or slice whose header starts
// at word: the header's second word, in both. It reads that word alone,
// since a string header is two words and may end its allocation (the last
// field of Update's copy on the Go heap, where checkptr refuses a
// three-word view that reaches past it).
func sliceLen(word unsafe.Pointer) uintptr { return *(*uintptr)(unsafe.Add(word, ptrSize)) }

// sliceCap returns the capacity of the slice whose header starts at word,
// which must be a slice header: three words of one allocation.
func sliceCap(word unsafe.Pointer) uintptr { return (*[3]uintptr)(word)[2] }

// zeroBase is where the runtime points every zero-size allocation and
// every zero-size value stored in an interface (new(struct{}), []T{},
// any(struct{}{})): a variable of the binary, never freed, of which no
// byte belongs to the value. TestZeroBase checks that all three point
// there, so a runtime that changed this would fail it.
var zeroBase = func() uintptr {
	zeroSink = new(struct{}) // escapes, so the runtime allocates it
	return uintptr(unsafe.Pointer(zeroSink))
}()

var zeroSink *struct{}

// holdsNoMemory reports whether the non-nil pointer word at word (of a slot
// of the given kind, whose elements have elem bytes; an interface's data
// word is a SlotPointer) addresses no bytes, whatever its value: the data
// word of an empty string or slice, or of a slice of zero-size elements
// (make([]struct{}, 3)), or a pointer to a zero-size value at zeroBase.
// (A pointer slot's elem is its pointee's size, but an interface's data
// word comes with elem 0 whatever it holds, so for pointers only zeroBase
// tells.)
func holdsNoMemory(word unsafe.Pointer, kind layout.SlotKind, elem uintptr) bool {
	switch kind {
	case layout.SlotString:
		return sliceLen(word) == 0
	case layout.SlotSlice:
		return sliceLen(word) == 0 || elem == 0
	}
	return *(*uintptr)(word) == zeroBase
}

// tidy rewrites a word that holdsNoMemory as Clone would have written it:
// an empty string gets nil data; a slice, which stays non-nil, and a
// pointer to a zero-size value point at base, the first byte of the
// region, through which nothing can be read or written (the slice's
// capacity is cut to its length, 0 unless its elements have no size, so
// that append copies).
func tidy(word unsafe.Pointer, kind layout.SlotKind, base unsafe.Pointer) {
	switch kind {
	case layout.SlotString:
		*(*unsafe.Pointer)(word) = nil
	case layout.SlotSlice:
		*(*unsafe.Pointer)(word) = base
		(*[3]uintptr)(word)[2] = sliceLen(word)
	default:
		*(*unsafe.Pointer)(word) = base
	}
}

// Validate checks the whole pointer graph: every pointer stored in the
// arena is nil or points into the arena's used bytes (or, once frozen in
// Alias mode, into the read-only alias), and what it addresses fits there.
// It reads the records and arena memory without the region's lock: call
// it from the owner's goroutine, never while another may Close the
// arena or its region (tests and the invariants build do).
func (a *Arena) Validate() error {
	if a.state == Closed {
		return fmt.Errorf("%w: arena %q", ErrClosed, a.name)
	}
	if r := a.frozen.Load(); r != nil && r.alias != nil {
		lo := uintptr(r.alias.Addr())
		return a.validateRecords(0, &window{lo, lo + max(a.used, 1)})
	}
	return a.validateRecords(0, nil)
}

// relocate adds delta to every pointer word that points into from. It
// returns how many words it changed. It cannot fail: callers validate first.
// The pages it changes are marked for the hashes Clone took (a.copied) to
// be taken again.
func (a *Arena) relocate(from window, delta int) int {
	n := 0
	hashed := a.copied.ready(a.used)
	_ = a.walkPointers(0, func(word unsafe.Pointer, _ layout.SlotKind, _ uintptr) error {
		p := *(*unsafe.Pointer)(word)
		if from.has(uintptr(p)) {
			// The new address lies in the alias of the same arena bytes:
			// a non-Go-heap pointer, stored with a typed store.
			*(*unsafe.Pointer)(word) = unsafe.Add(p, delta)
			n++
			if hashed {
				a.copied.markDirty(uintptr(word) - uintptr(a.rng.Addr()))
			}
		}
		return nil
	})
	return n
}

// recordAt returns the index of the record holding arena offset off, or -1.
func (a *Arena) recordAt(off uintptr) int {
	for j := a.recs.search(uint64(off)); j >= 0; j-- {
		r := a.recs.at(j)
		size := r.N * uint64(layout.ByID(r.Type).Size)
		if uint64(off) >= r.Off && uint64(off) < r.Off+max(size, 1) {
			return j
		}
		if uint64(off) >= r.Off+max(size, 1) {
			break // records do not nest; an earlier one cannot hold off
		}
	}
	return -1
}

// eachStringHolding calls f with every string stored in the arena whose
// bytes include arena offset off, in record order, until f returns
// false: the offset of its header and the index of that byte in it. It
// walks every record, which is fine for naming one fault.
func (a *Arena) eachStringHolding(off uintptr, f func(slot, index uintptr) bool) {
	targets := a.views(off, 1)
	errStop := errors.New("stop")
	_ = a.walkPointers(0, func(word unsafe.Pointer, kind layout.SlotKind, elem uintptr) error {
		if kind != layout.SlotString {
			return nil
		}
		data, n := *(*uintptr)(word), *(*uintptr)(unsafe.Add(word, ptrSize))
		for _, w := range targets {
			if w.lo >= data && w.lo-data < n {
				if !f(uintptr(word)-uintptr(a.rng.Addr()), w.lo-data) {
					return errStop
				}
				break
			}
		}
		return nil
	})
}

// views returns the addresses of arena offsets [off, off+max(size, 1)):
// in the writable mapping and, in Alias mode, in the read-only view too.
func (a *Arena) views(off, size uintptr) []window {
	lo := uintptr(a.rng.Addr()) + off
	out := []window{{lo, lo + max(size, 1)}}
	if r := a.frozen.Load(); r != nil && r.alias != nil {
		lo = uintptr(r.alias.Addr()) + off
		out = append(out, window{lo, lo + max(size, 1)})
	}
	return out
}

// eachSlot calls f with the offset (base plus the slot's own) of each
// pointer slot of a value at base, array slots expanded into their
// elements' slots, in address order. It expands nothing in memory: an
// array of a million pointers is one slot, walked where it lies.
func eachSlot(slots []layout.Slot, base uintptr, f func(off uintptr, s *layout.Slot)) {
	for i := range slots {
		s := &slots[i]
		if s.Kind != layout.SlotArray {
			f(base+s.Off, s)
			continue
		}
		for j := uintptr(0); j < s.Len; j++ {
			eachSlot(s.Elem.Slots, base+s.Off+j*s.Elem.Size, f)
		}
	}
}
