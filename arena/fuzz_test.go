//go:build unix

package arena_test

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/internal/graphtest"
)

func FuzzClone(f *testing.F) {
	a, err := arena.NewArena(arena.WithName("fuzz"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { a.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		orig := graphtest.Build(data)
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

// FuzzCloneShapes is FuzzClone over the second catalogue (graphtest.SNode):
// embedded structs, arrays of interfaces and slices over them, pointers to
// zero-size values and into fields held inline, interfaces holding
// interior pointers, arrays and values stored directly.
func FuzzCloneShapes(f *testing.F) {
	a, err := arena.NewArena(arena.WithName("fuzz"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { a.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		orig := graphtest.BuildShapes(data)
		if a.Len() > a.Cap()/2 {
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
