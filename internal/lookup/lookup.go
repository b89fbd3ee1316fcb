// Package lookup builds the read-only hash tables behind snapshot.Map.
//
// A Table is built once from all its entries on the Go heap, then deep-
// copied into a frozen arena (snapshot.Take), so that its arrays live
// outside the Go heap and are never scanned by the garbage collector.
// Keys and values are stored together in slots; a parallel array holds
// one tag byte per slot (0 for an empty slot, else four bits of the key's
// hash and its distance from its home slot), so that a lookup reads eight
// tags at once, compares the key only in slots whose tag matches, and so
// touches one slot for a hit and usually none for a miss.
//
// The strategy is chosen per key set, the way static tables do:
//
//   - tiny (at most 8 entries): a linear scan, no hashing;
//   - dense integer keys (span at most twice the count): direct addressing;
//   - otherwise static open addressing at load 0.8: each key's home slot
//     comes from its hash (multiply-shift for integers); keys are placed
//     in order of their home slot, each in the first free slot at or
//     after its home, and a lookup scans the tags from the home slot on,
//     eight at a time, until it finds the key or the first key of a later
//     home (or an empty slot), which the tags reveal. String tables keep
//     one such part per key length (0 to 16 bytes inline, and one for
//     longer keys), so an inline key's length is implied by its part;
//     every part ends with an empty slot, so no scan crosses into the
//     next. A lookup's memory accesses depend only on the hash, so
//     consecutive lookups overlap their cache misses; a perfect hash
//     (PTHash style) was measured first and was 2.1× to 3.6× slower at
//     1e5 to 1e6 keys because of its pilot indirection.
//
// Keys: strings, integers of every kind, and fixed-size comparable types
// made of booleans, integers, arrays and structs. Floats (NaN != NaN, and
// -0 == +0 while their bytes differ), pointers, interfaces, channels, and
// strings inside array or struct keys are refused.
package lookup

import (
	"cmp"
	"errors"
	"fmt"
	"hash/maphash"
	"iter"
	"math/bits"
	"reflect"
	"slices"

	"github.com/frozen-go/frozen/internal/layout"
)

// ErrDuplicateKey is wrapped by the error naming a repeated key.
var ErrDuplicateKey = errors.New("snapshot: duplicate key")

type keyKind uint8

const (
	kString     keyKind = iota + 1
	kInt                // all integer kinds, read as uint64
	kRaw                // padding-free fixed-size values: hashed as bytes
	kComparable         // fixed-size values with padding: hashed by hash/maphash
)

// Strategy is how a table finds keys.
type Strategy uint8

// Strategies.
const (
	Empty  Strategy = iota // no entries
	Tiny                   // linear scan
	Dense                  // integer keys, direct addressing
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
	load     = 0.8
	maxSeeds = 8
	// tagPad zero tags follow the last slot, so that an eight-tag load at
	// any slot stays inside the tags.
	tagPad = 8
)

type inlineKey [16]byte

type strSlot[V any] struct {
	Key inlineKey // up to 16 bytes, zero-padded; or (offset, length) into the blob
	Val V
}

type keySlot[K comparable, V any] struct {
	Key K
	Val V
}

// part is one open-addressing sub-table over a share of the slots. String tables have one part per key length (0 to 16 bytes, and
// one for longer keys), so that an inline key's length is implied by its
// part and need not be stored; other tables have one part.
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
	mseed  maphash.Seed
	min    uint64 // Dense: the smallest key
	strong bool   // integer keys: mix64 instead of multiply-shift
	part   [parts]part
	sslots []strSlot[V]
	lens   []uint8 // Tiny string tables: each key's length
	blob   []byte  // string keys longer than 16 bytes
	kslots []keySlot[K, V]
	// tags has one byte per slot (Dense, Hashed), then tagPad zeros: 0
	// for an empty slot, else distTag (Dense: 1).
	tags []uint8
}

// KeyError explains why a key type cannot be used.
type KeyError struct {
	Type   string
	Reason string
}

// Error says which key type was refused and why.
func (e *KeyError) Error() string {
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
	leaves, why := rawLeaves(rt, true)
	if why != "" {
		return 0, 0, false, &KeyError{Type: layout.ShortName(rt), Reason: why}
	}
	if leaves == rt.Size() {
		return kRaw, rt.Size(), false, nil
	}
	return kComparable, rt.Size(), false, nil
}

