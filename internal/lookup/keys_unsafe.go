// This file is where package lookup reads keys as raw words.
//
// Unsafe, and why it is sound: a key's kind is fixed when the table is
// built (kindOf), so every cast below matches the key's actual
// representation: K whose underlying type is string is read as a string
// header; integer kinds of size 1, 2, 4 or 8 are read as that unsigned
// size; "raw" keys are pointer-free, padding-free values whose bytes are
// exactly what == compares. Word loads from a string's or a raw key's
// bytes (pack) stay inside [0, n), and those from an inline key inside
// its 16 bytes; they go through load64 and load32, which need no
// alignment (load_bytewise.go, load_word.go). The only writes are to
// variables of the caller's own: keyAsString sets a string-kind key's
// header, fromU64 the eight bytes of an 8-byte integer key (its only
// callers hold such keys: t.ints), and inlineKey.set the two words of an
// inline key that strKey returns, which the build copies into a record
// or a slot.
// Nothing is written to a table's memory.

package lookup

import (
	"math/bits"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// asString reads a key whose underlying type is string.
func asString[K comparable](k *K) string { return *(*string)(unsafe.Pointer(k)) }

// asU64 reads an integer key of the given size, sign-extending signed
// kinds, so that dense ranges around zero stay dense.
func asU64[K comparable](k *K, signed bool) uint64 {
	p := unsafe.Pointer(k)
	switch unsafe.Sizeof(*k) { // a constant in each instantiation
	case 1:
		if signed {
			return uint64(int64(*(*int8)(p)))
		}
		return uint64(*(*uint8)(p))
	case 2:
		if signed {
			return uint64(int64(*(*int16)(p)))
		}
		return uint64(*(*uint16)(p))
	case 4:
		if signed {
			return uint64(int64(*(*int32)(p)))
		}
		return uint64(*(*uint32)(p))
	}
	return *(*uint64)(p)
}

// rawBytes views a raw key's bytes.
func rawBytes[K comparable](k *K) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(k)), unsafe.Sizeof(*k))
}

// Hashing. For keys of up to 16 bytes a wyhash-style mix of two words
// measured 2.2 ns against 4.8 ns for hash/maphash and 6.8 ns for xxhash;
// keys of 17 to 64 bytes fold their 16-byte blocks into the seed the same
// way (hashMid), and longer keys use xxhash.
//
// The hashing helpers here, and tag, zeros and home, are methods of Table
// although they use nothing of it: Get is compiled in the package that
// instantiates the Table, and there calls to this package's plain
// functions were not inlined (a nanosecond or two each, a third of a
// lookup), while methods of the generic type are instantiated with it and
// inlined.
const (
	wyP0 = 0xa0761d6478bd642f
	wyP1 = 0xe7037ed1a0b428db
	wyP2 = 0x8ebc6af09c88c6e3
)

// hashBytes hashes b with seed.
func (t *Table[K, V]) hashBytes(b []byte, seed uint64) uint64 {
	if len(b) > 16 {
		if len(b) <= maxMid {
			return t.hashMid(unsafe.Pointer(unsafe.SliceData(b)), len(b), seed)
		}
		return t.mix64(xxhash.Sum64(b) ^ seed)
	}
	a, c := t.pack(unsafe.Pointer(unsafe.SliceData(b)), len(b))
	return t.hash16(a, c, len(b), seed)
}

// maxMid is the longest key hashMid hashes.
const maxMid = 64

// hashMid hashes the n bytes at p, 16 < n <= maxMid: each 16-byte block
// but the last is multiplied into a running word that starts as the seed,
// which takes part in both factors (as in hash16, so that no block makes
// a factor zero under every seed), and hash16 hashes the last 16 bytes
// (overlapping the block before where n is not a multiple of 16) with
// that word as its seed. Keys that collide therefore collide under one
// seed, not under all, as keys of more than maxMid bytes whose xxhash
// collide do.
//
// xxhash, which hashed these keys before, took 14 ns of a 37 ns hit in a
// table of 1,000 32-byte keys (a CPU profile of the benchmark): its call
// is not inlined and sets up four lanes for a key of one or two blocks.
func (t *Table[K, V]) hashMid(p unsafe.Pointer, n int, seed uint64) uint64 {
	h := seed
	for off := 0; off < n-16; off += 16 {
		hi, lo := bits.Mul64(t.load64(unsafe.Add(p, off))^wyP0^h, t.load64(unsafe.Add(p, off+8))^wyP1^bits.RotateLeft64(h, 32))
		h = hi ^ lo
	}
	return t.hash16(t.load64(unsafe.Add(p, n-16)), t.load64(unsafe.Add(p, n-8)), n, h)
}

// hashString is hashBytes for a string.
func (t *Table[K, V]) hashString(s string, seed uint64) uint64 {
	return t.hashBytes(unsafe.Slice(unsafe.StringData(s), len(s)), seed)
}

// hash16 hashes a key of n <= 16 bytes packed into two words. The seed
// enters both factors: with it in one only, every key whose other word
// made its factor zero (b == wyP1) had the same hash under every seed,
// and twenty such keys failed the build.
//
// The second multiply mixes the product's halves over every bit. Without
// it (hi ^ lo ^ n), lookups in a table of 1,000 16-byte keys took about
// 15% less (hits 9.2-13.1 ns against 12.8-14.1, misses 8.3-12.5 against
// 11.5-14.3, alternating runs), and larger tables, bound by memory, gained
// nothing; it was not adopted: a single product of keys that differ in
// few bits varies in few bits of its halves, and keys that cluster under
// every seed fail the build.
func (t *Table[K, V]) hash16(a, b uint64, n int, seed uint64) uint64 {
	hi, lo := bits.Mul64(a^wyP0^seed, b^wyP1^bits.RotateLeft64(seed, 32))
	hi, lo = bits.Mul64(hi^lo^uint64(n), wyP2)
	return hi ^ lo
}

