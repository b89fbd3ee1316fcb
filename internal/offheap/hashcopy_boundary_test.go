//go:build unix && !aix

package offheap

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/internal/vm"
)

type boundaryNode struct {
	A    []byte
	S    string
	P    *boundaryNode
	I    any
	Tail [5]byte
}

// boundaryCases are values whose copies end at and around page and MiB
// boundaries, with runs longer than the hashing chunk in typed blocks and
// in the packed strings.
func boundaryCases() map[string]func() any {
	out := map[string]func() any{}
	for _, n := range []int{1, 4095, 4096, 4097, 8191, 1<<20 - 1, 1 << 20, 1<<20 + 1, 2<<20 + 4096, 3<<20 + 123} {
		out[fmt.Sprintf("bytes-%d", n)] = func() any {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(i*7 + 1)
			}
			return b
		}
		out[fmt.Sprintf("string-%d", n)] = func() any { return strings.Repeat("q", n) }
		out[fmt.Sprintf("mixed-%d", n)] = func() any {
			var head *boundaryNode
			for i := range 5 {
				b := make([]byte, n/(i+1))
				for j := range b {
					b[j] = byte(i + j)
				}
				head = &boundaryNode{A: b, S: strings.Repeat("s", n/(i+2)), P: head, I: head, Tail: [5]byte{byte(i)}}
			}
			return head
		}
	}
	return out
}

// TestCopyHashesAdoptedAtPageAndMiBBoundaries: for copies that end just
// before, at and just after a page or a MiB (the hashing goroutines'
// unit), in every mode and Seal on both its paths (in place, and moved
// aside), the baseline in place the moment Freeze returns, before Wait,
// was adopted from the copy and equals a fresh hash of the frozen bytes.
func TestCopyHashesAdoptedAtPageAndMiBBoundaries(t *testing.T) {
	type setup struct {
		mode     Mode
		asideMin uintptr
	}
	setups := []setup{{Protect, asideMin}, {Alias, asideMin}}
	if seals, _, _, reopen := vm.Features(); seals == nil && reopen == nil {
		setups = append(setups, setup{Seal, asideMin}, setup{Seal, vm.PageSize})
	}
	for name, mk := range boundaryCases() {
		for _, s := range setups {
			t.Run(fmt.Sprintf("%s/%s/aside%d", name, s.mode, s.asideMin), func(t *testing.T) {
				defer SetAsideMin(SetAsideMin(s.asideMin))
				v := mk()
				p := planOnce(t, v)
				a, err := NewArena("boundary", int64(p.Size()))
				require.NoError(t, err)
				defer a.Close()
				a.HashWhileCopying()
				_, err = ApplyValue[any](a, p)
				require.NoError(t, err)
				require.True(t, a.copied.ready(a.used))
				adopted := a.copied.sums
				r, err := a.Freeze(s.mode)
				require.NoError(t, err)
				// Before Wait: the adopted baseline is there at once.
				require.NotNil(t, r.sums)
				require.Same(t, unsafe.SliceData(adopted), unsafe.SliceData(r.sums))
				base := viewBase(r)
				require.Equal(t, pageHashes(base, r.size), r.sums)
				require.Equal(t, rootChecksum(pageHashes(base, r.size), r.size), r.root)
				require.NoError(t, r.Wait())
				changed, err := r.Verify(1)
				require.NoError(t, err)
				require.Empty(t, changed)
			})
		}
	}
}

// TestCopyHashesAfterAFailedApplyOnAFreshArena: an Apply that fails for
// want of room leaves the arena fresh and still asking for hashes; the
// next Apply hashes exactly what it copies.
func TestCopyHashesAfterAFailedApplyOnAFreshArena(t *testing.T) {
	a, err := NewArena("retry", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	a.HashWhileCopying()
	_, err = ApplyValue[any](a, planOnce[any](t, hashedGraph(50, 40_000)))
	require.Error(t, err)
	_, err = ApplyValue[any](a, planOnce[any](t, hashedGraph(20, 1000)))
	require.NoError(t, err)
	require.True(t, a.copied.ready(a.used))
	require.Equal(t, pageHashes(a.Base(), a.used), a.copied.sums)
}