// rawLeaves returns the bytes of rt's leaves (to detect padding), or why rt
// cannot be a key.
func rawLeaves(rt reflect.Type, top bool) (uintptr, string) {
	switch rt.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return rt.Size(), ""
	case reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return 0, "floats are not supported in keys (NaN != NaN, and -0 == +0 although their bytes differ)"
	case reflect.String:
		if top {
			return 0, ""
		}
		return 0, "strings inside array or struct keys are not supported (use a string key, or fixed-size arrays of bytes)"
	case reflect.Array:
		n, why := rawLeaves(rt.Elem(), false)
		return n * uintptr(rt.Len()), why
	case reflect.Struct:
		var total uintptr
		for i := 0; i < rt.NumField(); i++ {
			n, why := rawLeaves(rt.Field(i).Type, false)
			if why != "" {
				return 0, why
			}
			total += n
		}
		return total, ""
	case reflect.Pointer, reflect.UnsafePointer, reflect.Chan:
		return 0, "pointers and channels are not supported in keys (a frozen table compares values, not identities)"
	case reflect.Interface:
		return 0, "interfaces are not supported in keys (their dynamic values could be anything, pointers included)"
	}
	return 0, rt.Kind().String() + " is not supported in keys"
}

// Build collects the entries and builds a table. Keys must be unique.
func Build[K comparable, V any](entries iter.Seq2[K, V]) (*Table[K, V], error) {
	kind, size, signed, err := kindOf[K]()
	if err != nil {
		return nil, err
	}
	keys, vals := collect(entries)
	t := &Table[K, V]{kind: kind, size: size, signed: signed, n: len(keys)}
	switch {
	case len(keys) == 0:
		return t, nil
	case len(keys) <= tinyMax:
		return t, t.buildTiny(keys, vals)
	case kind == kInt && t.denseSpan(keys):
		return t, t.buildDense(keys, vals)
	}
	return t, t.buildHashed(keys, vals)
}

