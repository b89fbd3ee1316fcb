// Package lookup builds the read-only hash tables behind snapshot.Map.
//
// A Table is built once from all its entries on the Go heap, then deep-
// copied into a frozen arena (snapshot.Take), so that its arrays live
// outside the Go heap and are never scanned by the garbage collector.
// Keys and values are stored together in slots; a parallel array holds
// one tag byte per slot (0 for an empty slot, else four bits of the key's
// hash and its distance from its home slot), so that a lookup reads eight
// tags at once, compares the key only in slots whose tag matches, and so
// touches one slot for a hit and usually none for a miss. Tables of 8-byte
// integer keys have no tags: their slots hold each key's hash, which for
// integers is a bijection, so the key is recovered from it, and a lookup
// finds its key by comparing hashes, reading one slot for a hit.
//
// The strategy is chosen per key set, the way static tables do:
//
//   - tiny (at most 8 entries): a linear scan, no hashing;
//   - dense integer keys (span at most twice the count): direct addressing;
//   - otherwise static open addressing at load 0.8 (0.6 for 8-byte
//     integer keys): each key's home slot comes from its hash
//     (multiply-shift for integers); keys are placed in order of their
//     home slot, each in the first free slot at or after its home, and a
//     lookup scans the tags from the home slot on, eight at a time,
//     until it finds the key or the first key of a later home (or an
//     empty slot), which the tags reveal; in a table of 8-byte integer
//     keys it scans the slots' hashes instead, four at a time, up to the
//     first that is not below its own. String tables keep one such part
//     per key length (0 to 16 bytes inline, and one for longer keys), so
//     an inline key's length is implied by its part; every part ends
//     with an empty slot, so no scan crosses into the next. A lookup's
//     memory accesses depend only on the hash, so consecutive lookups
//     overlap their cache misses; a perfect hash (PTHash style) was
//     measured first and was 2.1× to 3.6× slower at 1e5 to 1e6 keys
//     because of its pilot indirection.
//
// Seeds: each build draws its first seed at random, as Go's maps do, and
// tries up to eight seeds in all (integers switching to a stronger hash)
// while keys cluster, so keys chosen against one build's hash do not defeat
// another. Keys of more than 64 bytes are hashed with xxhash before the
// seed is mixed in: keys whose 64-bit xxhash collide stay together under
// every seed (they cost a longer scan, or, many of them, a failed build).
//
// Keys: strings, integers of every kind, and fixed-size comparable types
// made of booleans, integers, arrays and structs. Arrays of no elements
// and blank fields, which == ignores, are no part of the key (a blank
// field's bytes are zeroed before hashing): such an array may be of any
// element, and such a field of any type that holds no pointer, a float
// included. Floats (NaN != NaN, and -0 == +0 while their bytes
// differ), pointers, interfaces, channels, and strings inside array or
// struct keys are refused where == compares them.
package lookup

import (
	"cmp"
	"errors"
	"fmt"
	"iter"
	"math"
	"math/bits"
	"math/rand/v2"
	"reflect"
	"slices"
	"unicode/utf8"

	"github.com/frozen-go/frozen/internal/layout"
	"github.com/frozen-go/frozen/internal/offheap"
)

// ErrDuplicateKey is wrapped by the error naming a repeated key.
var ErrDuplicateKey = errors.New("snapshot: duplicate key")

// ErrClusteredKeys is wrapped by the error of a build whose keys crowd
// into the same slots under every seed it tries.
var ErrClusteredKeys = errors.New("snapshot: keys cluster under every seed")

type keyKind uint8

const (
	kString     keyKind = iota + 1
	kInt                // all integer kinds, read as uint64
	kRaw                // padding-free fixed-size values: hashed as bytes
	kComparable         // fixed-size values with padding or blank fields: hashed as bytes, those bytes zeroed
)

// Strategy is how a table finds keys.
type Strategy uint8

// Strategies.
const (
	Empty  Strategy = iota // no entries
	Tiny                   // linear scan
	Dense                  // integer keys, direct addressing: vslots, no keys stored
	Hashed                 // open addressing
)

// String names the strategy as snapshot.Map.Strategy reports it.
func (s Strategy) String() string {
	return [...]string{"empty", "tiny", "dense", "open-addressing"}[s]
}

const (
	tinyMax = 8
	// load is the share of slots in use: 0.8 keeps a 16-byte string key
	// with an 8-byte value within 32 bytes per entry (24 / 0.8 for the
	// slot, 1.25 for its tag), and distance tags keep misses short at it
	// (see get_unsafe.go).
	load = 0.8
	// intLoad is the load of tables of 8-byte integer keys (see
	// hashSlot), whose slots are 16 bytes for an 8-byte value: 27 bytes
	// per entry at 0.6. Their lookup reads a window of four slots from
	// home and takes a second window, a mispredicted branch, for a key
	// four or more slots from home: at 0.8 about one key in five, at
	// 0.6 one in twenty. In one process, alternating rounds, 1e3 uint64
	// keys, hits took 3.4-3.5 ns at 0.6 against 4.9-5.2 at 0.8, 3.7 at
	// 0.7 and 3.3-3.4 at 0.5 (Go's map: 5.9-6.3); at 1e5 keys 7.1-13.3
	// ns (median 7.4) against 9.1-15.7 (median 10.3), misses 6.8-10.0
	// (median 7.7) against 9.1-20.4 (median 9.3); at 1e6, where each
	// lookup misses the caches, the rounds overlapped.
	intLoad  = 0.6
	maxSeeds = 8
	// tagPad zero tags follow the last slot, so that an eight-tag load at
	// any slot stays inside the tags.
	tagPad = 8
	// hashPad slots follow the empty slot after the last key of a table
	// of hashSlots, so that Get's window of hashPad+1 slots at any
	// slot up to that empty one stays inside the slots.
	hashPad = 3
)

type inlineKey [16]byte

// The slots hold the value first: Go pads a struct whose last field has
// no size, so a slot that ended in the value of a set (V = struct{})
// would take a word more than its key.

type strSlot[V any] struct {
	Val V
	Key inlineKey // up to 16 bytes, zero-padded; or (offset, length) into the blob
}

