//go:build linux && !frozen_fallback

package vm

import (
	"fmt"
	"math/bits"
	"os"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/frozen-go/frozen/internal/childtest"
)

// These tests prove the kernel behaviour that package offheap relies on,
// one mechanism each (README, "Freeze modes" and "The safety contract").

func TestFeaturesPresentOnThisKernel(t *testing.T) {
	seals, mseal, mremap, reopen := Features()
	assert.NoError(t, seals)
	assert.NoError(t, mremap)
	assert.NoError(t, reopen)
	if mseal != nil {
		t.Logf("mseal unavailable: %v", mseal)
	}
}

func TestReadOnlyReopenCannotBeMadeWritable(t *testing.T) {
	fx := newFixture(t, 1)
	require.NoError(t, fx.file.OpenReadOnly())
	alias, err := Map(fx.file, 0, fx.at(PageSize), PageSize, ProtRead, FromReadOnly)
	require.NoError(t, err)
	defer alias.Release()

	fx.m.Bytes()[0] = 42
	assert.Equal(t, byte(42), alias.Bytes()[0], "alias sees the owner's writes")
	assert.ErrorIs(t, alias.Protect(ProtReadWrite), unix.EACCES)
	assert.True(t, faults(func() { alias.Bytes()[0] = 1 }))
	assert.ErrorIs(t, procMemWrite(alias.Addr(), []byte{1}), unix.EIO,
		"/proc/self/mem cannot force a write into a read-only shared mapping")
	assert.Equal(t, byte(42), alias.Bytes()[0])
}

func TestProcMemWritesThroughWritableSharedMapping(t *testing.T) {
	fx := newFixture(t, 1)
	require.NoError(t, procMemWrite(fx.at(0), []byte{9}))
	assert.Equal(t, byte(9), fx.m.Bytes()[0])
	require.NoError(t, fx.m.Protect(ProtRead))
	assert.ErrorIs(t, procMemWrite(fx.at(0), []byte{8}), unix.EIO)
}

