// This file is where package layout reads an interface's words directly.
//
// Unsafe: an interface value is two words, (type or itab, data). Go stores a
// pointer-shaped value (a pointer, or a struct or array whose only content
// is one) in the data word itself, and anything else boxed behind it. reflect
// does not export which; we observe it on a zero value, whose data word is
// nil exactly when the value is stored directly.

package layout

import (
	"reflect"
	"sync"
	"sync/atomic"
	"unsafe"
)

// isDirect reports whether values of rt are stored in an interface's data
// word directly.
func isDirect(rt reflect.Type) bool {
	switch rt.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return true
	case reflect.Struct, reflect.Array:
		if rt.Size() != unsafe.Sizeof(uintptr(0)) {
			return false
		}
		v := reflect.Zero(rt).Interface()
		// An interface{} is (type word, data word); see the file comment.
		words := (*[2]unsafe.Pointer)(unsafe.Pointer(&v))
		return words[1] == nil
	}
	return false
}

// dynamic caches the analysis of interface dynamic types by type word (a
// type descriptor for interface{}, an itab otherwise). Go never frees
// either (those made at run time, by reflect.StructOf and the like, are
// cached for the life of the process), so the integer keys never dangle
// or get reused.
var (
	dynMu    sync.Mutex
	dynTypes atomic.Pointer[map[uintptr]*Type]
)

// Known returns the analysis of the dynamic type whose type or itab word
// is w, if Dynamic has met that word (Clone meets every interface it
// copies), and nil otherwise. It only looks w up, never following it, so
// a word that a stray write changed gives nil or another type, never a
// fault.
func Known(w uintptr) *Type {
	if m := dynTypes.Load(); m != nil {
		return (*m)[w]
	}
	return nil
}

// testHookAfterMiss, when set (by tests in this package only), runs in
// Dynamic once the type word it read has missed the cache, before the
// interface is read for its type: a test changes the interface there, as
// another goroutine could. It is nil otherwise.
var testHookAfterMiss func()

// Dynamic returns the analysis of the dynamic type of the interface value
// stored at slot (whose static type is iface), or nil if it is nil.
func Dynamic(slot unsafe.Pointer, iface reflect.Type) *Type {
	// An interface value is (type-or-itab word, data word).
	w := *(*uintptr)(slot)
	if w == 0 {
		return nil
	}
	if m := dynTypes.Load(); m != nil {
		if t, ok := (*m)[w]; ok {
			return t
		}
	}
	if testHookAfterMiss != nil {
		testHookAfterMiss()
	}
	// Not cached: the interface is read once, into v, and the word cached
	// and its type are both taken from that copy. Read from slot twice,
	// an interface changed in between (by a data race in the caller)
	// would cache one type's word with another type's analysis, for the
	// life of the process: every later Clone of an interface holding that
	// word would read its box by the other type's slots (a box of
	// pointers copied as bytes, or integers followed as pointers). A torn
	// copy (one value's type word, another's data word) still has a type
	// word and its own type.
	v := reflect.New(iface).Elem()
	v.Set(reflect.NewAt(iface, slot).Elem())
	if w = *(*uintptr)(v.Addr().UnsafePointer()); w == 0 {
		return nil
	}
	t := Of(v.Elem().Type())
	dynMu.Lock()
	defer dynMu.Unlock()
	old := dynTypes.Load()
	next := make(map[uintptr]*Type, 1)
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	next[w] = t
	dynTypes.Store(&next)
	return t
}
