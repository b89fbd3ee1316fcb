package snapshot

import (
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/layout"
	"github.com/frozen-go/frozen/internal/lookup"
	"github.com/frozen-go/frozen/internal/offheap"
)

// ErrDuplicateKey is wrapped by the error NewMap returns for a key that
// appears twice; the error names the key (a string key of more than 64
// bytes by at most its first 64, cut where a UTF-8 character starts, and
// its length).
var ErrDuplicateKey = lookup.ErrDuplicateKey

// ErrClusteredKeys is wrapped by the error NewMap returns when the keys
// crowd into the same slots under every seed it tries. Random keys never
// do; many keys of more than 64 bytes (strings, or arrays and structs of
// that size) whose 64-bit xxhash collide, which a seed does not
// separate, can.
var ErrClusteredKeys = lookup.ErrClusteredKeys

// Map is a frozen, read-only hash table outside the Go heap: the garbage
// collector never scans its entries, any number of goroutines may call Get
// at once without locks, and Get does not allocate (for keys and values
// of up to 128 KiB). A Map must not be copied.
// Obtain one from NewMap: the zero value is not a table. Get, Len,
// Strategy, All and Size see an empty one (Size 0), Region returns nil,
// and Verify, KeysIn and Close return an error wrapping arena.ErrClosed.
// To Name, Size, Region, Verify, KeysIn and Close a nil *Map is the zero
// value, so that `defer m.Close()` written before checking NewMap's error
// returns that error instead of panicking (Get, Len, Strategy and All
// dereference it).
type Map[K comparable, V any] struct {
	_    noCopy
	t    lookup.Table[K, V] // the table's header; its arrays are frozen
	snap *Snapshot[lookup.Table[K, V]]
}

// errNoMap is the error for a zero-value Map, which only a declaration
// makes (NewMap never returns one).
var errNoMap = fmt.Errorf("%w: a zero-value Map is not a table (obtain one from NewMap)", arena.ErrClosed)

// NewMap builds a frozen lookup table from entries (for example
// maps.All(m), or any iter.Seq2; a nil entries builds an empty table) and
// freezes it like Take (WithMode, WithName, default name "map",
// WithPermanent).
//
// Keys may be strings, integers of every kind, or fixed-size comparable
// types made of booleans, integers, arrays and structs. Float keys (NaN
// != NaN; -0 == +0 with different bytes), pointers, interfaces, channels
// and strings inside array or struct keys are refused with an error
// wrapping arena.ErrUnsupported that names the field and its type, as
// Clone's errors do ("snapshot: key type K: K.Ar[].F: float32: floats
// are not supported …"), but where == compares no byte: in an array of
// length 0, or in a blank field that holds no pointer. A key
// that appears twice gives an error
// wrapping ErrDuplicateKey that names it; keys that no seed spreads out,
// ErrClusteredKeys. Values may be anything
// arena.Clone accepts; pointer-free values are stored inline next to their
// keys, others are deep-copied into the same arena (shared values stay
// shared). A value that cannot be copied (a map, channel or func inside
// an interface) gives an error wrapping arena.ErrUnsupported that names
// its key and the path inside the value, for example:
//
//	snapshot: value of key "abc": Config.Index: map[string]int: maps are not supported …
//
// A table of 16,384 entries or more whose values hold no pointers is
// built in private memory outside the Go heap (with huge pages where the
// kernel gives them), released before NewMap returns, so that building it
// leaves the garbage collector little but the collected entries (and, for
// string keys of more than 16 bytes, one heap buffer holding those keys);
// smaller tables and pointer-bearing values are built on the Go heap. Either way
// the table is then copied into the arena that is frozen. Where the
// private memory that a build would need is more than the address space
// holds (on 32-bit platforms, some tens of millions of entries), NewMap
// gives an error wrapping arena.ErrExhausted that says so.
//
// The table chooses its strategy from the keys: a linear scan for up to
// eight entries, direct addressing for dense integer keys (whose slots
// hold only values), otherwise static open addressing, where a lookup
// scans tag bytes from the key's home slot onwards, eight at a time, and
// compares keys only where the tag matches. Tags also record each key's
// distance from its home slot, so that a miss stops where the next home's
// keys begin. Tables of 8-byte integer keys store each key's hash (a
// bijection of the key) instead of the key and no tags, and a lookup
// compares hashes, which are stored in increasing order, from the home
// slot on.
func NewMap[K comparable, V any](entries iter.Seq2[K, V], opts ...Option) (*Map[K, V], error) {
	o := makeOptions("map", opts)
	if err := o.check(); err != nil {
		return nil, err // before the table is built
	}
	if err := layout.For[V]().Err; err != nil {
		return nil, fmt.Errorf("snapshot: NewMap: value type: %w", err)
	}
	// A large table is built in scratch memory and cloned into the arena
	// that is frozen, so that it leaves no garbage on the Go heap.
	t, scratch, err := lookup.BuildOffHeap(entries)
	if err != nil {
		return nil, err
	}
	s, err := take(*t, o)
	if errors.Is(err, arena.ErrUnsupported) {
		// The clone of the whole table names a slot; name the entry's
		// key and the path inside its value instead.
		if verr := t.ValueError(); verr != nil {
			err = verr
		}
	}
	if scratch != nil {
		err = errors.Join(err, scratch.Release())
	}
	if err != nil {
		if s != nil {
			err = errors.Join(err, s.Close())
		}
		return nil, err
	}
	m := &Map[K, V]{t: s.Value(), snap: s}
	m.t.SetName(s.Name())
	// A write into an entry, or through a value's pointer, is named by the
	// entry's key; one into the table's other parts, through Map's name.
	r := offheap.Unwrap(s.Region().Arena()).Region()
	offheap.NameRoot(r, s.Pointer(), m.t.MapName())
	r.Arena().SetValueName(func(off uintptr) (name string, ok bool) {
		defer func() {
			if recover() != nil {
				// A stray write that corrupted the slot's key (a long
				// key's offset into the blob) leaves the entry unnamed.
				name, ok = "", false
			}
		}()
		return m.t.EntryName(r.ViewAddr(off))
	})
	s.onClose = func() { m.t.SetClosed(true) }
	return m, nil
}

