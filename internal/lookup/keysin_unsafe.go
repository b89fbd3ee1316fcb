// This file maps addresses in a table's memory back to its entries.
//
// Unsafe, and why it is sound: it takes the addresses of the table's
// arrays (unsafe.SliceData) and compares them with the range asked for
// as integers only; no pointer is ever made from an integer. Entries are
// then read by index, through the checked slices, as All reads them.

package lookup

import (
	"slices"
	"unsafe"
)

// KeysIn returns, in slot order, the key of every entry with a byte at
// an address in [lo, hi): in its slot (key and value), in its tag or
// length byte, or, for a string key of more than 16 bytes, in the key's
// bytes. It reads the table as it is: a key whose bytes were overwritten
// is returned as it reads now, and a slot whose tag or hash was
// overwritten to say empty holds no entry. The bytes of values that
// lie outside the slots (the strings and slices of a value, cloned
// beside the table) are not an entry's.
func (t *Table[K, V]) KeysIn(lo, hi uintptr) []K {
	n := t.slots()
	if lo >= hi || n == 0 {
		return nil
	}
	var idx []int
	// span adds the indices of the elements of an array of n elements of
	// size bytes at base that overlap [lo, hi).
	span := func(base unsafe.Pointer, size uintptr, n int) {
		a := uintptr(base)
		if n == 0 || a >= hi || a+uintptr(n)*size <= lo {
			return
		}
		first := 0
		if lo > a {
			first = int((lo - a) / size)
		}
		last := n
		if hi-a < uintptr(n)*size {
			last = int((hi - a + size - 1) / size)
		}
		for i := first; i < last; i++ {
			idx = append(idx, i)
		}
	}
	switch {
	case t.sslots != nil:
		span(unsafe.Pointer(unsafe.SliceData(t.sslots)), unsafe.Sizeof(t.sslots[0]), n)
	case t.hslots != nil:
		span(unsafe.Pointer(unsafe.SliceData(t.hslots)), unsafe.Sizeof(t.hslots[0]), n)
	default:
		span(unsafe.Pointer(unsafe.SliceData(t.kslots)), unsafe.Sizeof(t.kslots[0]), n)
	}
	span(unsafe.Pointer(unsafe.SliceData(t.tags)), 1, min(n, len(t.tags)))
	span(unsafe.Pointer(unsafe.SliceData(t.lens)), 1, min(n, len(t.lens)))
	if b := uintptr(unsafe.Pointer(unsafe.SliceData(t.blob))); len(t.blob) > 0 && b < hi && b+uintptr(len(t.blob)) > lo {
		// Long keys are found by their slots' (offset, length) words.
		for i := range n {
			if !t.inUse(i) || t.keyLen(uint64(i)) <= 16 {
				continue
			}
			k := t.keyAt(i)
			if ks := *keyAsString(&k); ks != "" {
				if s := uintptr(unsafe.Pointer(unsafe.StringData(ks))); s < hi && s+uintptr(len(ks)) > lo {
					idx = append(idx, i)
				}
			}
		}
	}
	slices.Sort(idx)
	var keys []K
	for j, i := range idx {
		if (j == 0 || i != idx[j-1]) && t.inUse(i) {
			keys = append(keys, t.keyAt(i))
		}
	}
	return keys
}
