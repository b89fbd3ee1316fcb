//go:build linux && !frozen_fallback

// Linux backend: memfd_create, file seals, mremap and mseal.
//
// Unsafe: raw addresses cross into system calls here. Each address passed to
// the kernel lies in a range this package reserved or mapped; the kernel,
// not Go, owns the memory behind it.

package vm

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/frozen-go/frozen/internal/proc"
)

// Backend names the implementation compiled in.
const Backend = "memfd"

// A memfd name may not hold a NUL byte (it is passed as a C string) and may
// have at most 249 bytes (MFD_NAME_MAX_LEN: NAME_MAX less the "memfd:"
// prefix); memfd_create fails with EINVAL otherwise. See KernelName.
const (
	nameMax     = 255 - len("memfd:")
	nameRefused = "\x00"
	nameUTF8    = false
)

// create makes the memfd. ENOSYS (a kernel before Linux 3.17) and EPERM
// (what seccomp filters, such as container runtimes' defaults, give a
// system call they refuse; memfd_create itself gives it only for
// MFD_HUGETLB, not asked for here) mean that this backend cannot run at
// all here, which the error says with ErrUnsupportedPlatform.
//
// It asks for MFD_NOEXEC_SEAL (Linux 6.3+): arena memory is never executed,
// and the seal keeps the file's execute bits off, so the memfd cannot be
// run as a program through /proc/self/fd. Linux 6.3 to 6.5 with
// vm.memfd_noexec=2 refuse a memfd_create without it (EACCES), and kernels
// from 6.3 on have logged a warning for a call without it. A kernel before
// 6.3 refuses the unknown flag with EINVAL (the name, made by KernelName,
// is never the cause); then create asks without it, and so do later calls
// (noexecUnknown).
func (f *File) create() error {
	name, flags := KernelName(f.name), unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING
	fd, err := -1, error(unix.EINVAL)
	if !noexecUnknown.Load() {
		fd, err = unix.MemfdCreate(name, flags|unix.MFD_NOEXEC_SEAL)
	}
	if errors.Is(err, unix.EINVAL) {
		if fd, err = unix.MemfdCreate(name, flags); err == nil {
			noexecUnknown.Store(true)
		}
	}
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		return fmt.Errorf("%w: %w", ErrUnsupportedPlatform, &FeatureError{Feature: "memfd_create (Linux 3.17+)", Err: err})
	}
	if err != nil {
		return err
	}
	f.rw = fd
	return nil
}

// reopenReadOnly opens the memfd again through /proc with O_RDONLY. Mappings
// made from this descriptor lack VM_MAYWRITE: mprotect(PROT_WRITE) on them
// fails with EACCES, and they do not block F_SEAL_WRITE.
func (f *File) reopenReadOnly() (int, error) {
	if f.rw < 0 {
		return -1, errors.New("read-write descriptor closed")
	}
	return unix.Open(fmt.Sprintf("/proc/self/fd/%d", f.rw), unix.O_RDONLY|unix.O_CLOEXEC, 0)
}

// noexecUnknown records that memfd_create refused MFD_NOEXEC_SEAL as an
// unknown flag (a kernel before 6.3) and took the call without it.
var noexecUnknown atomic.Bool

var sealBits = [...]struct {
	portable Seal
	linux    int
}{
	{SealSeal, unix.F_SEAL_SEAL},
	{SealShrink, unix.F_SEAL_SHRINK},
	{SealGrow, unix.F_SEAL_GROW},
	{SealWrite, unix.F_SEAL_WRITE},
	{SealFutureWrite, unix.F_SEAL_FUTURE_WRITE},
}

func addSeals(fd int, s Seal) error {
	var bits int
	for _, b := range sealBits {
		if s&b.portable != 0 {
			bits |= b.linux
		}
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, bits); err != nil {
		return fmt.Errorf("vm: add seals %#x: %w", bits, err)
	}
	return nil
}

func getSeals(fd int) (Seal, error) {
	bits, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil {
		return 0, fmt.Errorf("vm: get seals: %w", err)
	}
	var s Seal
	for _, b := range sealBits {
		if bits&b.linux != 0 {
			s |= b.portable
		}
	}
	return s, nil
}

// adviseHuge asks for transparent huge pages (MADV_HUGEPAGE): the kernel
// uses them where its setting is "always" or "madvise" and it finds free
// 2 MiB pages.
func adviseHuge(at unsafe.Pointer, n uintptr) error {
	return unix.Madvise(unsafe.Slice((*byte)(at), n), unix.MADV_HUGEPAGE)
}