func TestSealWriteRefusedWhileAnyWritableSharedMappingExists(t *testing.T) {
	fx := newFixture(t, 1)
	// Even read-only, a mapping from the O_RDWR descriptor may be made
	// writable again, so it blocks F_SEAL_WRITE.
	require.NoError(t, fx.m.Protect(ProtRead))
	assert.ErrorIs(t, fx.file.AddSeals(SealWrite), unix.EBUSY)
	// Remapped in place from the O_RDONLY descriptor, it no longer does.
	require.NoError(t, fx.file.OpenReadOnly())
	fx.m.Protect(ProtReadWrite)
	fx.m.Bytes()[0] = 5
	require.NoError(t, fx.m.Remap(FromReadOnly, ProtRead))
	require.NoError(t, fx.file.AddSeals(SealWrite|SealGrow|SealShrink|SealSeal))
	assert.Equal(t, byte(5), fx.m.Bytes()[0], "data kept across the remap")

	rw, _ := fx.file.FDs()
	_, err := unix.Pwrite(rw, []byte{1}, 0)
	assert.ErrorIs(t, err, unix.EPERM, "pwrite on the original descriptor")
	re, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", rw), os.O_RDWR, 0)
	require.NoError(t, err)
	defer re.Close()
	_, err = re.WriteAt([]byte{1}, 0)
	assert.ErrorIs(t, err, unix.EPERM, "pwrite on a fresh O_RDWR reopen")
	assert.ErrorIs(t, unix.Ftruncate(rw, 0), unix.EPERM)
	assert.ErrorIs(t, unix.Ftruncate(rw, int64(2*PageSize)), unix.EPERM)
	assert.ErrorIs(t, fx.m.Protect(ProtReadWrite), unix.EACCES)
	assert.ErrorIs(t, procMemWrite(fx.at(0), []byte{1}), unix.EIO)
	_, err = unix.Mmap(rw, 0, int(PageSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	assert.ErrorIs(t, err, unix.EPERM, "a new shared writable mapping")
	priv, err := unix.Mmap(rw, 0, int(PageSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
	require.NoError(t, err, "a private copy-on-write mapping is still allowed")
	priv[0] = 77
	require.NoError(t, unix.Munmap(priv))
	assert.Equal(t, byte(5), fx.m.Bytes()[0])
	s, err := fx.file.Seals()
	require.NoError(t, err)
	assert.Equal(t, SealWrite|SealGrow|SealShrink|SealSeal, s)
}

func TestFutureWriteSealSparesExistingMappings(t *testing.T) {
	fx := newFixture(t, 1)
	require.NoError(t, fx.file.AddSeals(SealFutureWrite))
	fx.m.Bytes()[0] = 3 // the existing writable mapping still writes
	rw, _ := fx.file.FDs()
	_, err := unix.Pwrite(rw, []byte{1}, 0)
	assert.ErrorIs(t, err, unix.EPERM)
	_, err = unix.Mmap(rw, 0, int(PageSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	assert.ErrorIs(t, err, unix.EPERM)
	// The existing mapping may be re-protected writable (Protect mode's
	// documented back door).
	require.NoError(t, fx.m.Protect(ProtRead))
	require.NoError(t, fx.m.Protect(ProtReadWrite))
	fx.m.Bytes()[0] = 4
	assert.Equal(t, byte(4), fx.m.Bytes()[0])
}

func TestMoveAsideKeepsPagesAndRoundTrips(t *testing.T) {
	fx := newFixture(t, 4)
	b := fx.m.Bytes()
	for i := range b {
		b[i] = byte(i * 7)
	}
	aside, err := fx.m.MoveAside(fx.at(8 * PageSize))
	require.NoError(t, err)
	// The original range is still a (now unpopulated) mapping of the file.
	assert.Equal(t, byte(7), fx.m.Bytes()[1])
	assert.Equal(t, byte(7), aside.Bytes()[1])
	require.NoError(t, fx.file.OpenReadOnly())
	require.NoError(t, fx.m.Remap(FromReadOnly, ProtRead))
	assert.Equal(t, byte(14), fx.m.Bytes()[2])
	assert.True(t, faults(func() { fx.m.Bytes()[0] = 1 }))

	// Roll back: the aside mapping takes the original place again.
	left, err := aside.MoveOnto(fx.m)
	require.NoError(t, err)
	require.Nil(t, left)
	assert.True(t, fx.m.Released())
	assert.Equal(t, fx.m.Addr(), aside.Addr())
	aside.Bytes()[0] = 99
	assert.Equal(t, byte(99), aside.Bytes()[0])
	maps, err := ReadMaps()
	require.NoError(t, err)
	e, ok := maps.Find(uintptr(fx.at(8 * PageSize)))
	require.True(t, ok)
	assert.Equal(t, "---p", e.Perms, "the aside range is a reservation again")
	// aside now owns the original range; the fixture's cleanup releases
	// fx.m, which is marked released, so release aside here.
	require.NoError(t, aside.Release())
}

func TestAdjacentMappingsMergeAndReleasedRangesMerge(t *testing.T) {
	res, err := Reserve(64*PageSize, PageSize)
	require.NoError(t, err)
	defer res.Release()
	count := func() int {
		maps, err := ReadMaps()
		require.NoError(t, err)
		return len(maps.Within(uintptr(res.Addr()), uintptr(res.Addr())+res.Len()))
	}
	assert.Equal(t, 1, count())
	f, err := NewFile("merge")
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.Resize(int64(8*PageSize)))
	m, err := Map(f, 0, res.Addr(), PageSize, ProtReadWrite, FromReadWrite)
	require.NoError(t, err)
	for i := 0; i < 7; i++ {
		require.NoError(t, m.Extend(PageSize))
	}
	assert.Equal(t, 2, count(), "eight extensions are one mapping line plus the rest of the reservation")
	require.NoError(t, m.Release())
	assert.Equal(t, 1, count(), "a released range merges back into the reservation")
}

func TestMsealMakesRangePermanent(t *testing.T) {
	if _, mseal, _, _ := Features(); mseal != nil {
		t.Skipf("mseal unavailable: %v", mseal)
	}
	// This leaks one page of address space for the life of the test binary.
	res, err := Reserve(PageSize, PageSize)
	require.NoError(t, err)
	f, err := NewFile("mseal")
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.Resize(int64(PageSize)))
	require.NoError(t, f.OpenReadOnly())
	m, err := Map(f, 0, res.Addr(), PageSize, ProtRead, FromReadOnly)
	require.NoError(t, err)
	require.NoError(t, m.Mseal())
	assert.ErrorIs(t, m.Protect(ProtNone), unix.EPERM)
	assert.ErrorIs(t, unix.MunmapPtr(res.Addr(), PageSize), unix.EPERM)
	assert.ErrorIs(t, m.Release(), unix.EPERM)
}

func TestDescriptorsAreCloseOnExec(t *testing.T) {
	f, err := NewFile("cloexec")
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.OpenReadOnly())
	rw, ro := f.FDs()
	for _, fd := range []int{rw, ro} {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		require.NoError(t, err)
		assert.NotZero(t, flags&unix.FD_CLOEXEC)
	}
	ro2, err := f.ReadOnlyFile()
	require.NoError(t, err)
	defer ro2.Close()
	fl, err := unix.FcntlInt(ro2.Fd(), unix.F_GETFL, 0)
	require.NoError(t, err)
	assert.Equal(t, unix.O_RDONLY, fl&unix.O_ACCMODE)
}

// TestAnonIsPrivateAlignedAndAdvisedHuge: scratch memory is one private
// read-write mapping, not shared (it never belongs to a memfd), a large
// one is 2 MiB-aligned and carries the kernel's huge-page advice flag
// ("hg" in /proc/self/smaps), its pages read as zero, and Release unmaps
// it entirely.
func TestAnonIsPrivateAlignedAndAdvisedHuge(t *testing.T) {
	a, err := NewAnon(4 << 20)
	require.NoError(t, err)
	start, end := uintptr(a.Addr()), uintptr(a.Addr())+a.Len()
	assert.Zero(t, start%hugePage, "not 2 MiB-aligned")
	require.NoError(t, a.Populate(0, 64<<10))
	b := unsafe.Slice((*byte)(a.Addr()), a.Len())
	assert.Equal(t, byte(0), b[0])
	assert.Equal(t, byte(0), b[len(b)-1])
	b[12345] = 7

	maps, err := ReadMaps()
	require.NoError(t, err)
	lines := maps.Within(start, end)
	require.Len(t, lines, 1)
	assert.Equal(t, "rw-p", lines[0].Perms)
	assert.Equal(t, start, lines[0].Start)
	assert.Equal(t, end, lines[0].End)
	if w := os.Getenv("FROZEN_TEST_EXEC_WRAPPER"); w == "" {
		assert.Contains(t, vmFlags(t, start), " hg", "no MADV_HUGEPAGE advice")
	} else {
		t.Logf("huge-page advice not checked under %s, which does not pass it to the kernel", w)
	}

	require.NoError(t, a.Release())
	require.NoError(t, a.Release(), "Release is idempotent")
	assert.Nil(t, a.Addr())
	assert.ErrorIs(t, a.Populate(0, 1), errReleased)
	maps, err = ReadMaps()
	require.NoError(t, err)
	// Once unmapped, the hole may at once hold a mapping of the Go
	// runtime's (it maps where the kernel finds room): only a mapping with
	// the released bounds must be gone.
	if e, ok := maps.Find(start); ok && e.Start == start && e.End == end {
		t.Errorf("released scratch memory still mapped: %+v", e)
	}
}

// vmFlags returns the VmFlags line of the mapping that starts at start,
// from /proc/self/smaps, with a leading space.
func vmFlags(t *testing.T, start uintptr) string { return " " + smapsField(t, start, "VmFlags:") }

func smapsField(t *testing.T, start uintptr, field string) string {
	t.Helper()
	v, err := SmapsField(start, field)
	require.NoError(t, err)
	return v
}

// A mapping of 2 MiB or more asks for huge pages, whether mapped at once,
// grown to it, or remapped; a small one does not, and one that grows stays
// one line of /proc/self/maps.
func TestLargeMappingsAreAdvisedHuge(t *testing.T) {
	if w := os.Getenv("FROZEN_TEST_EXEC_WRAPPER"); w != "" {
		t.Skipf("%s does not pass huge-page advice to the kernel", w)
	}
	const n = 4 * hugePage
	res, err := Reserve(2*n, hugePage)
	require.NoError(t, err)
	defer res.Release()
	f, err := NewFile(t.Name())
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.Resize(2*n))
	start := uintptr(res.Addr())
	lines := func() Maps {
		maps, err := ReadMaps()
		require.NoError(t, err)
		return maps.Within(start, start+2*n)
	}

	m, err := Map(f, 0, res.Addr(), 64<<10, ProtReadWrite, FromReadWrite)
	require.NoError(t, err)
	assert.NotContains(t, vmFlags(t, start), " hg", "a small mapping holds no huge page")
	require.NoError(t, m.Extend(n-m.Len()))
	assert.Contains(t, vmFlags(t, start), " hg", "grown to 8 MiB")
	require.NoError(t, m.Extend(hugePage))
	assert.Contains(t, vmFlags(t, start), " hg")
	assert.Len(t, lines(), 2, "one line for the mapping, one for the rest of the reservation")
	require.NoError(t, m.Protect(ProtRead))
	assert.Contains(t, vmFlags(t, start), " hg", "kept by mprotect")
	require.NoError(t, f.OpenReadOnly())
	require.NoError(t, m.Remap(FromReadOnly, ProtRead))
	assert.Contains(t, vmFlags(t, start), " hg", "remapped")
	require.NoError(t, m.Release())
	assert.Len(t, lines(), 1, "released: one reservation again")

	alias, err := Map(f, 0, res.Addr(), n, ProtRead, FromReadOnly)
	require.NoError(t, err)
	assert.Contains(t, vmFlags(t, start), " hg", "mapped at once")
	require.NoError(t, alias.Release())
}

// Where the kernel's setting for shared memory allows huge pages, a large
// mapping's pages are mapped 2 MiB at a time (ShmemPmdMapped), by the
// mapping that wrote them, after mprotect, and by a fresh read-only
// mapping of the same file; with the setting at "never" this is skipped.
func TestHugePagesWhereTheKernelAllows(t *testing.T) {
	if !ShmemHugePagesGiven() {
		t.Skipf("the kernel's huge-page setting for shared memory is %q (%s, %s)", ShmemHugePages(), shmemEnabled, pmdShmemEnabled())
	}
	fallbacks := childtest.HugePageFallbacks()
	const n = 4 * hugePage
	res, err := Reserve(n, hugePage)
	require.NoError(t, err)
	defer res.Release()
	f, err := NewFile(t.Name())
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.Resize(n))
	m, err := Map(f, 0, res.Addr(), n, ProtReadWrite, FromReadWrite)
	require.NoError(t, err)
	defer m.Release()
	b := m.Bytes()
	for i := 0; i < len(b); i += int(PageSize) {
		b[i] = 1
	}
	start := uintptr(res.Addr())
	pmd := func() string {
		kb := strings.TrimSpace(smapsField(t, start, "ShmemPmdMapped:"))
		if kb == "0 kB" {
			childtest.SkipWhereHugePagesRanOut(t, fallbacks)
		}
		return kb
	}
	assert.NotEqual(t, "0 kB", pmd(), "written through small pages")
	require.NoError(t, m.Protect(ProtRead))
	assert.NotEqual(t, "0 kB", pmd(), "after mprotect")
	require.NoError(t, f.OpenReadOnly())
	require.NoError(t, m.Remap(FromReadOnly, ProtRead))
	sum := 0
	for i := 0; i < len(b); i += int(PageSize) {
		sum += int(b[i])
	}
	assert.Equal(t, int(n/PageSize), sum)
	assert.NotEqual(t, "0 kB", pmd(), "read through the fresh mapping")
}

func TestShmemHugePagesReadsTheBracketedSetting(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]string{
		"always within_size advise [never] deny force\n": "never",
		"[advise] never\n": "advise",
		"garbled\n":        "",
	} {
		p := dir + "/setting"
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		assert.Equal(t, want, shmemHugePages(p), content)
	}
	assert.Empty(t, shmemHugePages(dir+"/missing"))
}

