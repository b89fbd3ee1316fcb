// This file is where package layout reads an interface's words directly.
//
// Unsafe: an interface value is two words, (type or itab, data). Go stores a
// pointer-shaped value (a pointer, or a struct or array whose only content
// is one) in the data word itself, and anything else boxed behind it. reflect
// does not export which; we observe it on a zero value, whose data word is
// nil exactly when the value is stored directly.

package layout

import (
	"maps"
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
//
// The published map is read without a lock and never changed; a type met
// since it was published waits in dynPending, under dynMu, until the
// pending types are as many as the published ones, or until lookups have
// found pending types as often as the two maps hold entries. Each
// publication then copies both maps into a new one, so that meeting n
// types copies O(n) entries in all (copying the published map for every
// new type, as a plain copy-on-write map would, copies O(n²)), and a type
// looked up often is soon found without the lock.
var (
	dynMu      sync.Mutex
	dynTypes   atomic.Pointer[map[uintptr]*Type]
	dynPending map[uintptr]*Type // under dynMu
	dynHits    int               // lookups that found a pending type, under dynMu
	dynCopied  int               // entries copied by publications, under dynMu (for tests)
)

// Known returns the analysis of the dynamic type whose type or itab word
// is w, if Dynamic has met that word (Clone meets every interface it
// copies), and nil otherwise. It only looks w up, never following it, so
// a word that a stray write changed gives nil or another type, never a
// fault.
func Known(w uintptr) *Type {
	if m := dynTypes.Load(); m != nil {
		if t, ok := (*m)[w]; ok {
			return t
		}
	}
	return pending(w)
}

// pending returns the analysis of w if it waits to be published, and nil
// otherwise.
func pending(w uintptr) *Type {
	dynMu.Lock()
	defer dynMu.Unlock()
	t := dynPending[w]
	if t != nil {
		dynHits++
		publishIfDue()
	}
	return t
}

// remember caches t as the analysis of type word w, and returns the
// analysis cached for w (t, unless another goroutine cached w first).
func remember(w uintptr, t *Type) *Type {
	dynMu.Lock()
	defer dynMu.Unlock()
	if m := dynTypes.Load(); m != nil {
		if old, ok := (*m)[w]; ok {
			return old
		}
	}
	if old, ok := dynPending[w]; ok {
		return old
	}
	if dynPending == nil {
		dynPending = make(map[uintptr]*Type)
	}
	dynPending[w] = t
	publishIfDue()
	return t
}

// publishIfDue publishes the pending types with the published ones, once
// they are as many as those, or lookups have found them as often as the
// two maps hold entries. The caller holds dynMu.
func publishIfDue() {
	var old map[uintptr]*Type
	if m := dynTypes.Load(); m != nil {
		old = *m
	}
	if len(dynPending) < len(old) && dynHits < len(old)+len(dynPending) {
		return
	}
	next := make(map[uintptr]*Type, len(old)+len(dynPending))
	maps.Copy(next, old)
	maps.Copy(next, dynPending)
	dynCopied += len(next)
	dynTypes.Store(&next)
	dynPending, dynHits = nil, 0
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
	if t := Known(w); t != nil {
		return t
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
	return remember(w, Of(v.Elem().Type()))
}
