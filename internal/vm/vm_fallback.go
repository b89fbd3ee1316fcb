//go:build unix && !aix && !(linux && !frozen_fallback)

// Portable Unix backend: an unlinked temporary file, opened once read-write
// and once read-only before it is unlinked, mapped with mmap and protected
// with mprotect. File seals, mremap and mseal do not exist here: the calls
// that need them return a *FeatureError wrapping ErrUnsupported.
//
// On Linux this file is compiled instead of vm_linux.go under the build tag
// frozen_fallback, so that the test suite exercises it on Linux too.
//
// Unsafe: raw addresses cross into system calls here. Each address passed to
// the kernel lies in a range this package reserved or mapped.

package vm

import (
	"errors"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Backend names the implementation compiled in.
const Backend = "tempfile"

// The temporary file is named frozen-label-random, where random is a
// 32-bit number in decimal (up to 10 digits, see os.CreateTemp) and label
// is KernelName(f.name). A file name may hold neither NUL nor '/', and
// has at most 255 bytes (NAME_MAX on Linux, the BSDs and macOS).
const (
	nameMax     = 255 - len("frozen-") - len("-") - 10
	nameRefused = "\x00/"
	// APFS, macOS's file system, refuses names that are not UTF-8.
	nameUTF8 = true
)

func (f *File) create() error {
	tmp, err := os.CreateTemp("", "frozen-"+KernelName(f.name)+"-*")
	if err != nil {
		return err
	}
	path := tmp.Name()
	// Take our own descriptors, so no *os.File finalizer can close them.
	rw, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err == nil {
		var ro int
		ro, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			f.rw, f.ro = rw, ro
		} else {
			unix.Close(rw)
		}
	}
	err = errors.Join(err, tmp.Close(), os.Remove(filepath.Clean(path)))
	if err != nil && f.rw >= 0 {
		// NewFile returns no File with an error: nobody else would close
		// the descriptors taken above.
		unix.Close(f.rw)
		unix.Close(f.ro)
		f.rw, f.ro = -1, -1
	}
	return err
}

func (f *File) reopenReadOnly() (int, error) {
	return -1, errors.New("read-only descriptor closed")
}

func addSeals(int, Seal) error {
	return &FeatureError{Feature: "file seals", Err: errors.New("no memfd seals on the " + Backend + " backend")}
}

func getSeals(int) (Seal, error) { return 0, nil }

// adviseHuge does nothing: huge-page advice is Linux's.
func adviseHuge(unsafe.Pointer, uintptr) error { return nil }

func decommit(at unsafe.Pointer, n uintptr) error {
	_, err := unix.MmapPtr(-1, 0, at, n, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANON|unix.MAP_FIXED)
	return err
}

func reserve(n uintptr) (unsafe.Pointer, error) {
	return unix.MmapPtr(-1, 0, nil, n, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANON)
}

var errNoMremap = &FeatureError{Feature: "mremap", Err: errors.New("not available on the " + Backend + " backend")}

func moveAside(from, to unsafe.Pointer, n uintptr) error { return errNoMremap }

func moveOnto(from, to unsafe.Pointer, n uintptr) error { return errNoMremap }

func mseal(unsafe.Pointer, uintptr) error {
	return &FeatureError{Feature: "mseal", Err: errors.New("not available on the " + Backend + " backend")}
}

func probeFeatures() (error, error, error, error) {
	return addSeals(0, 0), mseal(nil, 0), errNoMremap, nil
}

func populateWrite(unsafe.Pointer, uintptr) error { return nil }

// ShmemHugePages returns "": huge pages for shared mappings are Linux's
// (see the Linux backend).
func ShmemHugePages() string { return "" }
