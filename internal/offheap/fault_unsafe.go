// This file resolves addresses to regions and fields (for Guard and Verify
// reports), translates pointers between an Alias region's two mappings, and
// implements Update, the owner's deliberate write in Alias mode.
//
// Unsafe: addresses handed in by callers are only compared as integers
// until they are known to lie inside a region's mapping; typed pointers are
// then made with unsafe.Add from the mapping's own base.

package offheap

import (
	"fmt"
	"runtime"
	"unsafe"

	"github.com/cespare/xxhash/v2"

	"github.com/frozen-go/frozen/internal/layout"
	"github.com/frozen-go/frozen/internal/space"
	"github.com/frozen-go/frozen/internal/vm"
)

// Fault describes an address inside memory the library manages.
type Fault struct {
	Region   string
	Mode     Mode
	Offset   uintptr // from the start of the arena
	Path     string  // the Go field at that offset, when known
	Frozen   bool    // the address is in a frozen region (a write faulted)
	Released bool    // the address is in a released (quarantined) range
	// Unheld: the address is in reserved space that no range holds: one
	// released and gone from quarantine (or never handed out). Region is
	// then "" and Offset 0: the range it was in is not known any more.
	Unheld bool
	// PageOnly: the kernel gives fault addresses only to the page here
	// (vm.FaultPageOnly), so Offset is the page's and Path is empty.
	PageOnly bool
}

// Resolve says what the library knows of addr: in a frozen region, in a
// released one, or in reserved space that no range holds (Unheld). ok is
// false for any other address (including open arenas, whose faults are
// not the library's to explain).
func Resolve(addr uintptr) (f Fault, ok bool) {
	e, found, unheld := space.Locate(addr)
	if unheld {
		return Fault{Unheld: true, PageOnly: vm.FaultPageOnly}, true
	}
	if !found {
		return Fault{}, false
	}
	if e.Released {
		return Fault{Region: e.Name, Offset: addr - e.Start, Released: true, PageOnly: vm.FaultPageOnly}, true
	}
	var a *Arena
	view := false // the address is in an Alias region's read-only view
	switch o := e.Owner.(type) {
	case *Arena:
		a = o
	case *Region:
		a, view = o.a, true
	default:
		return Fault{}, false
	}
	// The range's start, from the registry, not from the arena: space
	// lists an arena before NewArena has set its fields, and nothing
	// orders NewArena's writes before this read on another goroutine
	// (a pointer kept past a Close, into the range a new arena is
	// taking). Of the arena itself, only what Freeze published through
	// a.frozen is read, after loading it.
	base := e.Start
	// Set by Freeze before the memory turns read-only (and withdrawn if
	// it fails), so a write faulting as it does is named.
	r := a.frozen.Load()
	if r == nil {
		return Fault{}, false
	}
	reached("resolve-loaded") // a test fails Freeze here, before r.mu
	// Under the region's lock, Close cannot release the memory and the
	// records that naming the field reads, nor Freeze set or withdraw
	// the view; once Close has released, the address is one of a
	// released range.
	if r.readLock() {
		defer r.mu.RUnlock()
	}
	if a.frozen.Load() != r {
		// Freeze failed and withdrew r (before waiting for r.mu): the
		// arena is its owner's again, who may be allocating, changing the
		// records and mappings that naming the field would read. The
		// write faulted on memory that was never frozen after all.
		return Fault{}, false
	}
	if r.closed {
		return Fault{Region: e.Name, Offset: addr - e.Start, Released: true, PageOnly: vm.FaultPageOnly}, true
	}
	m := a.w // the mapping the address would be frozen in
	if view {
		m = r.alias
	}
	// Only the mapped pages are frozen; past them, in the rest of the
	// reservation, reads fault too (a pointer kept past the Close of a
	// range since reused by this arena, say), and that is no write.
	if m == nil || addr-base >= m.Len() {
		return Fault{}, false
	}
	f = Fault{Region: a.name, Mode: r.mode, Offset: addr - base, Frozen: true, PageOnly: vm.FaultPageOnly}
	if !f.PageOnly {
		// Naming the field at a page's first byte would name the wrong one.
		f.Path = a.PathAt(f.Offset)
	}
	return f, true
}

