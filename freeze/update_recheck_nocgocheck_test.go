//go:build unix && !aix && !goexperiment.cgocheck2

package freeze_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/offheap"
)

// An Update of part of a slice's backing array checks again, after the
// write-back, the pointer words of exactly the bytes it wrote, wherever
// they lie in the array: a whole element after the first (which starts
// on an element boundary past the array's start), and a field in the
// middle of an element (which ends short of the element's end). A Go-heap
// string written into those bytes through the owner's mapping meanwhile
// (here at the failpoint after the hashing) undoes the Update; were the
// element skipped, readers would follow a pointer out of the region that
// no checksum covers. (Outside cgocheck2, which aborts on the store of
// the heap string.)
func TestUpdateRechecksEveryElementOfASliceItWrote(t *testing.T) {
	for _, tc := range []struct {
		name   string
		update func(r *freeze.Region, ro *Config) error
	}{
		{"a whole element after the first", func(r *freeze.Region, ro *Config) error {
			return freeze.Update(r, &ro.Endpoints[1], func(w *Endpoint) { w.Port = 9 })
		}},
		{"a field ending mid-element", func(r *freeze.Region, ro *Config) error {
			return freeze.Update(r, &ro.Endpoints[1].Host, func(w *string) { *w = ro.Endpoints[2].Host })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newArena(t)
			owner, err := arena.Clone(a, newConfig())
			require.NoError(t, err)
			writable := &owner.Endpoints[1] // before Freeze moves owner's pointers into the view
			r, err := freeze.Freeze(a, freeze.Alias)
			require.NoError(t, err)
			ro := freeze.ReadOnly(r, owner)
			heap := strings.Repeat("h", 3) // bytes on the Go heap
			offheap.SetFailpoint(func(step string) error {
				if step == "update-rehashed" {
					writable.Host = heap
				}
				return nil
			})
			err = tc.update(r, ro)
			offheap.SetFailpoint(nil)
			require.ErrorIs(t, err, arena.ErrForeignPointer)
			assert.ErrorContains(t, err, "changed while Update ran")
			assert.Equal(t, Endpoint{"b", 443}, ro.Endpoints[1], "undone")
			require.NoError(t, r.Verify())
		})
	}
}
