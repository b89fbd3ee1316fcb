// This file maps addresses in a table's memory back to its entries.
//
// Unsafe, and why it is sound: it takes the addresses of the table's
// arrays (unsafe.SliceData) and compares them with the range asked for
// as integers only; no pointer is ever made from an integer. Entries are
// then read by index, through the checked slices, as All reads them.

package lookup

import (
	"slices"
	"strings"
	"unsafe"

	"github.com/frozen-go/frozen/internal/layout"
)

// KeysIn returns, in slot order, the key of every entry with a byte at
// an address in [lo, hi): in its slot (key and value), in its tag or
// length byte, or, for a string key of more than 16 bytes, in the key's
// bytes. It reads the table as it is: a key whose bytes were overwritten
// is returned as it reads now, and a slot whose tag or hash was
// overwritten to say empty holds no entry. The bytes of values that
// lie outside the slots (the strings and slices of a value, cloned
// beside the table) are not an entry's. String keys are copies, which
// outlive the table.
func (t *Table[K, V]) KeysIn(lo, hi uintptr) []K {
	n := t.slots()
	if lo >= hi || n == 0 {
		return nil
	}
	var idx []int
	// span adds the indices of the elements of an array of n elements of
	// size bytes at base that overlap [lo, hi): none, for elements of no
	// size (a Dense set's values).
	span := func(a, size uintptr, n int) {
		if n == 0 || size == 0 || a >= hi || a+uintptr(n)*size <= lo {
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
	base, size, _, _ := t.slotArray()
	span(base, size, n)
	span(uintptr(unsafe.Pointer(unsafe.SliceData(t.tags))), 1, min(n, len(t.tags)))
	span(uintptr(unsafe.Pointer(unsafe.SliceData(t.lens))), 1, min(n, len(t.lens)))
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
			k := t.keyAt(i)
			if t.kind == kString {
				// A copy: keyAt's string aliases the table, which the
				// caller may close while it still holds the keys.
				*keyAsString(&k) = strings.Clone(*keyAsString(&k))
			}
			keys = append(keys, k)
		}
	}
	return keys
}

// EntryName names the byte at address addr if it lies in one of the
// table's entries, in its slot: in the value, as Go text that indexes a
// map by the entry's key, `Map[string,*Route]["api"]`, followed by the
// field of the value holding the byte (".Port"); in what the slot holds
// of the key (its bytes, or where a long key's bytes are, or the hash of
// an integer key), `key "api" of Map[string,*Route]`. It reads the table
// as KeysIn does, and gives false for any other address: a tag, an empty
// slot, padding in a slot, or memory outside the slots.
func (t *Table[K, V]) EntryName(addr uintptr) (string, bool) {
	base, size, key, keySize := t.slotArray()
	vt := layout.For[V]()
	if size == 0 || addr < base || addr-base >= uintptr(t.slots())*size {
		return "", false
	}
	i, local := int((addr-base)/size), (addr-base)%size
	inKey, inVal := local >= key && local-key < keySize, local < vt.Size // the value is at a slot's start
	if !inKey && !inVal || !t.inUse(i) {
		return "", false
	}
	m, k := t.MapName(), KeyText(t.keyAt(i))
	if inKey {
		return "key " + k + " of " + m, true
	}
	return m + "[" + k + "]" + layout.FieldPath(vt.RType, local), true
}

// MapName names the table as a Map: `Map[string,*Route]`.
func (t *Table[K, V]) MapName() string {
	return "Map[" + layout.For[K]().Name() + "," + layout.For[V]().Name() + "]"
}

// slotArray returns the address of the table's slot array (whichever of
// sslots, hslots, kslots and vslots it uses), the size of a slot, and the
// offset and size of what a slot holds of the key (its bytes, where a long
// key's bytes are, or its hash; nothing, in a Dense table); all zero for a
// table without slots. The value is at the start of a slot.
func (t *Table[K, V]) slotArray() (base, size, key, keySize uintptr) {
	switch {
	case t.sslots != nil:
		return uintptr(unsafe.Pointer(unsafe.SliceData(t.sslots))), unsafe.Sizeof(t.sslots[0]),
			unsafe.Offsetof(t.sslots[0].Key), unsafe.Sizeof(t.sslots[0].Key)
	case t.hslots != nil:
		return uintptr(unsafe.Pointer(unsafe.SliceData(t.hslots))), unsafe.Sizeof(t.hslots[0]),
			unsafe.Offsetof(t.hslots[0].H), unsafe.Sizeof(t.hslots[0].H)
	case t.kslots != nil:
		return uintptr(unsafe.Pointer(unsafe.SliceData(t.kslots))), unsafe.Sizeof(t.kslots[0]),
			unsafe.Offsetof(t.kslots[0].Key), unsafe.Sizeof(t.kslots[0].Key)
	case t.strat == Dense:
		// No slot holds any of its key (min + the slot's index).
		return uintptr(unsafe.Pointer(unsafe.SliceData(t.vslots))), unsafe.Sizeof(t.vslots[0]), 0, 0
	}
	return 0, 0, 0, 0
}
