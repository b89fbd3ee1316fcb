package layout

import (
	"reflect"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// Types no other test meets, so that Dynamic has cached neither.
type (
	tornInts [3]uint64
	tornPtrs [3]*uint64
)

// TestDynamicCachesTheTypeOfTheWordItRead changes an interface, as a
// data race in the caller could, between Dynamic's read of its type word
// and its read of the interface for the type: the analysis cached for a
// type word must be that word's type. A word cached with the other type's
// analysis would have every later Clone of an interface holding it read
// its box by the other type's slots: a box of pointers copied as bytes,
// Go-heap addresses and all, into arena memory.
func TestDynamicCachesTheTypeOfTheWordItRead(t *testing.T) {
	var ints, ptrs any = tornInts{}, tornPtrs{}
	wInts := (*[2]uintptr)(unsafe.Pointer(&ints))[0]
	wPtrs := (*[2]uintptr)(unsafe.Pointer(&ptrs))[0]
	require.Nil(t, Known(wInts), "Dynamic must not know tornInts, or the hook does not run")

	x := ints
	testHookAfterMiss = func() { x = ptrs }
	defer func() { testHookAfterMiss = nil }()
	got := Dynamic(unsafe.Pointer(&x), reflect.TypeFor[any]())
	require.NotNil(t, got)

	if k := Known(wInts); k != nil {
		require.True(t, k.RType == reflect.TypeFor[tornInts](), "the type word of tornInts is cached as %s", k.RType)
	}
	if k := Known(wPtrs); k != nil {
		require.True(t, k.RType == reflect.TypeFor[tornPtrs](), "the type word of tornPtrs is cached as %s", k.RType)
	}
	require.Same(t, got, Known(wPtrs), "Dynamic's answer is for the value it read")
}
