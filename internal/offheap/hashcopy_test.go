//go:build unix && !aix

package offheap

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/internal/layout"
	"github.com/frozen-go/frozen/internal/vm"
)

type hashedNode struct {
	Name  string
	Data  []uint64
	Next  *hashedNode
	Other *hashedNode
	Any   any
	Pad   [3]byte
}

// hashedGraph is a list of n nodes whose strings, arrays (of 0 to big
// words) and interfaces make blocks of every kind, strings after them,
// and runs of bytes longer than the copy's hashing chunk.
func hashedGraph(n, big int) *hashedNode {
	var head *hashedNode
	for i := range n {
		d := make([]uint64, i%7*100)
		if i%5 == 0 {
			d = make([]uint64, big)
		}
		for j := range d {
			d[j] = uint64(i*31 + j)
		}
		head = &hashedNode{Name: strings.Repeat(fmt.Sprint(i), i%9), Data: d, Next: head, Pad: [3]byte{byte(i), 1, 2}}
		if i%3 == 0 {
			head.Any = head.Data
		}
		if head.Next != nil {
			head.Other = head.Next.Next
		}
	}
	return head
}

// viewBase returns where r's readers read its bytes: the Alias view, or
// the arena's own mapping.
func viewBase(r *Region) unsafe.Pointer {
	if r.alias != nil {
		return r.alias.Addr()
	}
	return r.a.Base()
}

// pageHashes hashes [base, base+n) page by page, as Freeze's baseline does.
func pageHashes(base unsafe.Pointer, n uintptr) []uint64 {
	out := make([]uint64, Pages(n))
	hashPages(base, n, out, nil)
	return out
}

func hashedCases() map[string]any {
	return map[string]any{
		"pointer-free root": [5000]byte{1, 2, 3, 4999: 9},
		"one page":          hashedGraph(3, 10),
		"graph":             hashedGraph(200, 40_000), // runs of 320 KB, over the 64 KiB chunk
		"strings only":      []string{strings.Repeat("x", 70_000), "y", strings.Repeat("z", 5000)},
	}
}

// clonedHashing clones v into a fresh arena that hashes what it copies;
// the arena is closed when the test ends.
func clonedHashing(t *testing.T, v any) *Arena {
	t.Helper()
	a, err := NewArena("hashed", 16<<20)
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	a.HashWhileCopying()
	_, err = ApplyValue[any](a, planOnce(t, v))
	require.NoError(t, err)
	return a
}

// planOnce plans a copy of v, released when the test ends (a plan is
// applied once).
func planOnce[T any](t *testing.T, v T) *ClonePlan {
	t.Helper()
	p, err := PlanValue(&v)
	require.NoError(t, err)
	t.Cleanup(p.Release)
	return p
}

// TestCloneHashesWhatItCopies: the page hashes an Apply takes while it
// copies into a fresh arena are those of the bytes it leaves, which fails
// if it ever writes below a page it has hashed (the blocks out of address
// order, the strings before the typed blocks).
func TestCloneHashesWhatItCopies(t *testing.T) {
	for name, v := range hashedCases() {
		t.Run(name, func(t *testing.T) {
			a := clonedHashing(t, v)
			require.True(t, a.copied.ready(a.used), "the copy hashed what it wrote")
			assert.Equal(t, pageHashes(a.Base(), a.used), a.copied.sums)
		})
	}
}

// TestFreezeAdoptsTheCopysHashes: Freeze takes the hashes the copy took as
// its baseline, in Alias mode after hashing again the pages whose
// pointers it moved into the view; the baseline equals a fresh hash of the
// frozen bytes, and Verify finds them unchanged.
func TestFreezeAdoptsTheCopysHashes(t *testing.T) {
	modes := []Mode{Protect, Alias}
	if seals, _, _, reopen := vm.Features(); seals == nil && reopen == nil {
		modes = append(modes, Seal)
	}
	for name, v := range hashedCases() {
		for _, mode := range modes {
			t.Run(fmt.Sprintf("%s/%s", name, mode), func(t *testing.T) {
				a := clonedHashing(t, v)
				adopted := a.copied.sums
				r, err := a.Freeze(mode)
				require.NoError(t, err)
				require.NoError(t, r.Wait())
				base := viewBase(r)
				require.Equal(t, pageHashes(base, r.size), r.sums)
				assert.Same(t, unsafe.SliceData(adopted), unsafe.SliceData(r.sums), "the baseline is the copy's hashes")
				assert.False(t, a.copied.ready(a.used), "adopted once")
				changed, err := r.Verify(1)
				require.NoError(t, err)
				assert.Empty(t, changed)
			})
		}
	}
}

