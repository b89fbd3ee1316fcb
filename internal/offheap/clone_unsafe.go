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
//     While scanning, each pointer word's target range is recorded (an
//     edge), in the order the copy will meet the same words, so that
//     translating a pointer is an index, not a search.
//   - Each block is copied as: pointer-free gaps with memmove, pointer slots
//     with typed stores of translated pointers. A Go-heap pointer is never
//     copied as raw bytes into the arena (invariant 1), and every stored
//     pointer points into this arena's copy (invariant 3).
//   - Interface type words (type descriptors and itabs) are copied as they
//     are: Go never frees them. Most live in the binary; those made at run
//     time (reflect.StructOf, ArrayOf, SliceOf and the like, and the itabs
//     the runtime builds for them) live in memory the garbage collector
//     manages, and stay alive only because reflect and the runtime cache
//     every type and itab they make for the life of the process: the one
//     kind of word in arena memory that addresses Go-managed memory, which
//     invariant 1 allows because nothing ever frees it.
//   - Copied slices have cap == len (invariant 5).

package offheap

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
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
	viaBox    // the boxed value of an interface
	viaDirect // the pointee of a pointer-shaped value stored in an interface
)

// noEdge is the edge of a nil pointer word.
const noEdge = -1

// crange is one range of source memory to copy: n elements of t at src.
type crange struct {
	src     unsafe.Pointer
	dst     unsafe.Pointer // where its first byte is copied to (after place)
	t       *layout.Type
	n       uintptr
	slot    uintptr // address of the slot that pointed here, for paths only (never dereferenced)
	parent  int32   // range holding that slot; -1 for the root
	rec     int32   // record holding this range's first byte
	edgeOff uint32  // its edges start here (pointer-bearing ranges only),
	ebuf    uint16  // in c.edges (0) or c.ebufs[ebuf-1] (see discover)
	via     via
}

func (r *crange) start() uintptr { return uintptr(r.src) }
func (r *crange) size() uintptr  { return r.t.Size * r.n }
func (r *crange) end() uintptr   { return r.start() + r.size() }

// key orders ranges by address, larger first on ties (so that an empty
// range at the start of another joins it). str marks a string's bytes
// (via viaString), so that merge, which reads every key in address order,
// need not look each range up in c.ranges, in discovery order.
type key struct {
	start, size uintptr
	idx         int32
	str         bool
}

// cblock is a maximal set of overlapping ranges, copied as one piece. It
// holds no pointer: its source is that of its first range (c.src), its
// copy at rel in the clone's allocation (c.dst). A clone has a block for
// most objects it copies: without pointers, a block is half the size it
// was, the collector need not scan the blocks, and the cloner need not
// clear them before it goes back to the pool.
type cblock struct {
	start, end uintptr
	rel        uintptr // offset of the copy in the clone's allocation
	lo, hi     int32   // the block's ranges are keys[lo:hi]
	strings    bool    // only string bytes: packed together, one record for all
}

// unflatRange is the type and count range idx had before lineUp
// counted it in the elements of its arrays.
type unflatRange struct {
	idx int32
	t   *layout.Type
	n   uintptr
}

type rangeKey struct {
	addr uintptr
	n    uintptr
	id   uint32
}

type cloner struct {
	a        *Arena
	ranges   []crange
	edges    []int32   // target range of each pointer word, per scanned range
	ebufs    [][]int32 // more edges: windows' shared elements (see discover)
	front    []int32   // scratch: edges of elements before a span (prepend)
	nbuf     uint64    // edges in ebufs
	seen     seenSet
	work     []int32
	keys     []key
	tmp      []key
	blocks   []cblock
	owners   []int32
	touched  uintptr    // what touchBlocks and touchOwners read, kept so that they read it
	words    [2][]pword // pointer words of two overlapping ranges (agree)
	maxAlign uintptr
	total    uintptr // bytes of the clone's allocation (after layout)
	typed    int     // blocks not of string bytes only (after layout)
	off      uintptr // arena offset of the clone's allocation (after place)
	strOff   uintptr // where the packed string bytes start in it
	// changed is the first interface found, while copying, to hold
	// another type than discover met there: its range and slot address
	// (changed[1] 0: none).
	changed [2]uintptr
	// strs: the ranges of string bytes met lately, by a hash of their
	// address and length (addString); entries of an earlier clone have
	// another gen.
	strs [1 << stringCacheBits]stringEntry
	gen  uint32
	// hashing: the copy hashes the pages it writes (a.copied), from place
	// to the end of apply.
	hashing bool
	// unflat keeps the type and count of each range that lineUp counted
	// in smaller elements, for the paths of errors (named).
	unflat []unflatRange
}

// errChanged is the cause of the CloneError for an interface whose type
// changed between discover and the copy.
var errChanged = errors.New("the interface's type changed while the value was cloned (another goroutine wrote it: a data race); the clone is refused")

// cloners recycles scratch space between Clone calls.
var cloners = sync.Pool{New: func() any { return new(cloner) }}

// maxPooledRanges bounds the ranges of a cloner that goes back to the
// pool. A clone's scratch takes a few hundred bytes of Go heap per object
// it reaches: kept in the pool, that of a clone of millions of objects
// stayed live through the next two collections (the pool's victim cache),
// and each counted it in the heap that sets the next one's goal, so that
// the heap could grow by as much again. A larger cloner is left to the
// collector instead; a clone that large costs far more than growing its
// scratch again.
const maxPooledRanges = 1 << 16

// putCloner returns c to the pool, or leaves it to the collector if it
// has grown past maxPooledRanges.
func putCloner(c *cloner) {
	if cap(c.ranges) > maxPooledRanges {
		return
	}
	c.reset()
	cloners.Put(c)
}

func (c *cloner) reset() {
	clear(c.ranges) // drop the source pointers they hold, or the pool keeps the source graph alive
	c.a, c.ranges, c.edges, c.work = nil, c.ranges[:0], c.edges[:0], c.work[:0]
	c.ebufs, c.nbuf = c.ebufs[:0], 0 // rarely any: let them go
	c.keys, c.tmp, c.blocks, c.owners = c.keys[:0], c.tmp[:0], c.blocks[:0], c.owners[:0]
	c.words = [2][]pword{c.words[0][:0], c.words[1][:0]}
	clear(c.unflat) // the types are immortal, but keep the pool tidy
	c.unflat = c.unflat[:0]
	c.seen.reset()
	c.maxAlign, c.total, c.strOff, c.typed = cloneAlign, 0, 0, 0
	c.changed = [2]uintptr{}
	c.hashing = false
}

// CloneError is returned when a value cannot be cloned; Path names the field
// where the problem was found. For a refused type, Err is a
// *layout.UnsupportedError whose own path names it and Path is empty.
type CloneError struct {
	Path string
	Err  error
}

// Error says that a clone failed, and why.
func (e *CloneError) Error() string { return "arena: clone: " + e.Cause().Error() }

// Cause returns the error without the "arena: clone" prefix: Err, led by
// Path when there is one.
func (e *CloneError) Cause() error {
	if e.Path == "" {
		return e.Err
	}
	return fmt.Errorf("%s: %w", e.Path, e.Err)
}

// refusedInInterface is the error for an interface at path whose dynamic
// type dt is refused: the path goes on into the dynamic value
// ("Config.Extra.(Hooks).Index: map[string]int: …"), or, when dt is the
// refused type itself, stops at the interface ("Config.Extra: chan int:
// …"), so that each type is named once.
func refusedInInterface(path string, dt *layout.Type) error {
	var ue *layout.UnsupportedError
	if !errors.As(dt.Err, &ue) {
		return &CloneError{Path: path + ".(" + dt.Name() + ")", Err: dt.Err}
	}
	if ue.Path != ue.Type {
		// ue.Path leads from dt and begins with its name.
		path += ".(" + dt.Name() + ")" + strings.TrimPrefix(ue.Path, dt.Name())
	}
	return &CloneError{Err: &layout.UnsupportedError{Path: path, Type: ue.Type, Reason: ue.Reason}}
}