type keySlot[K comparable, V any] struct {
	Val V
	Key K
}

// hashSlot is a slot of a hashed table of 8-byte integer keys: the value,
// and the key's hash, from which the key is recovered (for these keys the
// hash is a bijection, see unhash). An empty slot holds emptyHash.
//
// These tables had tags too until measured without them: in one process,
// alternating rounds of 1e3 to 1e7 uint64 keys, hits took 8.3 / 13.4 /
// 25-85 / 112-145 ns without tags against 10.0 / 15.6 / 84-107 / 150-179
// with them (Go's map: 7.8 / 14.3 / 46-87 / 105-202), and misses 8.7 /
// 13.6 / 19-52 / 45-125 against 7.5 / 9.5 / 11-15 / 15-88 (Go's map: 8.3 /
// 23.7 / 18-22 / 39-127): a host so noisy that only the order within a
// round means much. Hits are the common case of a lookup table, and a
// miss without tags costs about what Go's map does.
type hashSlot[V any] struct {
	Val V
	H   uint64
}

// emptyHash marks an empty hashSlot. It is the largest hash, so a scan in
// hash order stops at an empty slot as it does at a key of a greater hash;
// no key of such a table has it (place reseeds if one does).
const emptyHash = ^uint64(0)

// part is one open-addressing sub-table over a share of the slots. String
// tables have one part per key length (0 to 16 bytes, and one for longer
// keys), so that an inline key's length is implied by its part and need not
// be stored; other tables have one part.
type part struct {
	n     int
	m     uint64 // home slots: a key's home is slot0 + high half of hash × m
	size  uint64 // slots, the overflow tail after the last home included
	slot0 uint64 // first slot in Table.sslots or Table.kslots
}

// parts is the number of parts of a string table.
const parts = 18

// Table is a read-only hash table. The zero value is an empty table. After
// Build it is never modified, so any number of goroutines may read it.
type Table[K comparable, V any] struct {
	kind   keyKind
	strat  Strategy
	size   uintptr // integer keys: bytes
	signed bool    // integer keys: signed kind
	n      int
	seed   uint64
	pad    []span // kComparable keys: the bytes that == ignores
	min    uint64 // Dense: the smallest key
	strong bool   // integer keys: mix64 instead of multiply-shift
	ints   bool   // Hashed with 8-byte integer keys: hslots, no tags
	part   [parts]part
	sslots []strSlot[V]
	lens   []uint8 // Tiny string tables: each key's length
	blob   []byte  // string keys longer than 16 bytes
	// longLen is the length of every long key of a Hashed string table
	// whose long keys all have one length, and whose blob then holds the
	// key of slot slot0+j (of the long keys' part) at j×longLen; else 0.
	longLen uint64
	kslots  []keySlot[K, V]
	// vslots holds a Dense table's values, that of key min+i in slot i:
	// a slot's key follows from its index, so no slot stores one.
	vslots []V
	hslots []hashSlot[V] // Hashed tables of 8-byte integer keys, which have no tags
	// tags has one byte per slot (Dense, Hashed but for hslots), then
	// tagPad zeros: 0 for an empty slot, else distTag (Dense: 1).
	tags []uint8

	// Set on snapshot.Map's copy of the header only (see SetClosed).
	closed uint32 // read and written atomically
	name   string
}

// KeyError explains why a key type cannot be used.
type KeyError struct {
	Type string
	// Field is the path to the refused part of Type and its type, as
	// Clone's errors name a field ("Route.Weights[].F: float32"), or ""
	// where Type itself is refused.
	Field  string
	Reason string
}

// Error says which key type was refused, where in it, and why.
func (e *KeyError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("snapshot: key type %s: %s: %s", e.Type, e.Field, e.Reason)
	}
	return fmt.Sprintf("snapshot: key type %s: %s", e.Type, e.Reason)
}

// Unwrap returns layout.ErrUnsupported (arena.ErrUnsupported).
func (e *KeyError) Unwrap() error { return layout.ErrUnsupported }

// kindOf classifies K, or explains why it cannot be a key.
func kindOf[K comparable]() (kind keyKind, size uintptr, signed bool, err error) {
	rt := reflect.TypeFor[K]()
	switch rt.Kind() {
	case reflect.String:
		return kString, 0, false, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return kInt, rt.Size(), true, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return kInt, rt.Size(), false, nil
	}
	name := layout.ShortName(rt)
	leaves, why, at, bad := rawLeaves(rt, true, name)
	if why != "" {
		e := &KeyError{Type: name, Reason: why}
		if bad != rt {
			e.Field = at + ": " + layout.ShortName(bad)
		}
		return 0, 0, false, e
	}
	if leaves == rt.Size() {
		return kRaw, rt.Size(), false, nil
	}
	return kComparable, rt.Size(), false, nil
}

// rawLeaves returns the bytes of rt's leaves (to detect padding), or why rt
// cannot be a key, with the path to the refused part (path being rt's
// own, built as Clone's errors build one: ".Field", "[]" for an array's
// elements) and its type.
func rawLeaves(rt reflect.Type, top bool, path string) (uintptr, string, string, reflect.Type) {
	switch rt.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return rt.Size(), "", "", nil
	case reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return 0, "floats are not supported in keys (NaN != NaN, and -0 == +0 although their bytes differ)", path, rt
	case reflect.String:
		if top {
			return 0, "", "", nil
		}
		return 0, "strings inside array or struct keys are not supported (use a string key, or fixed-size arrays of bytes)", path, rt
	case reflect.Array:
		if rt.Len() == 0 {
			return 0, "", "", nil // no bytes, nothing compared, whatever the element
		}
		n, why, at, bad := rawLeaves(rt.Elem(), false, path+"[]")
		return n * uintptr(rt.Len()), why, at, bad
	case reflect.Struct:
		if layout.IsUniqueHandle(rt) {
			// Its pointer is the handle's identity, which == compares: a
			// Go-heap pointer, which frozen memory cannot hold.
			return 0, "unique handles are compared by identity, a Go-heap pointer that a frozen table cannot hold (netip.Addr holds one: use a string key, or the address's bytes, Addr.As16)", path, rt
		}
		var total uintptr
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			// == ignores blank (_) fields, so their bytes are no part of
			// the key: counted like padding, they send the type to the
			// kComparable path, which zeroes them before hashing. Of
			// what they hold only pointers matter, which a key's slot
			// would carry into the arena.
			if f.Name == "_" {
				if layout.Of(f.Type).PtrFree {
					continue
				}
				return 0, "blank fields holding pointers or strings are not supported in keys (== ignores them, but a key's slot would carry their pointers into the frozen table)", path + "._", f.Type
			}
			n, why, at, bad := rawLeaves(f.Type, false, path+"."+f.Name)
			if why != "" {
				return 0, why, at, bad
			}
			total += n
		}
		return total, "", "", nil
	case reflect.Pointer, reflect.UnsafePointer, reflect.Chan:
		return 0, "pointers and channels are not supported in keys (a frozen table compares values, not identities)", path, rt
	case reflect.Interface:
		return 0, "interfaces are not supported in keys (their dynamic values could be anything, pointers included)", path, rt
	}
	return 0, rt.Kind().String() + " is not supported in keys", path, rt
}

