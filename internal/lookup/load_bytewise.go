//go:build !(386 || amd64 || arm64 || ppc64 || ppc64le || s390x)

// Word access at any address, for the CPUs on which Go's compiler does
// not merge byte loads into one (MIPS, 32-bit ARM, RISC-V, LoongArch,
// wasm): on some of them a word load or store at an address that is not a
// multiple of its size faults (MIPS: SIGBUS) or traps to the kernel, so
// these go a byte at a time. Tags are read eight at a time from any slot,
// strings' bytes from wherever they start, and an inline key lies at any
// offset when a slot's value is smaller than a word.
//
// Unsafe, and why it is sound: p points at 8 (or 4) readable bytes, which
// each caller's bounds argument shows (see get_unsafe.go and
// keys_unsafe.go).

package lookup

import (
	"encoding/binary"
	"unsafe"
)

// load64 reads the 8 bytes at p as a word in native byte order.
func load64(p unsafe.Pointer) uint64 { return binary.NativeEndian.Uint64(unsafe.Slice((*byte)(p), 8)) }

// store64 writes v to the 8 bytes at p in native byte order.
func store64(p unsafe.Pointer, v uint64) {
	binary.NativeEndian.PutUint64(unsafe.Slice((*byte)(p), 8), v)
}

// The same as methods of Table, for Get and its helpers (see
// load_word.go).

func (*Table[K, V]) load64(p unsafe.Pointer) uint64 {
	return binary.NativeEndian.Uint64(unsafe.Slice((*byte)(p), 8))
}

func (*Table[K, V]) load32(p unsafe.Pointer) uint32 {
	return binary.NativeEndian.Uint32(unsafe.Slice((*byte)(p), 4))
}