// TestCopyHashesAreDroppedWhereTheyMayNotHold: an arena that had
// allocations before the Clone is not hashed while copying, and one that
// has allocations after it is hashed afresh by Freeze.
func TestCopyHashesAreDroppedWhereTheyMayNotHold(t *testing.T) {
	v := hashedGraph(20, 100)

	a, err := NewArena("not-fresh", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	*New[uint64](a) = 7
	a.HashWhileCopying()
	_, err = ApplyValue[*hashedNode](a, planOnce(t, v))
	require.NoError(t, err)
	assert.False(t, a.copied.ready(a.used), "not fresh: nothing hashed")

	b, err := NewArena("written-after", 1<<20)
	require.NoError(t, err)
	defer b.Close()
	b.HashWhileCopying()
	_, err = ApplyValue[*hashedNode](b, planOnce(t, v))
	require.NoError(t, err)
	require.True(t, b.copied.ready(b.used))
	adopted := b.copied.sums
	*New[uint64](b) = 7 // on the clone's last page
	r, err := b.Freeze(Protect)
	require.NoError(t, err)
	require.NoError(t, r.Wait())
	assert.NotSame(t, unsafe.SliceData(adopted), unsafe.SliceData(r.sums), "hashed afresh")
	assert.Equal(t, pageHashes(b.Base(), r.size), r.sums)
	changed, err := r.Verify(1)
	require.NoError(t, err)
	assert.Empty(t, changed)

	// Words Freeze tidies change hashed bytes too, capacities cut or not:
	// an empty slice at the runtime's zero-size base (written as raw words,
	// which is all a typed store of []uint64{} amounts to, without
	// cgocheck2's objection) is pointed at the region's first byte.
	d, err := NewArena("tidied", 1<<20)
	require.NoError(t, err)
	defer d.Close()
	d.HashWhileCopying()
	root, err := ApplyValue[*hashedNode](d, planOnce(t, v))
	require.NoError(t, err)
	require.True(t, d.copied.ready(d.used))
	n := *root
	*(*[3]uintptr)(unsafe.Pointer(&n.Data)) = [3]uintptr{zeroBase, 0, 0}
	r, err = d.Freeze(Protect)
	require.NoError(t, err)
	require.NoError(t, r.Wait())
	assert.Equal(t, uintptr(d.Base()), uintptr(unsafe.Pointer(unsafe.SliceData(n.Data))), "tidied")
	assert.Equal(t, pageHashes(d.Base(), r.size), r.sums, "the baseline is the tidied bytes'")

	// A Clone that fails leaves nothing adopted either.
	c, err := NewArena("failed", 64)
	require.NoError(t, err)
	defer c.Close()
	c.HashWhileCopying()
	_, err = ApplyValue[*hashedNode](c, planOnce(t, v))
	require.True(t, errors.Is(err, ErrExhausted), "%v", err)
	assert.False(t, c.copied.ready(c.used))
}

// TestCopyHashesAreDroppedByAFailedFreeze: a Freeze that fails at any step
// hands the arena back to its owner, who may write before freezing it
// again; the copy's hashes go with the failure, and the next Freeze's
// baseline is the bytes as they are then (it used to adopt the copy's
// hashes where Alias failed before adopting them, at "reserve" or "map",
// or any mode at "validate", and Verify then reported the owner's write).
func TestCopyHashesAreDroppedByAFailedFreeze(t *testing.T) {
	modes := []Mode{Protect, Alias}
	if seals, _, _, reopen := vm.Features(); seals == nil && reopen == nil {
		modes = append(modes, Seal)
	}
	v := [3 * PageSize]byte{1, 2, 3, 3*PageSize - 1: 9}
	for _, mode := range modes {
		var steps []string
		SetFailpoint(func(s string) error { steps = append(steps, s); return nil })
		r, err := clonedHashing(t, v).Freeze(mode)
		SetFailpoint(nil)
		require.NoError(t, err)
		require.NoError(t, r.Wait())
		require.NotEmpty(t, steps)
		for _, failed := range steps {
			t.Run(fmt.Sprintf("%s/%s", mode, failed), func(t *testing.T) {
				a := clonedHashing(t, v)
				require.True(t, a.copied.ready(a.used))
				SetFailpoint(func(s string) error {
					if s == failed {
						return errors.New("injected")
					}
					return nil
				})
				_, err := a.Freeze(mode)
				SetFailpoint(nil)
				var se *StepError
				require.ErrorAs(t, err, &se)
				require.Equal(t, failed, se.Step)
				require.NoError(t, se.Rollback)
				assert.False(t, a.copied.ready(a.used), "dropped with the failure")

				// The owner's again: a byte of the array (which Clone may
				// place before or after the interface's word).
				at := uintptr(0)
				for k := range a.recs.len() {
					if rec := a.recs.at(k); layout.ByID(rec.Type).Size == uintptr(len(v)) {
						at = uintptr(rec.Off) + PageSize + 5
					}
				}
				require.NotZero(t, at)
				*(*byte)(unsafe.Add(a.Base(), at)) = 0xee
				r, err := a.Freeze(mode)
				require.NoError(t, err)
				require.NoError(t, r.Wait())
				base := viewBase(r)
				require.Equal(t, byte(0xee), *(*byte)(unsafe.Add(base, at)))
				assert.Equal(t, pageHashes(base, r.size), r.sums)
				changed, err := r.Verify(1)
				require.NoError(t, err)
				assert.Empty(t, changed)
			})
		}
	}
}
