// This file is where lookups read a table's tags eight at a time (the
// lookup of tables without tags, in Get too, needs no unsafe).
//
// Unsafe, and why it is sound: Get and getLong load the eight tag bytes
// at tags[i:i+8] as one word. The index i is bounds-checked, and i+8 <=
// len(tags): a scan starts at a home slot of a part and moves on by
// eight only past eight occupied slots, so every window starts at or
// before the empty slot that each part has after its last key (place
// sets part.size one past it), and tagPad zero bytes follow the last
// slot. Inline keys are read as two words, as pack builds the probe's.
// Neither tags nor inline keys (nor a probe's bytes) need lie at a
// multiple of 8: every word goes through load64, which reads bytes one
// at a time on CPUs that fault on unaligned loads (load_bytewise.go).
// Nothing is written through these pointers; tags and slots never change
// after Build.

package lookup

import (
	"fmt"
	"math/bits"
	"sync/atomic"
	"unsafe"

	"github.com/frozen-go/frozen/internal/offheap"
)

const (
	lsb  = 0x0101010101010101
	low7 = 0x7f7f7f7f7f7f7f7f
	hi8  = 0x8080808080808080
	lo4  = 0x0f0f0f0f0f0f0f0f
)

// Tags. 0 marks an empty slot; an occupied slot's tag never has a zero
// high nibble, so a scan stops where the high nibble is below what it
// expects there.
//
// Tags are distance tags: the high nibble is 1 + the key's distance from
// its home slot (15 for 14 or more), the low nibble four bits of the hash.
// Keys are placed in hash order, and so in home order: scanning from a
// key's home slot, a slot whose distance is less than the scan's offset
// from home holds a key whose home lies further on, and neither it nor any
// later slot can hold the key. So a scan stops at the first such slot (an
// empty one included), usually within the first eight, and compares only
// keys of its own home whose nibble matches. At load 0.8 this halves the
// tags a miss reads against stopping at the first empty slot.
//
// Integer and other fixed-size keys had eight-bit hash tags at load 0.5
// (stop at the first empty slot) until measured against this: with
// distance tags at load 0.8 their tables take 21 instead of 34 bytes per
// uint64 entry, and hits at 1e5 keys, whose table then fits the cache,
// took 21-64 ns (median 31) against 37-156 ns (median 76) in eight
// alternating runs; hits at 1e6 were slightly faster, misses at 1e6
// slightly slower (median 29 ns against 25), hits at 1e3 1-2 ns slower.
// (Tables of 8-byte integer keys have since lost their tags, and keep
// their own load: see hashSlot and intLoad.)

// tagBits returns the eight hash bits that tags are made of.
func (*Table[K, V]) tagBits(h uint64) uint64 { return uint64(uint8(h>>24 ^ h>>40)) }

// fp returns the four hash bits of a key's distance tag.
func (t *Table[K, V]) fp(h uint64) uint64 { return t.tagBits(h) & 15 }

// distTag returns the distance tag of a key with hash nibble fp
// placed dist slots after its home.
func distTag(fp, dist uint64) uint8 { return uint8(min(dist+1, 15)<<4 | fp) }

// expect[e] holds, in byte j, the distance nibble that slot j of an
// eight-tag window holds for a key of the scanned home: min(e+j, 15),
// where e is 1 + the window's offset from the home slot.
var expect = func() (x [16]uint64) {
	for e := range x {
		for j := range 8 {
			x[e] |= uint64(min(e+j, 15)) << (8 * j)
		}
	}
	return x
}()

// distWindow reads the eight distance tags from slot i, where e is 1 +
// the offset of slot i from the scanned home (at most 15) and fp the key's
// nibble in every byte. stop has 0x80 in each byte whose distance is below
// the expected one (an empty slot included); cand in each byte before the
// first of those whose tag is the key's: expected distance and nibble.
func (t *Table[K, V]) distWindow(i, e, fp uint64) (cand, stop uint64) {
	w := t.load64(unsafe.Pointer(&t.tags[i]))
	if bigEndian {
		w = bits.ReverseBytes64(w) // tag i+j in byte j, from the low end
	}
	ev := expect[e]
	stop = ^(w>>4&lo4 | hi8 - ev) & hi8
	return t.zeros(w^(ev<<4|fp)) & (stop&-stop - 1), stop
}

// zeros returns x with 0x80 in each byte that is zero and 0 in every
// other byte (exactly: no false positives, unlike the usual x-0x01…).
func (*Table[K, V]) zeros(x uint64) uint64 { return ^((x&low7 + low7) | x | low7) }

