// Package vm is frozen's operating-system layer: shared-memory files and the
// mappings made from them.
//
// A File is the backing store of one arena: a memfd on Linux, an unlinked
// temporary file on other Unix systems. A Mapping maps a File into address
// space the caller has already reserved (see package space), always with
// MAP_FIXED and MAP_SHARED, so that addresses never move. Every Mapping has
// exactly one owner, which releases exactly what it mapped with Release: the
// range is replaced by an inaccessible reservation (PROT_NONE) rather than
// unmapped, so no other mapping can be placed there behind the owner's back.
//
// The per-OS files implement the same unexported functions:
//
//	vm_linux.go     memfd, seals, mseal, mremap (linux && !frozen_fallback)
//	vm_fallback.go  unlinked temporary file (unix but AIX, and linux with frozen_fallback)
//	vm_other.go     everything fails with ErrUnsupportedPlatform
//
// Nothing in this package keeps Go pointers in the memory it maps.
package vm

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"unicode/utf8"
)

// ErrUnsupportedPlatform is returned by every function on a platform that has
// no backend (Windows, AIX, wasm, Plan 9), and wrapped by NewFile's error
// on Linux when memfd_create is missing or refused (ENOSYS, EPERM).
var ErrUnsupportedPlatform = errors.New("frozen: platform not supported")

// ErrRangeLost is wrapped by the error of a MoveAside or MoveOnto that
// failed after the kernel unmapped the destination, when no reservation
// could be put back: the destination range is no longer this process's to
// map over (another thread may map there), and must never be mapped with
// MAP_FIXED or handed out again.
var ErrRangeLost = errors.New("vm: reserved range lost")

// ErrUnsupported is wrapped by a *FeatureError when the platform or kernel
// lacks a feature (file seals, mseal, mremap).
var ErrUnsupported = errors.New("vm: feature not supported")

// FeatureError says which feature is missing and why.
type FeatureError struct {
	Feature string // e.g. "mseal"
	Err     error  // the error the probe or call returned
}

// Error names the feature missing, and why; or, where the probe failed
// for want of descriptors or memory (Transient), that it could not tell.
func (e *FeatureError) Error() string {
	if Transient(e.Err) {
		return fmt.Sprintf("vm: could not probe for %s: %v", e.Feature, e.Err)
	}
	return fmt.Sprintf("vm: %s not supported here: %v", e.Feature, e.Err)
}

// Unwrap returns both ErrUnsupported and the underlying error.
func (e *FeatureError) Unwrap() []error { return []error{ErrUnsupported, e.Err} }

// Prot is a memory protection.
type Prot int

// Protections.
const (
	ProtNone      Prot = 0
	ProtRead      Prot = 1
	ProtReadWrite Prot = 3
)

// String returns "none", "read" or "read-write" (or "Prot(n)").
func (p Prot) String() string {
	switch p {
	case ProtNone:
		return "none"
	case ProtRead:
		return "read"
	case ProtReadWrite:
		return "read-write"
	}
	return fmt.Sprintf("Prot(%d)", int(p))
}

// Seal is a set of file seals (Linux fcntl F_ADD_SEALS), in portable bits.
type Seal int

// Seals.
const (
	SealSeal        Seal = 1 << iota // no further seals
	SealShrink                       // size may not shrink
	SealGrow                         // size may not grow
	SealWrite                        // contents may not change (needs no writable mapping)
	SealFutureWrite                  // no new writes; existing mappings unaffected
)

// PageSize is the operating system's page size.
var PageSize = uintptr(os.Getpagesize())

// FaultPageOnly reports whether the kernel gives a fault's address only to
// the page: on linux/s390x the hardware reports the failing page, and
// si_addr has its low 12 bits cleared. Elsewhere it is the exact address
// of the access.
const FaultPageOnly = runtime.GOARCH == "s390x"

// File is a shared-memory object with a read-write descriptor and, once
// OpenReadOnly has been called, a read-only one made by reopening it (so that
// mappings made from it can never be made writable). It is not safe for
// concurrent use; its owner (an arena) serialises calls.
type File struct {
	name string
	rw   int // read-write descriptor, -1 once closed
	ro   int // read-only descriptor, -1 until OpenReadOnly
	size int64
}

// NewFile creates an empty shared-memory file. The name is for diagnostics
// and may be any string: the operating system is given KernelName(name)
// (it shows in /proc/self/maps as /memfd:KernelName(name) on Linux), while
// Name and every error keep name itself.
func NewFile(name string) (*File, error) {
	f := &File{name: name, rw: -1, ro: -1}
	if err := f.create(); err != nil {
		return nil, fmt.Errorf("vm: create %q: %w", name, err)
	}
	return f, nil
}

// Name returns the name given to NewFile, in full.
func (f *File) Name() string { return f.name }

// KernelName returns the label the backend gives the operating system for
// a file named name: the memfd name on Linux (shown in /proc/self/maps as
// /memfd:label), the middle of the temporary file's name
// (frozen-label-random) elsewhere. It is name itself when the system
// accepts that; otherwise every byte the system refuses in a name (NUL,
// and in a file name '/' and each byte that is not part of valid UTF-8,
// which macOS's file system refuses) becomes '_', and the result is cut to
// the system's limit (249 bytes for a memfd, 237 for the temporary file)
// at the start of a UTF-8 sequence, so that a multi-byte character is
// never split.
func KernelName(name string) string { return label(name, nameMax, nameRefused, nameUTF8) }

