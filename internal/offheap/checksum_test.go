package offheap

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/stretchr/testify/assert"
)

// The root checksum is the xxhash of the arena's length and then its page
// sums, eight little-endian bytes each, on a machine of either byte
// order: counts around a buffer's worth of sums check the copying one's
// edges.
func TestRootChecksumHashesLengthThenEverySum(t *testing.T) {
	for _, count := range []int{0, 1, 2, 62, 63, 64, 65, 127, 128, 129, 1000} {
		t.Run(fmt.Sprint(count), func(t *testing.T) {
			sums := make([]uint64, count)
			for i := range sums {
				sums[i] = uint64(i+1) * 0x9e3779b97f4a7c15
			}
			n := uintptr(count)*PageSize - 7
			want := binary.LittleEndian.AppendUint64(nil, uint64(n))
			for _, s := range sums {
				want = binary.LittleEndian.AppendUint64(want, s)
			}
			for name, root := range map[string]func([]uint64, uintptr) uint64{
				"native": rootChecksum, "copying": rootChecksumCopying,
			} {
				assert.Equal(t, xxhash.Sum64(want), root(sums, n), name)
				if count > 0 {
					sums[count-1]++
					assert.NotEqual(t, xxhash.Sum64(want), root(sums, n), "%s: the last sum was left out", name)
					sums[count-1]--
				}
			}
		})
	}
}