// decommit replaces [at, at+n) by private anonymous PROT_NONE memory with
// MAP_NORESERVE, exactly like a fresh reservation, so that it merges with
// reserved neighbours into one line of /proc/self/maps.
//
// At the kernel's mapping limit that mmap fails with ENOMEM, though it
// would only replace whole mappings: the kernel refuses any mmap while the
// process has more mappings than vm.max_map_count, and a process gets
// there, one over, by an mmap made at the limit, which is allowed
// (TestReleaseAtTheMappingLimit). munmap of whole mappings is never
// refused, so the range is unmapped and then reserved again (reReserve),
// which fits under the limit that the munmap made room below. Between the
// two the range is a hole that another thread could map; reReserve then
// returns an error wrapping ErrRangeLost, and nothing may map over the
// range again.
//
// The kernel also refuses that mmap while the process maps more than
// RLIMIT_AS allows (a limit lowered below what it maps already: the
// check counts what the process has, not what the mmap adds), and then
// it would refuse the reservation after an munmap just as well, leaving a
// hole for certain: decommit then fails with the mapping as it was, to be
// released once the limit allows
// (TestReleaseOverTheAddressSpaceLimitLeavesTheMapping); so it does where
// a limit is set and what the process maps cannot be read (no /proc).
func decommit(at unsafe.Pointer, n uintptr) error {
	_, err := unix.MmapPtr(-1, 0, at, n, unix.PROT_NONE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED|unix.MAP_NORESERVE)
	if !errors.Is(err, unix.ENOMEM) {
		return err
	}
	if lerr := addressSpaceLimited(); lerr != nil {
		return fmt.Errorf("%w: %w", lerr, err)
	}
	if uerr := unix.MunmapPtr(at, n); uerr != nil {
		// The range holds whole mappings (an owner unmaps exactly what it
		// mapped), so munmap has nothing to split and fails, if ever,
		// before it unmaps anything: the range is as it was.
		return errors.Join(err, uerr)
	}
	if hook := afterUnmap.Load(); hook != nil {
		(*hook)(at, n)
	}
	return reReserve(at, n, true)
}

// vmSize is proc.VmSize; a test replaces it to stand for a system without
// /proc.
var vmSize = proc.VmSize

// addressSpaceLimited returns why an munmap and a new reservation of a
// range could leave a hole: the process maps more than its RLIMIT_AS
// (VmSize, the kernel's total_vm, above the soft limit), or a limit is
// set and VmSize cannot be read (no /proc), so that it might. Otherwise,
// with no limit or one not reached, it returns nil.
func addressSpaceLimited() error {
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_AS, &lim) != nil || lim.Cur == unix.RLIM_INFINITY {
		return nil
	}
	size, err := vmSize()
	switch {
	case err != nil:
		return fmt.Errorf("vm: RLIMIT_AS is set and the process's size cannot be read (%v), so the range is kept mapped", err)
	case size > lim.Cur:
		return errors.New("vm: the process maps more than RLIMIT_AS allows")
	}
	return nil
}

// afterUnmap, if set, runs between decommit's munmap and its reReserve,
// for tests to map something into the hole (SetAfterUnmap).
var afterUnmap atomic.Pointer[func(at unsafe.Pointer, n uintptr)]

// SetAfterUnmap makes f run, for tests, when decommit has unmapped a range
// at the mapping limit and before it reserves the range again, as another
// thread could; nil removes it. It returns the function that restores the
// previous one.
func SetAfterUnmap(f func(at unsafe.Pointer, n uintptr)) (restore func()) {
	old := afterUnmap.Load()
	if f == nil {
		afterUnmap.Store(nil)
	} else {
		afterUnmap.Store(&f)
	}
	return func() { afterUnmap.Store(old) }
}