// Allocation describes one allocation overlapping a changed page.
type Allocation struct {
	Offset, Size uintptr
	Type         string
	Path         string
}

// AllocationsIn lists the allocations overlapping arena offsets [lo, hi),
// at most limit of them (the list is for humans). On a frozen arena the
// caller holds the region's lock, so that Close cannot reset the records.
func (a *Arena) AllocationsIn(lo, hi uintptr, limit int) []Allocation {
	return a.allocationsIn(lo, hi, limit, a.newNamer(true))
}

// allocationsIn is AllocationsIn with the namer of a report that lists
// the allocations of many pages.
func (a *Arena) allocationsIn(lo, hi uintptr, limit int, n *namer) []Allocation {
	var out []Allocation
	j := a.recs.search(uint64(lo))
	if j < 0 {
		j = 0
	}
	for ; j < a.recs.len() && len(out) < limit; j++ {
		rec := a.recs.at(j)
		t := layout.ByID(rec.Type)
		size := uintptr(rec.N) * t.Size
		start := uintptr(rec.Off)
		if start >= hi {
			break
		}
		if start+max(size, 1) <= lo {
			continue
		}
		name := t.Name()
		switch {
		case rec.Parent == RunOfStrings:
			name = "string data"
		case rec.N != 1:
			name = fmt.Sprintf("[%d]%s", rec.N, name)
		}
		out = append(out, Allocation{Offset: start, Size: size, Type: name, Path: n.allocationPath(j)})
	}
	return out
}

// NameRoot makes paths through the region's arena name the root *p, a
// value in the region seen through either mapping, by name instead of by
// its type (Arena.SetRootName). It panics if *p is not in the region.
func NameRoot[T any](r *Region, p *T, name string) {
	// Unsafe: p is only turned into an address, to find its offset.
	off, _, ok := r.offsetOf(uintptr(unsafe.Pointer(p)), unsafe.Sizeof(*p))
	if !ok {
		panic(fmt.Sprintf("offheap: NameRoot: %p is not in region %q", p, r.a.name))
	}
	r.a.SetRootName(off, name)
}

// ViewAddr returns the address at which readers see arena offset off: in
// the alias mapping in Alias mode, in the arena's own mapping otherwise.
// It is an address as an integer, for comparing with others, never to be
// made a pointer.
func (r *Region) ViewAddr(off uintptr) uintptr {
	if r.alias != nil {
		return uintptr(r.alias.Addr()) + off
	}
	return uintptr(r.a.rng.Addr()) + off
}

// window of the alias mapping over the used bytes (Alias mode); empty when
// there is none (an arena that never allocated maps no alias).
func (r *Region) aliasWindow() window {
	if r.alias == nil {
		return window{}
	}
	lo := uintptr(r.alias.Addr())
	return window{lo, lo + max(r.size, 1)}
}

// ReadOnlyPtr translates p into the pointer readers must use.
func ReadOnlyPtr[T any](r *Region, p *T) (*T, error) {
	q, err := r.ReadOnly(unsafe.Pointer(p), unsafe.Sizeof(*p))
	if err != nil {
		return nil, err
	}
	return (*T)(q), nil
}