// Unwrap returns the cause.
func (e *CloneError) Unwrap() error { return e.Err }

// Clone deep-copies v into the arena and returns the copy. It stays
// entered until the root's copy is read back, so that in the invariants
// build a Close on another goroutine panics saying so instead of
// unmapping the memory under that read.
func Clone[T any](a *Arena, v T) (T, error) {
	var zero T
	a.enter()
	defer a.leave()
	dst, err := a.cloneRoot(layout.For[T](), unsafe.Pointer(&v))
	if err != nil {
		return zero, err
	}
	return *(*T)(dst), nil
}

// cloneRoot deep-copies the value of type t at src into the arena, the root
// value included, and returns the address of the root's copy. The caller
// has entered the arena.
func (a *Arena) cloneRoot(t *layout.Type, src unsafe.Pointer) (unsafe.Pointer, error) {
	if err := a.usable(); err != nil {
		return nil, err
	}
	p, err := PlanClone(t, src)
	if err != nil {
		return nil, err
	}
	defer p.Release()
	return a.apply(p)
}

// ClonePlan is a Clone whose ranges are found and merged but not yet
// copied: it knows exactly how many bytes the copy needs. The source must
// not change between PlanClone and Apply.
type ClonePlan struct {
	t     *layout.Type
	src   unsafe.Pointer
	c     *cloner // nil for a pointer-free root
	total uintptr
}

var localOnce sync.Once

// loadLocal makes the time package load the Local zone, which it does the
// first time the zone is used (a bare time.Now() does not): a clone copies
// the *time.Location of a time in Local time, and a copy taken before the
// load held the empty zone, so that the clone read as UTC for good.
func loadLocal() { _ = time.Local.String() }

// PlanClone finds everything reachable from the value of type t at src.
func PlanClone(t *layout.Type, src unsafe.Pointer) (*ClonePlan, error) {
	if t.Err != nil {
		// The error's path begins with t's name.
		return nil, &CloneError{Err: t.Err}
	}
	p := &ClonePlan{t: t, src: src}
	if t.PtrFree {
		p.total = max(t.Size, 1)
		return p, nil
	}
	localOnce.Do(loadLocal)
	c := cloners.Get().(*cloner)
	c.maxAlign = cloneAlign
	if c.gen++; c.gen == 0 {
		// Once in 2^32 clones: an entry last written that many clones
		// ago would pass for this one's.
		clear(c.strs[:])
		c.gen = 1
	}
	c.add(src, t, 1, -1, 0, viaRoot)
	if err := c.discover(); err != nil {
		putCloner(c)
		return nil, err
	}
	c.merge()
	if err := c.lineUp(); err != nil {
		putCloner(c)
		return nil, err
	}
	p.c, p.total = c, c.layout()
	return p, nil
}

// Size returns the bytes Apply needs in an empty arena (alignment included).
func (p *ClonePlan) Size() uintptr {
	if p.c == nil {
		return p.total + allocAlign(p.t)
	}
	return p.total + p.c.maxAlign
}

// errPlanReleased is Apply's error for a plan whose scratch space Release
// has returned.
var errPlanReleased = errors.New("arena: clone: the plan was released before it was applied")

// Release returns the plan's scratch space. It is idempotent. A plan of a
// value with pointers cannot be applied once released.
func (p *ClonePlan) Release() {
	if p.c != nil {
		putCloner(p.c)
		p.c = nil
	}
}

// Apply copies a planned value into the arena and returns its root.
func (a *Arena) Apply(p *ClonePlan) (unsafe.Pointer, error) {
	a.enter()
	defer a.leave()
	if err := a.usable(); err != nil {
		return nil, err
	}
	return a.apply(p)
}

func (a *Arena) apply(p *ClonePlan) (unsafe.Pointer, error) {
	if p.c == nil && !p.t.PtrFree {
		// Released: the plan no longer knows the graph. Copying the root
		// as raw bytes, as for a pointer-free one, would put the Go-heap
		// pointers it holds into arena memory (invariant 1).
		return nil, errPlanReleased
	}
	if p.c == nil {
		off, err := a.alloc(p.total, allocAlign(p.t))
		if err != nil {
			return nil, err
		}
		a.record(off, 1, p.t, NoParent)
		dst := unsafe.Add(a.rng.Addr(), off)
		copy(unsafe.Slice((*byte)(dst), p.t.Size), unsafe.Slice((*byte)(p.src), p.t.Size))
		if a.copied.startCopy(off, p.total) {
			a.copied.finish(a.rng.Addr(), a.used)
		}
		return dst, nil
	}
	c := p.c
	c.a = a
	defer func() { c.a = nil }()
	// A plan may be applied again: nothing the last Apply found may stay.
	c.owners, c.changed = c.owners[:0], [2]uintptr{}
	firstRec := a.recs.len()
	if err := c.place(); err != nil {
		return nil, err
	}
	if c.hashing {
		// No goroutine hashing the copy may outlive Apply, which may
		// panic: the arena could then be released under it.
		defer a.copied.wait()
	}
	// In address order (see layout): the typed blocks, then the strings'
	// bytes packed after them, so that the pages below a block's end are
	// final once it is written (copyHashes).
	c.copyBlocks(false)
	c.copyBlocks(true)
	if c.hashing {
		c.hashing = false
		a.copied.finish(a.rng.Addr(), a.used)
	}
	if c.changed[1] != 0 {
		// The interface was written as nil: the allocation holds a
		// consistent value, which nobody is given.
		return nil, &CloneError{Path: c.path(int32(c.changed[0]), c.changed[1]), Err: errChanged}
	}
	if Invariants {
		if err := a.validateRecords(firstRec, nil); err != nil {
			panic(fmt.Sprintf("arena: invariant broken after Clone: %v", err))
		}
	}
	return c.ranges[0].dst, nil
}

// cloneAlign is the least alignment of a clone's allocation, which layout
// keeps every block's address modulo: 8, so that a clone keeps each
// value's address modulo 8 from the original, as the arena package's doc
// says. (Where pointers are 8 bytes, the root's pointer alone would set
// it; on 32-bit systems a graph of values of fewer than 8 bytes, pointer
// words and pairs of int16, kept their addresses modulo 4 only.)
const cloneAlign = 8

// add records a range and returns its index; pointer-bearing ranges are
// deduplicated and queued for scanning.
func (c *cloner) add(src unsafe.Pointer, t *layout.Type, n uintptr, parent int32, slot uintptr, v via) int32 {
	idx := int32(len(c.ranges))
	if !t.PtrFree {
		k := rangeKey{uintptr(src), n, t.ID}
		if i, ok := c.seen.add(k, idx); ok {
			return i
		}
		c.work = push(c.work, idx)
	}
	c.maxAlign = max(c.maxAlign, allocAlign(t))
	c.ranges = push(c.ranges, crange{src: src, t: t, n: n, parent: parent, slot: slot, via: v, rec: -1})
	return idx
}

