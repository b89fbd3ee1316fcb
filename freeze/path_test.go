//go:build unix

package freeze_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/vm"
)

// Shapes whose fault paths once came out wrong: a pointer into the middle
// of an array met before the slice of the whole array; a subslice met
// before the slice it is cut from; slices that overlap in part; an empty
// slice that Freeze points at the region's first byte, met before the
// pointer to the allocation there; a cycle through the elements of two
// arrays.
type (
	PrimaryFirst struct {
		Primary   *Endpoint // &Endpoints[1]
		Endpoints []Endpoint
	}
	TailFirst struct {
		Tail []int64 // All[2:]
		All  []int64
	}
	Overlap struct {
		S1 []int64 // big[0:3]
		S2 []int64 // big[2:5]
	}
	EmptyFirst struct {
		Empty []int64 // empty, not nil
		P     *Point
	}
	Ring struct{ Q *RingNode }
	// RingNode arrays point at each other from their second elements.
	RingNode struct {
		P *[2]RingNode
		V int64
	}
)

// dataPoint lives in the binary's data, below any heap address, so that
// Clone places it first, at the region's offset 0.
var dataPoint = Point{X: 1, Y: 2}

func TestGuardNamesTheFieldWrittenWhateverTheGraphsShape(t *testing.T) {
	if vm.FaultPageOnly {
		t.Skip("the kernel reports only the page of a fault")
	}
	for _, m := range modes(t) {
		t.Run(m.String(), func(t *testing.T) {
			a := newArena(t)
			pf := &PrimaryFirst{Endpoints: []Endpoint{{"a", 80}, {"b", 443}, {"c", 8080}}}
			pf.Primary = &pf.Endpoints[1]
			all := []int64{0, 1, 2, 3, 4, 5}
			big := []int64{0, 1, 2, 3, 4}
			var a1, a2 [2]RingNode
			a1[1].P, a2[1].P = &a2, &a1
			ef, err := arena.Clone(a, &EmptyFirst{P: &dataPoint})
			require.NoError(t, err)
			ef.Empty = []int64{}
			pfc, err := arena.Clone(a, pf)
			require.NoError(t, err)
			tf, err := arena.Clone(a, &TailFirst{Tail: all[2:], All: all})
			require.NoError(t, err)
			ov, err := arena.Clone(a, &Overlap{S1: big[0:3], S2: big[2:5]})
			require.NoError(t, err)
			ring, err := arena.Clone(a, &Ring{Q: &a1[1]})
			require.NoError(t, err)
			r, err := freeze.Freeze(a, m)
			require.NoError(t, err)

			pfr, tfr, ovr := freeze.ReadOnly(r, pfc), freeze.ReadOnly(r, tf), freeze.ReadOnly(r, ov)
			efr, ringr := freeze.ReadOnly(r, ef), freeze.ReadOnly(r, ring)
			for want, write := range map[string]func(){
				"*PrimaryFirst.Endpoints[2].Port": func() { pfr.Endpoints[2].Port = 1 },
				"*PrimaryFirst.Endpoints[1].Port": func() { pfr.Primary.Port = 1 },
				"*TailFirst.All[3]":               func() { tfr.All[3] = 9 },
				"*TailFirst.All[0]":               func() { tfr.All[0] = 9 },
				"*Overlap.S2[2]":                  func() { ovr.S2[2] = 9 },
				"*Overlap.S1[2]":                  func() { ovr.S2[0] = 9 },
				"*EmptyFirst.P.Y":                 func() { efr.P.Y = 9 },
				"*Ring.Q.P[1].P[0].V":             func() { ringr.Q.P[1].P[0].V = 1 },
				"*Ring.Q.V":                       func() { ringr.Q.V = 1 },
			} {
				var wf *freeze.WriteFault
				require.ErrorAs(t, freeze.Guard(write), &wf, want)
				assert.Equal(t, want, wf.Path)
			}
		})
	}
}
