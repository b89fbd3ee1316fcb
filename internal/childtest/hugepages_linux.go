package childtest

import (
	"testing"

	"github.com/frozen-go/frozen/internal/proc"
)

// HugePageFallbacks returns how often the kernel has mapped shared memory
// with small pages where it was to give a huge one and found no free 2
// MiB of memory (thp_file_fallback in /proc/vmstat), or 0 where that
// cannot be read. Take it before a test writes the memory it expects in
// huge pages, for SkipWhereHugePagesRanOut.
func HugePageFallbacks() uint64 {
	n, _ := proc.VMStat("thp_file_fallback")
	return n
}

// SkipWhereHugePagesRanOut skips t if the kernel fell back to small pages
// for shared memory since HugePageFallbacks returned before: memory too
// fragmented to hold a free huge page says nothing of what the test
// checks. Call it where small pages are found.
func SkipWhereHugePagesRanOut(t testing.TB, before uint64) {
	t.Helper()
	if after := HugePageFallbacks(); after > before {
		t.Skipf("the kernel found no free huge page for shared memory %d times during the test (thp_file_fallback in /proc/vmstat)", after-before)
	}
}