// Build collects the entries and builds a table on the Go heap. Keys
// must be unique.
func Build[K comparable, V any](entries iter.Seq2[K, V]) (*Table[K, V], error) {
	t, _, err := build(entries, false)
	return t, err
}

// BuildOffHeap builds a table like Build, but when it has at least
// offHeapMin entries and its slots hold no pointers (values without
// pointers), its arrays and the records sorted to fill them are allocated
// in scratch memory outside the Go heap, which it returns (else nil). The
// caller copies the table (snapshot.NewMap clones it into the arena it
// freezes) and then releases the scratch memory.
//
// Built on the Go heap, a table of 1e7 entries left over a gigabyte of
// garbage, which the runtime kept and returned to the kernel only slowly,
// and which made each forced collection meanwhile take 1-4 ms, against
// 0.1-0.2 ms once it was returned.
func BuildOffHeap[K comparable, V any](entries iter.Seq2[K, V]) (*Table[K, V], *offheap.Scratch, error) {
	return build(entries, true)
}

// offHeapMin is the fewest entries BuildOffHeap builds outside the heap:
// a scratch mapping costs system calls, more than a small table's
// garbage.
const offHeapMin = 1 << 14

func build[K comparable, V any](entries iter.Seq2[K, V], offHeap bool) (*Table[K, V], *offheap.Scratch, error) {
	kind, size, signed, err := kindOf[K]()
	if err != nil {
		return nil, nil, err
	}
	c := collect(entries, kind == kString)
	t := &Table[K, V]{kind: kind, size: size, signed: signed, n: c.n}
	if kind == kComparable {
		t.pad = padSpans(reflect.TypeFor[K]())
	}
	var m mem
	if offHeap && c.n >= offHeapMin && layout.For[V]().PtrFree {
		size, err := t.scratchBytes(c.n, c.longBytes, c.longMax)
		if err != nil {
			return nil, nil, err
		}
		if m.s, err = offheap.NewScratch(size); err != nil {
			return nil, nil, err
		}
	}
	switch {
	case c.n == 0:
	case c.n <= tinyMax:
		err = t.buildTiny(c.flatten())
	case kind == kInt && t.denseSpan(&c):
		err = t.buildDense(&c, m)
	default:
		err = t.buildHashed(c, m)
	}
	if err != nil {
		if m.s != nil {
			err = errors.Join(err, m.s.Release())
		}
		return nil, nil, err
	}
	return t, m.s, nil
}

// scratchBytes bounds what a table of n entries allocates in scratch
// memory: two record arrays, and at most 3n + 64 slots with their tags
// (a dense table spans at most 2n slots; a hashed one about n/load, at
// most 2n for every load used (load, intLoad), and each part up to its
// number of keys more), plus alignment. Only what is allocated takes
// memory. String keys of more than 16 bytes, longBytes in all and the
// longest longMax, add a blob laid out by slot (blobBySlot): at most
// 3n + 64 slots of their part, each of one key's length. A bound the
// address space cannot hold (on 32-bit platforms, a few tens of millions
// of entries) is an error wrapping ErrExhausted that says so, not a
// wrapped-around size whose scratch runs out part way.
func (t *Table[K, V]) scratchBytes(n int, longBytes, longMax uint64) (uintptr, error) {
	rs, ss := reflect.TypeFor[rec[keySlot[K, V]]]().Size(), reflect.TypeFor[keySlot[K, V]]().Size()
	if t.kind == kString {
		rs, ss = reflect.TypeFor[rec[strSlot[V]]]().Size(), reflect.TypeFor[strSlot[V]]().Size()
	}
	// 2n·rs + 3n·(ss+1) + 64·(ss+1) + tagPad + 4096 + 3·longBytes +
	// 64·longMax in 128 bits (hi, lo): n < 2^63 and the sizes are far
	// below 2^32, the key bytes below 2^63 (they are in memory), so no
	// term wraps, and the sum fits a uintptr exactly when hi is 0 and lo
	// does.
	var hi, lo uint64
	add := func(h, l uint64) {
		var c uint64
		lo, c = bits.Add64(lo, l, 0)
		hi += h + c
	}
	add(bits.Mul64(uint64(n), 2*uint64(rs)))
	add(bits.Mul64(uint64(n), 3*(uint64(ss)+1)))
	add(0, 64*(uint64(ss)+1)+tagPad+4096)
	add(bits.Mul64(longBytes, 3))
	add(bits.Mul64(longMax, 64))
	if hi != 0 || lo > uint64(^uintptr(0)) {
		return 0, fmt.Errorf("%w: a table of %d entries of %s needs more scratch memory to build than the address space holds",
			offheap.ErrExhausted, n, reflect.TypeFor[map[K]V]())
	}
	return uintptr(lo), nil
}

// mem allocates the arrays of a table being built: in scratch memory s
// when there is some (build makes it only for values without pointers, so
// that every array holds none; ScratchSlice refuses any that would), else
// on the Go heap.
type mem struct{ s *offheap.Scratch }

