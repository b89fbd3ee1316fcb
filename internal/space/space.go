// Package space hands out ranges of reserved address space, takes them back
// into a quarantine when they are released, and answers "whose is this
// address?" for fault reports.
//
// Ranges are carved out of large PROT_NONE reservations (chunks). A released
// range is PROT_NONE again (its owner has released its mappings), so it
// merges with its reserved neighbours into one line of /proc/self/maps: a
// thousand released arenas cost the kernel no more mappings than one.
// Released ranges stay reserved, and are not handed out again, until the
// quarantine budget (bytes and ranges) is spent, or, under an address-space
// limit (RLIMIT_AS) too small for a whole chunk, until a range needs room
// that would otherwise be reserved anew (see grow); then the oldest leave
// it first (a range larger than the whole byte budget is never
// quarantined).
// Free space is handed out first fit, lowest address first.
// A dangling pointer into a quarantined range faults instead of reading
// memory that was reused.
//
// All functions are safe for concurrent use.
//
// Unsafe: ranges are described by unsafe.Pointer so that callers can map
// into them without converting integers back to pointers; this package
// only does address arithmetic (unsafe.Add) inside chunks it reserved and
// never dereferences anything.
package space

import (
	"errors"
	"fmt"
	"math/bits"
	"sort"
	"sync"
	"unsafe"

	"github.com/frozen-go/frozen/internal/vm"
)

// ErrAddressSpace is returned when no chunk can be reserved.
var ErrAddressSpace = errors.New("space: out of address space")

// Defaults.
const (
	// DefaultQuarantineBytes is how much released address space is kept
	// inaccessible before any of it is reused.
	DefaultQuarantineBytes = chunkSize
	// DefaultQuarantineRanges caps the number of quarantined ranges (each
	// costs a small record on the Go heap).
	DefaultQuarantineRanges = 16384
)

const ptrBits = 32 << (^uintptr(0) >> 63)

// chunkSize is the size of each reservation ranges are carved from: 64 GiB on
// 64-bit platforms, 256 MiB on 32-bit ones. Chunks are aligned to
// chunkAlign, so that ranges of 1 GiB and more can be 1 GiB-aligned (the
// kernel then moves their page tables one entry per GiB).
const (
	chunkSize  = 1 << (28 + 8*(ptrBits/64))
	chunkAlign = min(1<<30, chunkSize)
)

// Range is a range of address space handed out by Alloc.
type Range struct {
	base unsafe.Pointer
	len  uintptr
	seq  uint64
}

// Addr returns the start of the range.
func (r Range) Addr() unsafe.Pointer { return r.base }

// Len returns its length.
func (r Range) Len() uintptr { return r.len }

// Start and End return its bounds as integers, for comparisons.
func (r Range) Start() uintptr { return uintptr(r.base) }

// End returns the first address after the range.
func (r Range) End() uintptr { return uintptr(r.base) + r.len }

// Contains reports whether addr lies in the range.
func (r Range) Contains(addr uintptr) bool { return addr >= r.Start() && addr < r.End() }

// IsZero reports whether r is the zero Range.
func (r Range) IsZero() bool { return r.base == nil }

type chunk struct {
	res *vm.Reservation
}

// free is a free extent [off, end) of a chunk.
type free struct {
	c        *chunk
	off, end uintptr
}

func (f free) start() uintptr { return uintptr(f.c.res.Addr()) + f.off }

// Entry is what Lookup knows of a range.
type Entry struct {
	Start, End uintptr
	Owner      any    // what Alloc was given; nil once released
	Name       string // the owner's name, kept through quarantine
	Released   bool   // in quarantine
}

type entry struct {
	Entry
	c   *chunk
	seq uint64
}

type manager struct {
	mu        sync.RWMutex
	chunks    []*chunk
	free      []free   // sorted by start address
	entries   []*entry // live and quarantined, sorted by Start
	quar      []*entry // quarantine, oldest first
	quarBytes uintptr
	maxBytes  uintptr
	maxRanges int
	seq       uint64
	live      uintptr
	liveN     int
	lost      uintptr // lost ranges (Lose), never handed out again
	lostN     int
}

var m = &manager{maxBytes: DefaultQuarantineBytes, maxRanges: DefaultQuarantineRanges}