// The control for PMD-size pages overrides the global one unless it
// inherits; "deny" and "force" in the global one override it.
func TestShmemHugePagesFollowsThePerSizeControl(t *testing.T) {
	for _, c := range []struct{ global, pmd, want string }{
		{"always", "never", "never"},
		{"never", "advise", "advise"},
		{"advise", "inherit", "advise"},
		{"always", "", "always"},
		{"deny", "always", "deny"},
		{"force", "never", "force"},
	} {
		assert.Equal(t, c.want, effectiveShmemHugePages(c.global, c.pmd), "%+v", c)
	}
}

// A probe that fails for want of descriptors is not kept: the next call
// probes again. Kept, one moment of EMFILE turned Alias and Seal off for
// the rest of the process (ErrModeUnsupported at step "probe").
func TestFeaturesProbeAgainAfterATransientFailure(t *testing.T) {
	seals, mseal, mremap, reopen := Features()
	var old unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &old))
	probe := func() (s, r error) {
		probes.mu.Lock()
		probes.done = false // as in a process that never probed
		probes.mu.Unlock()
		s, _, _, r = Features()
		return s, r
	}
	f, err := os.Open(os.DevNull)
	require.NoError(t, err)
	lowest := f.Fd() // every descriptor below it is open
	require.NoError(t, f.Close())
	lim := old
	lim.Cur = uint64(lowest)
	require.NoError(t, unix.Setrlimit(unix.RLIMIT_NOFILE, &lim))
	s, r := probe()
	require.NoError(t, unix.Setrlimit(unix.RLIMIT_NOFILE, &old))
	assert.ErrorIs(t, s, unix.EMFILE, "no descriptor for the probe's memfd")
	assert.ErrorIs(t, r, unix.EMFILE)
	assert.EqualError(t, s, `vm: could not probe for memfd: vm: create "frozen-probe": too many open files`,
		"the message says memfd is not supported")

	s2, m2, mr2, r2 := Features()
	assert.Equal(t, seals, s2, "probed again, with descriptors")
	assert.Equal(t, reopen, r2)
	assert.Equal(t, mremap, mr2)
	assert.Equal(t, mseal == nil, m2 == nil)
}