func makeSlice[T any](m mem, n int) ([]T, error) {
	if m.s == nil {
		return make([]T, n), nil
	}
	return offheap.ScratchSlice[T](m.s, n)
}

// entry is a key and its value as collect gathers them. The value comes
// first, as in the slots, so that a set's entries (V = struct{}) are not
// padded.
type entry[K comparable, V any] struct {
	v V
	k K
}

// entries holds what collect gathered: chunks of entries, the last one
// possibly short.
type entries[K comparable, V any] struct {
	chunks [][]entry[K, V]
	n      int
	// String keys of more than 16 bytes: their bytes in all, and the
	// longest (the blob's size, and the bound of one laid out by slot).
	longBytes, longMax uint64
}

// collect gathers the entries in fixed-size chunks. Growing one slice by
// append measured 150 ms for a million string keys, against 20 ms in
// chunks: each doubling of a large pointer-bearing slice is a fresh
// allocation to zero, fault in and scan.
func collect[K comparable, V any](seq iter.Seq2[K, V], strs bool) entries[K, V] {
	if seq == nil {
		return entries[K, V]{}
	}
	chunk := chunkLen(reflect.TypeFor[entry[K, V]]().Size())
	var c entries[K, V]
	cur := make([]entry[K, V], 0, chunk)
	for k, v := range seq {
		if len(cur) == chunk {
			c.chunks = append(c.chunks, cur)
			cur = make([]entry[K, V], 0, chunk)
		}
		cur = append(cur, entry[K, V]{k: k, v: v})
		if strs { // K's underlying type is string: asString may read it
			if n := uint64(len(asString(&k))); n > 16 {
				c.longBytes, c.longMax = c.longBytes+n, max(c.longMax, n)
			}
		}
	}
	c.chunks = append(c.chunks, cur)
	c.n = len(c.chunks)*chunk - chunk + len(cur)
	return c
}

// chunkLen returns the entries of size bytes in a chunk of collect: 4096,
// or fewer, down to one, so that a chunk of large entries takes at most
// chunkBytes. Each chunk is allocated whole: 4096 entries of a 128 KiB
// value took 512 MiB for a table of one entry, and of a 16 MiB value 64
// GiB, more than a host of 23 GiB could map (the runtime's out of memory
// is a fatal error, not an error NewMap returns).
func chunkLen(size uintptr) int {
	return int(min(chunkMax, max(chunkBytes/max(size, 1), 1)))
}

const (
	chunkMax   = 4096
	chunkBytes = 1 << 20 // 4096 entries of up to 256 bytes
)

// flatten returns the keys and values in two slices.
func (c *entries[K, V]) flatten() ([]K, []V) {
	keys, vals := make([]K, 0, c.n), make([]V, 0, c.n)
	for _, ch := range c.chunks {
		for _, e := range ch {
			keys = append(keys, e.k)
			vals = append(vals, e.v)
		}
	}
	return keys, vals
}

// Len returns the number of entries.
func (t *Table[K, V]) Len() int { return t.n }

// Strategy returns how the table finds keys.
func (t *Table[K, V]) Strategy() Strategy { return t.strat }

// Bytes returns the memory the table's arrays take.
func (t *Table[K, V]) Bytes() int {
	return len(t.sslots)*int(reflect.TypeFor[strSlot[V]]().Size()) + len(t.lens) + len(t.blob) +
		len(t.kslots)*int(reflect.TypeFor[keySlot[K, V]]().Size()) + len(t.vslots)*int(reflect.TypeFor[V]().Size()) +
		len(t.hslots)*int(reflect.TypeFor[hashSlot[V]]().Size()) + len(t.tags)
}

func duplicate[K comparable](k K) error {
	return fmt.Errorf("%w: %s", ErrDuplicateKey, KeyText(k))
}

// KeyText formats a key as the errors and fault paths that name one do:
// quoted if it is a string (of any string type: a type assertion to
// string would miss named ones), otherwise as %v prints it. A string key
// of more than keyTextMax bytes is cut there (at a rune boundary) and its
// length given, and other keys' text after four times as many, so that a
// huge key does not make a huge error. Bytes that == ignores (blank
// fields) print as zero, so that keys equal by == print alike.
func KeyText[K comparable](k K) string {
	switch reflect.TypeFor[K]().Kind() {
	case reflect.Struct, reflect.Array:
		// Cleared as bytes in k, a copy: only where K holds no pointer
		// (as every key type Build accepts), whose slots must not be
		// written that way.
		if layout.For[K]().PtrFree {
			b := rawBytes(&k)
			for _, sp := range padSpans(reflect.TypeFor[K]()) {
				clear(b[sp.lo:sp.hi])
			}
		}
	case reflect.String:
		s := asString(&k)
		if len(s) > keyTextMax {
			return fmt.Sprintf("%q… (%d bytes)", s[:runeCut(s, keyTextMax)], len(s))
		}
		return fmt.Sprintf("%q", s)
	}
	s := fmt.Sprintf("%v", k)
	if len(s) > 4*keyTextMax {
		return s[:runeCut(s, 4*keyTextMax)] + "…"
	}
	return s
}

const keyTextMax = 64

// runeCut returns the largest n <= limit at which s can be cut without
// splitting a UTF-8 sequence, or limit where s is not UTF-8 there (no
// rune start among the last UTFMax bytes before it): bytes of no
// sequence, which %q shows escaped, one by one.
func runeCut(s string, limit int) int {
	for n := limit; n > max(limit-utf8.UTFMax, 0); n-- {
		if utf8.RuneStart(s[n]) {
			return n
		}
	}
	return limit
}

// ValueError returns an error naming the key of the first entry, in slot
// order, whose value cannot be cloned into an arena, and the path to the
// refused type inside that value:
//
//	snapshot: value of key "abc": Config.Index: map[string]int: maps are not supported …
//
// or nil if every value can be cloned. Only values holding interfaces can
// fail once V itself is accepted: the dynamic type (the value's own, when
// V is an interface type) is refused, or something it reaches. The error
// wraps layout.ErrUnsupported. ValueError plans a clone of every value,
// so it is meant for explaining a failed clone of the whole table, whose
// own error names only a slot.
func (t *Table[K, V]) ValueError() error {
	if layout.For[V]().PtrFree {
		return nil
	}
	for k, v := range t.All() {
		if err := clonable(v); err != nil {
			return fmt.Errorf("snapshot: value of key %s: %w", KeyText(k), err)
		}
	}
	return nil
}