// Get returns the value stored for k, and whether k is present. Values
// holding pointers point into frozen memory, valid until Close. Get does
// not allocate, but for a key or value type over 128 KiB: Go keeps no
// variable that large on the stack, and puts Get's copy of the key (and,
// for a type with padding or blank fields, the copy it hashes with those
// bytes zeroed), or the value it returns, on the heap (store such values
// behind a pointer, V = *Big, for a Get that does not allocate). It panics
// with an error wrapping arena.ErrClosed after Close. The compiler inlines
// Get into its callers, so that a lookup costs them one function call.
func (m *Map[K, V]) Get(k K) (V, bool) { return m.t.Get(k) }

// Len returns the number of entries. Len, Name, Size, Strategy and Region
// may be called after Close, and give what they gave before it.
func (m *Map[K, V]) Len() int { return m.t.Len() }

// All yields every entry, in an unspecified but fixed order. String keys
// and pointer values it yields point into frozen memory, valid until Close.
// After Close, calling All or ranging over a sequence it returned (even
// one taken before Close) panics with an error wrapping arena.ErrClosed,
// like Get; so does a loop whose body closes the Map and goes on to the
// next entry (one that breaks out after the Close ends quietly: nothing
// is read after it).
func (m *Map[K, V]) All() iter.Seq2[K, V] { return m.t.All() }

// Name returns the table's name: the one given with WithName, or "map".
// Fault reports, Verify errors, Get's panic after Close and
// /proc/self/maps use it. Like Len, it may be called after Close; a
// zero-value Map's is "".
func (m *Map[K, V]) Name() string {
	if m == nil || m.snap == nil {
		return ""
	}
	return m.snap.Name()
}

// Strategy names how the table finds keys: "empty", "tiny", "dense" or
// "open-addressing".
func (m *Map[K, V]) Strategy() string { return m.t.Strategy().String() }

// Size returns the bytes the frozen table takes: keys, values, index, and
// what the values point to, cloned beside them (its Region's Size).
func (m *Map[K, V]) Size() int {
	if m == nil || m.snap == nil {
		return 0
	}
	return m.snap.Size()
}

// Region returns the frozen region holding the table.
func (m *Map[K, V]) Region() *freeze.Region {
	if m == nil || m.snap == nil {
		return nil
	}
	return m.snap.Region()
}

