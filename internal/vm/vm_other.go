//go:build !unix || aix

// Backend for platforms without one yet (Windows, wasm, Plan 9, and AIX,
// whose fcntl lacks F_DUPFD_CLOEXEC): every call fails with
// ErrUnsupportedPlatform, so the packages above compile and return a typed
// error instead of crashing.
//
// Unsafe: only in the signatures, which match the other backends'; no
// address is converted or dereferenced here.

package vm

import "unsafe"

// Backend names the implementation compiled in.
const Backend = "unsupported"

// No file is ever created here; KernelName applies the memfd limits.
const (
	nameMax     = 255 - len("memfd:")
	nameRefused = "\x00"
	nameUTF8    = false
)

func (f *File) create() error                { return ErrUnsupportedPlatform }
func (f *File) reopenReadOnly() (int, error) { return -1, ErrUnsupportedPlatform }
func dupCloexec(int) (int, error)            { return -1, ErrUnsupportedPlatform }
func closeFD(int) error                      { return nil }
func ftruncate(int, int64) error             { return ErrUnsupportedPlatform }
func addSeals(int, Seal) error               { return ErrUnsupportedPlatform }
func getSeals(int) (Seal, error)             { return 0, ErrUnsupportedPlatform }
func mapFixed(*File, int64, unsafe.Pointer, uintptr, Prot, Source) error {
	return ErrUnsupportedPlatform
}
func mapAnon(unsafe.Pointer, uintptr) error                   { return ErrUnsupportedPlatform }
func adviseHuge(unsafe.Pointer, uintptr) error                { return ErrUnsupportedPlatform }
func decommit(unsafe.Pointer, uintptr) error                  { return ErrUnsupportedPlatform }
func reserve(uintptr) (unsafe.Pointer, error)                 { return nil, ErrUnsupportedPlatform }
func unmap(unsafe.Pointer, uintptr) error                     { return ErrUnsupportedPlatform }
func protect(unsafe.Pointer, uintptr, Prot) error             { return ErrUnsupportedPlatform }
func moveAside(unsafe.Pointer, unsafe.Pointer, uintptr) error { return ErrUnsupportedPlatform }
func moveOnto(unsafe.Pointer, unsafe.Pointer, uintptr) error  { return ErrUnsupportedPlatform }
func mseal(unsafe.Pointer, uintptr) error                     { return ErrUnsupportedPlatform }

func probeFeatures() (seals, mseal, mremap, reopen error) {
	missing := func(feature string) error { return &FeatureError{Feature: feature, Err: ErrUnsupportedPlatform} }
	return missing("memfd seals"), missing("mseal"), missing("mremap"), missing("read-only reopen")
}

func populateWrite(unsafe.Pointer, uintptr) error { return ErrUnsupportedPlatform }

// ShmemHugePages returns "": huge pages for shared mappings are Linux's
// (see the Linux backend).
func ShmemHugePages() string { return "" }