// clonable reports why v cannot be cloned into an arena, with the path
// from v's dynamic type (its own type, unless V is an interface type), or
// nil.
func clonable[V any](v V) error {
	rv := reflect.ValueOf(&v).Elem()
	if rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	// A copy of the value, of its dynamic type, for PlanClone to read
	// (which refuses that type, or something it reaches); the plan is
	// released without being applied.
	cp := reflect.New(rv.Type())
	cp.Elem().Set(rv)
	plan, err := offheap.PlanClone(layout.Of(rv.Type()), cp.UnsafePointer())
	if err != nil {
		if ce, ok := errors.AsType[*offheap.CloneError](err); ok {
			return ce.Cause()
		}
		return err
	}
	plan.Release()
	return nil
}

// setKey stores key k and its value into slot i, and its tag when the
// table has tags.
func (t *Table[K, V]) setKey(i uint64, k *K, v V, tag uint8) {
	if t.tags != nil {
		t.tags[i] = tag
	}
	if t.kind != kString {
		t.kslots[i] = keySlot[K, V]{Key: *k, Val: v}
		return
	}
	t.sslots[i] = strSlot[V]{Key: t.strKey(asString(k)), Val: v}
}

func (t *Table[K, V]) alloc(mm mem, m uint64) (err error) {
	if t.ints {
		t.hslots, err = makeSlice[hashSlot[V]](mm, int(m+hashPad))
		return err
	}
	switch {
	case t.strat == Dense:
		t.vslots, err = makeSlice[V](mm, int(m))
	case t.kind == kString:
		t.sslots, err = makeSlice[strSlot[V]](mm, int(m))
	default:
		t.kslots, err = makeSlice[keySlot[K, V]](mm, int(m))
	}
	if err == nil && t.strat != Tiny {
		t.tags, err = makeSlice[uint8](mm, int(m+tagPad))
	}
	return err
}

func (t *Table[K, V]) buildTiny(keys []K, vals []V) error {
	for i := range keys {
		for j := 0; j < i; j++ {
			if keys[i] == keys[j] {
				return duplicate(keys[i])
			}
		}
	}
	t.strat = Tiny
	if err := t.alloc(mem{}, uint64(len(keys))); err != nil {
		return err
	}
	for i := range keys {
		t.setKey(uint64(i), &keys[i], vals[i], 0)
		if t.kind == kString {
			t.lens = append(t.lens, uint8(min(len(asString(&keys[i])), 255)))
		}
	}
	return nil
}

// denseSpan reports whether integer keys span at most twice their count,
// in their own order: signed keys are biased by 1<<63 so that they order
// as unsigned ones do (-1 below 0), unsigned keys are not (1<<63-1 just
// below 1<<63).
func (t *Table[K, V]) denseSpan(c *entries[K, V]) bool {
	var bias uint64
	if t.signed {
		bias = 1 << 63
	}
	lo, hi := ^uint64(0), uint64(0)
	for _, ch := range c.chunks {
		for i := range ch {
			u := asU64(&ch[i].k, t.signed) + bias
			lo, hi = min(lo, u), max(hi, u)
		}
	}
	if hi-lo >= 2*uint64(c.n) {
		return false
	}
	t.min = lo - bias
	return true
}

func (t *Table[K, V]) buildDense(c *entries[K, V], m mem) error {
	t.strat = Dense
	span := uint64(0)
	for _, ch := range c.chunks {
		for i := range ch {
			span = max(span, asU64(&ch[i].k, t.signed)-t.min+1)
		}
	}
	t.part[0].m = span
	if err := t.alloc(m, span); err != nil {
		return err
	}
	for _, ch := range c.chunks {
		for i := range ch {
			j := asU64(&ch[i].k, t.signed) - t.min
			if t.tags[j] != 0 {
				return duplicate(ch[i].k)
			}
			t.tags[j], t.vslots[j] = 1, ch[i].v
		}
	}
	return nil
}

// hash returns the hash of k under the table's seed.
func (t *Table[K, V]) hash(k *K) uint64 {
	switch t.kind {
	case kString:
		return t.hashString(asString(k), t.seed)
	case kInt:
		return t.hashInt(asU64(k, t.signed))
	case kRaw:
		return t.hashBytes(rawBytes(k), t.seed)
	}
	// kComparable: the key's bytes with those that == ignores (padding,
	// blank fields) zeroed, in a copy. (hash/maphash.Comparable ignored
	// them too, except when built with -tags purego, whose version hashes
	// blank fields: keys equal by == then had different hashes.)
	c := *k
	b := rawBytes(&c)
	for _, sp := range t.pad {
		clear(b[sp.lo:sp.hi])
	}
	return t.hashBytes(b, t.seed)
}

// span is a range of bytes [lo, hi) of a key.
type span struct{ lo, hi uint32 }

// padSpans returns the byte ranges of a key of type rt that == ignores:
// padding and blank (_) fields, in order.
func padSpans(rt reflect.Type) []span {
	used := make([]bool, rt.Size())
	var mark func(rt reflect.Type, off uintptr)
	mark = func(rt reflect.Type, off uintptr) {
		switch rt.Kind() {
		case reflect.Array:
			for i := range uintptr(rt.Len()) {
				mark(rt.Elem(), off+i*rt.Elem().Size())
			}
		case reflect.Struct:
			for i := range rt.NumField() {
				if f := rt.Field(i); f.Name != "_" {
					mark(f.Type, off+f.Offset)
				}
			}
		default: // a boolean or an integer (kindOf refused every other kind)
			for j := range rt.Size() {
				used[off+j] = true
			}
		}
	}
	mark(rt, 0)
	var spans []span
	for i := 0; i < len(used); {
		if used[i] {
			i++
			continue
		}
		j := i
		for j < len(used) && !used[j] {
			j++
		}
		spans = append(spans, span{uint32(i), uint32(j)})
		i = j
	}
	return spans
}

