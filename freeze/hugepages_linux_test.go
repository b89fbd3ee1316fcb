//go:build linux

package freeze_test

import (
	"os"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/childtest"
	"github.com/frozen-go/frozen/internal/vm"
)

// A large arena asks for huge pages, and keeps asking through Freeze in
// every mode: its own mapping (made read-only in place, or remapped from
// the read-only descriptor) and an Alias view. Where the kernel's setting
// for shared memory allows them, the read-only data is then mapped 2 MiB
// at a time, which is what makes mprotect and first reads of large
// regions cheap.
func TestLargeArenasAskForHugePagesInEveryMode(t *testing.T) {
	memfdOnly(t)
	if w := os.Getenv("FROZEN_TEST_EXEC_WRAPPER"); w != "" {
		t.Skipf("%s does not pass huge-page advice to the kernel", w)
	}
	huge := vm.ShmemHugePagesGiven()
	for _, m := range modes(t) {
		t.Run(m.String(), func(t *testing.T) {
			fallbacks := childtest.HugePageFallbacks()
			a := newArena(t)
			s := arena.MakeSlice[int64](a, 1<<20) // 8 MiB
			for i := range s {
				s[i] = int64(i)
			}
			r, err := freeze.Freeze(a, m)
			require.NoError(t, err)
			require.NoError(t, r.Wait())
			ro := freeze.ReadOnly(r, &s[0])
			var sum int64
			for _, v := range unsafe.Slice(ro, len(s)) {
				sum += v
			}
			assert.Equal(t, int64(len(s))*int64(len(s)-1)/2, sum)

			maps, err := vm.ReadMaps()
			require.NoError(t, err)
			for _, p := range []*int64{&s[0], ro} {
				e, ok := maps.Find(uintptr(unsafe.Pointer(p)))
				require.True(t, ok)
				flags, err := vm.SmapsField(e.Start, "VmFlags:")
				require.NoError(t, err)
				assert.Contains(t, " "+flags, " hg", "%s mapping %s", e.Perms, e.Path)
				if huge && p == ro {
					pmd, err := vm.SmapsField(e.Start, "ShmemPmdMapped:")
					require.NoError(t, err)
					if pmd == "0 kB" {
						childtest.SkipWhereHugePagesRanOut(t, fallbacks)
					}
					assert.NotEqual(t, "0 kB", pmd, "read-only data mapped by small pages")
				}
			}
		})
	}
}