// Alloc hands out n bytes of reserved (PROT_NONE) address space aligned to
// align, recorded as belonging to owner under name until Release.
func Alloc(n, align uintptr, owner any, name string) (Range, error) {
	if n == 0 || n%vm.PageSize != 0 {
		return Range{}, fmt.Errorf("space: alloc %d bytes: not a positive multiple of the page size", n)
	}
	if align < vm.PageSize {
		align = vm.PageSize
	}
	if align&(align-1) != 0 {
		return Range{}, fmt.Errorf("space: alloc: alignment %d is not a power of two", align)
	}
	if n+align < n {
		// Aligned, n would wrap around: no chunk could hold it, and the
		// sizes below would overflow.
		return Range{}, fmt.Errorf("%w: %d bytes aligned to %d overflow it", ErrAddressSpace, n, align)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.take(n, align)
	if !ok {
		var err error
		if f, err = m.grow(n, align); err != nil {
			return Range{}, err
		}
	}
	m.seq++
	r := Range{base: unsafe.Add(f.c.res.Addr(), f.off), len: n, seq: m.seq}
	e := &entry{Entry: Entry{Start: r.Start(), End: r.End(), Owner: owner, Name: name}, c: f.c, seq: r.seq}
	i := sort.Search(len(m.entries), func(i int) bool { return m.entries[i].Start >= e.Start })
	m.entries = append(m.entries, nil)
	copy(m.entries[i+1:], m.entries[i:])
	m.entries[i] = e
	m.live += n
	m.liveN++
	return r, nil
}

// grow makes room for a range of n bytes aligned to align, which no free
// extent holds, and takes it: a new chunk, or, where the kernel will not
// reserve a whole one, quarantined ranges first.
//
// A whole chunk refused means an address-space limit (RLIMIT_AS) or a
// small address space, where every byte reserved here is one that the Go
// runtime (whose heap fails with a fatal error when it cannot grow) and
// the rest of the program no longer have. So the oldest quarantined
// ranges leave the quarantine early, as they would once its budget is
// spent, until the range fits; only then is more reserved, and a quarter
// of what the kernel would give (what the range needs, if more): the
// halving that finds the largest reservation the kernel allows took the
// whole limit, the quarantine then filled it, and arenas, or the Go
// heap, failed for good while nothing was live.
func (m *manager) grow(n, align uintptr) (free, error) {
	size := uintptr(chunkSize)
	if n+align > size/4 {
		size = alignUp(n, align) // a dedicated chunk for a huge range
	}
	need := alignUp(n, align)
	res, err := vm.Reserve(size, max(align, chunkAlign))
	if err != nil {
		// Ranges leaving the quarantine make room only inside the chunks
		// they lie in: for a range larger than every chunk (one no
		// kernel would reserve, say) they would all go for nothing.
		for len(m.quar) > 0 && m.chunkHolds(n) {
			m.evictOldest()
			if f, ok := m.take(n, align); ok {
				return f, nil
			}
		}
		res, err = reserveUnderLimit(size, need, align)
	}
	if err != nil {
		return free{}, fmt.Errorf("%w: reserve %d bytes: %w", ErrAddressSpace, need, err)
	}
	c := &chunk{res: res}
	m.chunks = append(m.chunks, c)
	m.insertFree(free{c: c, off: 0, end: res.Len()})
	f, ok := m.take(n, align)
	if !ok {
		return free{}, fmt.Errorf("%w: %d bytes aligned to %d", ErrAddressSpace, n, align)
	}
	return f, nil
}

// chunkHolds reports whether some chunk is at least n bytes long.
func (m *manager) chunkHolds(n uintptr) bool {
	for _, c := range m.chunks {
		if c.res.Len() >= n {
			return true
		}
	}
	return false
}

// reserveUnderLimit reserves, where a chunk of size was refused, a
// quarter of the largest reservation the kernel allows (halving size down
// to need), or need bytes if that is more.
func reserveUnderLimit(size, need, align uintptr) (*vm.Reservation, error) {
	alignFor := func(size uintptr) uintptr { return max(align, floorPow2(min(chunkAlign, size))) }
	for size > need {
		size = max(size/2, need)
		res, err := vm.Reserve(size, alignFor(size))
		if err != nil {
			continue
		}
		q := alignUp(size/4, vm.PageSize)
		if q <= need || res.Release() != nil {
			return res, nil // a quarter would not hold the range, or the kernel kept it
		}
		if res, err = vm.Reserve(q, alignFor(q)); err == nil {
			return res, nil
		}
		break
	}
	// Last, what the range needs without the chunk's alignment.
	return vm.Reserve(need, align)
}

// take carves n bytes aligned to align from the first free extent that fits.
func (m *manager) take(n, align uintptr) (free, bool) {
	for i, f := range m.free {
		start := f.start()
		a := alignUp(start, align)
		if a < start || a+n < a || a+n > start+(f.end-f.off) {
			continue
		}
		off := f.off + (a - start)
		got := free{c: f.c, off: off, end: off + n}
		var rest []free
		if off > f.off {
			rest = append(rest, free{c: f.c, off: f.off, end: off})
		}
		if got.end < f.end {
			rest = append(rest, free{c: f.c, off: got.end, end: f.end})
		}
		m.free = append(m.free[:i], append(rest, m.free[i+1:]...)...)
		return got, true
	}
	return free{}, false
}

// insertFree adds an extent to the free list, merging it with neighbours in
// the same chunk.
func (m *manager) insertFree(f free) {
	i := sort.Search(len(m.free), func(i int) bool { return m.free[i].start() >= f.start() })
	if i > 0 && m.free[i-1].c == f.c && m.free[i-1].end == f.off {
		f.off = m.free[i-1].off
		i--
		m.free = append(m.free[:i], m.free[i+1:]...)
	}
	if i < len(m.free) && m.free[i].c == f.c && m.free[i].off == f.end {
		f.end = m.free[i].end
		m.free = append(m.free[:i], m.free[i+1:]...)
	}
	m.free = append(m.free, free{})
	copy(m.free[i+1:], m.free[i:])
	m.free[i] = f
}

// Release puts r into quarantine. The caller must already have released
// every mapping it made inside r, so that the whole range is PROT_NONE.
// Releasing a range twice is an error.
func Release(r Range) error { return release(r, true) }

// Discard gives r back for reuse at once, without quarantine: for a range
// whose addresses nobody was ever given (a mapping moved aside for a
// moment), which would only spend the quarantine budget that keeps the
// ranges readers did know inaccessible. The caller must already have
// released every mapping inside r, as for Release.
func Discard(r Range) error { return release(r, false) }

func release(r Range, quarantine bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.find(r.Start())
	if e == nil || e.seq != r.seq || e.Released {
		return fmt.Errorf("space: release of a range not handed out (%#x, %d bytes)", r.Start(), r.len)
	}
	e.Released = true
	e.Owner = nil
	m.live -= r.len
	m.liveN--
	if !quarantine || r.len > m.maxBytes {
		// A range larger than the whole byte budget would push every
		// other range out of quarantine, and then itself: it alone goes.
		m.reuse(e)
		return nil
	}
	m.quar = append(m.quar, e)
	m.quarBytes += r.len
	m.evict()
	return nil
}

// Lose stops listing r, a live range whose addresses are no longer this
// process's to map over: a release unmapped a mapping in it and could not
// reserve the addresses again (vm.ErrRangeLost), so another mapping may
// lie there now. Lookup no longer finds r, so that a fault there is not
// taken for its old owner's, and r is never handed out again.
func Lose(r Range) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.find(r.Start())
	if e == nil || e.seq != r.seq || e.Released {
		return fmt.Errorf("space: loss of a range not handed out (%#x, %d bytes)", r.Start(), r.len)
	}
	m.forget(e)
	m.live -= r.len
	m.liveN--
	m.lost += r.len
	m.lostN++
	return nil
}