// The kernel adds seals only through a descriptor opened for writing, so
// AddSeals after CloseWritable fails at once, and says why, instead of
// trying the read-only descriptor (EPERM); Seals still answers.
func TestSealsNeedTheWritableDescriptor(t *testing.T) {
	fx := newFixture(t, 1)
	require.NoError(t, fx.file.OpenReadOnly())
	_, ro := fx.file.FDs()
	_, err := unix.FcntlInt(uintptr(ro), unix.F_ADD_SEALS, int(SealGrow))
	require.ErrorIs(t, err, unix.EPERM, "the kernel refuses seals through a read-only descriptor")
	require.NoError(t, fx.file.CloseWritable())
	err = fx.file.AddSeals(SealGrow)
	require.ErrorContains(t, err, "read-write descriptor is closed")
	s, err := fx.file.Seals()
	require.NoError(t, err)
	assert.Zero(t, s)
}

// ReadMapsWithin, which skips the lines outside its range by their
// addresses alone, finds exactly the entries that Maps.Within picks from
// the whole file, for ranges overlapping a mapping's start, its end, all
// of it, and an empty range inside it; and the reservation is among them. (Not all memory:
// the runtime maps and unmaps there as it likes, between any two reads.)
func TestReadMapsWithinAgreesWithReadMaps(t *testing.T) {
	p, err := reserve(4 * PageSize)
	require.NoError(t, err)
	defer unix.MunmapPtr(p, 4*PageSize)
	lo := uintptr(p)
	for _, r := range [][2]uintptr{
		{lo - PageSize, lo + 1},
		{lo + 3*PageSize, lo + 5*PageSize},
		{lo, lo + 4*PageSize},
		{lo + PageSize, lo + PageSize},
	} {
		// The runtime may map memory between the reads: the entries must
		// be those read before or after.
		before, err := ReadMaps()
		require.NoError(t, err)
		within, err := ReadMapsWithin(r[0], r[1])
		require.NoError(t, err)
		after, err := ReadMaps()
		require.NoError(t, err)
		if !assert.ObjectsAreEqual(before.Within(r[0], r[1]), within) {
			assert.Equal(t, after.Within(r[0], r[1]), within, "[%#x, %#x)", r[0], r[1])
		}
		assert.Equal(t, r[0] < lo+4*PageSize && r[1] > lo, within.Covers(max(r[0], lo), min(r[1], lo+4*PageSize)) && len(within) > 0,
			"[%#x, %#x) overlaps the reservation", r[0], r[1])
	}
}