// Update runs f on a copy of *p on the Go heap (p may be a read-only or a
// writable address), writes the copy back to *p, and re-baselines the
// checksums of the bytes of *p. It needs Alias mode. After f, every
// pointer word of the copy must be nil or point into the region (pointers
// to the writable mapping, or into the copy itself, are relocated to the
// alias); otherwise nothing is written and the error says which field was
// wrong. Readers see f's changes once f has returned and they were
// checked, as one copy into *p that is not atomic for them (use
// snapshot.Store to swap versions).
func Update[T any](r *Region, p *T, f func(w *T)) error {
	if f == nil {
		panic("freeze.Update: nil func")
	}
	if r.Closed() { // checked again below, with r.mu held
		return fmt.Errorf("%w: region %q", ErrClosed, r.a.name)
	}
	if r.mode != Alias {
		return fmt.Errorf("%w: Update on %q (%s)", ErrNotAlias, r.a.name, r.mode)
	}
	lt := layout.For[T]()
	if lt.Err != nil {
		return fmt.Errorf("Update of %q: %w", r.a.name, lt.Err)
	}
	<-r.ready
	if r.inOwnUpdate() {
		return fmt.Errorf("%w: Update of region %q", ErrInsideUpdate, r.a.name)
	}
	r.updating.Lock()
	defer func() {
		// However the Update ends (f may have panicked, or never run):
		// a release refused meanwhile, for updating was held, is retried.
		r.updating.Unlock()
		if r.afterUpdate != nil {
			r.afterUpdate()
		}
	}()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return fmt.Errorf("%w: region %q", ErrClosed, r.a.name)
	}
	if r.bgErr != nil {
		// The owner's mapping may have stayed read-only (freezeAlias).
		return fmt.Errorf("Update of %q: %w", r.a.name, r.bgErr)
	}
	// f may call what reads the region (ReadOnly, Checksum, Verify, a
	// Guard whose fault is resolved): those see updater and do not wait
	// for the lock this goroutine holds.
	r.updater.Store(goid())
	defer r.updater.Store(0)
	size := unsafe.Sizeof(*p)
	u := uintptr(unsafe.Pointer(p))
	off, _, ok := r.offsetOf(u, size)
	if !ok {
		return fmt.Errorf("%w: Update: %p (%d bytes) is not in %q", ErrNotInRegion, p, size, r.a.name)
	}
	base := unsafe.Add(r.a.rng.Addr(), off)
	// f works on a copy of *p on the Go heap, never on arena memory: a
	// Go-heap pointer that f stores is then seen by the garbage collector
	// for as long as f runs (stored into arena memory it would not be,
	// and its object could be freed while f still used it), and readers
	// see none of f's writes before they are checked. If f panics, *p was
	// never touched.
	//
	// Every byte the Update reads from *p or takes into its checksums
	// passes through saved and the copy, never read from the arena a
	// second time: saved must match the baseline before f runs, and the
	// new checksums are those of the copy's bytes. So a write into *p
	// through the owner's mapping by another goroutine (a data race, and
	// a stray write) is either in saved, and refused, or overwritten by
	// the copy, or made after the copy, and then not in the new
	// checksums, and Verify reports it.
	//
	// Unsafe: base is *p in the owner's writable mapping, [off, off+size)
	// lies in the region (checked above), and cp is a T on the Go heap, so
	// cb is exactly its bytes. The copies are of bytes, without write
	// barriers: what goes into cp is saved, whose pointer words match the
	// baseline, where Freeze and every Update left only nil and pointers
	// into the region (no Go-heap pointer the collector would need to
	// see), and what goes into *p is cp once checkCopy has left only those
	// in it too. Copying bytes keeps T's padding as it was: the checksums
	// are of every byte.
	saved := make([]byte, size)
	copy(saved, unsafe.Slice((*byte)(base), size))
	// The pages *p lies on, whose checksums the Update takes again: with
	// saved in place they must match the baseline, or a change made by
	// another route (a stray write through the owner's mapping,
	// /proc/self/mem) would become part of the new baseline, unseen by
	// Verify ever after.
	pg0, pg1 := off/PageSize, (off+max(size, 1)-1)/PageSize
	pages := pg0 < uintptr(len(r.sums)) // not a zero-size value at the very end
	if pages {
		pg1 = min(pg1, uintptr(len(r.sums))-1)
		if r.changedWith(pg0, pg1, off, saved, r.sums[pg0:pg1+1]) != 0 {
			return r.conflict(false, pg0, pg1)
		}
	}
	cp := new(T)
	cb := unsafe.Slice((*byte)(unsafe.Pointer(cp)), size)
	copy(cb, saved)
	f(cp)
	if err := r.checkCopy(unsafe.Pointer(cp), lt, off); err != nil {
		return err
	}
	copy(unsafe.Slice((*byte)(base), size), cb)
	reached("update-written")
	// The bytes of *p's first and last page outside *p are read once, into
	// edge, after the write-back. The new checksums are taken from them
	// with the copy's bytes in place, and the check that they are as they
	// were at Freeze (f writing through another pointer, another goroutine
	// through the owner's mapping) from them with *p's old bytes in place;
	// the pages between are wholly *p's. A write beside *p lands either
	// before the read, and the check sees it (the Update is undone, so
	// that Verify keeps reporting the change), or after, and is in neither
	// edge nor the new checksums, so Verify reports it: none is taken in.
	// (Reading the pages again for the check would take in a write made
	// before the first read and undone before the second.)
	var edge [2][PageSize]byte
	var small [2]uint64 // never hashPages' out, which escapes
	fresh := small[:0]
	edges, edgePg := 0, [2]uintptr{pg0, pg1} // pages read into edge: pg0, and pg1 if another
	if pages {
		edges = int(min(pg1-pg0+1, 2))
		fresh = small[:edges]
		if n := pg1 - pg0 + 1; n > 2 {
			many := make([]uint64, n)
			in := cb[(pg0+1)*PageSize-off : pg1*PageSize-off]
			hashPages(unsafe.Pointer(unsafe.SliceData(in)), uintptr(len(in)), many[1:n-1], nil)
			fresh = many
		}
	}
	for i := range edges {
		pg := edgePg[i]
		lo, hi := r.pageSpan(pg)
		copy(edge[i][:hi-lo], unsafe.Slice((*byte)(unsafe.Add(r.a.rng.Addr(), lo)), hi-lo))
		fresh[pg-pg0] = sumOf(edge[i][:hi-lo], lo, off, cb)
	}
	runtime.KeepAlive(cp)
	reached("update-rehashed")
	// The pointer words of *p, checked and fixed in the copy, checked
	// again, without fixing, in *p itself: a write into *p through the
	// owner's mapping by another goroutine since the copy went back (a
	// Go-heap pointer, say) is not in the new checksums, so Verify would
	// report it, but readers could follow it meanwhile: the Update is
	// undone instead, and says so. One that lands after this check is
	// not in the checksums either, and Verify reports it.
	if err := r.recheckUpdated(off, off+size); err != nil {
		copy(unsafe.Slice((*byte)(base), size), saved)
		return err
	}
	for i := range edges {
		pg := edgePg[i]
		lo, hi := r.pageSpan(pg)
		if (lo < off || hi > off+size) && sumOf(edge[i][:hi-lo], lo, off, saved) != r.sums[pg] {
			copy(unsafe.Slice((*byte)(base), size), saved)
			return r.conflict(true, pg0, pg1)
		}
	}
	copy(r.sums[pg0:], fresh)
	r.root = rootChecksum(r.sums, r.size)
	return nil
}

