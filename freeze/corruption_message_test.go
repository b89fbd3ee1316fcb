//go:build unix && !aix

package freeze_test

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
)

// A CorruptionError's message is bounded however much changed: it gives
// the number of changed pages, then the first four pages only, "; …" for
// the rest, and for each page three of its allocations, ", …" where it
// has more. The fields keep every page and up to eight allocations of
// each. A message that grew with the damage, or that hid that it was cut,
// would mislead whoever reads the log.
func TestCorruptionErrorNamesFourPagesAndThreeAllocationsOfEach(t *testing.T) {
	const pages = 6
	a := newArena(t, arena.WithName("damaged"))
	var first unsafe.Pointer
	for i := 0; i < pages*freeze.PageSize/24+1; i++ {
		p := arena.New[Point](a)
		arena.New[uint64](a)
		if first == nil {
			first = unsafe.Pointer(p)
		}
	}
	r, err := freeze.Freeze(a, freeze.Alias)
	require.NoError(t, err)
	require.NoError(t, r.Wait()) // the owner's mapping is writable from here
	for pg := range pages {
		*(*byte)(unsafe.Add(first, pg*freeze.PageSize+100)) ^= 0xff // not through Update
	}

	err = r.Verify()
	var ce *freeze.CorruptionError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "damaged", ce.Region)
	assert.Equal(t, freeze.Alias, ce.Mode)
	require.Equal(t, []int{0, 1, 2, 3, 4, 5}, ce.Pages)
	require.Len(t, ce.Changed, pages)
	want := `freeze: region "damaged" (Alias): 6 pages changed since Freeze`
	for i, pg := range ce.Changed {
		assert.Equal(t, i, pg.Index)
		assert.Equal(t, uintptr(i*freeze.PageSize), pg.Start)
		assert.Equal(t, uintptr((i+1)*freeze.PageSize), pg.End)
		assert.True(t, pg.More, "page %d holds about 340 allocations", i)
		require.Len(t, pg.Allocations, 8, "page %d", i)
		if i < 4 {
			al := pg.Allocations
			want += fmt.Sprintf("; page %d [%#x, %#x) holding %s (%s), %s (%s), %s (%s), …", i, pg.Start, pg.End,
				al[0].Path, al[0].Type, al[1].Path, al[1].Type, al[2].Path, al[2].Type)
		}
	}
	want += "; …"
	assert.Equal(t, want, err.Error())
	assert.Equal(t, "Point#0", ce.Changed[0].Allocations[0].Path)
	assert.Equal(t, "uint64#0", ce.Changed[0].Allocations[1].Path)
	assert.True(t, strings.HasPrefix(err.Error(), want[:len(want)-len("; …")]))
}

// Where a page holds three allocations or fewer, or four pages or fewer
// changed, the message lists them all and marks nothing as cut: a "…"
// there would send the reader looking for allocations or pages that do
// not exist.
func TestCorruptionErrorOfFewPagesAndAllocationsIsNotCut(t *testing.T) {
	a := newArena(t, arena.WithName("few"))
	// Three allocations on page 0, the last of them a page and a half
	// long, which page 1 holds alone.
	x := arena.New[uint32](a)
	arena.New[uint16](a)
	arena.MakeSlice[byte](a, freeze.PageSize+freeze.PageSize/2)
	r, err := freeze.Freeze(a, freeze.Protect)
	require.NoError(t, err)
	require.NoError(t, r.Wait())
	for _, off := range []int{2, freeze.PageSize + 8} {
		b := (*byte)(unsafe.Add(unsafe.Pointer(x), off))
		require.NoError(t, mprotectRange(unsafe.Pointer(b), 1, unix.PROT_READ|unix.PROT_WRITE))
		*b ^= 0xff
		require.NoError(t, mprotectRange(unsafe.Pointer(b), 1, unix.PROT_READ))
	}
	err = r.Verify()
	var ce *freeze.CorruptionError
	require.ErrorAs(t, err, &ce)
	require.Len(t, ce.Changed, 2)
	for _, pg := range ce.Changed {
		assert.False(t, pg.More)
	}
	end := ce.Changed[1].End
	assert.Equal(t, uintptr(r.Size()), end, "the last page ends with the region")
	assert.Equal(t, fmt.Sprintf(`freeze: region "few" (Protect): 2 pages changed since Freeze`+
		`; page 0 [0x0, 0x1000) holding uint32#0 (uint32), uint16#0 (uint16), uint8#0…6143 ([6144]uint8)`+
		`; page 1 [0x1000, %#x) holding uint8#0…6143 ([6144]uint8)`, end), err.Error())
}

// ChangedPage.More is set exactly where the page holds more allocations
// than the eight listed: a page of eight lists them all and says there
// are no more, one of nine lists eight and says so. A reader trusts More
// to decide whether to ask Region.Allocations for the rest.
func TestChangedPageMoreMeansMoreThanEight(t *testing.T) {
	for _, n := range []int{8, 9} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			a := newArena(t)
			first := unsafe.Pointer(arena.New[uint32](a))
			for i := 1; i < n; i++ { // alternating types: each its own record
				if i%2 == 1 {
					arena.New[uint16](a)
				} else {
					arena.New[uint32](a)
				}
			}
			r, err := freeze.Freeze(a, freeze.Protect)
			require.NoError(t, err)
			require.NoError(t, r.Wait())
			all, err := r.Allocations(0, freeze.PageSize)
			require.NoError(t, err)
			require.Len(t, all, n)
			require.NoError(t, mprotectRange(first, 1, unix.PROT_READ|unix.PROT_WRITE))
			*(*byte)(first) = 9
			require.NoError(t, mprotectRange(first, 1, unix.PROT_READ))
			var ce *freeze.CorruptionError
			require.ErrorAs(t, r.Verify(), &ce)
			require.Len(t, ce.Changed, 1)
			assert.Equal(t, n > 8, ce.Changed[0].More)
			assert.Equal(t, all[:8], ce.Changed[0].Allocations)
		})
	}
}

// Allocations of a range holding none is nil, not an empty slice: an
// empty range, a range past Size, and a range of an empty region. Code
// that tests the result against nil, or encodes it (JSON null), sees
// nothing listed, as the documentation says.
func TestAllocationsOfARangeHoldingNoneIsNil(t *testing.T) {
	r, _ := frozenPoint(t, freeze.Protect)
	for _, rg := range [][2]uintptr{{5, 5}, {9, 3}, {uintptr(r.Size()), ^uintptr(0)}} {
		got, err := r.Allocations(rg[0], rg[1])
		require.NoError(t, err)
		assert.Nil(t, got, "[%#x, %#x)", rg[0], rg[1])
	}
	e, err := freeze.Freeze(newArena(t), freeze.Protect)
	require.NoError(t, err)
	got, err := e.Allocations(0, ^uintptr(0))
	require.NoError(t, err)
	assert.Nil(t, got, "an empty region")
}