// addString returns the range of the n bytes of a string at data,
// adding one unless the last string met that hashed to the same entry of
// c.strs had the same address and length. A config names one literal
// ("GET", "prod") in thousands of places: 3,676 of the 12,732 ranges of
// the bench module's config of 10,000 objects were such repeats, each
// sorted, merged and placed to come to the same copy. Two strings of one
// address and length are the same bytes, and the repeat's edge leads to
// the same copy either way; a string that misses (a collision, or one
// last met before another took its entry) gets a range of its own as
// every string used to, which costs time, never correctness. Strings are
// kept out of seen, which must find every value met before (it queues
// each pointer-bearing range once, and ends cycles): with most ranges of
// a config strings, seen would be several times larger and out of the
// cache, for repeats that a table of 1,024 entries finds.
func (c *cloner) addString(data unsafe.Pointer, n uintptr, parent int32, slot uintptr) int32 {
	e := &c.strs[stringSlot(uintptr(data), n)]
	if e.gen == c.gen && e.addr == uintptr(data) && e.n == n {
		return e.idx
	}
	i := c.add(data, byteType, n, parent, slot, viaString)
	*e = stringEntry{addr: uintptr(data), n: n, idx: i, gen: c.gen}
	return i
}

// stringCacheBits sizes c.strs: 1,024 entries.
const stringCacheBits = 10

// stringSlot returns the entry of c.strs for the string of n bytes at
// address data: a multiply-shift hash of both.
func stringSlot(data, n uintptr) uint64 {
	return (uint64(data) ^ uint64(n)<<48) * 0x9e3779b97f4a7c15 >> (64 - stringCacheBits)
}

// stringEntry is a string's range (idx) in the clone gen, by the string's
// address (an integer, never followed) and length.
type stringEntry struct {
	addr, n uintptr
	idx     int32
	gen     uint32
}

