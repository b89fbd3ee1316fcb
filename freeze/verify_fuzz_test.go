//go:build unix && !aix

package freeze_test

import (
	"slices"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
)

// row is what FuzzVerifyAndUpdate freezes: 24 bytes, so that rows
// straddle page boundaries.
type row struct {
	A, B uint64
	C    uint32
	D    uint16
	E, F uint8
}

// FuzzVerifyAndUpdate changes a frozen slice of rows by every route in
// turn (a write around the protection, a write undoing one, Update of a
// row, Update of a row while f writes elsewhere around the protection)
// and checks each Verify against a model: the bytes as the baseline
// describes them (what Freeze saw, and each Update that succeeded) and
// the bytes in memory. Verify must name exactly the pages on which the
// two differ (invariant 2: no write goes unnoticed, and none is taken
// into the baseline but by an Update); an Update of a row on such a page
// must fail with a CorruptionError naming them, and change nothing; one
// whose f writes beside the row, on its pages, must be undone; Checksum
// must be a function of the baseline bytes alone, and change with them.
//
// The input: the first byte chooses the mode (Alias, or Protect, where
// Update fails with ErrNotAlias) and the rows' bytes; then four bytes an
// operation: its code (mod 6), two bytes of offset and one of value.
func FuzzVerifyAndUpdate(f *testing.F) {
	f.Fuzz(func(t *testing.T, prog []byte) {
		if len(prog) == 0 || len(prog) > 160 {
			return
		}
		m := freeze.Alias
		if prog[0]&1 != 0 {
			m = freeze.Protect
		}
		a := newArena(t)
		_ = arena.New[[3]byte](a) // the rows start 8 bytes into the first page
		rows := arena.MakeSlice[row](a, 700)
		own := unsafe.Slice((*byte)(unsafe.Pointer(&rows[0])), len(rows)*int(unsafe.Sizeof(row{})))
		for i := range own {
			own[i] = byte(i*int(prog[0]|1) + i>>8)
		}
		r, err := freeze.Freeze(a, m)
		require.NoError(t, err)
		require.NoError(t, r.Wait())
		ro := unsafe.Slice((*byte)(unsafe.Pointer(freeze.ReadOnly(r, &rows[0]))), len(own))
		v := &verifyModel{t: t, r: r, m: m, own: own, ro: ro, base: rowsOffset(t, r, len(own)),
			baseline: slices.Clone(own), checksums: map[string]uint64{}}
		for p := prog[1:]; len(p) >= 4; p = p[4:] {
			v.do(p[0]%6, (int(p[1])<<8|int(p[2]))%len(own), p[3])
		}
		v.verify()
	})
}

// rowsOffset returns the arena offset of the allocation of n bytes in r
// (its only one of that size).
func rowsOffset(t *testing.T, r *freeze.Region, n int) int {
	all, err := r.Allocations(0, uintptr(r.Size()))
	require.NoError(t, err)
	i := slices.IndexFunc(all, func(a freeze.Allocation) bool { return a.Size == uintptr(n) })
	require.GreaterOrEqual(t, i, 0, "no allocation of %d bytes in %v", n, all)
	return int(all[i].Offset)
}

type verifyModel struct {
	t         *testing.T
	r         *freeze.Region
	m         freeze.Mode
	own, ro   []byte            // the rows' bytes through the owner's mapping and the readers' view
	base      int               // the arena offset of the rows' first byte
	baseline  []byte            // the bytes as the checksums describe them
	checksums map[string]uint64 // by the baseline bytes
}

