//go:build unix && !aix

package snapshot_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/snapshot"
)

// FuzzStore runs a program of Store calls, nested in one another as a
// goroutine can nest them (Publish, Close and Update inside the function
// of a Read or of an Update, Reads that panic), against a model of when
// each version must be released, and after every call checks Stats, and
// in every Read the value read, against the model. A version released
// too early faults when it is read (or Verified, or updated); one kept
// too long, or never, shows in Released, and at the end, where a Close
// outside every Read and Update must leave nothing unreleased.
//
// The input is a program: each byte an operation (its low three bits),
// those that run a function (Read, a Read that panics, Update) followed
// by one byte for how many of the operations after it run inside that
// function (0 to 3, at most three deep). The first byte's higher bits
// choose the mode, Alias for 0: in the others, Update must fail with
// freeze.ErrNotAlias.
func FuzzStore(f *testing.F) {
	f.Fuzz(func(t *testing.T, prog []byte) {
		if len(prog) > 96 {
			return
		}
		m := &storeModel{t: t, st: new(snapshot.Store[counter]), mode: freeze.Alias}
		if len(prog) > 0 {
			ms := modes() // Protect, Alias, and Seal where the kernel has it
			m.mode = ms[(1+int(prog[0]>>3))%len(ms)]
		}
		m.st.Configure(snapshot.WithMode(m.mode), snapshot.WithName("fuzzstore"))
		m.run(prog)
		m.close() // outside every Read and Update: must release everything
		m.check("the last Close")
		for _, v := range m.versions {
			require.True(t, v.released, "version %d not released after the last Close", v.n)
		}
	})
}

// storeModel is what a Store's versions must be after each call.
type storeModel struct {
	t        *testing.T
	st       *snapshot.Store[counter]
	mode     freeze.Mode
	versions []*modelVersion
	cur      *modelVersion
	kept     []*modelVersion // versions whose release failed or was put off, in order
	updating []*modelVersion // versions whose Update is running, outermost first
	closed   bool
	released int64
	next     int // the next value written: every version's N is new
}

type modelVersion struct {
	snap     *snapshot.Snapshot[counter]
	n        int // the N that Read must see
	readers  int // Reads inside whose function the program is
	retired  bool
	claimed  bool // its release was tried, or put off (kept)
	unwound  bool // put off by a Read that panicked: left to Publish and Close
	released bool
}

var errReadPanicked = errors.New("the Read's function panicked")

// storeOp is one operation of a program: its code (prog's byte mod 8)
// and the operations that run inside its function.
type storeOp struct {
	code  byte
	inner []storeOp
}

// parseStoreOp reads the operation at the start of prog, at the given
// depth, and returns it with the number of bytes it took.
func parseStoreOp(prog []byte, depth int) (storeOp, int) {
	op, used := storeOp{code: prog[0] % 8}, 1
	if op.code < 2 || op.code > 4 || used == len(prog) {
		return op, used
	}
	n := int(prog[used] % 4)
	used++
	if depth == 3 {
		n = 0
	}
	for ; n > 0 && used < len(prog); n-- {
		in, u := parseStoreOp(prog[used:], depth+1)
		op.inner = append(op.inner, in)
		used += u
	}
	return op, used
}

// run runs the operations of prog in turn.
func (m *storeModel) run(prog []byte) {
	for used := 0; used < len(prog); {
		op, u := parseStoreOp(prog[used:], 0)
		m.do(op)
		used += u
	}
}

// do runs op, and checks Stats afterwards.
func (m *storeModel) do(op storeOp) {
	body := func() {
		for _, in := range op.inner {
			m.do(in)
		}
	}
	switch op.code {
	case 0, 1:
		m.publish()
	case 2, 3:
		m.read(op.code == 3, body)
	case 4:
		m.update(body)
	case 5:
		m.close()
	case 6:
		if m.cur != nil {
			require.NoError(m.t, m.cur.snap.Verify(), "Verify of the current version")
		}
	case 7:
		if len(m.versions) > 0 {
			v := m.versions[len(m.versions)-1]
			require.ErrorIs(m.t, v.snap.Close(), snapshot.ErrOwnedByStore, "Close of version %d", v.n)
		}
	}
	m.check(fmt.Sprintf("operation %d", op.code))
}

