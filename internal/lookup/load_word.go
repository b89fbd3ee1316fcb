//go:build 386 || amd64 || arm64 || ppc64 || ppc64le || s390x

// Word access at any address, for CPUs that load and store words at
// addresses that are not a multiple of their size (the CPUs on which Go's
// compiler merges byte loads into one).
//
// Unsafe, and why it is sound: p points at 8 (or 4) readable bytes, which
// each caller's bounds argument shows (see get_unsafe.go and
// keys_unsafe.go); these CPUs need no alignment.

package lookup

import "unsafe"

// load64 reads the 8 bytes at p as a word in native byte order.
func load64(p unsafe.Pointer) uint64 { return *(*uint64)(p) }

// store64 writes v to the 8 bytes at p in native byte order.
func store64(p unsafe.Pointer, v uint64) { *(*uint64)(p) = v }

// The same as methods of Table, for Get and its helpers: Get is compiled
// in the package that instantiates the Table, and there calls to this
// package's plain functions are not inlined (go tool objdump of the
// bench test binary shows them), while methods of the generic type are.

func (*Table[K, V]) load64(p unsafe.Pointer) uint64 { return *(*uint64)(p) }

func (*Table[K, V]) load32(p unsafe.Pointer) uint32 { return *(*uint32)(p) }