func reserve(n uintptr) (unsafe.Pointer, error) {
	return unix.MmapPtr(-1, 0, nil, n, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
}

func moveAside(from, to unsafe.Pointer, n uintptr) error {
	got, err := unix.MremapPtr(from, n, to, n, unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED|unix.MREMAP_DONTUNMAP)
	if err != nil {
		// With MREMAP_FIXED the kernel unmaps the destination before
		// checks that can still fail (RLIMIT_AS, the mapping count), so a
		// failed move can leave a hole where to's mapping was
		// (TestFailedMoveLeavesNoHole): put a reservation back there, or
		// say the range is lost.
		return errors.Join(fmt.Errorf("vm: mremap aside: %w", err), reReserve(to, n, false))
	}
	if got != to {
		return fmt.Errorf("vm: mremap aside: moved to %p, not %p", got, to)
	}
	return nil
}

// reReserve makes sure [at, at+n), a range this package reserved or
// mapped, is still mapped after a failed mremap onto it or, if unmapped
// is set, after decommit unmapped it, and returns nil if so: a PROT_NONE
// reservation goes where the kernel left a hole, with
// MAP_FIXED_NOREPLACE, which never replaces what another thread may have
// mapped into the hole meanwhile. Otherwise the error wraps ErrRangeLost:
// the range is no longer this process's to map over.
func reReserve(at unsafe.Pointer, n uintptr, unmapped bool) error {
	p, err := unix.MmapPtr(-1, 0, at, n, unix.PROT_NONE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE|unix.MAP_FIXED_NOREPLACE)
	if err == nil && p == at {
		return nil // the hole is reserved again
	}
	if err == nil {
		// A kernel before 4.17 (and qemu-user) takes MAP_FIXED_NOREPLACE
		// for a hint, which it follows where the range is free: something
		// is mapped there, as EEXIST says.
		_ = unix.MunmapPtr(p, n)
		err = unix.EEXIST
	}
	if unmapped {
		// This package unmapped the whole range itself: whatever is
		// there now, however much it looks like a reservation or a memfd
		// of its own, another thread mapped it
		// (TestReleaseAtTheMappingLimitLosesARangeToALookalike).
		return fmt.Errorf("%w: [%p, +%#x): %w", ErrRangeLost, at, n, err)
	}
	// EEXIST: something is mapped there. ENOMEM: the kernel counts the
	// mappings before it looks at the range (at the limit it refuses
	// even a range that is whole), and qemu-user gives ENOMEM at times
	// for a range mapped already. Whatever the error, the range may be as
	// it was (the kernel unmaps the destination whole or not at all):
	// mapped all through, by this package's mappings alone (reservations,
	// and memfds), and then nothing is lost. Otherwise part of it is a
	// hole, which another thread may have mapped.
	maps, merr := ReadMapsWithin(uintptr(at), uintptr(at)+n)
	if merr == nil && maps.Covers(uintptr(at), uintptr(at)+n) && ours(maps) {
		return nil
	}
	err = errors.Join(err, merr)
	return fmt.Errorf("%w: [%p, +%#x): %w", ErrRangeLost, at, n, err)
}

// ours reports whether every entry could be one of this package's
// mappings in a range it reserved: a reservation (PROT_NONE, anonymous,
// private) or a shared mapping of a memfd. It cannot tell them from
// another thread's mappings of the same kind: after a failed mremap
// whose destination the kernel unmapped, a lookalike mapped into exactly
// the hole passes for this package's (a narrow race, and only where the
// kernel refused the move after unmapping its destination).
func ours(entries Maps) bool {
	for _, e := range entries {
		reservation := e.Perms == "---p" && e.Path == ""
		if !reservation && !(e.Shared() && strings.HasPrefix(e.Path, "/memfd:")) {
			return false
		}
	}
	return true
}

func moveOnto(from, to unsafe.Pointer, n uintptr) error {
	// DONTUNMAP again: the source range stays mapped (empty) until the
	// caller decommits it, so no hole ever opens in reserved space.
	return moveAside(from, to, n)
}

// mseal seals [at, at+n). ENOSYS (a kernel before 6.10) and EPERM (a
// seccomp filter's answer, and a 32-bit kernel's from 6.10, which has the
// call but does not seal; no range is ever refused with it) mean that the
// feature is missing here, as the probe in probeFeatures takes them.
func mseal(at unsafe.Pointer, n uintptr) error {
	if err := unix.Mseal(unsafe.Slice((*byte)(at), n), 0); err != nil {
		if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
			return &FeatureError{Feature: "mseal (Linux 6.10+)", Err: err}
		}
		return fmt.Errorf("vm: mseal: %w", err)
	}
	return nil
}

