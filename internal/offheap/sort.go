package offheap

import (
	"math/bits"
	"slices"
)

// Radix digits: 11 bits, 2048 buckets.
const (
	digitBits = 11
	buckets   = 1 << digitBits
)

// sortKeys orders keys by start address, and by size, larger first, among
// equal starts, using tmp (at least as long) as scratch; it returns the
// slice that holds the result, keys or tmp. It is an LSD radix sort on the
// address (skipping digits every key shares: heap addresses differ in few
// of their bits), then a fix-up of the rare runs of equal starts.
//
// Keys whose addresses vary in more than two digits' worth of bits lie in
// regions far apart (a binary's data, the heap, other mappings), each of
// which varies in few: those are first split by their top digit, and each
// part sorted on its own bits. Cloning a config of 10,000 objects met
// 12,700 keys varying in bits 0 to 46 (9,064 since a string met again is
// planned once): five LSD passes, against one split and two passes within
// the binary's data and within the heap (4 MiB apart from each other's
// bits); the sort took a fifth of Clone's time.
//
// Digits start at the lowest bit that varies: the parts a split of heap
// addresses leaves are 8 KiB spans of aligned objects, whose 10 or so
// varying bits then take one pass instead of two. Runs of equal starts
// already in order (a string literal met many times) are left as they
// are. Together these took the sort of that config from 160-250 µs to
// 147-200 µs (BenchmarkSortKeysOfAConfig; heap addresses vary from run
// to run, and with them the splits).
func sortKeys(keys, tmp []key) []key {
	if len(keys) < 64 {
		insertionSortKeys(keys)
		return keys
	}
	var or, and uintptr = 0, ^uintptr(0)
	for _, k := range keys {
		or |= k.start
		and &= k.start
	}
	varying := or ^ and // bits that are not the same in every key
	tmp = tmp[:len(keys)]
	lo, hi := bits.TrailingZeros64(uint64(varying)), bits.Len64(uint64(varying))
	if hi-lo > 2*digitBits {
		return splitKeys(keys, tmp, uint(hi-digitBits))
	}
	return radixKeys(keys, tmp, varying)
}

// splitKeys distributes keys into tmp by the digit at shift, the top one
// (stably, by a counting pass), sorts each part with sortKeys and returns
// tmp, where every part ends up.
func splitKeys(keys, tmp []key, shift uint) []key {
	var count [buckets]int
	distribute(keys, tmp, shift, &count)
	lo := 0
	for _, hi := range count {
		if hi-lo > 1 {
			if sorted := sortKeys(tmp[lo:hi], keys[lo:hi]); &sorted[0] != &tmp[lo] {
				copy(tmp[lo:hi], sorted)
			}
		}
		lo = hi
	}
	return tmp
}

// distribute copies src to dst ordered by the digit at shift, stably (a
// counting pass), given count zeroed; it leaves count[d] at the end of
// digit d's keys in dst, which is where digit d+1's begin.
func distribute(src, dst []key, shift uint, count *[buckets]int) {
	for _, k := range src {
		count[(k.start>>shift)&(buckets-1)]++
	}
	sum := 0
	for i, c := range count {
		count[i] = sum
		sum += c
	}
	for _, k := range src {
		d := (k.start >> shift) & (buckets - 1)
		dst[count[d]] = k
		count[d]++
	}
}

// radixKeys is sortKeys's LSD radix sort over the digits of varying, the
// first at its lowest bit.
func radixKeys(keys, tmp []key, varying uintptr) []key {
	var count [buckets]int
	src, dst := keys, tmp
	for shift := uint(bits.TrailingZeros64(uint64(varying))); shift < 64 && varying>>shift != 0; shift += digitBits {
		if (varying>>shift)&(buckets-1) == 0 {
			continue
		}
		count = [buckets]int{}
		distribute(src, dst, shift, &count)
		src, dst = dst, src
	}
	// Equal starts: larger size first.
	for i := 0; i < len(src); {
		j := i + 1
		for j < len(src) && src[j].start == src[i].start {
			j++
		}
		switch run := src[i:j]; {
		case j-i == 1 || sizesDescend(run):
			// In order already: one range, or many strings met with the
			// bytes of one literal.
		case j-i > 32:
			// Many ranges from one address (prefixes s[:1], s[:2], … of
			// one string or slice, which Clone does not merge before
			// sorting): insertion sort would be quadratic, and took 9 s
			// for 60,000 of them. Stable, like the radix passes, so that
			// the range met first is still first among equal ones.
			slices.SortStableFunc(run, func(a, b key) int {
				switch {
				case a.size > b.size:
					return -1
				case a.size < b.size:
					return 1
				}
				return 0
			})
		default:
			insertionSortKeys(run)
		}
		i = j
	}
	return src
}

// sizesDescend reports whether no key of run is larger than the one before.
func sizesDescend(run []key) bool {
	for i := 1; i < len(run); i++ {
		if run[i].size > run[i-1].size {
			return false
		}
	}
	return true
}

func keyLess(a, b key) bool { return a.start < b.start || a.start == b.start && a.size > b.size }

func insertionSortKeys(s []key) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && keyLess(s[j], s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
