package lookup

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkKeysIn checks KeysIn on a table built from want: the table's whole
// address range holds every key once; so do the pieces of each of its
// arrays, cut into chunks of odd sizes that split elements, each piece
// naming only keys of entries it touches; and a range outside the table
// holds none.
func checkKeysIn[K comparable, V any](t *testing.T, want map[K]V) *Table[K, V] {
	t.Helper()
	tb, err := Build(maps.All(want))
	require.NoError(t, err)
	all := slices.Collect(maps.Keys(want))
	requireSameKeys(t, all, tb.KeysIn(0, ^uintptr(0)), "the whole address space")
	require.Empty(t, tb.KeysIn(5, 5))
	require.Empty(t, tb.KeysIn(9, 3))
	require.Empty(t, tb.KeysIn(1, 4096), "no table lives in the first page")

	type array struct {
		name string
		base unsafe.Pointer
		size uintptr
		n    int
	}
	arrays := []array{
		{"sslots", unsafe.Pointer(unsafe.SliceData(tb.sslots)), unsafe.Sizeof(strSlot[V]{}), len(tb.sslots)},
		{"hslots", unsafe.Pointer(unsafe.SliceData(tb.hslots)), unsafe.Sizeof(hashSlot[V]{}), len(tb.hslots)},
		{"kslots", unsafe.Pointer(unsafe.SliceData(tb.kslots)), unsafe.Sizeof(keySlot[K, V]{}), len(tb.kslots)},
		{"vslots", unsafe.Pointer(unsafe.SliceData(tb.vslots)), unsafe.Sizeof(*new(V)), len(tb.vslots)},
		{"tags", unsafe.Pointer(unsafe.SliceData(tb.tags)), 1, len(tb.tags)},
		{"lens", unsafe.Pointer(unsafe.SliceData(tb.lens)), 1, len(tb.lens)},
	}
	for _, a := range arrays {
		if a.n == 0 || a.size == 0 {
			continue // no bytes: a Dense set's values
		}
		lo, hi := uintptr(a.base), uintptr(a.base)+uintptr(a.n)*a.size
		chunk := 3*a.size/2 + 1 // one element and a half, and a byte
		var got []K
		for p := lo; p < hi; p += chunk {
			keys := tb.KeysIn(p, min(p+chunk, hi))
			require.LessOrEqual(t, len(keys), int(chunk/a.size)+2, "%s [%#x, %#x)", a.name, p, p+chunk)
			got = append(got, keys...)
		}
		// Chunks that split an element name its key twice.
		got = slices.Compact(sortedByIndex(tb, got))
		requireSameKeys(t, all, got, "the %s, piece by piece", a.name)
	}
	return tb
}

// requireSameKeys checks that got holds the keys of want, each once.
// (require.ElementsMatch compares every pair: minutes under -race.)
func requireSameKeys[K comparable](t *testing.T, want, got []K, msg string, args ...any) {
	t.Helper()
	count := func(keys []K) map[K]int {
		c := map[K]int{}
		for _, k := range keys {
			c[k]++
		}
		return c
	}
	require.Equal(t, count(want), count(got), append([]any{msg}, args...)...)
	require.Len(t, got, len(want), append([]any{msg}, args...)...)
}

// sortedByIndex sorts keys by the slot that holds them, so that Compact
// removes repeats.
func sortedByIndex[K comparable, V any](tb *Table[K, V], keys []K) []K {
	at := map[K]int{}
	for i := range tb.slots() {
		if tb.inUse(i) {
			at[tb.keyAt(i)] = i
		}
	}
	slices.SortStableFunc(keys, func(a, b K) int { return at[a] - at[b] })
	return keys
}

func TestKeysInFindsEveryEntryByItsBytes(t *testing.T) {
	strs := map[string]int{}
	for i := range 1500 {
		k := fmt.Sprintf("k%d", i)
		if i%5 == 0 {
			k = fmt.Sprintf("a key longer than sixteen bytes, %d", i)
		}
		strs[k] = i
	}
	tb := checkKeysIn(t, strs)
	require.Equal(t, Hashed, tb.strat)
	// A long key is found by its bytes in the blob, and a short one by
	// its bytes in its slot: one key each.
	for k := range tb.All() {
		p := uintptr(unsafe.Pointer(unsafe.StringData(k)))
		require.Equal(t, []string{k}, tb.KeysIn(p+uintptr(len(k))-1, p+uintptr(len(k))), "the last byte of %q", k)
	}

	tiny := checkKeysIn(t, map[string]int{"a": 1, "a key longer than sixteen bytes": 2, "": 3})
	require.Equal(t, Tiny, tiny.strat)
	ints := map[uint64]string{}
	for i := range 1500 {
		ints[uint64(i)*0x9e3779b97f4a7c15] = fmt.Sprint(i)
	}
	require.True(t, checkKeysIn(t, ints).ints)
	dense := map[uint32]int64{}
	for i := range 500 {
		dense[uint32(1000+2*i)] = int64(i)
	}
	require.Equal(t, Dense, checkKeysIn(t, dense).strat)
	denseSet := map[int8]struct{}{}
	for i := range 100 {
		denseSet[int8(i-50)] = struct{}{}
	}
	require.Equal(t, Dense, checkKeysIn(t, denseSet).strat, "values of no size: the tags name the keys")
	arrays := map[[3]uint16]bool{}
	for i := range 1500 {
		arrays[[3]uint16{uint16(i), uint16(i * 7), 1}] = i%2 == 0
	}
	require.Equal(t, Hashed, checkKeysIn(t, arrays).strat)
	require.Empty(t, checkKeysIn(t, map[int]int{}).KeysIn(0, ^uintptr(0)))
}