// changedWith returns how many of pages pg0 to pg1 of the region differ
// from want (indexed from pg0) when hashed with b in place of the bytes
// from off on (b overlapping every one of them). The pages between the
// first and the last are wholly b's, and hashed from b on all cores.
func (r *Region) changedWith(pg0, pg1, off uintptr, b []byte, want []uint64) int {
	changed := 0
	for pg := pg0; pg <= pg1; pg = max(pg+1, pg1) {
		if lo, hi := r.pageSpan(pg); r.sumWith(lo, hi, off, b) != want[pg-pg0] {
			changed++
		}
	}
	if pg1 > pg0+1 {
		in := b[(pg0+1)*PageSize-off : pg1*PageSize-off]
		changed += hashPages(unsafe.Pointer(unsafe.SliceData(in)), uintptr(len(in)), nil, want[1:pg1-pg0])
		runtime.KeepAlive(b)
	}
	return changed
}

// pageSpan returns the arena offsets of page pg's bytes in the region,
// [lo, hi): the last page may be partial.
func (r *Region) pageSpan(pg uintptr) (lo, hi uintptr) {
	return pg * PageSize, min(pg*PageSize+PageSize, r.size)
}

// sumWith returns the hash of arena bytes [lo, hi) as they would be with
// old in place of the bytes from off on (off < hi, off+len(old) > lo, or
// len(old) == 0): the page's checksum if nothing else on it changed.
func (r *Region) sumWith(lo, hi, off uintptr, old []byte) uint64 {
	return sumOf(unsafe.Slice((*byte)(unsafe.Add(r.a.rng.Addr(), lo)), hi-lo), lo, off, old)
}