// home maps a hash to a home slot among m (the high half of h × m).
func (t *Table[K, V]) home(h, m uint64) uint64 {
	hi, _ := bits.Mul64(h, m)
	return hi
}

// load returns the share of a part's slots that hold keys.
func (t *Table[K, V]) load() float64 {
	if t.ints {
		return intLoad
	}
	return load
}

// slotsFor returns the number of home slots of a part of n keys.
func (t *Table[K, V]) slotsFor(n int) uint64 { return max(uint64(float64(n)/t.load()), 1) }

// partOf returns the part a key belongs to.
func (t *Table[K, V]) partOf(k *K) int {
	if t.kind == kString {
		return min(len(asString(k)), parts-1)
	}
	return 0
}

var errReseed = errors.New("lookup: reseed")

// firstSeed returns the seed a build tries first: random, as Go's own maps
// do, so that the seeds after it (each derived from the one before) cannot
// be known in advance. With a fixed first seed, 200 integer keys chosen
// for each of the eight seeds (the hashes are invertible) made every
// build fail with clustered keys. Tests that place keys by their home
// slot replace it.
var firstSeed = rand.Uint64

// rec is a key's slot as it will be stored, with the key's hash.
//
// A hashed table is built by moving whole records: they are made from the
// collected entries in order, sorted by hash (a counting sort scatters
// them: the one pass that writes at random), and copied into the slots in
// sequence. Sorting key indices instead, then writing each key's slot at
// random, took 267-295 ns per key at 1e6 16-byte string keys and 129-185
// ns at 1e6 uint64 keys, against 117-167 and 92-111 ns this way (four
// alternating runs of BenchmarkBuild); reading each index's key and value
// at random to write the slots in sequence was slower still. Every random
// access there misses the caches and the TLB.
type rec[S any] struct {
	h uint64
	s S
}

func (t *Table[K, V]) buildHashed(c entries[K, V], m mem) error {
	t.strat = Hashed
	t.ints = t.kind == kInt && t.size == 8 // keys kept as their hashes, in hslots
	// Part p's records are recs[first[p]:first[p+1]].
	var first [parts + 1]int
	if t.kind != kString {
		recs, err := makeSlice[rec[keySlot[K, V]]](m, c.n)
		if err != nil {
			return err
		}
		i := 0
		for _, ch := range c.chunks {
			for _, e := range ch {
				recs[i].s = keySlot[K, V]{Key: e.k, Val: e.v}
				i++
			}
		}
		for p := 1; p <= parts; p++ {
			first[p] = c.n
		}
		return placeAndFill(t, m, recs, &first,
			func(_ int, s *keySlot[K, V]) uint64 { return t.hash(&s.Key) },
			func(_ int, a, b *keySlot[K, V]) bool { return a.Key == b.Key },
			func(_ int, s *keySlot[K, V]) error { return duplicate(s.Key) },
			func(sorted []rec[keySlot[K, V]]) {
				if t.ints {
					fillByHash(t, sorted)
				} else {
					fill(t, sorted, &first, t.kslots)
				}
			})
	}
	// String keys: one part per length, long keys' bytes in the blob.
	for _, ch := range c.chunks {
		for i := range ch {
			first[min(len(asString(&ch[i].k)), parts-1)+1]++
		}
	}
	for p := 1; p <= parts; p++ {
		first[p] += first[p-1]
	}
	if c.longBytes > 0 {
		// Without long keys the blob stays nil: an empty one would be
		// cloned as an allocation of no bytes, listed by Verify and
		// Allocations on the page it sits on.
		t.blob = make([]byte, 0, c.longBytes)
	}
	recs, err := makeSlice[rec[strSlot[V]]](m, c.n)
	if err != nil {
		return err
	}
	at := first
	for _, ch := range c.chunks {
		for i := range ch {
			s := asString(&ch[i].k)
			p := min(len(s), parts-1)
			r := &recs[at[p]]
			at[p]++
			r.s.Key, r.s.Val = t.strKey(s), ch[i].v
		}
	}
	return placeAndFill(t, m, recs, &first,
		func(p int, s *strSlot[V]) uint64 {
			if p < parts-1 {
				a, b := s.Key.words()
				return t.hash16(a, b, p, t.seed)
			}
			return t.hashString(t.longKey(&s.Key), t.seed)
		},
		func(p int, a, b *strSlot[V]) bool {
			if p < parts-1 {
				return a.Key == b.Key // same part, same length
			}
			return t.longKey(&a.Key) == t.longKey(&b.Key)
		},
		func(p int, s *strSlot[V]) error {
			if p < parts-1 {
				return duplicate(string(s.Key[:p]))
			}
			return duplicate(t.longKey(&s.Key))
		},
		func(sorted []rec[strSlot[V]]) {
			fill(t, sorted, &first, t.sslots)
			t.blobBySlot(m)
		})
}

// blobBySlot lays the blob out by slot when every long key has the same
// length L: the key of slot slot0+j of the long keys' part at j×L (empty
// slots' bytes unused), each slot's (offset, length) words rewritten to
// match, so that a lookup finds a candidate's bytes from its index, and
// reads them and its slot at once instead of one after the other. Keys
// of other lengths, or a blob that size would not fit an int, keep the
// blob as collected. If the new blob cannot be allocated, the old one
// stays, and so does its layout.
func (t *Table[K, V]) blobBySlot(m mem) {
	p := &t.part[parts-1]
	if p.n == 0 {
		return
	}
	var l uint64
	for j := range p.size {
		if t.tags[p.slot0+j] == 0 {
			continue
		}
		_, n := t.sslots[p.slot0+j].Key.words()
		if l != 0 && n != l {
			return
		}
		l = n
	}
	hi, size := bits.Mul64(p.size, l)
	if hi != 0 || size > math.MaxInt {
		return
	}
	blob, err := makeSlice[byte](m, int(size))
	if err != nil {
		return
	}
	for j := range p.size {
		k := &t.sslots[p.slot0+j].Key
		if t.tags[p.slot0+j] == 0 {
			continue
		}
		off, _ := k.words()
		copy(blob[j*l:(j+1)*l], t.blob[off:off+l])
		k.set(j*l, l)
	}
	t.blob, t.longLen = blob, l
}