// evict moves the oldest quarantined ranges to the free list until the
// quarantine is within budget.
func (m *manager) evict() {
	for len(m.quar) > 0 && (m.quarBytes > m.maxBytes || len(m.quar) > m.maxRanges) {
		m.evictOldest()
	}
}

// evictOldest moves the oldest quarantined range to the free list.
func (m *manager) evictOldest() {
	e := m.quar[0]
	m.quar[0] = nil
	m.quar = m.quar[1:]
	m.quarBytes -= e.End - e.Start
	m.reuse(e)
}

// reuse forgets released range e and puts its space on the free list.
func (m *manager) reuse(e *entry) {
	m.forget(e)
	base := uintptr(e.c.res.Addr())
	m.insertFree(free{c: e.c, off: e.Start - base, end: e.End - base})
}

// forget removes e from the entries.
func (m *manager) forget(e *entry) {
	i := sort.Search(len(m.entries), func(i int) bool { return m.entries[i].Start >= e.Start })
	m.entries = append(m.entries[:i], m.entries[i+1:]...)
}

func (m *manager) find(addr uintptr) *entry {
	i := sort.Search(len(m.entries), func(i int) bool { return m.entries[i].End > addr })
	if i < len(m.entries) && m.entries[i].Start <= addr {
		return m.entries[i]
	}
	return nil
}