func TestMapsLineRange(t *testing.T) {
	for _, c := range []struct {
		line   string
		lo, hi uint64
		ok     bool
	}{
		{"7f00a000-7f00b000 r--p 00000000 00:00 0", 0x7f00a000, 0x7f00b000, true},
		{"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0  [vsyscall]", 0xffffffffff600000, 0xffffffffff601000, bits.UintSize == 64},
		{"7f00a000 r--p", 0, 0, false},
		{"-7f00b000 r--p", 0, 0, false},
		{"7f00a000-7f00b000", 0, 0, false},
		{"7f00a000-7G00b000 r--p", 0, 0, false},
		{"1ffffffffffffffff-1 r--p", 0, 0, false},
		{"", 0, 0, false},
	} {
		lo, hi, ok := mapsLineRange([]byte(c.line))
		assert.Equal(t, c.ok, ok, c.line)
		if c.ok {
			assert.Equal(t, [2]uint64{c.lo, c.hi}, [2]uint64{uint64(lo), uint64(hi)}, c.line)
		}
	}
}

// The kernel pads the addresses in /proc/self/smaps to eight hex digits,
// so SmapsField must find a mapping that starts below 0x10000000 (as on
// 32-bit systems) by its padded address.
func TestSmapsFieldFindsALowMapping(t *testing.T) {
	low := unsafe.Add(nil, 0x0800_0000) // a fixed address, outside the Go heap
	p, err := unix.MmapPtr(-1, 0, low, uintptr(PageSize), unix.PROT_READ,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED_NOREPLACE)
	if err != nil || p != low {
		t.Skipf("cannot map a page at %p here: %v", low, err)
	}
	defer unix.MunmapPtr(p, uintptr(PageSize))
	assert.Contains(t, strings.Fields(smapsField(t, uintptr(low), "VmFlags:")), "rd",
		"VmFlags of a readable mapping")
}