// strKey returns string key s as a slot stores it: its bytes inline, or
// for a key of more than 16 bytes its offset and length in the blob, to
// which it appends s.
func (t *Table[K, V]) strKey(s string) (k inlineKey) {
	if len(s) <= 16 {
		k.set(t.pack16(s)) // two stores; copy measured 10 ns a key
		return k
	}
	k.set(uint64(len(t.blob)), uint64(len(s)))
	t.blob = append(t.blob, s...)
	return k
}

// longKey returns the key of more than 16 bytes that k refers to, aliasing
// the blob.
func (t *Table[K, V]) longKey(k *inlineKey) string {
	off, n := k.words()
	return blobString(t.blob, off, n)
}

// maxBucketBits caps place's buckets at 1<<19 (2 MiB of counters), so
// that buckets average eight records up to four million keys. A cap of 16
// measured 200-293 ns per key at 1e7 16-byte string keys (buckets of 150
// records, sorted by slices.SortFunc) against 125-174 with 19, and no
// difference at 1e6. A variable, so that tests can reach the cap with few
// keys.
var maxBucketBits = 19

// placeAndFill hashes the records of each part and places them (place),
// with further seeds while keys cluster, then allocates the table and has
// store fill it from the records in hash order. It sets t.seed, t.strong
// and t.part. hash returns a record's hash under t.seed, same whether two
// records of a part hold the same key, and dup the error naming a
// record's key.
func placeAndFill[S any, K comparable, V any](t *Table[K, V], m mem, recs []rec[S], first *[parts + 1]int,
	hash func(p int, s *S) uint64, same func(p int, a, b *S) bool, dup func(p int, s *S) error,
	store func(sorted []rec[S]),
) error {
	sorted, err := makeSlice[rec[S]](m, len(recs)) // each part's records in hash order
	if err != nil {
		return err
	}
	seed := firstSeed()
	for range maxSeeds {
		t.seed = seed
		var total uint64
		clustered := false
		for p := 0; p < parts && !clustered; p++ {
			in := recs[first[p]:first[p+1]]
			t.part[p] = part{}
			if len(in) == 0 {
				continue
			}
			for i := range in {
				in[i].h = hash(p, &in[i].s)
			}
			t.part[p] = part{n: len(in), m: t.slotsFor(len(in)), slot0: total}
			d, err := place(t, &t.part[p], in, sorted[first[p]:first[p+1]],
				func(a, b *S) bool { return same(p, a, b) })
			if d != nil {
				return dup(p, d)
			}
			clustered = err == errReseed
			total += t.part[p].size
		}
		if !clustered {
			if err := t.alloc(m, total); err != nil {
				return err
			}
			store(sorted)
			return nil
		}
		seed = t.reseed(seed)
	}
	return fmt.Errorf("%w (%d tried)", ErrClusteredKeys, maxSeeds)
}

// reseed readies the table for another try after its keys clustered
// under seed, and returns the seed to try: integers switch to a stronger
// hash.
func (t *Table[K, V]) reseed(seed uint64) uint64 {
	t.strong = t.kind == kInt
	return t.mix64(seed + 1)
}

// place sorts the records of part p by hash into sorted, and so by home
// slot (the high half of hash × m grows with the hash): each will take the
// first free slot at or after its home, max(home, previous + 1) (fill
// stores them). It sets p.size, at least one past the last key, so that
// the part ends with an empty slot; returns a record whose key an earlier
// one holds too (equal keys have equal hashes, so they end up side by
// side); and returns errReseed when keys cluster: when the mean distance
// from home is over four times what linear probing gives random keys at
// this load (Knuth: (1/(1-a) - 1)/2).
//
// The sort is a counting sort on the top bits of the hash into buckets of
// about eight records (at most 1<<maxBucketBits buckets), then an
// insertion sort of each bucket. Its one scattering pass writes each
// record to one of up to 1<<19 places at random; two passes (the upper
// half of the bucket bits first, into cache-sized buckets, then each of
// those on the lower half) were measured and were no faster: 125-144 ns
// per key of Build at 1e6 16-byte string keys against 114-129, and
// 98-107 against 82-103 for uint64 keys (four alternating runs of
// BenchmarkBuild).
func place[S any, K comparable, V any](t *Table[K, V], p *part, in, sorted []rec[S], same func(a, b *S) bool) (*S, error) {
	bb := min(maxBucketBits, bits.Len(uint(len(in)/8))) // bucket bits
	shift := uint(64 - bb)                              // 64 when bb == 0: one bucket
	end := make([]uint32, 1<<bb+1)
	for i := range in {
		end[in[i].h>>shift+1]++
	}
	for b := 1; b < len(end); b++ {
		end[b] += end[b-1]
	}
	for i := range in {
		e := &end[in[i].h>>shift]
		sorted[*e] = in[i]
		*e++
	}
	// end[b] is now the end of bucket b.
	lo := uint32(0)
	for _, hi := range end[:1<<bb] {
		bucket := sorted[lo:hi]
		lo = hi
		if len(bucket) > 32 { // keys made to share their top bits
			slices.SortFunc(bucket, func(x, y rec[S]) int { return cmp.Compare(x.h, y.h) })
			continue
		}
		for i := 1; i < len(bucket); i++ {
			if bucket[i].h >= bucket[i-1].h {
				continue
			}
			x, j := bucket[i], i
			for ; j > 0 && x.h < bucket[j-1].h; j-- {
				bucket[j] = bucket[j-1]
			}
			bucket[j] = x
		}
	}
	m := p.m
	next, displaced, run := uint64(0), uint64(0), 0
	for i := range sorted {
		e := &sorted[i]
		if i == 0 || e.h != sorted[i-1].h {
			run = i // records run..i share a hash
		}
		for j := run; j < i; j++ {
			if same(&sorted[j].s, &e.s) {
				return &e.s, nil
			}
		}
		if e.h == emptyHash && t.ints {
			return nil, errReseed // the hash that marks empty slots
		}
		h := t.home(e.h, m)
		s := max(h, next)
		displaced += s - h
		next = s + 1
	}
	p.size = max(next+1, m)
	expected := (1/(1-t.load()) - 1) / 2
	if float64(displaced)/float64(len(in)) > 4*expected+1 {
		return nil, errReseed
	}
	return nil, nil
}