// collect gathers the entries in fixed-size chunks, then into two slices
// of exactly the right length. Growing the slices by append measured
// 150 ms for a million string keys, against 20 ms this way: each doubling
// of a large pointer-bearing slice is a fresh allocation to zero, fault in
// and scan.
func collect[K comparable, V any](entries iter.Seq2[K, V]) ([]K, []V) {
	if entries == nil {
		return nil, nil
	}
	type entry struct {
		k K
		v V
	}
	const chunk = 4096
	var full [][]entry
	cur := make([]entry, 0, chunk)
	for k, v := range entries {
		if len(cur) == chunk {
			full = append(full, cur)
			cur = make([]entry, 0, chunk)
		}
		cur = append(cur, entry{k, v})
	}
	full = append(full, cur)
	n := len(full)*chunk - chunk + len(cur)
	keys, vals := make([]K, 0, n), make([]V, 0, n)
	for _, c := range full {
		for _, e := range c {
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
		len(t.kslots)*int(reflect.TypeFor[keySlot[K, V]]().Size()) + len(t.tags)
}

func duplicate[K comparable](k K) error {
	if s, ok := any(k).(string); ok {
		return fmt.Errorf("%w: %q", ErrDuplicateKey, s)
	}
	return fmt.Errorf("%w: %v", ErrDuplicateKey, k)
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
	s := asString(k)
	sl := &t.sslots[i]
	sl.Val = v
	if len(s) <= 16 {
		sl.Key.set(t.pack16(s)) // two stores; copy measured 10 ns a key
		return
	}
	sl.Key.set(uint64(len(t.blob)), uint64(len(s)))
	t.blob = append(t.blob, s...)
}

func (t *Table[K, V]) alloc(m uint64) {
	if t.kind == kString {
		t.sslots = make([]strSlot[V], m)
	} else {
		t.kslots = make([]keySlot[K, V], m)
	}
	if t.strat != Tiny {
		t.tags = make([]uint8, m+tagPad)
	}
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
	t.alloc(uint64(len(keys)))
	for i := range keys {
		t.setKey(uint64(i), &keys[i], vals[i], 0)
		if t.kind == kString {
			t.lens = append(t.lens, uint8(min(len(asString(&keys[i])), 255)))
		}
	}
	return nil
}

// denseSpan reports whether integer keys span at most twice their count.
func (t *Table[K, V]) denseSpan(keys []K) bool {
	lo, hi := ^uint64(0), uint64(0)
	for i := range keys {
		u := asU64(&keys[i], t.signed) + 1<<63 // order signed and unsigned alike
		lo, hi = min(lo, u), max(hi, u)
	}
	if hi-lo >= 2*uint64(len(keys)) {
		return false
	}
	t.min = lo - 1<<63
	return true
}

func (t *Table[K, V]) buildDense(keys []K, vals []V) error {
	t.strat = Dense
	span := uint64(0)
	for i := range keys {
		span = max(span, asU64(&keys[i], t.signed)-t.min+1)
	}
	t.part[0].m = span
	t.alloc(span)
	for i := range keys {
		j := asU64(&keys[i], t.signed) - t.min
		if t.tags[j] != 0 {
			return duplicate(keys[i])
		}
		t.setKey(j, &keys[i], vals[i], 1)
	}
	return nil
}

// hash returns the hash of k under the table's seed.
func (t *Table[K, V]) hash(k *K) uint64 {
	switch t.kind {
	case kString:
		return t.hashString(asString(k), t.seed)
	case kInt:
		if t.strong {
			return t.mix64(asU64(k, t.signed) ^ t.seed)
		}
		return (asU64(k, t.signed) ^ t.seed) * 0x9e3779b97f4a7c15 // multiply-shift: home uses the high bits
	case kRaw:
		return t.hashBytes(rawBytes(k), t.seed)
	}
	return maphash.Comparable(t.mseed, *k) ^ t.seed
}

// home maps a hash to a home slot among m (the high half of h × m).
func (t *Table[K, V]) home(h, m uint64) uint64 {
	hi, _ := bits.Mul64(h, m)
	return hi
}

// partOf returns the part a key belongs to.
func (t *Table[K, V]) partOf(k *K) int {
	if t.kind == kString {
		return min(len(asString(k)), parts-1)
	}
	return 0
}

var errReseed = errors.New("lookup: reseed")

func (t *Table[K, V]) buildHashed(keys []K, vals []V) error {
	t.strat = Hashed
	n := len(keys)
	t.mseed = maphash.MakeSeed()
	// Keys grouped by part.
	var count [parts]int
	pk := make([]uint8, n)
	for i := range keys {
		pk[i] = uint8(t.partOf(&keys[i]))
		count[pk[i]]++
	}
	var first [parts + 1]int
	for p := 0; p < parts; p++ {
		first[p+1] = first[p] + count[p]
	}
	order := make([]int32, n) // key indices, grouped by part
	fill := first
	for i, p := range pk {
		order[fill[p]] = int32(i)
		fill[p]++
	}
	hashes := make([]uint64, n)
	at := make([]uint64, n)      // at[k]: the slot of key k
	scratch := make([]placed, n) // place's counting sort
	seed := uint64(0x243f6a8885a308d3)
	for attempt := 0; ; attempt++ {
		if attempt == maxSeeds {
			return fmt.Errorf("lookup: keys still cluster after %d seeds", maxSeeds)
		}
		t.seed = seed
		for i := range keys {
			hashes[i] = t.hash(&keys[i])
		}
		var total uint64
		var err error
		for p := 0; p < parts && err == nil; p++ {
			members := order[first[p]:first[p+1]]
			t.part[p] = part{}
			if len(members) == 0 {
				continue
			}
			t.part[p] = part{n: len(members), m: max(uint64(float64(len(members))/load), 1), slot0: total}
			err = t.place(&t.part[p], members, at, keys, hashes, scratch)
			total += t.part[p].size
		}
		if err == errReseed {
			// Clustered: a stronger hash for integers, a new seed for all.
			t.strong = t.kind == kInt
			seed = t.mix64(seed + 1)
			continue
		}
		if err != nil {
			return err
		}
		t.alloc(total)
		// In the entries' order: the keys are read in sequence and the
		// slots written at random, which measured twice as fast as the
		// other way round (a random read stalls, a write does not).
		for k := range keys {
			h, pt := hashes[k], &t.part[pk[k]]
			tag := distTag(t.fp(h), at[k]-pt.slot0-t.home(h, pt.m))
			t.setKey(at[k], &keys[k], vals[k], tag)
		}
		return nil
	}
}

// placed is a key index with its hash, sorted by place.
type placed struct {
	h uint64
	k int32
}

// place gives each member of part p its slot, at[k] for key k: members
// are sorted by hash, and so by home slot (the high half of hash × m
// grows with the hash), and each takes the first free slot at or after
// its home, which is max(home, previous + 1). It sets p.size, at least
// one past the last key, so that the part ends with an empty slot;
// reports duplicates (equal keys have equal hashes, so they end up side
// by side), and asks for another hash when keys cluster: when the mean
// distance from home is over four times what linear probing gives random
// keys at this load (Knuth: (1/(1-a) - 1)/2).
//
// The sort is a counting sort on the top bits of the hash into at most
// 65,536 buckets of about eight keys, then an insertion sort of each
// bucket. The hashes travel with the keys, so that every pass after the
// scatter reads memory in sequence. A counting sort by home slot (a
// bucket per slot, its counters far beyond the caches at 1e6 keys) and
// then reading hashes[k] in home order measured 180 ns per key at 1e6.
func (t *Table[K, V]) place(p *part, members []int32, at []uint64, keys []K, hashes []uint64, scratch []placed) error {
	bb := min(16, bits.Len(uint(len(members)/8))) // bucket bits
	shift := uint(64 - bb)                        // 64 when bb == 0: one bucket
	end := make([]uint32, 1<<bb+1)
	for _, k := range members {
		end[hashes[k]>>shift+1]++
	}
	for b := 1; b < len(end); b++ {
		end[b] += end[b-1]
	}
	sorted := scratch[:len(members)]
	for _, k := range members {
		h := hashes[k]
		e := &end[h>>shift]
		sorted[*e] = placed{h, k}
		*e++
	}
	// end[b] is now the end of bucket b.
	lo := uint32(0)
	for _, hi := range end[:1<<bb] {
		bucket := sorted[lo:hi]
		lo = hi
		if len(bucket) > 32 { // keys made to share their top bits
			slices.SortFunc(bucket, func(x, y placed) int { return cmp.Compare(x.h, y.h) })
			continue
		}
		for i := 1; i < len(bucket); i++ {
			for j := i; j > 0 && bucket[j].h < bucket[j-1].h; j-- {
				bucket[j], bucket[j-1] = bucket[j-1], bucket[j]
			}
		}
	}
	m := p.m
	next, displaced := uint64(0), uint64(0)
	for i, e := range sorted {
		if i > 0 && e.h == sorted[i-1].h && keys[e.k] == keys[sorted[i-1].k] {
			return duplicate(keys[e.k])
		}
		h := t.home(e.h, m)
		s := max(h, next)
		displaced += s - h
		next = s + 1
		at[e.k] = p.slot0 + s
	}
	p.size = max(next+1, m)
	expected := (1/(1-load) - 1) / 2
	if float64(displaced)/float64(len(members)) > 4*expected+1 {
		return errReseed
	}
	return nil
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

// All yields every entry, in slot order.
func (t *Table[K, V]) All() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		if t.kind == kString {
			for i := range t.sslots {
				if t.strat != Tiny && t.tags[i] == 0 {
					continue
				}
				var k K
				sl := &t.sslots[i]
				if n := t.keyLen(uint64(i)); n <= 16 {
					*keyAsString(&k) = inlineString(&sl.Key, n)
				} else {
					off, n := sl.Key.words()
					*keyAsString(&k) = blobString(t.blob, off, n)
				}
				if !yield(k, sl.Val) {
					return
				}
			}
			return
		}
		for i := range t.kslots {
			if t.strat != Tiny && t.tags[i] == 0 {
				continue
			}
			if !yield(t.kslots[i].Key, t.kslots[i].Val) {
				return
			}
		}
	}
}

// keyLen returns the length of the string key in slot i (17 or more for a
// key in the blob).
func (t *Table[K, V]) keyLen(i uint64) int {
	if t.strat == Tiny {
		if t.lens[i] <= 16 {
			return int(t.lens[i])
		}
		_, n := t.sslots[i].Key.words()
		return int(n)
	}
	for p := range t.part {
		if pp := &t.part[p]; i >= pp.slot0 && i < pp.slot0+pp.size && pp.n > 0 {
			if p == parts-1 {
				_, n := t.sslots[i].Key.words()
				return int(n)
			}
			return p
		}
	}
	return 0
}