// Get returns the value of k and whether k is present. It does not
// allocate. After SetClosed(true) it panics with an error wrapping
// offheap.ErrClosed that names the table (SetName).
//
// Get is one function, with the lookup of a hashed table written out in
// it, so that snapshot.Map.Get, which only calls it, is inlined into its
// callers and a lookup costs them one call. (Map.Get checking a closed
// flag of its own and then choosing between two lookups was over the
// compiler's inlining budget, and cost callers two calls.)
//
// Its helpers are small methods of Table: plain generic functions called
// from a generic body are not inlined when the instantiation is compiled
// in another package, and each call costs a nanosecond or two; methods
// are (go build -gcflags=-m in bench/ shows it).
//
// A hashed table of 8-byte integer keys (t.ints) has slots that hold
// hashes instead of keys, and no tags.
//
// The slots' hashes increase from slot to slot, empty slots (emptyHash)
// aside, and a key lies at or after its home slot with no empty slot
// between. So from k's home on, the slots below h (k's hash) come first,
// then every slot is at or above h (a key after an empty slot has a later
// home, so a greater hash); the first slot not below h holds k if k is
// present. Its offset from home is the number of slots below h in a
// window from home: Get counts them four at a time without a branch per
// slot (a loop over single slots, whose trip count varies from key to
// key, mispredicted its exit and took 17 ns a hit at 1e3 keys against 9),
// and a hit reads one slot's memory, usually at home, where a table with
// tags reads a tag word first and then the slot it names. A miss reads
// the same slots; with tags it could often stop at the tag word, which at
// a million keys is in a cache the slots are not (see hashSlot).
//
// A window from home spans two cache lines three times in four. Starting
// it at the first slot of the home slot's line instead (empty slots then
// hold the hash before them, so that hashes never decrease and the count
// from any earlier slot is still exact) was measured and not adopted: in
// one process, alternating rounds, hits took 14-19 ns against 9-12 at 1e3
// and 1e5 keys, and were no faster at 1e6 and 1e7; more windows end full,
// and each of those is a mispredicted branch.
//
// The other tables: tiny and dense ones in getOther, hashed ones below.
//
// A lookup of a string key reads the tag word, then the slot the tags
// name: two dependent reads, which at 1e6 keys and more each miss the
// caches and the TLB. Reading the home slot's first key word before the
// tags (used for the home slot, so the load stays), so that the CPU
// fetches both at once, was measured and not adopted: in alternating
// runs hits took 58-108 ns against 110-132 at 1e6 keys and 162-186
// against 202-240 at 1e7, but misses, which the tag word alone usually
// settles, took 39-55 ns against 13-19 and 81-115 against 21-36. A
// prefetch of the home slot instead of a load (an assembly function of
// one PREFETCHT0, which the CPU retires without waiting for the line, so
// that a miss need not wait either) was measured and not adopted: in
// eight alternating runs at 1e6 keys, hits took 37-127 ns (median 109)
// against 38-155 (115), within the host's spread, which put one process's
// hits at 37 ns and the next one's at 100 or more in both builds, and
// misses took 16-29 ns (median 23) against 15-26 (19).
//
// Dropping the tags of string tables, as tables of integer keys did, was
// measured and not adopted either: each key of up to 16 bytes stored as a
// bijective two-word encoding whose first word is its hash (a two-round
// Feistel network of multiplies), slots in hash order, and Get counting
// the slots below the hash in a window from home and reading one slot.
// In alternating processes, 16-byte keys, misses took 23-33 ns against
// 15-18 at 1e5 keys, 96-131 against 20-31 at 1e6 and 151-179 against
// 30-57 at 1e7, since without tags a miss reads the slots, which are not
// in a cache; hits gained less than the host's noise (1e6: 127-243 ns
// against 89-152).
func (t *Table[K, V]) Get(k K) (V, bool) {
	if t.Closed() {
		t.panicClosed("Get")
	}
	if t.ints {
		h := t.hashInt(asU64(&k, t.signed))
		i := t.home(h, t.part[0].m)
		for {
			// The last key is followed by an empty slot, whose hash is not
			// below h, and hashPad more: a window that holds a slot not
			// below h ends the loop and starts at most there.
			w := t.hslots[i : i+hashPad+1 : i+hashPad+1]
			_, b0 := bits.Sub64(w[0].H, h, 0) // 1 if below h
			_, b1 := bits.Sub64(w[1].H, h, 0)
			_, b2 := bits.Sub64(w[2].H, h, 0)
			_, b3 := bits.Sub64(w[3].H, h, 0)
			below := b0 + b1 + b2 + b3
			i += below
			if below <= hashPad {
				break
			}
		}
		// No key has hash emptyHash (place sees to it), so an empty slot
		// never matches a probe whose hash it is.
		if sl := &t.hslots[i]; sl.H == h && h != emptyHash {
			return sl.Val, true
		}
		var zero V
		return zero, false
	}
	var zero V
	if t.strat != Hashed {
		return t.getOther(k)
	}
	var h uint64
	switch t.kind {
	case kString:
		s := asString(&k)
		n := len(s)
		p := &t.part[min(n, parts-1)]
		if p.n == 0 {
			return zero, false
		}
		if n > 16 {
			return t.getLong(p, s)
		}
		var a, b uint64
		if ps := unsafe.Pointer(unsafe.StringData(s)); !bigEndian && n >= 8 {
			// pack's first case written out: pack is too large to inline.
			a, b = t.load64(ps), t.load64(unsafe.Add(ps, n-8))>>(uint(16-n)*8)
		} else {
			a, b = t.pack(ps, n)
		}
		h = t.hash16(a, b, n, t.seed)
		fp := t.fp(h) * lsb
		for i, e := p.slot0+t.home(h, p.m), uint64(1); ; i, e = i+8, min(e+8, 15) {
			cand, stop := t.distWindow(i, e, fp)
			for ; cand != 0; cand &= cand - 1 {
				sl := &t.sslots[i+uint64(bits.TrailingZeros64(cand)>>3)]
				if t.load64(unsafe.Pointer(&sl.Key[0])) == a && t.load64(unsafe.Pointer(&sl.Key[8])) == b {
					return sl.Val, true
				}
			}
			if stop != 0 {
				return zero, false
			}
		}
	case kInt:
		h = t.hashInt(asU64(&k, t.signed))
	default:
		h = t.hash(&k)
	}
	p := &t.part[0]
	fp := t.fp(h) * lsb
	for i, e := p.slot0+t.home(h, p.m), uint64(1); ; i, e = i+8, min(e+8, 15) {
		cand, stop := t.distWindow(i, e, fp)
		for ; cand != 0; cand &= cand - 1 {
			if sl := &t.kslots[i+uint64(bits.TrailingZeros64(cand)>>3)]; sl.Key == k {
				return sl.Val, true
			}
		}
		if stop != 0 {
			return zero, false
		}
	}
}