// sumOf returns the hash of page, the region's bytes from offset lo, as
// they would be with old in place of the bytes from off on.
func sumOf(page []byte, lo, off uintptr, old []byte) uint64 {
	hi := lo + uintptr(len(page))
	a, b := max(lo, off)-lo, min(hi, off+uintptr(len(old)))-lo // *p's part of the page
	if a > b {
		a, b = 0, 0
	}
	var d xxhash.Digest
	d.Reset()
	_, _ = d.Write(page[:a])
	_, _ = d.Write(old[a+lo-off : b+lo-off])
	_, _ = d.Write(page[b:])
	return d.Sum64()
}

// PageConflict is returned by Update when bytes on the pages it would
// hash again differ from their checksums other than through it: before
// f ran (f was not run), or, outside *p, while it ran (the Update was
// undone). Either way the checksums are as they were, so Verify reports
// the change too.
type PageConflict struct {
	Region  string
	While   bool // changed while f ran
	Changed []ChangedPage
}

// Error says that an Update was refused, or undone, and why.
func (e *PageConflict) Error() string {
	if e.While {
		return fmt.Sprintf("freeze: Update of %q undone: bytes outside the value on its pages changed while the function ran", e.Region)
	}
	return fmt.Sprintf("freeze: Update of %q refused: the pages of the value changed since their checksums were taken", e.Region)
}

// MaxListed bounds the allocations a description of a changed page lists
// (freeze.CorruptionError).
const MaxListed = 8

// conflict describes the changed pages among pg0..pg1, under r.mu.
func (r *Region) conflict(while bool, pg0, pg1 uintptr) *PageConflict {
	e := &PageConflict{Region: r.a.name, While: while}
	n := r.a.newNamer(true)
	lo, hi := pg0*PageSize, min((pg1+1)*PageSize, r.size)
	for _, i := range changedPages(unsafe.Add(r.a.rng.Addr(), lo), hi-lo, r.sums[pg0:pg1+1]) {
		s := lo + uintptr(i)*PageSize
		end := min(s+PageSize, r.size)
		e.Changed = append(e.Changed, ChangedPage{Index: int(pg0) + i, Start: s, End: end, Allocs: r.a.allocationsIn(s, end, MaxListed+1, n)})
	}
	return e
}

