//go:build unix && !aix

package arena_test

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/internal/graphtest"
)

// FuzzClone clones graphs of graphtest's first catalogue (graphtest.FNode):
// cycles, shared objects, interior pointers, views of one array.
func FuzzClone(f *testing.F) { fuzzClone(f, graphtest.Build) }

// FuzzCloneShapes is FuzzClone over the second catalogue (graphtest.SNode):
// embedded structs, arrays of interfaces and slices over them, pointers to
// zero-size values and into fields held inline, interfaces holding
// interior pointers, arrays and values stored directly.
func FuzzCloneShapes(f *testing.F) { fuzzClone(f, graphtest.BuildShapes) }

// fuzzClone clones the value build makes of each input and checks that
// the clone is deeply equal, shares as the original does, and lies in the
// arena.
func fuzzClone[T any](f *testing.F, build func([]byte) T) {
	a, err := arena.NewArena(arena.WithName("fuzz"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { a.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		orig := build(data)
		if a.Len() > a.Cap()/2 {
			// A long fuzzing run fills an arena (64 MiB on 32-bit systems):
			// go on in a fresh one.
			require.NoError(t, a.Close())
			a, err = arena.NewArena(arena.WithName("fuzz"))
			require.NoError(t, err)
		}
		clone, err := arena.Clone(a, orig)
		require.NoError(t, err)
		require.True(t, reflect.DeepEqual(orig, clone), "clone differs from the original")
		graphtest.RequireSameShape(t, orig, clone)
		graphtest.RequireInArena(t, clone, "fuzz")
	})
}