// Verify checks that no byte of the table changed since it was built (see
// freeze.Region.Verify). It does not allocate when nothing changed. When
// bytes changed, its error wraps the *freeze.CorruptionError, and names
// the first entries on the changed pages (KeysIn lists them all); among
// the allocations it lists, what a value points to is named by the
// entry's key (`Map[string,*Plan]["pro"] (Plan)`), except strings' bytes,
// which the table keeps packed together and which are listed as "string
// data", naming no entry (a fault in them, under freeze.Guard, names the
// entry and the byte). After Close it returns
// an error wrapping arena.ErrClosed. Unlike Get, it may race with Close:
// it then reports what it found or returns that error, and names entries
// only while the table is mapped.
func (m *Map[K, V]) Verify() error {
	if m == nil || m.snap == nil {
		return errNoMap
	}
	err := m.snap.Verify()
	if err == nil {
		return nil
	}
	var ce *freeze.CorruptionError
	if !errors.As(err, &ce) {
		return err
	}
	const named = 4
	var keys []K
	// Under the region's lock: a Close racing Verify releases the table
	// only before or after the keys are read from it (they are copies).
	r := offheap.Unwrap(m.snap.Region().Arena()).Region()
	_ = r.Reading(func() {
		for _, pg := range ce.Changed {
			if len(keys) > named {
				break
			}
			for _, k := range m.keysIn(r, pg.Start, pg.End) {
				// An entry across two changed pages is on both lists.
				if !slices.Contains(keys, k) {
					keys = append(keys, k)
				}
			}
		}
	})
	if len(keys) == 0 {
		return err // only bytes beside the slots changed: values' strings or slices
	}
	var b strings.Builder
	for i, k := range keys[:min(len(keys), named)] {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(lookup.KeyText(k))
	}
	if len(keys) > named {
		b.WriteString(", …")
	}
	return fmt.Errorf("%w; entries with bytes there: %s", err, b.String())
}

// KeysIn returns the keys of the entries whose bytes lie at the region's
// offsets [start, end): a key, its value, or the table's index bytes for
// it, as they read now (a key that was overwritten reads as it is now).
// What values point to (strings, slices, and the objects behind pointers
// and interfaces, cloned beside the table) is not an entry's bytes here.
// It says which entries a change that Verify found lies in, for each
// changed page:
//
//	keys, err := m.KeysIn(page.Start, page.End)
//
// and which entry a write that freeze.Guard caught was aimed at, where
// the write lies in the table's own bytes: KeysIn(fault.Offset,
// fault.Offset+1). Only unsafe code writes there (Get and All return
// copies); a write through a value's pointer, such as to a field of
// V = *Route, lands in what it points to, and KeysIn names no entry
// for it; the fault's Path names it instead, by its key:
// `Map[string,*Route]["/api"].TimeoutMS` (where the kernel reports only
// a fault's page, as on linux/s390x, a WriteFault has no Path). The range
// is clipped to Size. String keys are copies: unlike All's, they stay
// valid after Close.
//
// The entries KeysIn names are not all that a change may break: a
// changed index byte can also hide from Get the keys stored after its
// slot, and a change to the table's own fields (which Verify lists among
// its allocations under the table's name, and which are no entry's
// bytes) any key of the table. Get may then answer wrongly or panic, and
// where a slice header changed, read wherever it now points, as a reader
// of any snapshot follows a changed pointer: once Verify has found a
// change, trust no lookup of the table.
//
// After Close it returns an error wrapping arena.ErrClosed; it must not
// race with Close, as Get must not.
func (m *Map[K, V]) KeysIn(start, end uintptr) ([]K, error) {
	if m == nil || m.snap == nil {
		return nil, errNoMap
	}
	if m.t.Closed() {
		return nil, fmt.Errorf("%w: KeysIn of map %q after Close", arena.ErrClosed, m.snap.Name())
	}
	return m.keysIn(offheap.Unwrap(m.snap.Region().Arena()).Region(), start, end), nil
}

// keysIn is KeysIn of the table in region r, for a caller that knows the
// table open (or holds r's lock, see Verify).
func (m *Map[K, V]) keysIn(r *offheap.Region, start, end uintptr) []K {
	if end = min(end, uintptr(m.Size())); start >= end {
		return nil
	}
	return m.t.KeysIn(r.ViewAddr(start), r.ViewAddr(end))
}

// Close releases the table; its address range stays inaccessible in
// quarantine (bounded: see arena.SetQuarantine), so a value kept past
// Close faults instead of reading reused memory. It is idempotent, and
// may be called from several goroutines at once. A table built
// WithPermanent is never released: Close returns an error wrapping
// freeze.ErrPermanent. If the kernel refuses to release the memory,
// Close returns its error and may be called again. Close must not race
// with Get: a Get still running when the table is unmapped faults, which
// kills the process outside freeze.Guard.
func (m *Map[K, V]) Close() error {
	if m == nil || m.snap == nil {
		return errNoMap
	}
	return m.snap.Close()
}