// SetClosed marks the table closed (Get then panics) or open. snapshot.Map
// only ever closes a table, as its memory is about to be released (a
// release the kernel then refuses leaves it closed, as it leaves the
// snapshot). It may be called from several goroutines at once, and while
// others call Get.
func (t *Table[K, V]) SetClosed(closed bool) {
	var c uint32
	if closed {
		c = 1
	}
	atomic.StoreUint32(&t.closed, c)
}

// Closed reports whether SetClosed(true) was the last call of SetClosed.
func (t *Table[K, V]) Closed() bool { return atomic.LoadUint32(&t.closed) != 0 }

// SetName sets the name Get's panic after SetClosed gives the table. It
// must be called before the table is shared.
func (t *Table[K, V]) SetName(name string) { t.name = name }

// panicClosed panics for a call of op (Get, or All's iteration) after
// SetClosed(true).
func (t *Table[K, V]) panicClosed(op string) {
	panic(fmt.Errorf("%w: %s on map %q after Close", offheap.ErrClosed, op, t.name))
}

// getLong looks up a key of more than 16 bytes, stored in the blob. Where
// every such key has one length (t.longLen), a candidate's bytes lie at
// its index times that length (blobBySlot), and its value is loaded
// before they are compared: the slot and the key's bytes are read at
// once, not the slot first for where the bytes are. In alternating runs,
// 32-byte keys, hits took 169 ns against 256 at 1e6 keys (medians of
// six; Go's map 189 and 181) and 45 against 131 at 1e5, misses about as
// long as before.
//
// Keys of several lengths over 16 bytes keep the blob as collected, and
// a hit its three dependent reads. Laying them out by slot too, in parts
// of lengths within 16 bytes of each other, each with the stride of its
// longest key, was measured and not adopted: with a million keys of 17
// to 64 bytes, hits took 229-317 ns against 328-562 (Go's map about 250
// in the same runs), no better than Go's map, while building took 60 to
// 90 ns a key more (211-241 against 131-300, NewMap's path; the blob's
// keys copied into slot order, each read missing the caches, which
// reading each key's first byte sixteen or sixty-four slots ahead did not
// help), and the table 91 bytes a key against 72 (each part's empty
// slots and shorter keys padded to its stride).
func (t *Table[K, V]) getLong(p *part, s string) (V, bool) {
	var zero V
	l := t.longLen
	if l != 0 && uint64(len(s)) != l {
		return zero, false
	}
	h := t.hashString(s, t.seed)
	fp := t.fp(h) * lsb
	for i, e := p.slot0+t.home(h, p.m), uint64(1); ; i, e = i+8, min(e+8, 15) {
		cand, stop := t.distWindow(i, e, fp)
		for ; cand != 0; cand &= cand - 1 {
			j := i + uint64(bits.TrailingZeros64(cand)>>3)
			sl := &t.sslots[j]
			if l != 0 {
				// The key's bytes are where its index says (blobBySlot):
				// the value is loaded before they are compared, so that
				// the two reads overlap.
				v, off := sl.Val, (j-p.slot0)*l
				if string(t.blob[off:off+l]) == s {
					return v, true
				}
				continue
			}
			if off, n := sl.Key.words(); n == uint64(len(s)) && string(t.blob[off:off+n]) == s {
				return sl.Val, true
			}
		}
		if stop != 0 {
			return zero, false
		}
	}
}

// getOther handles the tiny and dense strategies and fixed-size keys.
func (t *Table[K, V]) getOther(k K) (V, bool) {
	var zero V
	switch t.strat {
	case Dense:
		i := asU64(&k, t.signed) - t.min
		if i < t.part[0].m && t.tags[i] != 0 {
			return t.vslots[i], true
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