// Lookup returns what is known of the range containing addr: its owner while
// it is live, its name while it is live or quarantined.
func Lookup(addr uintptr) (Entry, bool) {
	e, held, _ := Locate(addr)
	return e, held
}

// Locate is Lookup, and says besides, in the same look, whether an addr
// that no range holds lies in reserved space that is free: never handed
// out, or handed out, released and gone from quarantine (unheld). Such
// space is PROT_NONE, so an access there faults; a range lost (Lose) is
// not free, as another mapping may lie there.
func Locate(addr uintptr) (e Entry, held, unheld bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if e := m.find(addr); e != nil {
		return e.Entry, true, false
	}
	i := sort.Search(len(m.free), func(i int) bool { return m.free[i].start() > addr })
	if i > 0 {
		f := m.free[i-1]
		unheld = addr-f.start() < f.end-f.off
	}
	return Entry{}, false, unheld
}

// SetQuarantine sets the quarantine budget: released ranges are kept
// inaccessible until more than maxBytes or maxRanges of them are held, then
// leave it oldest first, free for reuse: zero for either disables the
// quarantine. A range larger than maxBytes is not quarantined at all. It returns
// the previous budget.
func SetQuarantine(maxBytes uintptr, maxRanges int) (prevBytes uintptr, prevRanges int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	prevBytes, prevRanges = m.maxBytes, m.maxRanges
	m.maxBytes, m.maxRanges = maxBytes, max(maxRanges, 0)
	m.evict()
	return prevBytes, prevRanges
}

// Stats is a snapshot of the address space handed out.
type Stats struct {
	LiveBytes        uintptr // reserved by live ranges
	LiveRanges       int
	QuarantineBytes  uintptr // released, not yet reusable
	QuarantineRanges int
	ReservedBytes    uintptr // all chunks together
	Chunks           int
	LostBytes        uintptr // lost (Lose): never handed out again
	LostRanges       int
}

// ReadStats returns the current statistics.
func ReadStats() Stats {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s := Stats{LiveBytes: m.live, LiveRanges: m.liveN, QuarantineBytes: m.quarBytes,
		QuarantineRanges: len(m.quar), Chunks: len(m.chunks),
		LostBytes: m.lost, LostRanges: m.lostN}
	for _, c := range m.chunks {
		s.ReservedBytes += c.res.Len()
	}
	return s
}

func alignUp(x, a uintptr) uintptr { return (x + a - 1) &^ (a - 1) }

// floorPow2 returns the largest power of two not above x (x > 0).
func floorPow2(x uintptr) uintptr { return 1 << (bits.Len(uint(x)) - 1) }

// Chunks returns the bounds of every reservation ranges are carved from.
func Chunks() [][2]uintptr {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([][2]uintptr, len(m.chunks))
	for i, c := range m.chunks {
		out[i] = [2]uintptr{uintptr(c.res.Addr()), uintptr(c.res.Addr()) + c.res.Len()}
	}
	return out
}

// MapsLines counts the lines of /proc/self/maps that lie in the chunks:
// what the library costs against vm.max_map_count (Linux only). A line
// counts once even where it spans chunks: the kernel places a new chunk
// next to an earlier one, and merges their PROT_NONE ends into one line.
func MapsLines() (int, error) {
	chunks := Chunks()
	if len(chunks) == 0 {
		return 0, nil
	}
	lo, hi := chunks[0][0], chunks[0][1]
	for _, c := range chunks[1:] {
		lo, hi = min(lo, c[0]), max(hi, c[1])
	}
	// Only the lines between the chunks are parsed and kept.
	maps, err := vm.ReadMapsWithin(lo, hi)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range maps {
		for _, c := range chunks {
			if e.Overlaps(c[0], c[1]) {
				n++
				break
			}
		}
	}
	return n, nil
}
