//go:build unix && !aix

package arena_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
)

// opsSmall is a 16-byte struct aligned to 8.
type opsSmall struct {
	A uint64
	B uint32
	C uint16
	D uint8
}

// opsNode is what the program clones: a string, a slice, and a pointer
// that may close a cycle.
type opsNode struct {
	Name string
	Vals []uint16
	Next *opsNode
}

// FuzzArenaOps runs a program of allocations in one arena, with a small
// WithMaxBytes or the default, against a model of its bump allocator:
// every allocation is zeroed and aligned for its type, has len == cap,
// fits exactly when alignUp(Len, align)+size <= Cap and otherwise fails
// with ErrExhausted and consumes nothing, and zero-size ones take no
// memory. Each allocation is then filled with bytes of its own; at the
// end, or at Close, and after Freeze if the program froze the arena,
// every one must still hold them (an allocation that overlapped another,
// or memory lost when the arena grew, would not). After Freeze every
// allocation panics with ErrFrozen and Clone returns it; after Close,
// ErrClosed.
//
// The input's first byte chooses WithMaxBytes (0: the default); the rest
// is a program of two bytes an operation: what to allocate (mod 8) and a
// size.
func FuzzArenaOps(f *testing.F) {
	f.Fuzz(func(t *testing.T, prog []byte) {
		if len(prog) == 0 || len(prog) > 200 {
			return
		}
		var opts []arena.Option
		if prog[0] != 0 {
			opts = append(opts, arena.WithMaxBytes(int64(prog[0])*61))
		}
		a, err := arena.NewArena(opts...)
		require.NoError(t, err)
		defer a.Close()
		m := &opsModel{t: t, a: a, state: "open"}
		prog = prog[1:]
		for i := 0; i+1 < len(prog); i += 2 {
			m.do(prog[i]%8, int(prog[i+1]))
		}
		m.checkAll()
		if m.state == "frozen" {
			require.NoError(t, m.region.Verify(), "Verify of the frozen arena")
		}
	})
}

type opsModel struct {
	t      *testing.T
	a      *arena.Arena
	state  string // "open", "frozen" or "closed"
	region *freeze.Region
	id     byte // the next allocation's fill byte
	checks []func() error
}

// do runs one operation with parameter n (0 to 255).
func (m *opsModel) do(op byte, n int) {
	switch op {
	case 0:
		alloc(m, 16, 8, func() *opsSmall { return arena.New[opsSmall](m.a) })
	case 1:
		alloc(m, 1, 1, func() *byte { return arena.New[byte](m.a) })
	case 2:
		allocSlice(m, n*3, 4, false, func() []uint32 { return arena.MakeSlice[uint32](m.a, n*3) })
	case 3:
		allocSlice(m, n%8, 8, false, func() [][3]uint64 { return arena.MakeSlice[[3]uint64](m.a, n%8) })
	case 4:
		s := string(m.fill(n))
		allocSlice(m, n, 1, true, func() []byte {
			c := arena.String(m.a, s)
			require.Equal(m.t, s, c, "String's copy")
			return unsafe.Slice(unsafe.StringData(c), len(c)) // only read, never written: c is a string
		})
	case 5:
		b := m.fill(n)
		if n == 255 {
			b = nil
		}
		allocSlice(m, len(b), 1, true, func() []byte {
			c := arena.Bytes(m.a, b)
			require.Equal(m.t, b == nil, c == nil, "Bytes of nil gives nil, of an empty slice an empty one")
			require.Equal(m.t, b, c, "Bytes's copy")
			return c
		})
	case 6:
		m.clone(n)
	case 7:
		switch n % 4 {
		case 0:
			if m.state != "open" {
				return
			}
			r, err := freeze.Freeze(m.a, freeze.Protect)
			require.NoError(m.t, err)
			m.state, m.region = "frozen", r
		case 1:
			m.checkAll() // nothing can be read after Close
			require.NoError(m.t, m.a.Close())
			m.checks, m.state = nil, "closed"
		default:
			want := m.want(0, 1) // a closed or frozen arena says so first
			if want == nil {
				want = arena.ErrInvalidSize
			}
			require.ErrorIs(m.t, mayPanic(m.t, func() { arena.MakeSlice[uint32](m.a, -1-n) }), want, "MakeSlice of %d", -1-n)
		}
	}
}

// fill returns n bytes, each the next allocation's id.
func (m *opsModel) fill(n int) []byte {
	m.id++
	b := make([]byte, n)
	for i := range b {
		b[i] = m.id + byte(i)
	}
	return b
}

// want returns the error an allocation of size bytes aligned to align
// must fail with, or nil.
func (m *opsModel) want(size, align int) error {
	switch {
	case m.state == "closed":
		return arena.ErrClosed
	case m.state == "frozen":
		return arena.ErrFrozen
	case size > 0 && (m.a.Len()+align-1)/align*align+size > m.a.Cap():
		return arena.ErrExhausted
	}
	return nil
}