// pack returns the n <= 16 bytes at p, zero-padded to 16 bytes, as two
// words in native byte order: exactly what words reads from an inline
// key. It reads only those n bytes. On little-endian machines it uses at
// most two loads, shifting away the bytes that overlap.
func (t *Table[K, V]) pack(p unsafe.Pointer, n int) (uint64, uint64) {
	if bigEndian {
		var buf [16]byte
		copy(buf[:], unsafe.Slice((*byte)(p), n))
		return t.load64(unsafe.Pointer(&buf[0])), t.load64(unsafe.Pointer(&buf[8]))
	}
	switch {
	case n >= 8:
		// Bytes n-8..n-1, shifted down so that bytes 8..n-1 remain.
		return t.load64(p), t.load64(unsafe.Add(p, n-8)) >> (uint(16-n) * 8)
	case n >= 4:
		// Bytes 0..3 and n-4..n-1, overlapping in the same positions.
		return uint64(t.load32(p)) | uint64(t.load32(unsafe.Add(p, n-4)))<<(uint(n-4)*8), 0
	case n > 0:
		return uint64(*(*uint8)(p)) | uint64(*(*uint8)(unsafe.Add(p, n/2)))<<(uint(n/2)*8) |
			uint64(*(*uint8)(unsafe.Add(p, n-1)))<<(uint(n-1)*8), 0
	}
	return 0, 0
}

// pack16 returns s (len(s) <= 16) zero-padded to 16 bytes, as two words.
func (t *Table[K, V]) pack16(s string) (uint64, uint64) {
	return t.pack(unsafe.Pointer(unsafe.StringData(s)), len(s))
}

// words returns an inline key's two words.
func (k *inlineKey) words() (uint64, uint64) {
	return load64(unsafe.Pointer(&k[0])), load64(unsafe.Pointer(&k[8]))
}

// set stores two words into an inline key, in native byte order, as
// words reads them.
func (k *inlineKey) set(a, b uint64) {
	store64(unsafe.Pointer(&k[0]), a)
	store64(unsafe.Pointer(&k[8]), b)
}

// inlineString returns the key stored inline as a string aliasing the
// table's (frozen) memory. n is from keyLen, which gives an inline key's
// length, from 0 to 16, even for a slot a stray write garbled, so the
// string lies within the key's 16 bytes.
func inlineString(k *inlineKey, n int) string { return unsafe.String(&k[0], n) }

// keyAsString views a string-kind key as a string, for writing it.
func keyAsString[K comparable](k *K) *string { return (*string)(unsafe.Pointer(k)) }

// blobString returns blob[off:off+n] as a string aliasing the table's
// (frozen) memory, without copying. Build writes every long key's bytes
// into blob and records its offset and length from that write, so
// off+n <= len(blob) for every slot while the table's bytes are as built;
// a slot whose words were overwritten since (which Verify reports, and
// KeysIn reads) may say otherwise, and its key is cut at the end of blob
// ("" if it starts past it) rather than read past it.
func blobString(blob []byte, off, n uint64) string {
	if off >= uint64(len(blob)) {
		return ""
	}
	return unsafe.String(&blob[off], int(min(n, uint64(len(blob))-off)))
}

// Integer hashes. Both are bijections of uint64, which lets a table of
// 8-byte integer keys store hashes instead of keys (unhash): multiplying
// by an odd constant is undone by multiplying by its inverse modulo 2^64,
// and x ^ x>>32 undoes itself.
const (
	golden    = 0x9e3779b97f4a7c15 // multiply-shift: a home is the high bits of the product
	goldenInv = 0xf1de83e19937733d // golden × goldenInv = 1 mod 2^64
	mixMul    = 0xd6e8feb86659fd93
	mixMulInv = 0xcfee444d8b59a89b
)

// mix64 is a strong 64-bit finaliser (two multiplies).
func (t *Table[K, V]) mix64(x uint64) uint64 {
	x ^= x >> 32
	x *= mixMul
	x ^= x >> 32
	x *= mixMul
	return x ^ x>>32
}

// unmix64 inverts mix64.
func (t *Table[K, V]) unmix64(x uint64) uint64 {
	x ^= x >> 32
	x *= mixMulInv
	x ^= x >> 32
	x *= mixMulInv
	return x ^ x>>32
}

// hashInt hashes integer key bits u (asU64) under the table's seed.
func (t *Table[K, V]) hashInt(u uint64) uint64 {
	if t.strong {
		return t.mix64(u ^ t.seed)
	}
	return (u ^ t.seed) * golden
}

// unhash returns the key bits (asU64) whose hashInt is h.
func (t *Table[K, V]) unhash(h uint64) uint64 {
	if t.strong {
		return t.unmix64(h) ^ t.seed
	}
	return h*goldenInv ^ t.seed
}

// fromU64 returns the integer key whose asU64 is u (or, for a key of
// fewer than 8 bytes, whose asU64 has u's low bytes): asU64 undone. K must
// be an integer kind (t.ints and Dense tables), so a key of each size is
// that many bytes, written whole in native byte order.
func fromU64[K comparable](u uint64) (k K) {
	p := unsafe.Pointer(&k)
	switch unsafe.Sizeof(k) { // a constant in each instantiation
	case 1:
		*(*uint8)(p) = uint8(u)
	case 2:
		*(*uint16)(p) = uint16(u)
	case 4:
		*(*uint32)(p) = uint32(u)
	default:
		*(*uint64)(p) = u
	}
	return k
}
