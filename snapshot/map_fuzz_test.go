//go:build unix && !aix

package snapshot_test

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/internal/graphtest"
	"github.com/frozen-go/frozen/internal/vm"
	"github.com/frozen-go/frozen/snapshot"
)

// FuzzMapValues builds a Map whose values are nodes of one random graph of
// graphtest's catalogue (cycles, objects shared by several values,
// interior pointers, interfaces), under keys of up to 40 bytes, in every
// mode, and checks that each key's value is deeply equal to the
// original, that the values share what the originals share (one copy of
// a node reached from several values), that every reference reachable
// from them lies in read-only memory (in Alias mode the readers' view,
// never the owner's writable mapping: invariant 3), that All yields each
// entry once, the very values Get returns, that a key not in the map is
// missed, that Verify passes, and that Get after Close panics with
// arena.ErrClosed.
//
// The input: the graph's bytes, and the keys' bytes (the first also
// chooses the mode): each byte makes a key of its letter repeated 1 to
// 40 times and picks the node it maps to.
func FuzzMapValues(f *testing.F) {
	ms := modes()
	f.Fuzz(func(t *testing.T, graph, keys []byte) {
		if len(graph) > 1024 || len(keys) > 200 || len(keys) == 0 {
			return
		}
		var nodes []*graphtest.FNode
		met := map[*graphtest.FNode]bool{}
		graphtest.Walk(graphtest.Build(graph), func(v reflect.Value, _ string) {
			if n, ok := v.Interface().(*graphtest.FNode); ok && n != nil && !met[n] {
				met[n] = true
				nodes = append(nodes, n)
			}
		})
		if len(nodes) == 0 {
			return
		}
		src := map[string]*graphtest.FNode{}
		for _, b := range keys {
			src[strings.Repeat(string(rune('a'+b%26)), 1+int(b)%40)] = nodes[int(b)%len(nodes)]
		}
		m := ms[int(keys[0])%len(ms)]
		fm, err := snapshot.NewMap(maps.All(src), snapshot.WithMode(m), snapshot.WithName("fuzzmap"))
		require.NoError(t, err)
		defer fm.Close()
		require.Equal(t, len(src), fm.Len())

		ks := slices.Sorted(maps.Keys(src))
		origs, gots := make([]*graphtest.FNode, len(ks)), make([]*graphtest.FNode, len(ks))
		for i, k := range ks {
			got, ok := fm.Get(k)
			require.True(t, ok, "key %q missed", k)
			require.True(t, reflect.DeepEqual(src[k], got), "the value of %q differs from the original", k)
			_, ok = fm.Get(k + "!")
			require.False(t, ok, "%q found", k+"!")
			origs[i], gots[i] = src[k], got
		}
		graphtest.RequireSameShape(t, origs, gots)
		mp, err := vm.ReadMaps()
		require.NoError(t, err)
		for i, got := range gots {
			for _, ref := range graphtest.Refs(got) {
				if ref.Addr == 0 || ref.Size == 0 {
					continue
				}
				requireReadOnly(t, mp, ref.Addr, fmt.Sprintf("%s of key %q (%s)", ref.Path, ks[i], m))
			}
		}
		seen := map[string]bool{}
		for k, v := range fm.All() {
			require.False(t, seen[k], "All yields %q twice", k)
			seen[k] = true
			got, _ := fm.Get(k)
			require.Same(t, got, v, "All's value of %q is not Get's", k)
		}
		require.Len(t, seen, len(src))
		require.NoError(t, fm.Verify())
		require.NoError(t, fm.Close())
		closed, _ := recovered(func() { fm.Get(ks[0]) }).(error)
		require.ErrorIs(t, closed, arena.ErrClosed, "Get after Close")
	})
}
