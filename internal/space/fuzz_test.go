//go:build unix && !aix

package space

import (
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/internal/vm"
)

// FuzzSpace runs a program of Alloc, Release, Discard, Lose and
// SetQuarantine against a model of the quarantine, and after every call
// checks that:
//   - a new range is aligned and overlaps no range live, quarantined or
//     lost (invariant 4: a quarantined range is never handed out again
//     while the quarantine holds it);
//   - the quarantine holds exactly the ranges the model says, oldest
//     first out, within its budget (a range larger than the byte budget,
//     and a discarded one, never enter it);
//   - Lookup and Locate name each live range with its owner, each
//     quarantined one by name only, and a range gone from quarantine or
//     discarded not at all (its space is free, unless reused), nor a lost
//     one (whose space is not free);
//   - Stats count what the model counts, a release of a range not live
//     fails, and the manager's own lists stay sorted, disjoint and merged.
//
// The input: two bytes an operation, its code (mod 8) and an argument.
func FuzzSpace(f *testing.F) {
	f.Fuzz(func(t *testing.T, prog []byte) {
		if len(prog) > 128 {
			return
		}
		pb, pr := SetQuarantine(0, 0) // start with an empty quarantine
		defer SetQuarantine(pb, pr)
		SetQuarantine(unlimited, 1<<20)
		s := &spaceModel{t: t, base: ReadStats(), maxBytes: unlimited, maxRanges: 1 << 20}
		for i := 0; i+1 < len(prog); i += 2 {
			s.do(prog[i]%8, prog[i+1])
			s.check()
		}
		for len(s.live) > 0 {
			require.NoError(t, Discard(s.live[0].Range))
			s.live = s.live[1:]
		}
		SetQuarantine(0, 0)
	})
}

type spaceRange struct {
	Range
	name string
}

type spaceModel struct {
	t         *testing.T
	base      Stats // before the program: what other tests left
	live      []spaceRange
	quar      []spaceRange // oldest first
	gone      []spaceRange // released and out of quarantine, or discarded: free unless reused
	lost      []spaceRange
	maxBytes  uintptr
	maxRanges int
	n         int // ranges allocated, for names
}

func (s *spaceModel) do(op, arg byte) {
	pick := func(rs []spaceRange) (int, bool) {
		if len(rs) == 0 {
			return 0, false
		}
		return int(arg) % len(rs), true
	}
	switch op {
	case 0, 1, 2:
		pages := uintptr(1 + arg&15)
		align := []uintptr{0, 4 * vm.PageSize, 16 * vm.PageSize, 2 << 20}[arg>>4&3]
		s.alloc(pages*vm.PageSize, align)
	case 3:
		if i, ok := pick(s.live); ok {
			r := s.live[i]
			s.live = slices.Delete(s.live, i, i+1)
			require.NoError(s.t, Release(r.Range))
			if r.Len() > s.maxBytes {
				s.gone = append(s.gone, r)
				return
			}
			s.quar = append(s.quar, r)
			s.evict()
		}
	case 4:
		if i, ok := pick(s.live); ok {
			r := s.live[i]
			s.live = slices.Delete(s.live, i, i+1)
			require.NoError(s.t, Discard(r.Range))
			s.gone = append(s.gone, r)
		}
	case 5:
		// Each lost range stays a hole in the free list for the life of
		// the process: a long fuzzing run loses only the first few
		// hundred.
		if i, ok := pick(s.live); ok && arg&0x80 != 0 && ReadStats().LostRanges < 256 {
			r := s.live[i]
			s.live = slices.Delete(s.live, i, i+1)
			require.NoError(s.t, Lose(r.Range))
			s.lost = append(s.lost, r)
		}
	case 6:
		// A budget of up to 15 pages (15: unlimited) and up to 7 ranges.
		s.maxBytes, s.maxRanges = uintptr(arg&15)*vm.PageSize, int(arg>>4&7)
		if arg&15 == 15 {
			s.maxBytes = unlimited
		}
		SetQuarantine(s.maxBytes, s.maxRanges)
		s.evict()
	case 7:
		// A range no longer live cannot be released, discarded or lost
		// again.
		stale := slices.Concat(s.quar, s.gone, s.lost)
		if i, ok := pick(stale); ok {
			r := stale[i].Range
			require.Error(s.t, []func(Range) error{Release, Discard, Lose}[int(arg)%3](r), "a second release of %s", stale[i].name)
		}
	}
}

