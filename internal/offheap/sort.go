package offheap

import "slices"

// sortKeys orders keys by start address, and by size, larger first, among
// equal starts. It is an LSD radix sort on the address (11-bit digits,
// skipping digits every key shares: heap addresses differ in few of their
// bits), then a fix-up of the rare runs of equal starts.
func sortKeys(keys, tmp []key) []key {
	const bits, buckets = 11, 1 << 11
	var count [buckets]int
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
	src, dst := keys, tmp
	for shift := uint(0); shift < 64 && varying>>shift != 0; shift += bits {
		if (varying>>shift)&(buckets-1) == 0 {
			continue
		}
		count = [buckets]int{}
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
		src, dst = dst, src
	}
	// Equal starts: larger size first.
	for i := 0; i < len(src); {
		j := i + 1
		for j < len(src) && src[j].start == src[i].start {
			j++
		}
		switch {
		case j-i > 32:
			// Many ranges from one address (prefixes s[:1], s[:2], … of
			// one string or slice, which Clone does not merge before
			// sorting): insertion sort would be quadratic, and took 9 s
			// for 60,000 of them. Stable, like the radix passes, so that
			// the range met first is still first among equal ones.
			slices.SortStableFunc(src[i:j], func(a, b key) int {
				switch {
				case a.size > b.size:
					return -1
				case a.size < b.size:
					return 1
				}
				return 0
			})
		case j-i > 1:
			insertionSortKeys(src[i:j])
		}
		i = j
	}
	return src
}

func keyLess(a, b key) bool { return a.start < b.start || a.start == b.start && a.size > b.size }

func insertionSortKeys(s []key) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && keyLess(s[j], s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