// discover scans queued ranges until every reachable range is known. It
// works breadth-first from an explicit queue: a million-node list needs no
// deep recursion, and the range that first reaches another (its parent, in
// fault reports) is on a shortest path from the root.
//
// Windows of one slice, s[i:i+w] for each i, are queued one after another
// by the slice holding them, or each among other values (a slice of
// structs each holding a window and a pointer). Scanned whole, n windows
// of width n made n² edges, and where the elements point to pointer-free
// values n² ranges too: 4,000 windows of 4,000 pointers took 3.3 s and 1.2
// GB of heap. So the memory last scanned is kept open, as spans of the
// ranges scanned since each began: a span for each of the last few types
// scanned, and for each type up to spanWays spans, for windows of as many
// slices met in turn (4,000 windows of width 4,000 of each of two slices
// of pointers, met in turn, took 11.3 s and 1.7 GB with one span a type,
// 12 ms and 3.4 MB with four). A range of a span's type that overlaps it
// on its element boundaries scans only its elements outside the span,
// which the span then takes in: the range shares the edges of the elements
// they have in common, and the edges of its other elements are put before
// and after the span's, so that its edges are one run, as copyBlock reads
// them. A span's edges are at the end of c.edges until other ranges are
// scanned after it, or a range extends it at the front: they then move to
// a buffer of their own (ebufs) with room before and after them. A range
// that overlaps no span of its type (whose spans other types or slices may
// have taken) is scanned whole and begins a span: that costs time, never
// correctness, since the same words give the same edges.
func (c *cloner) discover() error {
	var spans [spanSlots]spanSet
	for head := 0; head < len(c.work); head++ {
		i := c.work[head]
		if uint64(len(c.edges))+c.nbuf > 1<<31 {
			return &CloneError{Path: c.ranges[0].t.Name(), Err: fmt.Errorf("%w: more than 2^31 pointers", ErrExhausted)}
		}
		r := &c.ranges[i]
		if r.n == 0 || r.t.Size == 0 {
			r.edgeOff = uint32(len(c.edges)) // no edges
			continue
		}
		src, t, n := r.src, r.t, r.n // r may move: scan adds ranges
		sp, near := spans[t.ID%uint32(len(spans))].near(r)
		from := uintptr(0)
		if !near || !c.join(sp, r) {
			// Most ranges: a span of their own, and no division.
			*sp = span{t: t, start: r.start(), end: r.end(), edgeOff: uint32(len(c.edges))}
			r.ebuf, r.edgeOff = 0, sp.edgeOff
		} else {
			if r.start() < sp.start {
				if err := c.prepend(sp, i, src, (sp.start-r.start())/t.Size); err != nil {
					return err
				}
				r = &c.ranges[i] // prepend's scan may have moved it
			}
			// The span now covers r's first byte.
			r.ebuf, r.edgeOff = sp.ebuf, sp.edgeOff+uint32((r.start()-sp.start)/t.Size)*uint32(t.Edges)
			from = min(n, (sp.end-r.start())/t.Size)
			sp.end = max(sp.end, r.end())
			if from == n {
				continue
			}
		}
		if sp.ebuf != 0 {
			// scan appends to c.edges: lend it the span's buffer.
			c.edges, c.ebufs[sp.ebuf-1] = c.ebufs[sp.ebuf-1], c.edges
		}
		before := len(c.edges)
		// Each element scanned adds t.Edges edges: room for all of them
		// at once, rather than by doubling (copying, and clearing, the
		// edges so far each time) as a long slice is scanned.
		c.edges = slices.Grow(c.edges, int(n-from)*t.Edges)
		var err error
		for k, had := from, len(c.ranges); k < n && err == nil; k++ {
			if len(c.ranges) == cap(c.ranges) && k > from {
				c.growRanges(len(c.ranges)-had, k-from, n-k)
			}
			err = c.scan(i, unsafe.Add(src, k*t.Size), t.Slots)
		}
		if sp.ebuf != 0 {
			c.nbuf += uint64(len(c.edges) - before)
			c.edges, c.ebufs[sp.ebuf-1] = c.ebufs[sp.ebuf-1], c.edges
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// growRanges makes room in c.ranges for the ranges that a range's rest
// elements still to scan will add, at the rate of its done elements
// scanned so far, which added added ranges. A long slice of strings or
// pointers adds a range an element; grown by doubling as it was scanned,
// c.ranges, which holds pointers, was allocated, cleared and copied again
// and again (with write barriers once the allocations had started a
// collection): a third of the time of a clone of 100,000 strings. At the
// rate met so far, a slice of nil pointers or of repeats allocates
// nothing ahead.
func (c *cloner) growRanges(added int, done, rest uintptr) {
	if added == 0 {
		return
	}
	want := float64(added) / float64(done) * float64(rest)
	if room := float64(math.MaxInt32 - len(c.ranges)); want > room {
		want = room // indices are int32: no more can be needed
	}
	c.ranges = slices.Grow(c.ranges, int(want)+1)
}

// spanSlots is how many sets of spans discover keeps open: a type's spans
// are in set ID%spanSlots.
const spanSlots = 16

// spanWays is how many spans discover keeps open for the types that share
// one of its slots: windows of that many slices of one type, met in turn
// (a slice of structs each holding a window of each), share edges as
// windows of one slice do.
const spanWays = 4

// spanSet holds the spans discover keeps open for the types that share
// one of its slots: ways[0] is the span last used.
type spanSet struct {
	ways [spanWays]span
	next uint8 // the way, past the first, that ways[0] moves to when a range begins a span
}

// near returns the span of the set that range r may join, and true: the
// first of r's type that r overlaps or begins at the end of, which is
// then ways[0]. Failing that, it returns ways[0] and false, for r to
// begin a span in, having moved the span that was there to one of the
// other ways, in turn, so that the spans of the last spanWays-1 ranges
// that began spans stay open too.
func (set *spanSet) near(r *crange) (*span, bool) {
	for j := range set.ways {
		if sp := &set.ways[j]; sp.t == r.t && r.start() <= sp.end && r.end() > sp.start {
			if j > 0 {
				set.ways[0], set.ways[j] = set.ways[j], set.ways[0]
			}
			return &set.ways[0], true
		}
	}
	set.next = set.next%(spanWays-1) + 1
	set.ways[set.next] = set.ways[0]
	return &set.ways[0], false
}

// span is memory of one type that discover scanned (see discover), from
// start to end: the edges of its elements are one run from edgeOff on in
// c.edges (ebuf 0), or in c.ebufs[ebuf-1], where edgeOff is also the
// room before them.
type span struct {
	t          *layout.Type
	start, end uintptr
	edgeOff    uint32
	ebuf       uint16
}

// edges returns the number of edges of the span's elements.
func (sp *span) edges() uint32 { return uint32((sp.end-sp.start)/sp.t.Size) * uint32(sp.t.Edges) }

// join reports whether range r may share the edges of span sp: r is of
// sp's type, on its element boundaries, and overlaps it, or begins where
// it ends while its edges can follow the span's. For a range that goes
// on past the span, the span's edges move to a buffer if others follow
// them in c.edges (it fails when there can be no more buffers).
func (c *cloner) join(sp *span, r *crange) bool {
	switch {
	case sp.t != r.t || r.start() > sp.end || r.end() <= sp.start:
		return false
	case r.start() < sp.start && (sp.start-r.start())%r.t.Size != 0,
		r.start() >= sp.start && (r.start()-sp.start)%r.t.Size != 0:
		return false
	case r.end() <= sp.end || sp.ebuf != 0 || sp.edgeOff+sp.edges() == uint32(len(c.edges)):
		return true
	}
	// r goes on past the span, whose edges others follow: share them if r
	// overlaps the span (a value that begins where another ends, as the
	// heap places them, shares nothing).
	return r.start() < sp.end && c.spill(sp, 0)
}

// spill moves the span's edges into a new buffer, with room for at least
// room edges before them, and as many after them, and reports whether it
// did: not once there are as many buffers as ebuf counts. The span's old
// edges stay where they were, for the ranges that use them.
func (c *cloner) spill(sp *span, room uint32) bool {
	if len(c.ebufs) == 1<<16-1 {
		return false
	}
	n := sp.edges()
	room = max(room, n, 16)
	b := make([]int32, room+n, room+2*n+16)
	copy(b[room:], c.buf(sp.ebuf)[sp.edgeOff:sp.edgeOff+n])
	c.ebufs = append(c.ebufs, b)
	c.nbuf += uint64(n)
	sp.ebuf, sp.edgeOff = uint16(len(c.ebufs)), room
	return true
}

// prepend scans the k elements of range i (at src) before span sp, and
// puts their edges before the span's, which then begins with range i.
// The span's edges move to a new buffer with room for them first if
// they must.
func (c *cloner) prepend(sp *span, i int32, src unsafe.Pointer, k uintptr) error {
	t := sp.t
	// Scan into c.front, lent to scan as c.edges.
	c.edges, c.front = c.front[:0], c.edges
	var err error
	for j := uintptr(0); j < k && err == nil; j++ {
		err = c.scan(i, unsafe.Add(src, j*t.Size), t.Slots)
	}
	c.edges, c.front = c.front, c.edges
	if err != nil {
		return err
	}
	need := uint32(len(c.front))
	if (sp.ebuf == 0 || sp.edgeOff < need) && !c.spill(sp, 2*need) {
		// No more buffers: the span becomes the range's own elements,
		// scanned again from the first, their edges at the end of c.edges.
		*sp = span{t: t, start: uintptr(src), end: uintptr(src), edgeOff: uint32(len(c.edges))}
		return nil
	}
	sp.edgeOff -= need
	copy(c.ebufs[sp.ebuf-1][sp.edgeOff:], c.front)
	c.nbuf += uint64(need)
	sp.start = uintptr(src)
	return nil
}

// edgesOf returns the edges that r's edgeOff counts in.
func (c *cloner) edgesOf(r *crange) []int32 { return c.buf(r.ebuf) }

// buf returns c.edges for ebuf 0, and c.ebufs[ebuf-1] otherwise.
func (c *cloner) buf(ebuf uint16) []int32 {
	if ebuf == 0 {
		return c.edges
	}
	return c.ebufs[ebuf-1]
}

// scan queues what the slots of one value at base point to, and records one
// edge per pointer word.
func (c *cloner) scan(i int32, base unsafe.Pointer, slots []layout.Slot) error {
	for _, s := range slots {
		p := unsafe.Add(base, s.Off)
		e := int32(noEdge)
		switch s.Kind {
		case layout.SlotPointer:
			if q := *(*unsafe.Pointer)(p); q != nil {
				e = c.add(q, s.Elem, 1, i, uintptr(p), viaPointer)
			}
		case layout.SlotString:
			if str := *(*string)(p); len(str) > 0 {
				e = c.addString(unsafe.Pointer(unsafe.StringData(str)), uintptr(len(str)), i, uintptr(p))
			}
		case layout.SlotSlice:
			// A slice is (data, len, cap); only len elements are copied.
			if data := *(*unsafe.Pointer)(p); data != nil {
				n := *(*int)(unsafe.Add(p, ptrSize))
				e = c.add(data, s.Elem, uintptr(n), i, uintptr(p), viaSlice)
			}
		case layout.SlotEface, layout.SlotIface:
			dt := layout.Dynamic(p, s.RType)
			if dt == nil {
				break // nil interface
			}
			if dt.Err != nil {
				return refusedInInterface(c.path(i, uintptr(p)), dt)
			}
			q := *(*unsafe.Pointer)(unsafe.Add(p, ptrSize))
			switch {
			case q == nil:
			case dt.Direct:
				// The data word holds a pointer-shaped value: its one
				// slot is a pointer at offset 0.
				e = c.add(q, dt.Slots[0].Elem, 1, i, uintptr(p), viaDirect)
			default:
				e = c.add(q, dt, 1, i, uintptr(p), viaBox)
			}
		case layout.SlotArray:
			for j := uintptr(0); j < s.Len; j++ {
				if err := c.scan(i, unsafe.Add(p, j*s.Elem.Size), s.Elem.Slots); err != nil {
					return err
				}
			}
			continue
		}
		c.edges = push(c.edges, e)
	}
	return nil
}

// merge sorts the ranges by address and groups overlapping ones.
func (c *cloner) merge() {
	c.keys = slices.Grow(c.keys[:0], len(c.ranges))
	for i := range c.ranges {
		r := &c.ranges[i]
		c.keys = append(c.keys, key{r.start(), r.size(), int32(i), r.via == viaString})
	}
	orig := c.keys
	c.tmp = slices.Grow(c.tmp[:0], len(orig))[:len(orig)]
	if sorted := sortKeys(orig, c.tmp); &sorted[0] != &orig[0] {
		c.keys, c.tmp = sorted, orig // the radix passes ended in tmp: swap the buffers
	}
	c.blocks = slices.Grow(c.blocks[:0], len(c.keys)) // a block holds one key or more
	for k, ky := range c.keys {
		str := ky.str
		if n := len(c.blocks); n > 0 {
			b := &c.blocks[n-1]
			if ky.start < b.end || ky.start == b.start {
				b.end = max(b.end, ky.start+ky.size)
				b.hi = int32(k + 1)
				b.strings = b.strings && str
				continue
			}
		}
		c.blocks = push(c.blocks, cblock{start: ky.start, end: ky.start + ky.size, lo: int32(k), hi: int32(k + 1), strings: str})
	}
}

// place allocates one piece of arena memory for all blocks and writes the
// records. Each block keeps its address modulo the largest alignment; blocks
// of string bytes only are packed after the others, unaligned, under one
// record (strings are immutable: which string a byte belongs to matters
// little in a fault report).
func (c *cloner) place() error {
	a := c.a
	total, strOff, strBytes := c.total, c.strOff, c.total-c.strOff
	off, err := a.alloc(total, c.maxAlign)
	if err != nil {
		return err
	}
	a.prefault(off, total)
	c.hashing = a.copied.startCopy(off, total)
	c.off = off
	first := a.recs.len()
	a.recs.reserve(c.typed + 1) // a record a typed block, usually, and one for the strings
	// reserve may have moved the record a.run points to, and the clone's
	// records follow New's run in any case: end the run.
	a.runEnd, a.run, a.runRT = 0, nil, nil
	strRec := int32(-1)
	for i := range c.blocks {
		if i%touchChunk == 0 {
			c.touchBlocks(i, false)
		}
		b := &c.blocks[i]
		dst := c.dst(b)
		for _, k := range c.keys[b.lo:b.hi] {
			c.ranges[k.idx].dst = unsafe.Add(dst, k.start-b.start)
		}
		if !b.strings {
			c.recordBlock(b)
		}
	}
	if strBytes > 0 {
		strRec = int32(a.recs.len())
		a.record(off+strOff, strBytes, byteType, RunOfStrings)
		for i := range c.blocks {
			if b := &c.blocks[i]; b.strings {
				for _, k := range c.keys[b.lo:b.hi] {
					c.ranges[k.idx].rec = strRec
				}
			}
		}
	}
	// Parent links, now that every range knows its record. A record's
	// parent is found from its owner, the first-discovered range it holds
	// (the one that made it, or one that starts in it): the record
	// holding the word that reached the owner (parentRecord). Ranges are
	// discovered breadth-first, each after the range that reaches it, and
	// a parent's owner is discovered before the child's, so parents lead
	// to ever earlier ranges and never round a cycle. (The parent of the
	// range that made each record could: two records, each holding a
	// range that the other reaches first.)
	for i := range c.ranges {
		if k := int(c.ranges[i].rec) - first; k >= 0 && k < len(c.owners) && int32(i) < c.owners[k] {
			c.owners[k] = int32(i)
		}
	}
	for j, i := range c.owners {
		if j%touchChunk == 0 {
			c.touchOwners(j)
		}
		if p := c.ranges[i].parent; p >= 0 {
			a.recs.at(first + j).Parent = uint32(c.parentRecord(first, i, p))
		}
	}
	return nil
}

// parentRecord returns the parent of the record that range i owns, where
// range p holds the word that reached i: the record holding that word,
// if its owner was discovered before i, and otherwise the record holding
// p's first byte, whose owner is p or a range discovered before it. Either way parent
// links lead to ever earlier owners and never round a cycle. A range
// split over several records, a window over an array that overlaps an
// earlier one, holds its first byte in one record and the word in a
// later one; a path leaves a record by a word in its parent, and had to
// search elsewhere for one (a detour, of which a path in a large arena
// makes few) when the parent was the first record.
func (c *cloner) parentRecord(first int, i, p int32) int32 {
	pr := &c.ranges[p]
	at := uintptr(pr.dst) - uintptr(c.a.rng.Addr()) + (c.ranges[i].slot - pr.start())
	q := c.containing(int(pr.rec), at)
	if k := q - first; k < len(c.owners) && c.owners[k] < i {
		return int32(q)
	}
	return pr.rec
}

// lineUp makes the element boundaries of every block's ranges line up.
// The copy and the records take a range overlapping earlier ones of its
// block from its first element past them (firstElem), which is right when
// those elements line up with the earlier ranges' ends. Two views of one
// array can fail to: (*[2]E)(s[1:3]) beside s[0:2], or two *[2]E one E
// apart. The first element of the later view then straddles the end of
// the earlier one, and its second half would be neither translated (a
// Go-heap pointer copied as raw bytes) nor recorded. Such a block has its
// array-typed ranges flattened to their innermost element type (n
// elements of [m]U are n×m elements of U: the same bytes, pointer words
// and edges, in the same order), after which views of one array line up.
// Ranges that still straddle (only unsafe code can make them) are refused.
//
// The copy also takes the bytes a range shares with earlier ones as the
// earliest that holds them: as their type, with their pointer words. So
// ranges whose pointer words differ where they overlap are refused too
// (mismatch): a []byte view over pointer-bearing memory, met first, would
// have the pointers copied as raw bytes, Go-heap addresses in the arena
// that no record describes. Go code without unsafe makes only views that
// agree: the same element type, a field or element of one inside the
// other, a pointer converted between types of one underlying type, and
// interface boxes of one zero value the runtime shares (those of an empty
// string and of a nil slice; reflect.Zero's values too), and a constant
// boxed over the bytes of a string literal, which the linker may share.
// Boxes differ in the kind of their pointer words, which are zero (from
// a string's bytes, in having them at all), and words that are zero
// agree whatever their kind: a nil is copied as zero bytes whichever
// view the copy follows, and nothing writes through a box (agree,
// zeroApart). Boxes of reflect.Zero's values can also straddle each
// other (a struct's zero value and its field's, boxed apart), and are
// copied all the same if they are all boxes and their bytes all zero
// (zeroBoxes): the part of a straddling element past the earlier ranges
// is then copied as raw zero bytes and in no record, which no pointer
// needs, since nothing writes through a box.
func (c *cloner) lineUp() error {
	for i := range c.blocks {
		b := &c.blocks[i]
		if b.strings || b.hi-b.lo < 2 {
			continue
		}
		if c.straddler(b) >= 0 {
			for _, ky := range c.keys[b.lo:b.hi] {
				r := &c.ranges[ky.idx]
				if _, _, ok := arrayStep(r.t); ok {
					c.unflat = append(c.unflat, unflatRange{ky.idx, r.t, r.n})
				}
				for e, n, ok := arrayStep(r.t); ok; e, n, ok = arrayStep(r.t) {
					r.n *= n
					r.t = e
				}
			}
			if j := c.straddler(b); j >= 0 && !c.zeroBoxes(b) {
				return c.overlapError(j, "overlaps other memory of the value without lining up with its elements (only unsafe code makes such views)")
			}
		}
		if j := c.mismatch(b); j >= 0 {
			return c.overlapError(j, "overlaps other memory of the value as a type with other pointer words there (only unsafe code makes such views)")
		}
	}
	return nil
}

func (c *cloner) overlapError(j int32, reason string) error {
	r := &c.ranges[j]
	t, _ := c.named(j)
	return &CloneError{Err: &layout.UnsupportedError{Path: c.path(r.parent, r.slot), Type: t.Name(), Reason: reason}}
}

// named returns the type and count of range i as the value has them: as
// discover found them, before lineUp counted the range in smaller
// elements (a path through a [2][2]T then names a cell [1][1], not [3]).
func (c *cloner) named(i int32) (*layout.Type, uintptr) {
	for _, u := range c.unflat {
		if u.idx == i {
			return u.t, u.n
		}
	}
	r := &c.ranges[i]
	return r.t, r.n
}

// mismatch returns a range of the block whose pointer words differ from
// the earlier ranges' where it overlaps them, or -1. The bytes a range
// shares with earlier ones all lie in the earlier range that reaches
// furthest (ranges are in address order), and that one agrees with those
// before it, so comparing with it is enough.
func (c *cloner) mismatch(b *cblock) int32 {
	cursor, owner := b.start, int32(-1)
	for _, ky := range c.keys[b.lo:b.hi] {
		r := &c.ranges[ky.idx]
		if owner >= 0 && r.start() < cursor && !c.agree(&c.ranges[owner], r) {
			return ky.idx
		}
		if owner < 0 || r.end() > cursor {
			cursor, owner = max(cursor, r.end()), ky.idx
		}
	}
	return -1
}

// pword is a pointer-bearing slot of a source value: the address of its
// first word (an integer, never followed) and its kind.
type pword struct {
	addr uintptr
	kind layout.SlotKind
}

// agree reports whether o and r, o starting first, have the same pointer
// words where they overlap. Views of one type on its element boundaries
// agree without looking. Interface boxes, which no code writes through,
// agree with each other, and with a string's bytes, if they differ only
// in words that are zero (zeroApart): the linker gives a constant struct
// boxed into an interface and a string literal of the same bytes one
// address (TestCloneConstantBoxOverAStringLiteral). With other views they
// agree only if both types are pointer-free: the runtime boxes small
// integers and booleans in a table that one-byte strings converted from
// []byte point into too, while only unsafe code makes a pointer or slice
// into a box.
//
// Other views must have the very same pointer words, nil or not: the
// records follow the view met first, and a pointer stored later through
// a view with a pointer word the first lacked (a typed pointer into a
// clone, before Freeze) would be in no record, so Freeze would neither
// check nor relocate it. Because the records follow the first view, and
// each view agrees with the one before it, every later view's pointer
// words are the recorded ones.
func (c *cloner) agree(o, r *crange) bool {
	// A box and a string's bytes: both read-only, and the linker may give
	// them one address without any unsafe code (a constant struct boxed
	// into an interface, and a string literal of the same bytes).
	boxString := o.via == viaBox && r.via == viaString || o.via == viaString && r.via == viaBox
	if (o.via == viaBox) != (r.via == viaBox) && !(o.t.PtrFree && r.t.PtrFree) && !boxString {
		return false
	}
	if o.t == r.t && (r.start()-o.start())%o.t.Size == 0 {
		return true // o overlaps r, so o.t.Size > 0
	}
	lo, hi := r.start(), min(r.end(), o.end())
	c.words[0] = pointerWords(c.words[0][:0], o, lo, hi)
	c.words[1] = pointerWords(c.words[1][:0], r, lo, hi)
	return slices.Equal(c.words[0], c.words[1]) ||
		(r.via == viaBox || boxString) && zeroApart(c.words[0], c.words[1], o, r)
}

// zeroApart reports whether every slot that only one of two views has
// (at its address, of its kind), a of o and b of r, holds zero bytes
// only. Such a slot holds nil, which no view relocates, and every view
// copies zero bytes as they are, so the views agree on what the copy
// holds. The runtime makes such views without unsafe code: an interface
// holding "" and one holding a nil slice both point to one shared zero
// value, as a string and as a slice header.
func zeroApart(a, b []pword, o, r *crange) bool {
	for i, j := 0, 0; i < len(a) || j < len(b); {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			i, j = i+1, j+1
		case j == len(b) || i < len(a) && a[i].addr <= b[j].addr:
			if !zeroSlot(o, a[i]) {
				return false
			}
			i++
		default:
			if !zeroSlot(r, b[j]) {
				return false
			}
			j++
		}
	}
	return true
}

// zeroSlot reports whether the words of r's slot w are all zero.
func zeroSlot(r *crange, w pword) bool {
	words := uintptr(2) // string, interface
	switch w.kind {
	case layout.SlotPointer:
		words = 1
	case layout.SlotSlice:
		words = 3
	}
	// The slot lies inside r's source memory (pointerWords found it in one
	// of r's elements), which the cloner's ranges keep alive.
	p := unsafe.Add(r.src, w.addr-r.start())
	for k := range words {
		if *(*uintptr)(unsafe.Add(p, k*ptrSize)) != 0 {
			return false
		}
	}
	return true
}

// pointerWords appends, in address order, the slots of r's elements that
// begin in [lo, hi).
func pointerWords(out []pword, r *crange, lo, hi uintptr) []pword {
	if r.t.PtrFree || r.t.Size == 0 {
		return out
	}
	for k := (max(lo, r.start()) - r.start()) / r.t.Size; k < r.n; k++ {
		base := r.start() + k*r.t.Size
		if base >= hi {
			break
		}
		out = slotWords(out, base, r.t.Slots, lo, hi)
	}
	return out
}

func slotWords(out []pword, base uintptr, slots []layout.Slot, lo, hi uintptr) []pword {
	for _, s := range slots {
		u := base + s.Off
		if s.Kind != layout.SlotArray {
			if u >= lo && u < hi {
				out = append(out, pword{u, s.Kind})
			}
			continue
		}
		for j := uintptr(0); j < s.Len; j++ {
			e := u + j*s.Elem.Size
			if e >= hi {
				break
			}
			if e+s.Elem.Size > lo {
				out = slotWords(out, e, s.Elem.Slots, lo, hi)
			}
		}
	}
	return out
}

// zeroBoxes reports whether every range of the block is an interface's
// box and every byte of the block is zero.
func (c *cloner) zeroBoxes(b *cblock) bool {
	for _, ky := range c.keys[b.lo:b.hi] {
		if c.ranges[ky.idx].via != viaBox {
			return false
		}
	}
	// The block's bytes lie in one allocation, which its ranges share
	// (they overlap) and keep alive.
	for _, x := range unsafe.Slice((*byte)(c.src(b)), b.end-b.start) {
		if x != 0 {
			return false
		}
	}
	return true
}

// straddler returns a range of the block with an element that begins
// before the end of the block's earlier ranges and ends after it, or -1.
func (c *cloner) straddler(b *cblock) int32 {
	cursor := b.start
	for _, ky := range c.keys[b.lo:b.hi] {
		r := &c.ranges[ky.idx]
		if r.start() < cursor && cursor < r.end() && (cursor-r.start())%r.t.Size != 0 {
			return ky.idx
		}
		cursor = max(cursor, r.end())
	}
	return -1
}

// layout gives every block its offset in the clone's allocation and
// returns the allocation's size. Each block keeps its address modulo the
// largest alignment; string-only blocks are packed at the end.
func (c *cloner) layout() uintptr {
	var total uintptr
	c.typed = 0
	for i := range c.blocks {
		b := &c.blocks[i]
		if b.strings {
			continue
		}
		total = alignUp(total, c.maxAlign) + b.start%c.maxAlign
		b.rel = total
		total += max(b.end-b.start, 1) // an empty block still gets an address of its own
		c.typed++
	}
	c.strOff = total
	for i := range c.blocks {
		if b := &c.blocks[i]; b.strings {
			b.rel = total
			total += b.end - b.start
		}
	}
	c.total = total
	return total
}

// firstElem returns the first element of r that starts at or after cursor.
func firstElem(r *crange, cursor uintptr) uintptr {
	if cursor <= r.start() || r.t.Size == 0 {
		return 0
	}
	return min((cursor-r.start()+r.t.Size-1)/r.t.Size, r.n)
}

// recordBlock writes the records of one block: one per range not covered
// by earlier ranges of the block; a range overlapping earlier ones only in
// part is recorded from its first element past the overlap. Every range
// learns the index of the record that holds its first byte.
func (c *cloner) recordBlock(b *cblock) {
	a := c.a
	first := a.recs.len()
	cursor := b.start
	for _, ky := range c.keys[b.lo:b.hi] {
		r := &c.ranges[ky.idx]
		off := c.off + b.rel + (ky.start - b.start)
		k := firstElem(r, cursor)
		if a.recs.len() > first && (r.end() <= cursor || k == r.n) {
			r.rec = int32(c.containing(first, off))
			continue
		}
		if k == 0 {
			r.rec = int32(a.recs.len())
		} else {
			r.rec = int32(c.containing(first, off))
		}
		a.record(off+k*r.t.Size, r.n-k, r.t, NoParent)
		c.owners = push(c.owners, ky.idx)
		cursor = max(cursor, r.end())
	}
}

// containing returns the index of the record (from first on) whose memory
// holds arena offset off. Records are in offset order, so none after the
// last that starts at or before off can hold it, and the scan starts
// there rather than at the end: a clone of n windows of width n of one
// array, each with a pointer to its first element, scanned n²/2 records
// that way (BenchmarkCloneOfOverlappingWindows at n = 16,000: 0.67-0.73 s
// against 3.3-3.6 ms). Most often first holds off (a range not split
// over records), and no search is made.
func (c *cloner) containing(first int, off uintptr) int {
	if c.holds(first, off) {
		return first // records do not overlap: no later one holds off
	}
	for j := c.a.recs.searchFrom(first+1, uint64(off)); j > first; j-- {
		if c.holds(j, off) {
			return j
		}
	}
	return first
}

// holds reports whether the memory of record j, or its first byte if it
// is empty, holds arena offset off.
func (c *cloner) holds(j int, off uintptr) bool {
	rec := c.a.recs.at(j)
	size := rec.N * uint64(layout.ByID(rec.Type).Size)
	return uint64(off) >= rec.Off && uint64(off) < rec.Off+max(size, 1)
}

// src returns the source of block b: that of its first range, which
// begins where the block does.
func (c *cloner) src(b *cblock) unsafe.Pointer { return c.ranges[c.keys[b.lo].idx].src }

// dst returns where block b is copied to (once place has run). The
// clone's allocation holds every block at its rel (layout), so the
// address lies inside the arena's used bytes.
func (c *cloner) dst(b *cblock) unsafe.Pointer { return unsafe.Add(c.a.rng.Addr(), c.off+b.rel) }

// copyBlocks copies the blocks of string bytes, or the others, in the
// order of c.blocks, which is the order layout gave their copies (the
// strings' bytes packed after the typed blocks). A block of string bytes
// and few of them (raw hashes a longer run part by part) has nothing to
// translate: its source [start, end) lies in one allocation, which the
// block's overlapping ranges share, and layout gave the copy end-start
// bytes at rel in the clone's allocation, so it is one copy.
func (c *cloner) copyBlocks(strings bool) {
	for i := range c.blocks {
		if i%touchChunk == 0 {
			c.touchBlocks(i, strings)
		}
		b := &c.blocks[i]
		switch n := b.end - b.start; {
		case b.strings != strings:
		case strings && n <= hashChunk:
			copy(unsafe.Slice((*byte)(c.dst(b)), n), unsafe.Slice((*byte)(c.src(b)), n))
			if c.hashing {
				c.a.copied.written(c.a.rng.Addr(), c.off+b.rel+n)
			}
		default:
			c.copyBlock(b)
		}
	}
}

// copyBlock copies one block: pointer-free bytes with memmove, pointer
// words translated through the edges, in address order.
func (c *cloner) copyBlock(b *cblock) {
	w := blockWriter{c: c, b: b, src: c.src(b), dst: c.dst(b), done: b.start}
	cursor := b.start
	for _, ky := range c.keys[b.lo:b.hi] {
		r := &c.ranges[ky.idx]
		if r.end() <= cursor || r.t.PtrFree {
			cursor = max(cursor, r.end())
			continue
		}
		k := firstElem(r, cursor)
		e := int(r.edgeOff) + int(k)*r.t.Edges
		w.rng, w.edges = ky.idx, c.edgesOf(r)
		for ; k < r.n; k++ {
			e = w.slots(unsafe.Add(r.src, k*r.t.Size), r.t.Slots, e)
		}
		cursor = max(cursor, r.end())
	}
	w.raw(b.end)
	if c.hashing {
		c.a.copied.written(c.a.rng.Addr(), uintptr(w.at(b.end))-uintptr(c.a.rng.Addr()))
	}
}

type blockWriter struct {
	c     *cloner
	b     *cblock
	src   unsafe.Pointer // the block's source (c.src)
	dst   unsafe.Pointer // and its copy (c.dst)
	done  uintptr        // source bytes before this are written
	rng   int32          // the range whose slots are being written
	edges []int32        // its edges (c.edgesOf)
}

// at returns where the copy of source address u goes. Callers pass u
// in [start, end] of the block, so it stays inside the block's copy (or
// one past its end, for a length).
func (w *blockWriter) at(u uintptr) unsafe.Pointer { return unsafe.Add(w.dst, u-w.b.start) }

// from returns source address u as a pointer into the block's source,
// derived from the source pointer, never from u: u in [start, end) lies
// in the one allocation the block's overlapping ranges share.
func (w *blockWriter) from(u uintptr) unsafe.Pointer { return unsafe.Add(w.src, u-w.b.start) }

// raw copies the pointer-free source bytes [done, to). While the clone
// hashes what it writes, it copies a long run hashChunk bytes at a time
// and hashes each chunk's whole pages while they are in the cache.
func (w *blockWriter) raw(to uintptr) {
	for to > w.done {
		end := to
		if w.c.hashing && to-w.done > hashChunk {
			end = w.done + hashChunk
		}
		n := int(end - w.done)
		copy(unsafe.Slice((*byte)(w.at(w.done)), n), unsafe.Slice((*byte)(w.from(w.done)), n))
		w.done = end
		if w.c.hashing && end != to {
			base := w.c.a.rng.Addr()
			w.c.a.copied.written(base, uintptr(w.at(end))-uintptr(base))
		}
	}
}

// hashChunk is how much of a long run of bytes Clone copies before it
// hashes the pages it has finished, while hashing what it writes: 64 KiB,
// which stays in a core's L2 cache.
const hashChunk = 64 << 10

// target returns the copy a pointer word's edge leads to (nil for noEdge).
func (w *blockWriter) target(e int) unsafe.Pointer {
	if t := w.edges[e]; t != noEdge {
		return w.c.ranges[t].dst
	}
	return nil
}

// planned returns the length that discover found for the string or slice
// at p, of elements of elemSize bytes, whose data word has edge e: what
// was copied, the size of the range the edge leads to in elements (lineUp
// may have counted that range in smaller elements since, keeping its
// size), or 0 for noEdge, a nil data word. A length read again from the
// source could differ, if another goroutine changed the value while it
// was cloned (a data race), and a header claiming more than was copied
// would let readers past the copy. Elements of size zero occupy no
// memory, so any length of them is safe: theirs is the source's.
func (w *blockWriter) planned(e int, elemSize uintptr, p unsafe.Pointer) int {
	t := w.edges[e]
	switch {
	case t == noEdge:
		return 0
	case elemSize == 0:
		return *(*int)(unsafe.Add(p, ptrSize))
	}
	return int(w.c.ranges[t].size() / elemSize)
}

// slots writes one value's pointer words (and the raw bytes before them),
// consuming its edges from e on; it returns the next edge.
func (w *blockWriter) slots(base unsafe.Pointer, slots []layout.Slot, e int) int {
	for _, s := range slots {
		p := unsafe.Add(base, s.Off)
		u := uintptr(p)
		if s.Kind == layout.SlotArray {
			for j := uintptr(0); j < s.Len; j++ {
				e = w.slots(unsafe.Add(p, j*s.Elem.Size), s.Elem.Slots, e)
			}
			continue
		}
		if u < w.done {
			e++ // written by an overlapping range already
			continue
		}
		w.raw(u)
		d := w.at(u)
		// Typed stores of arena pointers: if one were ever a Go-heap
		// pointer, the cgocheck2 build would abort here.
		switch s.Kind {
		case layout.SlotPointer:
			*(*unsafe.Pointer)(d) = w.target(e)
			w.done = u + ptrSize
		case layout.SlotString:
			*(*unsafe.Pointer)(d) = w.target(e)
			*(*int)(unsafe.Add(d, ptrSize)) = w.planned(e, 1, p)
			w.done = u + 2*ptrSize
		case layout.SlotSlice:
			n := w.planned(e, s.Elem.Size, p)
			*(*unsafe.Pointer)(d) = w.target(e)
			*(*int)(unsafe.Add(d, ptrSize)) = n
			*(*int)(unsafe.Add(d, 2*ptrSize)) = n // cap == len
			w.done = u + 3*ptrSize
		case layout.SlotEface, layout.SlotIface:
			// The type or itab word is metadata Go never frees (in the
			// binary, or made at run time and cached for the life of the
			// process: see the file comment), copied as an integer so that
			// no write barrier or cgocheck sees it. It
			// is read again here, so it must still describe what the data
			// word's edge leads to, the copy of what discover found.
			tw, target := *(*uintptr)(p), w.target(e)
			if !w.c.typeFits(tw, w.edges[e]) {
				if w.c.changed[1] == 0 {
					w.c.changed = [2]uintptr{uintptr(w.rng), u}
				}
				tw, target = 0, nil
			}
			*(*uintptr)(d) = tw
			*(*unsafe.Pointer)(unsafe.Add(d, ptrSize)) = target
			w.done = u + 2*ptrSize
		}
		e++
	}
	return e
}

// typeFits reports whether an interface whose type or itab word is now tw
// may be copied with the data word that edge t gives it: whether tw is
// still the type discover met there (a race can have changed it since).
// A nil interface has no edge; a pointer-shaped value, none if it is nil;
// any other value's edge leads to a copy of its box, and a pointer-shaped
// one's to a copy of what it points to, of the type discover counted its
// elements in (lineUp may since have counted an array's in its elements,
// keeping its size).
func (c *cloner) typeFits(tw uintptr, t int32) bool {
	if tw == 0 {
		return t == noEdge
	}
	dt := layout.Known(tw)
	switch {
	case dt == nil:
		// A type no clone in the process has met (layout.Known is
		// process-wide: a type it knows need not be one this value
		// held, which the checks below settle).
		return false
	case t == noEdge:
		return dt.Direct
	}
	r := &c.ranges[t]
	p := dt
	if dt.Direct {
		p = dt.Slots[0].Elem
	}
	if p.Size != r.size() {
		return false
	}
	for p != r.t {
		e, _, ok := arrayStep(p)
		if !ok {
			return false
		}
		p = e
	}
	return true
}

// arrayStep returns the element type and length of t if t is an array of
// one element or more: one step of lineUp's counting of a range in
// smaller elements, which typeFits retraces.
func arrayStep(t *layout.Type) (elem *layout.Type, n uintptr, ok bool) {
	if t.RType.Kind() != reflect.Array || t.RType.Len() == 0 {
		return nil, 0, false
	}
	return layout.Of(t.RType.Elem()), uintptr(t.RType.Len()), true
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
		parts = append(parts, c.local(i, slot))
		if r.parent < 0 {
			t, _ := c.named(i)
			parts = append(parts, t.Name())
		}
		slot, i = r.slot, r.parent
	}
	slices.Reverse(parts)
	return strings.Join(parts, "")
}

// local names the byte at address u inside range i.
func (c *cloner) local(i int32, u uintptr) string {
	r := &c.ranges[i]
	t, n := c.named(i)
	off := u - r.start()
	s := ""
	switch r.via {
	case viaBox:
		s = layout.Assertion(t)
	case viaDirect:
		s = c.directLabel(r)
	}
	if r.via == viaSlice || n != 1 {
		if t.Size == 0 {
			return s + "[0]"
		}
		return s + fmt.Sprintf("[%d]", off/t.Size) + layout.FieldPath(t.RType, off%t.Size)
	}
	return s + layout.FieldPath(t.RType, off)
}

// directLabel names the way from an interface to the pointee of the
// pointer-shaped value stored in it: ".(*T)" for a *T, ".(S).P" for a
// struct S whose one field P is a pointer, ".([1]*T)[0]" for an array. It
// reads the interface's type word again, in the parent's source memory
// (alive while Clone runs), since the range keeps only the pointee's type.
func (c *cloner) directLabel(r *crange) string {
	if r.parent < 0 {
		return ""
	}
	parent := &c.ranges[r.parent]
	off := r.slot - parent.start()
	it := layout.InterfaceAt(parent.t.RType, off%parent.t.Size)
	if it == nil {
		return ""
	}
	// The slot lies in the parent's source memory: off is inside it.
	v := reflect.NewAt(it, unsafe.Add(parent.src, off)).Elem()
	if v.IsNil() {
		return ""
	}
	return layout.Assertion(layout.Of(v.Elem().Type()))
}

// PlanValue plans a clone of *v.
func PlanValue[T any](v *T) (*ClonePlan, error) {
	return PlanClone(layout.For[T](), unsafe.Pointer(v))
}

// ApplyValue copies a plan made by PlanValue[T] into a and returns the
// root's copy.
func ApplyValue[T any](a *Arena, p *ClonePlan) (*T, error) {
	dst, err := a.Apply(p)
	if err != nil {
		return nil, err
	}
	return (*T)(dst), nil
}

// Clone visits its ranges in address order (place, recordBlock,
// copyBlocks) and by the records they make (place's parent links), and
// keeps them in c.ranges in the order it discovered them. Where the
// orders differ, a graph reached otherwise than as it was built or a
// table's values, each visit reads from anywhere in c.ranges, 56 bytes a
// range, which for a large clone misses the caches, and each miss waits
// for the work of the visit before it. touchBlocks and touchOwners read
// the ranges of the next touchChunk blocks or records first, in a loop of
// those reads alone, whose misses the CPU overlaps, so that the visits
// find them in the cache. Place only writes the ranges of string bytes,
// and touches those of typed blocks only. Clones of fewer than touchMin
// ranges, whose ranges stay in the caches, touch nothing.
//
// In five alternating rounds of the arena's BenchmarkClonePointers, a
// million pointers to 24-byte structs listed in shuffled order cloned in
// 224-235 ns a pointer against 359-385 without (medians 228 and 364), and
// 100,000 in 171-194 against 161-253 (179 and 201); listed in the order
// they were allocated, a million took 152-162 against 143-156 (160 and
// 155), the touching's own cost. Copying the string bytes, the read of
// each block's source had taken 42 ns of a string's 180 in a clone of a
// million shuffled strings, in a CPU profile, against 17 for the reads
// ahead.
const (
	touchChunk = 256
	touchMin   = 1 << 14
)

// touchBlocks reads the ranges of the blocks [i, i+touchChunk) of string
// bytes, or of the others: of string bytes, the source (c.src); of the
// others, as a range may straddle two cache lines, its first and last
// fields.
func (c *cloner) touchBlocks(i int, strings bool) {
	if len(c.ranges) < touchMin {
		return
	}
	var s uintptr
	for _, b := range c.blocks[i:min(i+touchChunk, len(c.blocks))] {
		if b.strings != strings {
			continue
		}
		for _, k := range c.keys[b.lo:b.hi] {
			r := &c.ranges[k.idx]
			s += uintptr(r.src)
			if !strings {
				s += uintptr(r.via)
			}
		}
	}
	c.touched = s
}

// touchOwners reads the ranges of owners [j, j+touchChunk).
func (c *cloner) touchOwners(j int) {
	if len(c.ranges) < touchMin {
		return
	}
	var s int32
	for _, i := range c.owners[j:min(j+touchChunk, len(c.owners))] {
		r := &c.ranges[i]
		s += r.parent + int32(r.via)
	}
	c.touched = uintptr(s)
}