func (s *spaceModel) alloc(n, align uintptr) {
	s.n++
	name := fmt.Sprint("fuzz", s.n)
	r, err := Alloc(n, align, s, name)
	require.NoError(s.t, err)
	require.Equal(s.t, n, r.Len())
	require.Zero(s.t, r.Start()%max(align, vm.PageSize), "aligned to %d", align)
	for _, o := range slices.Concat(s.live, s.quar, s.lost) {
		require.False(s.t, r.Start() < o.End() && o.Start() < r.End(), "%s [%#x, %#x) overlaps %s [%#x, %#x)", name, r.Start(), r.End(), o.name, o.Start(), o.End())
	}
	s.live = append(s.live, spaceRange{r, name})
}

// evict drops the oldest quarantined ranges while over budget.
func (s *spaceModel) evict() {
	for len(s.quar) > 0 && (s.bytes() > s.maxBytes || len(s.quar) > s.maxRanges) {
		s.gone = append(s.gone, s.quar[0])
		s.quar = s.quar[1:]
	}
}

func (s *spaceModel) bytes() (n uintptr) {
	for _, r := range s.quar {
		n += r.Len()
	}
	return n
}

func (s *spaceModel) check() {
	t := s.t
	for _, r := range s.live {
		e, ok := Lookup(r.Start() + r.Len() - 1)
		require.True(t, ok, "live %s not found", r.name)
		require.Equal(t, Entry{Start: r.Start(), End: r.End(), Owner: s, Name: r.name}, e)
	}
	for _, r := range s.quar {
		e, ok := Lookup(r.Start())
		require.True(t, ok, "quarantined %s not found", r.name)
		require.Equal(t, Entry{Start: r.Start(), End: r.End(), Name: r.name, Released: true}, e)
	}
	for _, r := range s.gone {
		e, held, unheld := Locate(r.Start())
		switch {
		case held: // reused by a later range
			require.NotEqual(t, r.name, e.Name, "%s is found after it left the quarantine", r.name)
		case !slices.ContainsFunc(s.lost, func(l spaceRange) bool { return l.Contains(r.Start()) }):
			require.True(t, unheld, "the space of %s, gone from quarantine, is not free", r.name)
		}
	}
	for _, r := range s.lost {
		_, held, unheld := Locate(r.Start())
		require.False(t, held || unheld, "lost %s is found, or its space free", r.name)
	}
	st := ReadStats()
	var liveBytes, lostBytes uintptr
	for _, r := range s.live {
		liveBytes += r.Len()
	}
	for _, r := range s.lost {
		lostBytes += r.Len()
	}
	require.Equal(t, [6]uintptr{s.base.LiveBytes + liveBytes, uintptr(s.base.LiveRanges + len(s.live)), s.bytes(), uintptr(len(s.quar)), s.base.LostBytes + lostBytes, uintptr(s.base.LostRanges + len(s.lost))},
		[6]uintptr{st.LiveBytes, uintptr(st.LiveRanges), st.QuarantineBytes, uintptr(st.QuarantineRanges), st.LostBytes, uintptr(st.LostRanges)},
		"Stats: live, quarantined and lost bytes and ranges")

	if err := managerConsistent(); err != nil {
		t.Fatal(err)
	}
}

// managerConsistent checks the manager's lists: entries sorted and
// disjoint, free extents sorted, disjoint, merged where they touch in one
// chunk, and apart from every entry. (Plain comparisons: testify's, each
// of which records its caller, took most of a run's time.)
func managerConsistent() error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for i := 1; i < len(m.entries); i++ {
		if p, e := m.entries[i-1], m.entries[i]; p.End > e.Start {
			return fmt.Errorf("entries %s [%#x, %#x) and %s [%#x, %#x) out of order or overlapping", p.Name, p.Start, p.End, e.Name, e.Start, e.End)
		}
	}
	for i, f := range m.free {
		end := f.start() + (f.end - f.off)
		if f.off >= f.end {
			return fmt.Errorf("an empty free extent at %#x", f.start())
		}
		if i > 0 {
			p := m.free[i-1]
			if p.start()+(p.end-p.off) > f.start() {
				return fmt.Errorf("free extents at %#x and %#x out of order or overlapping", p.start(), f.start())
			}
			if p.c == f.c && p.end == f.off {
				return fmt.Errorf("free extents at %#x and %#x touch in one chunk, unmerged", p.start(), f.start())
			}
		}
		j := sort.Search(len(m.entries), func(j int) bool { return m.entries[j].End > f.start() })
		if j < len(m.entries) && m.entries[j].Start < end {
			return fmt.Errorf("free extent [%#x, %#x) overlaps %s", f.start(), end, m.entries[j].Name)
		}
	}
	return nil
}