// A slot whose length and offset words were overwritten names its key as
// it reads now, cut at the end of the blob, instead of reading past it.
func TestKeysInReadsAGarbledLongKeyWithinTheBlob(t *testing.T) {
	tb, err := Build(maps.All(map[string]int{"a key longer than sixteen bytes": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8, "i": 9}))
	require.NoError(t, err)
	for i := range tb.slots() {
		if tb.inUse(i) && tb.keyLen(uint64(i)) > 16 {
			off, n := tb.sslots[i].Key.words()
			require.Equal(t, "a key longer than sixteen bytes", blobString(tb.blob, off, n))
			// The only long key: the blob is laid out by slot (blobBySlot),
			// and the bytes of the long part's empty slots are zero.
			require.Equal(t, uint64(n), tb.longLen)
			tb.sslots[i].Key.set(off+6, n+1000) // the table is on the Go heap here
			got := tb.KeysIn(uintptr(unsafe.Pointer(&tb.sslots[i])), uintptr(unsafe.Pointer(&tb.sslots[i]))+1)
			require.Len(t, got, 1)
			assert.Len(t, got[0], len(tb.blob)-int(off)-6, "cut at the end of the blob")
			assert.Equal(t, "longer than sixteen bytes", strings.TrimRight(got[0], "\x00"))
			tb.sslots[i].Key.set(off+1<<40, n)
			require.Equal(t, []string{""}, tb.KeysIn(uintptr(unsafe.Pointer(&tb.sslots[i])), uintptr(unsafe.Pointer(&tb.sslots[i]))+1))
			// A length word with its top bit set is no negative length:
			// the key is cut at the end of the blob as any other.
			tb.sslots[i].Key.set(off, 1<<63)
			got = tb.KeysIn(uintptr(unsafe.Pointer(&tb.sslots[i])), uintptr(unsafe.Pointer(&tb.sslots[i]))+1)
			require.Len(t, got, 1)
			assert.Len(t, got[0], len(tb.blob)-int(off), "cut at the end of the blob")
			assert.Equal(t, "a key longer than sixteen bytes", strings.TrimRight(got[0], "\x00"))
			return
		}
	}
	t.Fatal("no long key")
}

// A tiny table's long key, whose length byte says "in the blob", reads its
// length word as a hashed table's does.
func TestKeysInReadsAGarbledLongKeyOfATinyTable(t *testing.T) {
	tb, err := Build(maps.All(map[string]int{"a key longer than sixteen bytes": 1, "b": 2}))
	require.NoError(t, err)
	require.Equal(t, Tiny, tb.strat)
	for i := range tb.slots() {
		if tb.keyLen(uint64(i)) > 16 {
			off, _ := tb.sslots[i].Key.words()
			tb.sslots[i].Key.set(off, 1<<63) // the table is on the Go heap here
			require.Equal(t, []string{"a key longer than sixteen bytes"}, tb.KeysIn(uintptr(unsafe.Pointer(&tb.sslots[i])), uintptr(unsafe.Pointer(&tb.sslots[i]))+1))
			return
		}
	}
	t.Fatal("no long key")
}

// EntryName names the bytes of a slot's value and of what it holds of
// the key, and not the padding between them: in a table of 8-byte
// integer keys and 4-byte values, a slot is the value, four bytes of
// padding (where 8-byte words are aligned to 8), and the key's hash.
func TestEntryNameSkipsPaddingInASlot(t *testing.T) {
	want := map[int64]int32{}
	for i := range int64(1000) {
		want[i*7919-3_000_000] = int32(i)
	}
	tb, err := Build(maps.All(want))
	require.NoError(t, err)
	require.NotNil(t, tb.hslots)
	h := unsafe.Offsetof(tb.hslots[0].H)
	if h == 4 {
		t.Skip("no padding between value and hash here (8-byte words aligned to 4)")
	}
	named := 0
	for i := range tb.hslots {
		if tb.hslots[i].H == emptyHash {
			continue
		}
		val, key := fmt.Sprintf("Map[int64,int32][%d]", tb.keyAt(i)), fmt.Sprintf("key %d of Map[int64,int32]", tb.keyAt(i))
		base := uintptr(unsafe.Pointer(&tb.hslots[i]))
		for _, b := range []struct {
			off  uintptr
			name string // "" for none
		}{{0, val}, {3, val}, {4, ""}, {h - 1, ""}, {h, key}, {h + 7, key}} {
			off, name := b.off, b.name
			got, ok := tb.EntryName(base + off)
			require.Equal(t, name != "", ok, "slot %d byte %d: %q", i, off, got)
			require.Equal(t, name, got, "slot %d byte %d", i, off)
		}
		named++
	}
	require.Equal(t, len(want), named)
}