// checkCopy validates the pointer words of f's copy of a value (of type t,
// at buf on the Go heap; the value lies at arena offset lo) before Update
// writes it back: each must be nil or point into the region. Pointers
// into the writable mapping, or into the copy itself (f's own w), are
// relocated to the alias; empty strings and slices and zero-size values
// are tidied as a clone has them; slices get cap == len.
//
// Unsafe: buf is a live *T of t.Size bytes (the caller's cp), and the
// words walkSlots visits are t's pointer slots inside it. Only addresses
// in the region are stored into them; a pointer into the copy is compared
// as an integer and replaced by the alias address at the same offset.
func (r *Region) checkCopy(buf unsafe.Pointer, t *layout.Type, lo uintptr) error {
	if t.PtrFree {
		return nil
	}
	a := r.a
	w, al := a.writable(), r.aliasWindow()
	self := window{uintptr(buf), uintptr(buf) + t.Size}
	return walkSlots(buf, t.Slots, func(word unsafe.Pointer, kind layout.SlotKind, elem uintptr) error {
		off := lo + (uintptr(word) - self.lo)
		if kind == layout.SlotSlice {
			// Invariant 5: a slice stored by f keeps cap == len, so that
			// a reader's append copies instead of writing frozen memory.
			(*[3]uintptr)(word)[2] = sliceLen(word)
		}
		p := *(*unsafe.Pointer)(word)
		switch v := uintptr(p); {
		case v == 0:
			return nil
		case al.has(v):
		case w.has(v):
			*(*unsafe.Pointer)(word) = unsafe.Add(p, r.delta)
		case self.has(v):
			*(*unsafe.Pointer)(word) = unsafe.Add(r.alias.Addr(), lo+(v-self.lo))
		case holdsNoMemory(word, kind, elem):
			// An empty string or slice, or a zero-size value, holds no
			// memory, but its data word may point anywhere ([]T{} and
			// any(struct{}{}) at the runtime's zero-size base, "" cut
			// from the end of a heap string): tidy it as a clone has it.
			tidy(word, kind, r.alias.Addr())
			return nil
		case kind == layout.SlotEface || kind == layout.SlotIface:
			return &GraphError{Arena: a.name, Path: a.PathAt(off), Off: off, Value: v, Hint: ifaceHint}
		default:
			return &GraphError{Arena: a.name, Path: a.PathAt(off), Off: off, Value: v,
				Hint: "Update can store only nil or pointers to what is already in the region, such as ReadOnly's results; nothing was written"}
		}
		// Now a pointer into the view: what it addresses must fit there.
		if v := *(*uintptr)(word); !fits(word, kind, elem, v, al) {
			return &GraphError{Arena: a.name, Path: a.PathAt(off), Off: off, Value: v,
				Hint: "what it addresses reaches past the region; nothing was written"}
		}
		return nil
	})
}

// ifaceHint is the hint of Update's error for an interface given a value
// boxed outside the region: any value stored in an interface is, unless
// it is already boxed in the region, which the message must say, since a
// small integer or a constant stored there (w.Extra = 5) reads as a
// value, not a pointer.
const ifaceHint = "Update can give an interface only nil, a pointer into the region, or a value boxed in the region already, as another of its interfaces holds it: " +
	"any other value stored in an interface is boxed outside the region, on the heap or, for constants and small integers, in the program's data; nothing was written"

// walkUpdated visits the pointer words in arena offsets [lo, hi).
func (r *Region) walkUpdated(lo, hi uintptr, visit visitor) error {
	a := r.a
	from := max(a.recs.search(uint64(lo)), 0)
	to := from
	for to < a.recs.len() && uintptr(a.recs.at(to).Off) < hi {
		to++
	}
	base := uintptr(a.rng.Addr())
	return a.walkWithin(from, to, lo, hi, func(word unsafe.Pointer, kind layout.SlotKind, elem uintptr) error {
		if off := uintptr(word) - base; off < lo || off >= hi {
			return nil
		}
		return visit(word, kind, elem)
	})
}

// recheckUpdated checks, after Update wrote back the copy checkCopy fixed,
// that the pointer words in arena offsets [lo, hi) are still nil or into
// the view, and the slices' capacities their lengths, changing nothing.
func (r *Region) recheckUpdated(lo, hi uintptr) error {
	al := r.aliasWindow()
	return r.walkUpdated(lo, hi, func(word unsafe.Pointer, kind layout.SlotKind, elem uintptr) error {
		v := *(*uintptr)(word)
		if (v == 0 || al.has(v) && fits(word, kind, elem, v, al)) && (kind != layout.SlotSlice || sliceCap(word) == sliceLen(word)) {
			return nil
		}
		e := r.a.foreign(word)
		e.Hint = "changed while Update ran, by a write through the owner's mapping on another goroutine; the Update was undone"
		return e
	})
}
