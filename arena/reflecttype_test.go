//go:build unix && !aix

package arena_test

import (
	"reflect"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
)

// An interface whose dynamic type reflect made at run time has a type
// word that addresses Go-managed memory, the one such word Clone copies
// into an arena: reflect caches the type for the life of the process, so
// the word stays valid after the value it came from is gone and the
// collector has run. A copy whose type word dangled would read as another
// type, or fault.
func TestCloneKeepsATypeMadeByReflect(t *testing.T) {
	a := newArena(t)
	clone := func() any {
		st := reflect.StructOf([]reflect.StructField{
			{Name: "Name", Type: reflect.TypeFor[string]()},
			{Name: "Ports", Type: reflect.SliceOf(reflect.TypeFor[uint16]())},
		})
		v := reflect.New(st).Elem()
		v.Field(0).SetString("made by reflect")
		v.Field(1).Set(reflect.ValueOf([]uint16{80, 443}))
		c, err := arena.Clone(a, []any{v.Interface()})
		require.NoError(t, err)
		return c[0]
	}()
	for range 3 {
		_ = make([]byte, 1<<20) // give the collector something to free
		runtime.GC()
	}
	got := reflect.ValueOf(clone)
	require.Equal(t, reflect.Struct, got.Kind())
	assert.Equal(t, "struct { Name string; Ports []uint16 }", got.Type().String())
	assert.Equal(t, "made by reflect", got.Field(0).String())
	assert.Equal(t, []uint16{80, 443}, got.Field(1).Interface())
	same := reflect.StructOf([]reflect.StructField{
		{Name: "Name", Type: reflect.TypeFor[string]()},
		{Name: "Ports", Type: reflect.SliceOf(reflect.TypeFor[uint16]())},
	})
	assert.True(t, got.Type() == same, "reflect gives the cached type, the one the copy's type word names")
}