// probeFeatures tries each optional feature on a throwaway memfd.
func probeFeatures() (seals, mseal, mremap, reopen error) {
	// mseal of an empty slice seals nothing, where a real range would be
	// sealed for good. Where the call exists it fails with EINVAL (x/sys
	// passes the address of a variable, not page-aligned) or, were that
	// address aligned, succeeds; it fails with ENOSYS on kernels before
	// 6.10, and with EPERM where a seccomp filter refuses it or the
	// kernel is a 32-bit one (see mseal).
	if err := unix.Mseal(nil, 0); errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		mseal = &FeatureError{Feature: "mseal (Linux 6.10+)", Err: err}
	}
	f, err := NewFile("frozen-probe")
	if err != nil {
		e := &FeatureError{Feature: "memfd", Err: err}
		return e, mseal, e, e
	}
	defer f.Close()
	if err := f.Resize(int64(PageSize)); err != nil {
		e := &FeatureError{Feature: "memfd", Err: err}
		return e, mseal, e, e
	}
	if err := f.OpenReadOnly(); err != nil {
		reopen = &FeatureError{Feature: "read-only reopen through /proc/self/fd", Err: err}
	}
	// F_SEAL_FUTURE_WRITE (Linux 5.1) is the newest seal relied on.
	if err := f.AddSeals(SealFutureWrite); err != nil {
		seals = &FeatureError{Feature: "memfd seals (F_SEAL_FUTURE_WRITE, Linux 5.1+)", Err: err}
	}
	// mremap with MREMAP_DONTUNMAP on a shared mapping (Linux 5.13).
	res, err := Reserve(2*PageSize, PageSize)
	if err != nil {
		return seals, mseal, &FeatureError{Feature: "mremap", Err: err}, reopen
	}
	m, err := Map(f, 0, res.Addr(), PageSize, ProtRead, FromReadWrite)
	if err != nil {
		_ = res.Release()
		return seals, mseal, &FeatureError{Feature: "mremap", Err: err}, reopen
	}
	if _, err := m.MoveAside(unsafe.Add(res.Addr(), PageSize)); err != nil {
		mremap = &FeatureError{Feature: "mremap MREMAP_DONTUNMAP on shared memory (Linux 5.13+)", Err: err}
		if errors.Is(err, ErrRangeLost) {
			// The second page is no longer this process's to unmap.
			_ = unmap(res.Addr(), PageSize)
			return seals, mseal, mremap, reopen
		}
	}
	_ = res.Release()
	return seals, mseal, mremap, reopen
}

func populateWrite(at unsafe.Pointer, n uintptr) error {
	return unix.Madvise(unsafe.Slice((*byte)(at), n), unix.MADV_POPULATE_WRITE)
}

// ShmemHugePages returns the kernel's transparent huge page setting for
// shared memory, which memfd mappings follow: "never" (the default of
// many distributions), "advise" (only mappings that ask, as large arenas
// do), "always", "within_size", or "deny"/"force" (overrides for
// testing); "" where the kernel has no such setting.
//
// It is the setting for PMD-size pages (2 MiB on amd64), the ones
// ShmemPmdMapped counts: since Linux 6.11 that size has its own control,
// hugepages-<size>kB/shmem_enabled, which overrides shmem_enabled unless
// it says "inherit"; "deny" and "force" in shmem_enabled override it.
func ShmemHugePages() string {
	return effectiveShmemHugePages(shmemHugePages(shmemEnabled), shmemHugePages(pmdShmemEnabled()))
}

// effectiveShmemHugePages combines the global setting with the one for
// PMD-size pages ("" where the kernel has no per-size controls).
func effectiveShmemHugePages(global, pmd string) string {
	if global == "deny" || global == "force" || pmd == "" || pmd == "inherit" {
		return global
	}
	return pmd
}

// pmdShmemEnabled is the per-size control for PMD-size pages, named by
// hpage_pmd_size.
func pmdShmemEnabled() string {
	size := uint64(hugePage)
	if b, err := proc.ReadFile(thpDir + "/hpage_pmd_size"); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 {
			size = n
		}
	}
	return fmt.Sprintf("%s/hugepages-%dkB/shmem_enabled", thpDir, size>>10)
}

// shmemEnabled is the kernel's setting, "always within_size advise
// [never] deny force" with the one in force bracketed.
const (
	thpDir       = "/sys/kernel/mm/transparent_hugepage"
	shmemEnabled = thpDir + "/shmem_enabled"
)

func shmemHugePages(path string) string {
	b, err := proc.ReadFile(path)
	if err != nil {
		return ""
	}
	s := string(b)
	i, j := strings.IndexByte(s, '['), strings.IndexByte(s, ']')
	if i < 0 || j < i {
		return ""
	}
	return s[i+1 : j]
}
