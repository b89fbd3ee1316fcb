// This file is where lookups read a table's tags eight at a time.
//
// Unsafe, and why it is sound: Get and getLong load the eight tag bytes
// at tags[i:i+8] as one word. The index i is bounds-checked, and i+8 <=
// len(tags): a scan starts at a home slot of a part and moves on by
// eight only past eight occupied slots, so every window starts at or
// before the empty slot that each part has after its last key (place
// sets part.size one past it), and tagPad zero bytes follow the last
// slot. Inline keys are read as two words, as pack builds the probe's.
// Nothing is written through these pointers; tags and slots never change
// after Build.

package lookup

import (
	"math/bits"
	"unsafe"
)

const (
	lsb  = 0x0101010101010101
	low7 = 0x7f7f7f7f7f7f7f7f
)

// tag derives a slot's tag from its key's hash: 1 to 255 (0 marks an
// empty slot), from bits that the home slot (the high bits) hardly uses.
func (*Table[K, V]) tag(h uint64) uint8 {
	x := uint64(uint8(h>>24) ^ uint8(h>>40))
	return uint8(x*255>>8) + 1
}

// zeros returns x with 0x80 in each byte that is zero and 0 in every
// other byte (exactly: no false positives, unlike the usual x-0x01…).
func (*Table[K, V]) zeros(x uint64) uint64 { return ^((x&low7 + low7) | x | low7) }

// Get returns the value of k and whether k is present. It does not
// allocate.
//
// The scan of a hashed table is written out here, not in helpers: calls
// inside a generic body are not inlined when the instantiation is
// compiled in another package, and each costs a nanosecond or two.
func (t *Table[K, V]) Get(k K) (V, bool) {
	var zero V
	if t.strat != Hashed {
		return t.getOther(k)
	}
	var h, a, b uint64
	p := &t.part[0]
	switch t.kind {
	case kString:
		s := asString(&k)
		n := len(s)
		if p = &t.part[min(n, parts-1)]; p.n == 0 {
			return zero, false
		}
		if n > 16 {
			return t.getLong(p, s)
		}
		if ps := unsafe.Pointer(unsafe.StringData(s)); !bigEndian && n >= 8 {
			// pack's first case written out: pack is too large to inline.
			a, b = *(*uint64)(ps), *(*uint64)(unsafe.Add(ps, n-8))>>(uint(16-n)*8)
		} else {
			a, b = t.pack(ps, n)
		}
		h = t.hash16(a, b, n, t.seed)
	case kInt:
		u := asU64(&k, t.signed) ^ t.seed
		h = u * 0x9e3779b97f4a7c15
		if t.strong {
			h = t.mix64(u)
		}
	default:
		h = t.hash(&k)
	}
	bc := uint64(t.tag(h)) * lsb
	tags := t.tags
	for i := p.slot0 + t.home(h, p.m); ; i += 8 {
		// The eight tags from slot i (see the file comment); the
		// candidates are the matching ones before the first empty slot.
		w := *(*uint64)(unsafe.Pointer(&tags[i]))
		if bigEndian {
			w = bits.ReverseBytes64(w) // tag i+j in byte j, from the low end
		}
		empty := t.zeros(w)
		for cand := t.zeros(w^bc) & (empty&-empty - 1); cand != 0; cand &= cand - 1 {
			j := i + uint64(bits.TrailingZeros64(cand)>>3)
			if t.kind == kString {
				if sl := &t.sslots[j]; *(*uint64)(unsafe.Pointer(&sl.Key[0])) == a && *(*uint64)(unsafe.Pointer(&sl.Key[8])) == b {
					return sl.Val, true
				}
			} else if sl := &t.kslots[j]; sl.Key == k {
				return sl.Val, true
			}
		}
		if empty != 0 {
			return zero, false
		}
	}
}

// getLong looks up a key of more than 16 bytes, stored in the blob.
func (t *Table[K, V]) getLong(p *part, s string) (V, bool) {
	h := t.hashString(s, t.seed)
	bc := uint64(t.tag(h)) * lsb
	for i := p.slot0 + t.home(h, p.m); ; i += 8 {
		w := *(*uint64)(unsafe.Pointer(&t.tags[i]))
		if bigEndian {
			w = bits.ReverseBytes64(w)
		}
		empty := t.zeros(w)
		for cand := t.zeros(w^bc) & (empty&-empty - 1); cand != 0; cand &= cand - 1 {
			sl := &t.sslots[i+uint64(bits.TrailingZeros64(cand)>>3)]
			if off, n := sl.Key.words(); n == uint64(len(s)) && string(t.blob[off:off+n]) == s {
				return sl.Val, true
			}
		}
		if empty != 0 {
			var zero V
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