// label is KernelName for a backend that accepts at most max bytes, none
// of the bytes in refused (all ASCII) and, if onlyUTF8, only valid UTF-8.
func label(name string, max int, refused string, onlyUTF8 bool) string {
	if len(name) <= max && !strings.ContainsAny(name, refused) && (!onlyUTF8 || utf8.ValidString(name)) {
		return name
	}
	b := []byte(name)
	for i, c := range b {
		if strings.IndexByte(refused, c) >= 0 {
			b[i] = '_'
		}
	}
	for i := 0; onlyUTF8 && i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			b[i] = '_'
		}
		i += n
	}
	if len(b) > max {
		// b[n] is the first byte dropped; while it continues a
		// multi-byte sequence, drop that sequence's first bytes too.
		// A sequence has at most utf8.UTFMax bytes, so in a string that
		// is not valid UTF-8 this backs off at most three bytes.
		n := max
		for i := 1; i < utf8.UTFMax && n > 0 && !utf8.RuneStart(b[n]); i++ {
			n--
		}
		b = b[:n]
	}
	return string(b)
}

// Size returns the file size in bytes.
func (f *File) Size() int64 { return f.size }

// Resize sets the file size. Bytes beyond the old size read as zero.
func (f *File) Resize(n int64) error {
	if f.rw < 0 {
		return errors.New("vm: resize: read-write descriptor closed")
	}
	if err := ftruncate(f.rw, n); err != nil {
		return fmt.Errorf("vm: resize %q to %d: %w", f.name, n, err)
	}
	f.size = n
	return nil
}

// OpenReadOnly opens the read-only descriptor if it is not open yet.
func (f *File) OpenReadOnly() error {
	if f.ro >= 0 {
		return nil
	}
	fd, err := f.reopenReadOnly()
	if err != nil {
		return fmt.Errorf("vm: reopen %q read-only: %w", f.name, err)
	}
	f.ro = fd
	return nil
}

// ReadOnlyFile returns a new *os.File on a duplicate of the read-only
// descriptor, for handing to another process. The caller closes it.
func (f *File) ReadOnlyFile() (*os.File, error) {
	if err := f.OpenReadOnly(); err != nil {
		return nil, err
	}
	fd, err := dupCloexec(f.ro)
	if err != nil {
		return nil, fmt.Errorf("vm: dup read-only descriptor: %w", err)
	}
	return os.NewFile(uintptr(fd), f.name), nil
}

// AddSeals adds seals to the file (Linux memfd only), through the
// read-write descriptor: the kernel refuses F_ADD_SEALS through one not
// opened for writing, so after CloseWritable it fails.
func (f *File) AddSeals(s Seal) error {
	if f.rw < 0 {
		return errors.New("vm: add seals: the read-write descriptor is closed")
	}
	return addSeals(f.rw, s)
}

// Seals returns the seals in force.
func (f *File) Seals() (Seal, error) {
	fd := f.rw
	if fd < 0 {
		fd = f.ro
	}
	if fd < 0 {
		return 0, errors.New("vm: seals: file closed")
	}
	return getSeals(fd)
}

// CloseWritable closes the read-write descriptor (the read-only one stays).
// Mappings made from it stay valid.
func (f *File) CloseWritable() error { return closeOnce(&f.rw) }

// CloseReadOnly closes the read-only descriptor (the read-write one
// stays). Mappings made from it stay valid. OpenReadOnly opens it again
// on the memfd backend; the fallback's, opened once when the file was
// created, cannot be opened again.
func (f *File) CloseReadOnly() error { return closeOnce(&f.ro) }

// closeOnce closes the descriptor *fd unless it is closed (-1) already,
// and marks it closed.
func closeOnce(fd *int) error {
	if *fd < 0 {
		return nil
	}
	err := closeFD(*fd)
	*fd = -1
	return err
}

// Close closes both descriptors. It is idempotent. Mappings made from the
// file stay valid until released.
func (f *File) Close() error {
	return errors.Join(f.CloseWritable(), f.CloseReadOnly())
}

// FDs returns the read-write and read-only descriptors (-1 when not open),
// for tests that attack the file from outside the library.
func (f *File) FDs() (rw, ro int) { return f.rw, f.ro }

var probes struct {
	mu                           sync.Mutex
	done                         bool
	seals, mseal, mremap, reopen error
}

// SetFeatures makes Features report the given results, for tests that play
// a kernel (or a sandbox without /proc) lacking a feature; restore puts
// the probed results back. Not for use while other goroutines freeze.
func SetFeatures(seals, mseal, mremap, reopen error) (restore func()) {
	s, m, r, o := Features()
	set := func(seals, mseal, mremap, reopen error) {
		probes.mu.Lock()
		defer probes.mu.Unlock()
		probes.seals, probes.mseal, probes.mremap, probes.reopen, probes.done = seals, mseal, mremap, reopen, true
	}
	set(seals, mseal, mremap, reopen)
	return func() { set(s, m, r, o) }
}

// Features reports which optional kernel features work here, probing once.
// Each result is nil when the feature works, or a *FeatureError.
//
// Results are kept, except when a probe failed for want of a resource
// that may be there next time (descriptors, memory): then the next call
// probes again, so that a moment of EMFILE does not turn a mode off for
// the rest of the process.
func Features() (seals, mseal, mremap, reopen error) {
	probes.mu.Lock()
	defer probes.mu.Unlock()
	if !probes.done {
		probes.seals, probes.mseal, probes.mremap, probes.reopen = probeFeatures()
		probes.done = true
		for _, err := range []error{probes.seals, probes.mseal, probes.mremap, probes.reopen} {
			probes.done = probes.done && !Transient(err)
		}
	}
	return probes.seals, probes.mseal, probes.mremap, probes.reopen
}

// ShmemHugePagesGiven reports whether the kernel's setting for shared
// memory (ShmemHugePages) gives huge pages to mappings that ask for them,
// as large arenas do.
func ShmemHugePagesGiven() bool {
	switch ShmemHugePages() {
	case "advise", "always", "within_size", "force":
		return true
	}
	return false
}