func (v *verifyModel) do(op byte, off int, val byte) {
	size := int(unsafe.Sizeof(row{}))
	i := off / size // the row holding off
	switch op {
	case 0: // a write around the protection
		v.write(off, v.ro[off]+1+val%255)
	case 1: // undoing one (or rewriting the byte as it is)
		v.write(off, v.baseline[off])
	case 2, 3:
		stray := -1 // a byte written around the protection while f runs
		if op == 3 {
			stray = (off + 1 + int(val)*97) % len(v.own)
			if stray/size == i {
				stray = -1 // in the row itself: Update's write covers it
			}
		}
		v.update(i, val, stray)
	case 4:
		v.verify()
	case 5:
		sum := v.r.Checksum()
		if prev, ok := v.checksums[string(v.baseline)]; ok {
			require.Equal(v.t, prev, sum, "Checksum of the same baseline bytes")
		}
		// And of those bytes: other baseline bytes (an Update that
		// succeeded) give another checksum.
		for b, prev := range v.checksums {
			require.False(v.t, prev == sum && b != string(v.baseline), "Checksum %#x of other baseline bytes", sum)
		}
		v.checksums[string(v.baseline)] = sum
	}
}

// write changes the byte at off around the protection.
func (v *verifyModel) write(off int, b byte) { writeAround(v.t, v.m, &v.own[off], b) }

// pages returns the checksum pages of the row bytes [lo, hi).
func (v *verifyModel) pages(lo, hi int) []int {
	var ps []int
	for p := (v.base + lo) / freeze.PageSize; p <= (v.base+hi-1)/freeze.PageSize; p++ {
		ps = append(ps, p)
	}
	return ps
}

// changed returns the pages of the row bytes [lo, hi) on which memory
// and the baseline differ.
func (v *verifyModel) changed(lo, hi int) []int {
	var ps []int
	for _, p := range v.pages(lo, hi) {
		s, e := max(p*freeze.PageSize-v.base, 0), min((p+1)*freeze.PageSize-v.base, len(v.ro))
		if !slices.Equal(v.ro[s:e], v.baseline[s:e]) {
			ps = append(ps, p)
		}
	}
	return ps
}

// update updates row i, whose A becomes a new value, with f also writing
// the byte at stray around the protection (none if stray < 0).
func (v *verifyModel) update(i int, val byte, stray int) {
	size := int(unsafe.Sizeof(row{}))
	rows := unsafe.Slice((*row)(unsafe.Pointer(&v.ro[0])), len(v.ro)/size)
	lo, hi := i*size, (i+1)*size
	old, before := rows[i], v.changed(lo, hi)
	want := old
	want.A = uint64(val)<<32 | uint64(i)
	ran := false
	err := freeze.Update(v.r, &rows[i], func(w *row) {
		ran = true
		w.A = want.A
		if stray >= 0 {
			v.write(stray, v.ro[stray]+1)
		}
	})
	if v.m != freeze.Alias {
		require.ErrorIs(v.t, err, freeze.ErrNotAlias)
		require.False(v.t, ran, "f ran in %s mode", v.m)
		return
	}
	var ce *freeze.CorruptionError
	switch {
	case len(before) > 0:
		require.ErrorAs(v.t, err, &ce, "Update of row %d on pages %v changed around the protection", i, before)
		require.False(v.t, ran, "f ran on changed pages")
		require.Equal(v.t, before, ce.Pages)
		require.Equal(v.t, old, rows[i], "a refused Update wrote its row")
	case stray >= 0 && slices.Contains(v.pages(lo, hi), (v.base+stray)/freeze.PageSize):
		require.ErrorAs(v.t, err, &ce, "Update of row %d while f wrote beside it at %d", i, stray)
		require.Equal(v.t, old, rows[i], "an undone Update wrote its row")
	default:
		require.NoError(v.t, err, "Update of row %d", i)
		require.Equal(v.t, want, rows[i], "row %d after its Update", i)
		copy(v.baseline[lo:hi], v.ro[lo:hi])
	}
}

// verify checks that Verify names exactly the pages on which memory and
// the baseline differ.
func (v *verifyModel) verify() {
	want := v.changed(0, len(v.ro))
	err := v.r.Verify()
	if len(want) == 0 {
		require.NoError(v.t, err)
		return
	}
	var ce *freeze.CorruptionError
	require.ErrorAs(v.t, err, &ce, "changes on pages %v went unnoticed", want)
	require.Equal(v.t, want, ce.Pages, err.Error())
}
