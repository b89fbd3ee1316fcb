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
// type descriptor for interface{}, an itab otherwise). Both are immortal
// runtime metadata, so the integer keys never dangle or get reused.
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
	t := Of(reflect.NewAt(iface, slot).Elem().Elem().Type())
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