// alloc makes one T of the given size and alignment with newT, checks
// the outcome against the model, and fills the T.
func alloc[T any](m *opsModel, size, align int, newT func() *T) {
	before, want := m.a.Len(), m.want(size, align)
	var p *T
	err := mayPanic(m.t, func() { p = newT() })
	if want != nil {
		require.ErrorIs(m.t, err, want, "New of %d bytes at Len %d of %d", size, before, m.a.Cap())
		require.Equal(m.t, before, m.a.Len(), "a failed New consumed memory")
		return
	}
	require.NoError(m.t, err)
	m.placed(before, size, align, unsafe.Pointer(p))
	b := unsafe.Slice((*byte)(unsafe.Pointer(p)), size)
	m.own(b)
	m.keep(b)
}

// allocSlice makes n elements of the given alignment with makeS and
// checks them as alloc does. It fills zeroed memory; copied memory
// (String's, Bytes's), which makeS checked, it keeps as it is.
func allocSlice[E any](m *opsModel, n, align int, copied bool, makeS func() []E) {
	size := n * int(unsafe.Sizeof(*new(E)))
	before, want := m.a.Len(), m.want(size, align)
	var s []E
	err := mayPanic(m.t, func() { s = makeS() })
	if want != nil {
		require.ErrorIs(m.t, err, want, "%T of %d bytes at Len %d of %d", s, size, before, m.a.Cap())
		require.Equal(m.t, before, m.a.Len(), "a failed allocation consumed memory")
		return
	}
	require.NoError(m.t, err)
	require.Equal(m.t, n, len(s))
	require.Equal(m.t, len(s), cap(s), "len == cap")
	if n == 0 {
		require.Equal(m.t, before, m.a.Len(), "an empty allocation took memory")
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), size)
	m.placed(before, size, align, unsafe.Pointer(unsafe.SliceData(s)))
	if !copied {
		m.own(b)
	}
	m.keep(b)
}

// placed checks an allocation's alignment and what it added to Len.
func (m *opsModel) placed(before, size, align int, p unsafe.Pointer) {
	m.t.Helper()
	require.Zero(m.t, uintptr(p)%uintptr(align), "aligned to %d", align)
	if size == 0 {
		require.Equal(m.t, before, m.a.Len(), "a zero-size allocation took memory")
		return
	}
	require.Equal(m.t, (before+align-1)/align*align+size, m.a.Len(), "Len after allocating %d bytes aligned to %d at %d", size, align, before)
}

// own checks that b is zero and fills it with the next id's bytes.
func (m *opsModel) own(b []byte) {
	m.t.Helper()
	require.Equal(m.t, make([]byte, len(b)), b, "fresh memory is zero")
	copy(b, m.fill(len(b)))
}

// keep adds a check that b still holds the bytes it holds now.
func (m *opsModel) keep(b []byte) {
	want := slices.Clone(b)
	m.checks = append(m.checks, func() error {
		if !slices.Equal(want, b) {
			return fmt.Errorf("%d bytes at %p changed", len(b), unsafe.SliceData(b))
		}
		return nil
	})
}

// clone clones a node whose name and slice have n bytes' worth, and
// which points to itself for odd n.
func (m *opsModel) clone(n int) {
	v := &opsNode{Name: string(m.fill(n)), Vals: make([]uint16, n%5)}
	for i := range v.Vals {
		v.Vals[i] = uint16(n + i)
	}
	if n%2 == 1 {
		v.Next = v
	}
	before := m.a.Len()
	c, err := arena.Clone(m.a, v)
	switch m.state {
	case "closed":
		require.ErrorIs(m.t, err, arena.ErrClosed)
	case "frozen":
		require.ErrorIs(m.t, err, arena.ErrFrozen)
	}
	if m.state != "open" || errors.Is(err, arena.ErrExhausted) {
		require.Equal(m.t, before, m.a.Len(), "a failed Clone consumed memory: %v", err)
		if m.state == "open" {
			// The same Clone, after as many bytes, in an arena without a
			// limit takes more than this one allows: the refusal was due.
			b, err2 := arena.NewArena()
			require.NoError(m.t, err2)
			defer b.Close()
			arena.MakeSlice[byte](b, before)
			_, err2 = arena.Clone(b, v)
			require.NoError(m.t, err2)
			require.Greater(m.t, b.Len(), m.a.Cap(), "Clone refused with room for it at Len %d: %v", before, err)
		}
		return
	}
	require.NoError(m.t, err)
	require.Greater(m.t, m.a.Len(), before, "Clone of %d bytes took no memory", n)
	m.checks = append(m.checks, func() error {
		if !reflect.DeepEqual(v, c) {
			return errors.New("a clone changed")
		}
		if n%2 == 1 && c.Next != c {
			return errors.New("a clone's cycle is broken")
		}
		return nil
	})
}

// checkAll runs every allocation's check.
func (m *opsModel) checkAll() {
	for i, check := range m.checks {
		require.NoError(m.t, check(), "allocation %d of %d", i, len(m.checks))
	}
}
