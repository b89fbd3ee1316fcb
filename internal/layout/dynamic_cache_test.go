package layout

import (
	"reflect"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// nextDynamicLen is the length of the next array type newDynamicTypes
// makes: each call makes types that no test met before in this process,
// run after run (go test -count).
var nextDynamicLen = 1000

// newDynamicTypes returns n interfaces, each holding a value of an array
// type no other test meets ([k]int16 for k from nextDynamicLen on), with
// their type words.
func newDynamicTypes(n int) ([]any, []uintptr) {
	base := nextDynamicLen
	nextDynamicLen += n
	vals, words := make([]any, n), make([]uintptr, n)
	for i := range n {
		rt := reflect.ArrayOf(base+i, reflect.TypeFor[int16]())
		vals[i] = reflect.New(rt).Elem().Interface()
		words[i] = (*[2]uintptr)(unsafe.Pointer(&vals[i]))[0]
	}
	return vals, words
}

// cacheState returns how many types the cache holds and how many entries
// its publications have copied so far.
func cacheState() (held, copied int) {
	dynMu.Lock()
	defer dynMu.Unlock()
	if m := dynTypes.Load(); m != nil {
		held = len(*m)
	}
	return held + len(dynPending), dynCopied
}

// TestDynamicCacheGrowsInLinearTime meets thousands of new dynamic types,
// as a program cloning values of many types does over its life: the
// cache must copy entries in proportion to the types it holds, not once
// per type for every type met before (3,000 types would copy 4.5 million
// entries), and must know each type from the moment Dynamic returns it,
// published or not, so that a fault in a value of that type is named.
func TestDynamicCacheGrowsInLinearTime(t *testing.T) {
	const n = 3000
	vals, words := newDynamicTypes(n)
	held0, copied0 := cacheState()
	for i := range vals {
		got := Dynamic(unsafe.Pointer(&vals[i]), reflect.TypeFor[any]())
		require.NotNil(t, got)
		require.True(t, got.RType == reflect.TypeOf(vals[i]), "type %d analysed as %s", i, got.RType)
		require.Same(t, got, Known(words[i]), "type %d is known once Dynamic returns it", i)
	}
	held, copied := cacheState()
	require.Equal(t, held0+n, held, "every type met is cached once")
	require.LessOrEqual(t, copied-copied0, 4*(held0+n), "entries copied to cache %d new types", n)
	for i := range vals {
		require.Same(t, Dynamic(unsafe.Pointer(&vals[i]), reflect.TypeFor[any]()), Known(words[i]))
	}
}

// TestDynamicCachePublishesATypeLookedUpOften looks up one type that
// waits to be published until it is found without the lock, which must
// take no more lookups than the cache holds entries.
func TestDynamicCachePublishesATypeLookedUpOften(t *testing.T) {
	published := func(w uintptr, want *Type) bool {
		m := dynTypes.Load()
		return m != nil && (*m)[w] == want
	}
	// New types until one waits to be published (one that fills the
	// pending types to the published ones' count is published at once).
	var (
		one  []any
		w    []uintptr
		want *Type
	)
	for tries := 0; ; tries++ {
		require.Less(t, tries, 100, "no new type waited to be published")
		one, w = newDynamicTypes(1)
		want = Dynamic(unsafe.Pointer(&one[0]), reflect.TypeFor[any]())
		require.NotNil(t, want)
		if !published(w[0], want) {
			break
		}
	}
	require.Same(t, want, Known(w[0]), "a type waiting to be published is known")
	held, _ := cacheState()
	for i := 0; !published(w[0], want); i++ {
		require.Less(t, i, held+1, "a type found %d times is still not published", i)
		require.Same(t, want, Dynamic(unsafe.Pointer(&one[0]), reflect.TypeFor[any]()))
	}
}