// fill stores the records of each part, sorted by place, into slots (the
// table's sslots or kslots), each in the first free slot at or after its
// home, with its tag. It writes the slots and tags in sequence.
func fill[S any, K comparable, V any](t *Table[K, V], sorted []rec[S], first *[parts + 1]int, slots []S) {
	for p := range t.part {
		pt := &t.part[p]
		next := uint64(0)
		for i := first[p]; i < first[p+1]; i++ {
			r := &sorted[i]
			h := t.home(r.h, pt.m)
			s := max(h, next)
			next = s + 1
			slots[pt.slot0+s] = r.s
			t.tags[pt.slot0+s] = distTag(t.fp(r.h), s-h)
		}
	}
}

// fillByHash stores the records, sorted by place, into t.hslots as fill
// does, each as its hash and value, and marks every other slot empty. It
// writes the slots in sequence.
func fillByHash[K comparable, V any](t *Table[K, V], sorted []rec[keySlot[K, V]]) {
	m, next := t.part[0].m, uint64(0)
	for i := range sorted {
		r := &sorted[i]
		s := max(t.home(r.h, m), next)
		for ; next < s; next++ {
			t.hslots[next].H = emptyHash
		}
		t.hslots[s] = hashSlot[V]{H: r.h, Val: r.s.Val}
		next = s + 1
	}
	for ; next < uint64(len(t.hslots)); next++ {
		t.hslots[next].H = emptyHash
	}
}

// matchString reports whether occupied slot i, whose key has len(s)'s
// length class, holds key s.
func (t *Table[K, V]) matchString(i uint64, s string) bool {
	if len(s) <= 16 {
		a, b := t.pack16(s)
		ka, kb := t.sslots[i].Key.words()
		return a == ka && b == kb
	}
	off, n := t.sslots[i].Key.words()
	return n == uint64(len(s)) && string(t.blob[off:off+n]) == s
}

// All yields every entry, in slot order. After SetClosed(true) it panics
// like Get, and so does ranging over a sequence it returned: each slot is
// read only while the table is open, since the sequence may be ranged
// over after SetClosed, or the loop's body may close the table, and the
// table's memory is then gone. A body that closes the table at the last
// entry makes the range panic too, once the body returns, wherever that
// entry's slot lies: the table's last slots need not hold entries, and
// the range would otherwise panic or end quietly depending on that.
func (t *Table[K, V]) All() iter.Seq2[K, V] {
	t.mustBeOpen("All")
	return func(yield func(K, V) bool) {
		t.mustBeOpen("All") // an empty table has no slot to check at
		for i := range t.slots() {
			t.mustBeOpen("All")
			if t.inUse(i) && !yield(t.keyAt(i), t.valAt(i)) {
				return
			}
		}
		t.mustBeOpen("All")
	}
}

// slots returns the number of slots: of sslots, hslots, kslots or
// vslots, whichever the table has (the others are empty).
func (t *Table[K, V]) slots() int {
	return len(t.sslots) + len(t.hslots) + len(t.kslots) + len(t.vslots)
}

// inUse reports whether slot i holds an entry: every slot of a tiny
// table does; a slot of another holds one if its tag is not zero, or,
// in a table of hashSlots, its hash is not emptyHash.
func (t *Table[K, V]) inUse(i int) bool {
	switch {
	case t.hslots != nil:
		return t.hslots[i].H != emptyHash
	case t.strat == Tiny:
		return true
	}
	return t.tags[i] != 0
}

// keyAt returns the key of slot i, which is in use.
func (t *Table[K, V]) keyAt(i int) (k K) {
	switch {
	case t.sslots != nil:
		sl := &t.sslots[i]
		if n := t.keyLen(uint64(i)); n <= 16 {
			*keyAsString(&k) = inlineString(&sl.Key, n)
		} else {
			off, n := sl.Key.words()
			*keyAsString(&k) = blobString(t.blob, off, n)
		}
		return k
	case t.hslots != nil:
		return fromU64[K](t.unhash(t.hslots[i].H))
	case t.strat == Dense:
		return fromU64[K](t.min + uint64(i))
	}
	return t.kslots[i].Key
}

// valAt returns the value of slot i, which is in use.
func (t *Table[K, V]) valAt(i int) V {
	switch {
	case t.sslots != nil:
		return t.sslots[i].Val
	case t.hslots != nil:
		return t.hslots[i].Val
	case t.strat == Dense:
		return t.vslots[i]
	}
	return t.kslots[i].Val
}

// mustBeOpen panics, naming op, if the table was closed.
func (t *Table[K, V]) mustBeOpen(op string) {
	if t.Closed() {
		t.panicClosed(op)
	}
}

// keyLen returns the length of the string key in slot i (17 or more for a
// key in the blob).
func (t *Table[K, V]) keyLen(i uint64) int {
	if t.strat == Tiny {
		if t.lens[i] <= 16 {
			return int(t.lens[i])
		}
		return t.blobLen(i)
	}
	for p := range t.part {
		if pp := &t.part[p]; i >= pp.slot0 && i < pp.slot0+pp.size && pp.n > 0 {
			if p == parts-1 {
				return t.blobLen(i)
			}
			return p
		}
	}
	return 0
}

// blobLen returns the length word of the key in the blob that slot i
// names. A word too large for an int, which only a stray write leaves
// (Verify and KeysIn read such slots), gives the largest int, never a
// negative length: keyAt then cuts the key at the end of the blob, where
// a negative one would have it made an inline key of that length.
func (t *Table[K, V]) blobLen(i uint64) int {
	_, n := t.sslots[i].Key.words()
	return int(min(n, math.MaxInt))
}