// ReadMapsWithin leaves out the entries that end where its range starts
// and those that start where it ends: asked for the middle page of a
// reservation made readable there (three lines), it returns that page's
// line alone.
func TestReadMapsWithinLeavesOutTheNeighboursAtItsBounds(t *testing.T) {
	p, err := reserve(3 * PageSize)
	require.NoError(t, err)
	defer unix.MunmapPtr(p, 3*PageSize)
	mid := unsafe.Add(p, PageSize)
	require.NoError(t, unix.Mprotect(unsafe.Slice((*byte)(mid), PageSize), unix.PROT_READ))
	within, err := ReadMapsWithin(uintptr(mid), uintptr(mid)+PageSize)
	require.NoError(t, err)
	require.Len(t, within, 1, "%+v", within)
	assert.Equal(t, MapsEntry{Start: uintptr(mid), End: uintptr(mid) + PageSize, Perms: "r--p"}, within[0])
}

// A mapping's file offset is read from /proc/self/maps as the hex number
// the kernel prints: here pages 10 and 11 of a file (offset 0xa000 with
// 4 KiB pages, a digit past 9).
func TestReadMapsGivesTheFileOffset(t *testing.T) {
	fx := newFixture(t, 1)
	require.NoError(t, fx.file.Resize(int64(12*PageSize)))
	m, err := Map(fx.file, int64(10*PageSize), fx.at(2*PageSize), 2*PageSize, ProtRead, FromReadWrite)
	require.NoError(t, err)
	defer m.Release()
	maps, err := ReadMapsWithin(uintptr(m.Addr()), uintptr(m.Addr())+m.Len())
	require.NoError(t, err)
	require.Len(t, maps, 1)
	assert.Equal(t, uint64(10*PageSize), maps[0].Offset)
	assert.Equal(t, "r--s", maps[0].Perms)
}

