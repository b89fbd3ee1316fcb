// Package lookup builds the read-only hash tables behind snapshot.Map.
//
// A Table is built once from all its entries on the Go heap, then deep-
// copied into a frozen arena (snapshot.Take), so that its arrays live
// outside the Go heap and are never scanned by the garbage collector.
// Keys and values are stored together in slots, so that a lookup reads one
// slot (and, for string keys, one length byte in a parallel array).
//
// The strategy is chosen per key set, the way static tables do:
//
//   - tiny (at most 8 entries): a linear scan, no hashing;
//   - dense integer keys (span at most twice the count): direct addressing;
//   - otherwise static open addressing: each key's home slot comes from
//     its hash (multiply-shift for integers); keys are placed in order of
//     their home slot, so each run of occupied slots holds keys in home
//     order and a lookup scans forward from the home slot until it finds
//     the key or an empty slot. String tables keep one such part per key
//     length (0 to 16 bytes inline, and one for longer keys), so an inline
//     key's length is implied by its part. A lookup has one dependent
//     memory access, so consecutive lookups overlap their cache misses;
//     a perfect hash (PTHash style) was measured first and was 2.1× to
//     3.6× slower at 1e5 to 1e6 keys because of its pilot indirection.
//
// Keys: strings, integers of every kind, and fixed-size comparable types
// made of booleans, integers, arrays and structs. Floats (NaN != NaN, and
// -0 == +0 while their bytes differ), pointers, interfaces, channels, and
// strings inside array or struct keys are refused.
package lookup

import (
	"cmp"
	"encoding/binary"
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
	// Load factors: string slots are 16+ bytes of key and the value, so
	// 0.8 keeps a 16-byte key with an 8-byte value within 32 bytes per
	// entry; other keys use 0.5 for short runs.
	stringLoad = 0.8
	keyLoad    = 0.5
	maxSeeds   = 8
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
	occ    []uint64 // which slots are in use (Dense, Hashed)
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
		len(t.kslots)*int(reflect.TypeFor[keySlot[K, V]]().Size()) + len(t.occ)*8
}

func duplicate[K comparable](k K) error {
	if s, ok := any(k).(string); ok {
		return fmt.Errorf("%w: %q", ErrDuplicateKey, s)
	}
	return fmt.Errorf("%w: %v", ErrDuplicateKey, k)
}

// setKey stores key k and its value into slot i.
func (t *Table[K, V]) setKey(i uint64, k *K, v V) {
	t.occ[i/64] |= 1 << (i % 64)
	if t.kind != kString {
		t.kslots[i] = keySlot[K, V]{Key: *k, Val: v}
		return
	}
	s := asString(k)
	sl := &t.sslots[i]
	sl.Val = v
	if len(s) <= 16 {
		copy(sl.Key[:], s)
		return
	}
	binary.LittleEndian.PutUint64(sl.Key[:8], uint64(len(t.blob)))
	binary.LittleEndian.PutUint64(sl.Key[8:], uint64(len(s)))
	t.blob = append(t.blob, s...)
}

func (t *Table[K, V]) alloc(m uint64) {
	if t.kind == kString {
		t.sslots = make([]strSlot[V], m)
	} else {
		t.kslots = make([]keySlot[K, V], m)
	}
	t.occ = make([]uint64, (m+63)/64)
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
		t.setKey(uint64(i), &keys[i], vals[i])
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
		if t.occ[j/64]&(1<<(j%64)) != 0 {
			return duplicate(keys[i])
		}
		t.setKey(j, &keys[i], vals[i])
	}
	return nil
}

// hash returns the hash of k under the table's seed.
func (t *Table[K, V]) hash(k *K) uint64 {
	switch t.kind {
	case kString:
		return hashString(asString(k), t.seed)
	case kInt:
		if t.strong {
			return mix64(asU64(k, t.signed) ^ t.seed)
		}
		return (asU64(k, t.signed) ^ t.seed) * 0x9e3779b97f4a7c15 // multiply-shift: home uses the high bits
	case kRaw:
		return hashBytes(rawBytes(k), t.seed)
	}
	return maphash.Comparable(t.mseed, *k) ^ t.seed
}

// home maps a hash to a home slot among m (the high half of h × m).
func home(h, m uint64) uint64 {
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
	load := keyLoad
	if t.kind == kString {
		load = stringLoad
	}
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
	at := make([]uint64, n)        // at[j]: the slot of key order[j]
	scratch := make([]int32, 0, n) // place's counting sort
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
			err = t.place(&t.part[p], members, at[first[p]:first[p+1]], keys, hashes, scratch, load)
			total += t.part[p].size
		}
		if err == errReseed {
			// Clustered: a stronger hash for integers, a new seed for all.
			t.strong = t.kind == kInt
			seed = mix64(seed + 1)
			continue
		}
		if err != nil {
			return err
		}
		t.alloc(total)
		// In slot order, so that the table is written front to back.
		for j, k := range order {
			t.setKey(at[j], &keys[k], vals[k])
		}
		return nil
	}
}

