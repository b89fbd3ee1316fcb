//go:build !race

// Not under the race detector, whose shadow memory the limits leave no
// room to grow.

package childtest_test

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/frozen-go/frozen/internal/childtest"
)

var kept [][]byte

// While either limit holds, the runtime can map nothing more, and a test
// still allocates, which the helpers leave room for. Each workload runs
// under each limit in a child process, which the crash would kill:
//   - spans: thousands of page-sized objects, each a span of its own,
//     stopped the process ("fatal error: runtime: cannot allocate
//     memory") although the heap had 64 MiB of free pages, as each
//     span's structure is memory the runtime maps too;
//   - records: what the runtime never frees it carves from a chunk of
//     256 KiB per P, and maps another once the chunk is spent: under
//     either limit that stopped the process (from an itab that an
//     fmt.Errorf under TightAddressSpace made, in about 1 run in 500 of
//     the space package's limit tests on linux/386), wherever in its
//     chunk the test began. 2000 cleanup records, some 50 KiB of them,
//     stopped a quarter of the runs on linux/386 and half on linux/amd64
//     (here 3000 are made).
func TestLimitsLeaveTheRuntimeRoom(t *testing.T) {
	workloads := map[string]func() int{
		"spans": func() int {
			for range 3000 {
				kept = append(kept, make([]byte, 8192))
			}
			runtime.KeepAlive(kept)
			n := len(kept)
			kept = nil
			return n
		},
		"records": func() int {
			n := 0
			for range 3000 {
				runtime.AddCleanup(new([2]*byte), func(struct{}) {}, struct{}{})
				n++
			}
			return n
		},
	}
	for name, limit := range map[string]func(*testing.T) func(){
		"TightAddressSpace": childtest.TightAddressSpace,
		"OverMappingLimit":  childtest.OverMappingLimit,
	} {
		for wname, work := range workloads {
			t.Run(name+"/"+wname, func(t *testing.T) {
				if !childtest.InChild(t) {
					return
				}
				restore := limit(t)
				n := work()
				restore()
				assert.Equal(t, 3000, n)
			})
		}
	}
}