// MoveOnto refuses a destination of another length and leaves both
// mappings as they were: a longer mapping moved onto a shorter one would
// be mapped over what lies past the destination.
func TestMoveOntoRefusesADestinationOfAnotherLength(t *testing.T) {
	fx := newFixture(t, 4)
	fx.m.Bytes()[1] = 7
	aside, err := fx.m.MoveAside(fx.at(8 * PageSize))
	require.NoError(t, err)
	defer func() { assert.NoError(t, aside.Release()) }()
	short, err := Map(fx.file, 0, fx.at(12*PageSize), 2*PageSize, ProtRead, FromReadWrite)
	require.NoError(t, err)
	defer func() { assert.NoError(t, short.Release()) }()

	left, err := aside.MoveOnto(short)
	require.Error(t, err)
	assert.Nil(t, left)
	assert.False(t, aside.Released())
	assert.False(t, short.Released())
	assert.Equal(t, fx.at(8*PageSize), aside.Addr())
	assert.Equal(t, byte(7), aside.Bytes()[1])
	assert.Equal(t, byte(7), short.Bytes()[1])
	maps, err := ReadMaps()
	require.NoError(t, err)
	e, ok := maps.Find(uintptr(fx.at(14 * PageSize)))
	require.True(t, ok)
	assert.Equal(t, "---p", e.Perms, "past the destination, the reservation is untouched")
}

// Remap maps the same range of the file again, not its start: a mapping
// of pages 2 and 3 of a file, remapped read-only in place as Seal mode
// does, still shows those pages.
func TestRemapKeepsTheFileOffset(t *testing.T) {
	fx := newFixture(t, 4)
	b := fx.m.Bytes()
	for i := range b {
		b[i] = byte(i / int(PageSize))
	}
	m, err := Map(fx.file, int64(2*PageSize), fx.at(8*PageSize), 2*PageSize, ProtReadWrite, FromReadWrite)
	require.NoError(t, err)
	defer func() { assert.NoError(t, m.Release()) }()
	require.NoError(t, fx.file.OpenReadOnly())
	require.NoError(t, m.Remap(FromReadOnly, ProtRead))
	assert.Equal(t, byte(2), m.Bytes()[0])
	assert.Equal(t, byte(3), m.Bytes()[m.Len()-1])
	maps, err := ReadMapsWithin(uintptr(m.Addr()), uintptr(m.Addr())+m.Len())
	require.NoError(t, err)
	require.Len(t, maps, 1)
	assert.Equal(t, uint64(2*PageSize), maps[0].Offset)
}

// PopulateWrite faults in the whole pages its byte range touches, and no
// others: an unaligned range takes the pages it starts and ends in, and
// one reaching past the mapping stops at its end, without an error.
func TestPopulateWriteTakesTheTouchedPagesOfTheMapping(t *testing.T) {
	if w := os.Getenv("FROZEN_TEST_EXEC_WRAPPER"); w != "" {
		t.Skipf("under %s, which takes MADV_POPULATE_WRITE as a hint and does not pass it to the kernel", w)
	}
	fx := newFixture(t, 4)
	rss := func() string { return smapsField(t, uintptr(fx.m.Addr()), "Rss:") }
	kB := func(pages uintptr) string { return fmt.Sprintf("%d kB", pages*PageSize>>10) }
	require.Equal(t, kB(0), rss())
	require.NoError(t, fx.m.PopulateWrite(PageSize+1, PageSize))
	assert.Equal(t, kB(2), rss(), "pages 1 and 2")
	require.NoError(t, fx.m.PopulateWrite(3*PageSize+5, 8*PageSize))
	assert.Equal(t, kB(3), rss(), "page 3, the last")
	require.NoError(t, fx.m.PopulateWrite(4*PageSize, PageSize), "wholly past the end: nothing")
	assert.Equal(t, kB(3), rss())
}

// ours takes for this package's only the two kinds of mapping it makes in
// its ranges: a reservation (anonymous, private, no access) and a shared
// mapping of a memfd. Anything else found where a failed move left its
// destination is another's, and one such entry is enough.
func TestOursKnowsOnlyReservationsAndSharedMemfds(t *testing.T) {
	const memfd = "/memfd:cfg (deleted)"
	for _, tc := range []struct {
		e    MapsEntry
		want bool
	}{
		{MapsEntry{Perms: "---p"}, true},
		{MapsEntry{Perms: "r--s", Path: memfd}, true},
		{MapsEntry{Perms: "rw-s", Path: memfd}, true},
		{MapsEntry{Perms: "rw-p"}, false},
		{MapsEntry{Perms: "r--p"}, false},
		{MapsEntry{Perms: "---s"}, false},
		{MapsEntry{Perms: "---p", Path: "[heap]"}, false},
		{MapsEntry{Perms: "r--p", Path: memfd}, false},
		{MapsEntry{Perms: "rw-p", Path: memfd}, false},
		{MapsEntry{Perms: "r--s", Path: "/dev/shm/cfg"}, false},
	} {
		assert.Equal(t, tc.want, ours(Maps{tc.e}), "%+v", tc.e)
	}
	assert.True(t, ours(Maps{{Perms: "---p"}, {Perms: "r--s", Path: memfd}}))
	assert.False(t, ours(Maps{{Perms: "---p"}, {Perms: "rw-p"}}))
}

