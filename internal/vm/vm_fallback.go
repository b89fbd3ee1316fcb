//go:build unix && !(linux && !frozen_fallback)

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
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Backend names the implementation compiled in.
const Backend = "tempfile"

func (f *File) create() error {
	clean := strings.Map(func(r rune) rune {
		if r == '/' || r == 0 {
			return '_'
		}
		return r
	}, f.name)
	tmp, err := os.CreateTemp("", "frozen-"+clean+"-*")
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
	return errors.Join(err, tmp.Close(), os.Remove(filepath.Clean(path)))
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