// place gives each member of part p its slot: members are ordered by home
// slot (a counting sort, then by hash within a home, so that equal keys are
// neighbours) and each takes the first free slot at or after its home,
// which is max(home, previous + 1). members is left in slot order and
// at[j] is the slot of members[j]. It sets p.size, reports duplicates,
// and asks for another hash when keys cluster: when the mean distance from
// home is over four times what linear probing gives random keys at this
// load (Knuth: (1/(1-a) - 1)/2).
func (t *Table[K, V]) place(p *part, members []int32, at []uint64, keys []K, hashes []uint64, scratch []int32, load float64) error {
	m := p.m
	// end[h] becomes the end of home h's run in sorted (and so the start
	// of home h+1's). A comparison sort measured ~230 ns per key at 1e6.
	end := make([]uint32, m+1)
	for _, k := range members {
		end[home(hashes[k], m)+1]++
	}
	for h := uint64(1); h <= m; h++ {
		end[h] += end[h-1]
	}
	sorted := scratch[:len(members)]
	for _, k := range members {
		h := home(hashes[k], m)
		sorted[end[h]] = k
		end[h]++
	}
	next, displaced, j := uint64(0), uint64(0), 0
	for lo := 0; lo < len(sorted); {
		h := home(hashes[sorted[lo]], m)
		run := sorted[lo:end[h]]
		lo = int(end[h])
		if len(run) > 1 {
			slices.SortFunc(run, func(x, y int32) int { return cmp.Compare(hashes[x], hashes[y]) })
			for i := 1; i < len(run); i++ {
				a, b := run[i-1], run[i]
				if hashes[a] == hashes[b] && keys[a] == keys[b] {
					return duplicate(keys[b])
				}
			}
		}
		for range run {
			s := max(h, next)
			displaced += s - h
			next = s + 1
			at[j] = p.slot0 + s
			j++
		}
	}
	copy(members, sorted)
	p.size = max(next, m)
	expected := (1/(1-load) - 1) / 2
	if float64(displaced)/float64(len(members)) > 4*expected+1 {
		return errReseed
	}
	return nil
}

// Get returns the value of k and whether k is present. It does not
// allocate.
func (t *Table[K, V]) Get(k K) (V, bool) {
	if t.strat == Hashed {
		switch t.kind {
		case kString:
			return t.getString(asString(&k))
		case kInt:
			return t.getInt(&k)
		}
	}
	return t.getOther(k)
}

// getString looks a string key up in its length's part.
func (t *Table[K, V]) getString(s string) (V, bool) {
	var zero V
	p := &t.part[min(len(s), parts-1)]
	if p.n == 0 {
		return zero, false
	}
	i := p.slot0 + home(hashString(s, t.seed), p.m)
	end := p.slot0 + p.size
	if len(s) > 16 {
		for ; i < end && t.occ[i/64]&(1<<(i%64)) != 0; i++ {
			if off, n := t.sslots[i].Key.words(); n == uint64(len(s)) && string(t.blob[off:off+n]) == s {
				return t.sslots[i].Val, true
			}
		}
		return zero, false
	}
	a, b := pack16(s) // once, not per probed slot
	slots, occ := t.sslots[:end], t.occ
	for ; i < uint64(len(slots)); i++ {
		bit := occ[i/64] & (1 << (i % 64))
		if ka, kb := slots[i].Key.words(); ka == a && kb == b && bit != 0 {
			return slots[i].Val, true
		}
		if bit == 0 {
			break
		}
	}
	return zero, false
}

// getInt looks an integer key up. The key is compared before the slot's
// occupancy bit is tested, so that the two loads overlap.
func (t *Table[K, V]) getInt(k *K) (V, bool) {
	var zero V
	u := asU64(k, t.signed) ^ t.seed
	h := u * 0x9e3779b97f4a7c15
	if t.strong {
		h = mix64(u)
	}
	p := &t.part[0]
	slots, occ := t.kslots[:p.slot0+p.size], t.occ
	for i := p.slot0 + home(h, p.m); i < uint64(len(slots)); i++ {
		bit := occ[i/64] & (1 << (i % 64))
		if slots[i].Key == *k && bit != 0 {
			return slots[i].Val, true
		}
		if bit == 0 {
			break
		}
	}
	return zero, false
}

// getOther handles the tiny and dense strategies and fixed-size keys.
func (t *Table[K, V]) getOther(k K) (V, bool) {
	var zero V
	switch t.strat {
	case Hashed:
		p := &t.part[0]
		end := p.slot0 + p.size
		for i := p.slot0 + home(t.hash(&k), p.m); i < end && t.occ[i/64]&(1<<(i%64)) != 0; i++ {
			if t.kslots[i].Key == k {
				return t.kslots[i].Val, true
			}
		}
	case Dense:
		i := asU64(&k, t.signed) - t.min
		if i < t.part[0].m && t.occ[i/64]&(1<<(i%64)) != 0 {
			return t.kslots[i].Val, true
		}
	case Tiny:
		if t.kind == kString {
			s := asString(&k)
			for i := range t.sslots {
				if int(t.lens[i]) == min(len(s), 255) && t.matchString(uint64(i), s) {
					return t.sslots[i].Val, true
				}
			}
			return zero, false
		}
		for i := range t.kslots {
			if t.kslots[i].Key == k {
				return t.kslots[i].Val, true
			}
		}
	}
	return zero, false
}

// matchString reports whether occupied slot i, whose key has len(s)'s
// length class, holds key s.
func (t *Table[K, V]) matchString(i uint64, s string) bool {
	if len(s) <= 16 {
		a, b := pack16(s)
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
				if t.strat != Tiny && t.occ[i/64]&(1<<(i%64)) == 0 {
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
			if t.strat != Tiny && t.occ[i/64]&(1<<(i%64)) == 0 {
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