func (m *storeModel) publish() {
	m.retry(true)
	m.next++
	snap, err := m.st.Publish(counter{N: m.next})
	if m.closed {
		require.ErrorIs(m.t, err, arena.ErrClosed, "Publish after Close")
		return
	}
	require.NoError(m.t, err, "Publish")
	v := &modelVersion{snap: snap, n: m.next}
	m.versions = append(m.versions, v)
	old := m.cur
	m.cur = v
	m.retire(old)
}

func (m *storeModel) close() {
	m.closed = true
	old := m.cur
	m.cur = nil
	err := m.st.Close()
	m.retire(old)
	if m.retry(true) {
		require.ErrorIs(m.t, err, freeze.ErrInsideUpdate, "Close inside an Update of a version it cannot release")
	} else {
		require.NoError(m.t, err, "Close")
	}
}

// read runs a Read whose function checks the value and runs body, then
// panics if panics is set.
func (m *storeModel) read(panics bool, body func()) {
	v := m.cur
	func() {
		defer func() {
			if r := recover(); r != nil && r != errReadPanicked {
				panic(r)
			}
		}()
		m.st.Read(func(c counter) {
			want := 0
			if v != nil {
				want = v.n
				v.readers++
			}
			require.Equal(m.t, want, c.N, "value read")
			body()
			if v != nil {
				// What body did must have left the version mapped, and
				// changed it only by an Update that has returned.
				var n int
				require.NoError(m.t, freeze.Guard(func() { n = v.snap.Pointer().N }), "version %d read after its Read's function ran", v.n)
				require.Equal(m.t, v.n, n, "value read again")
				v.readers--
			}
			if panics {
				panic(errReadPanicked)
			}
		})
	}()
	if v == nil || !v.retired || v.readers > 0 || v.claimed {
		return
	}
	if panics {
		v.claimed, v.unwound = true, true
		m.kept = append(m.kept, v)
		return
	}
	m.tryRelease(v)
}

// update runs an Update of the current version whose function writes a
// new value and runs body (the value changes when Update returns). Of a
// version whose Update is running, it must fail.
func (m *storeModel) update(body func()) {
	v := m.cur
	if v == nil {
		body()
		return
	}
	if m.mode != freeze.Alias {
		err := freeze.Update(v.snap.Region(), v.snap.Pointer(), func(*counter) {
			m.t.Fatal("the function of an Update in " + m.mode.String() + " mode ran")
		})
		require.ErrorIs(m.t, err, freeze.ErrNotAlias, "Update in %s mode", m.mode)
		body()
		return
	}
	if slices.Contains(m.updating, v) {
		err := freeze.Update(v.snap.Region(), v.snap.Pointer(), func(*counter) {
			m.t.Fatal("the function of an Update inside an Update of the same region ran")
		})
		require.ErrorIs(m.t, err, freeze.ErrInsideUpdate, "Update inside an Update of the same version")
		body()
		return
	}
	m.next++
	n := m.next
	m.updating = append(m.updating, v)
	err := freeze.Update(v.snap.Region(), v.snap.Pointer(), func(w *counter) {
		w.N = n
		body()
	})
	require.NoError(m.t, err, "Update of version %d", v.n)
	m.updating = m.updating[:len(m.updating)-1]
	v.n = n
	m.retry(false)
}

// retire marks a replaced version and releases it if nobody reads it.
func (m *storeModel) retire(v *modelVersion) {
	if v == nil {
		return
	}
	v.retired = true
	if v.readers == 0 {
		m.tryRelease(v)
	}
}

// tryRelease releases v, or keeps it if an Update of it is running.
func (m *storeModel) tryRelease(v *modelVersion) {
	if v.claimed {
		return
	}
	v.claimed = true
	if slices.Contains(m.updating, v) {
		m.kept = append(m.kept, v)
		return
	}
	v.released = true
	m.released++
}

// retry tries the kept versions again (those put off by a panicking Read
// only if unwound is set) and reports whether any release still failed.
func (m *storeModel) retry(unwound bool) (failed bool) {
	var still []*modelVersion
	for _, v := range m.kept {
		switch {
		case v.unwound && !unwound:
			still = append(still, v)
		case slices.Contains(m.updating, v):
			v.unwound = false
			failed = true
			still = append(still, v)
		default:
			v.released = true
			m.released++
		}
	}
	m.kept = still
	return failed
}

func (m *storeModel) check(after string) {
	m.t.Helper()
	s := m.st.Stats()
	require.Equal(m.t, snapshot.StoreStats{Published: int64(len(m.versions)), Released: m.released}, s, "after %s", after)
}