// Features reports mseal as working exactly where sealing a range works:
// the probe, which seals nothing, takes only ENOSYS and EPERM for a
// missing call, not the EINVAL its empty range gets where the call
// exists. Where it works this seals one page of address space for the
// life of the test binary.
func TestFeaturesReportMsealWhereItSeals(t *testing.T) {
	_, probed, _, _ := Features()
	res, err := Reserve(PageSize, PageSize)
	require.NoError(t, err)
	err = mseal(res.Addr(), PageSize)
	if probed != nil {
		assert.ErrorIs(t, err, ErrUnsupported, "Features says %v", probed)
		if err != nil {
			require.NoError(t, res.Release())
		}
		return
	}
	require.NoError(t, err, "Features says mseal works")
	assert.ErrorIs(t, unix.MunmapPtr(res.Addr(), PageSize), unix.EPERM, "the page is sealed")
}

// Probing leaves nothing behind: the throwaway memfd is closed, and its
// mappings, the one moved aside included, are gone with their
// reservation, so that no /memfd:frozen-probe shows among the process's
// descriptors or in /proc/self/maps.
func TestFeaturesProbeLeavesNoMemfdBehind(t *testing.T) {
	probes.mu.Lock()
	probes.done = false // as in a process that never probed
	probes.mu.Unlock()
	_, _, mremap, _ := Features()
	require.NoError(t, mremap, "the probe got as far as the move")
	maps, err := ReadMaps()
	require.NoError(t, err)
	for _, e := range maps {
		assert.NotContains(t, e.Path, "frozen-probe", "a probe's mapping at %#x", e.Start)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	for _, fd := range fds {
		target, _ := os.Readlink("/proc/self/fd/" + fd.Name())
		assert.NotContains(t, target, "frozen-probe", "descriptor %s", fd.Name())
	}
}

// A released mapping's range is PROT_NONE reservation again (a
// quarantine, say): nothing can make it accessible, map more after it or
// seal it, and it stays PROT_NONE.
func TestReleasedMappingRefusesEveryChange(t *testing.T) {
	fx := newFixture(t, 2)
	start, end := uintptr(fx.m.Addr()), uintptr(fx.m.Addr())+fx.m.Len()
	require.NoError(t, fx.m.Release())
	assert.ErrorIs(t, fx.m.Protect(ProtReadWrite), errReleased)
	assert.ErrorIs(t, fx.m.Extend(PageSize), errReleased)
	assert.ErrorIs(t, fx.m.Remap(FromReadWrite, ProtReadWrite), errReleased)
	assert.ErrorIs(t, fx.m.Mseal(), errReleased)
	maps, err := ReadMapsWithin(start, end)
	require.NoError(t, err)
	for _, e := range maps {
		assert.Equal(t, "---p", e.Perms, "[%#x, %#x)", e.Start, e.End)
	}
}

// Extend maps the new part with the mapping's protection at the time,
// after a Protect too.
func TestExtendAfterProtectKeepsTheProtection(t *testing.T) {
	fx := newFixture(t, 1)
	require.NoError(t, fx.file.Resize(int64(2*PageSize)))
	require.NoError(t, fx.m.Protect(ProtRead))
	require.NoError(t, fx.m.Extend(PageSize))
	start := uintptr(fx.m.Addr())
	maps, err := ReadMapsWithin(start, start+2*PageSize)
	require.NoError(t, err)
	require.NotEmpty(t, maps)
	for _, e := range maps {
		assert.Equal(t, "r--s", e.Perms, "[%#x, %#x)", e.Start, e.End)
	}
}
