//go:build unix && !aix

package vm

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// fixture is a reservation of n pages with a file of n pages mapped at its
// start, read-write.
type fixture struct {
	res  *Reservation
	file *File
	m    *Mapping
}

func newFixture(t *testing.T, pages int) *fixture {
	t.Helper()
	n := uintptr(pages) * PageSize
	res, err := Reserve(4*n, PageSize)
	require.NoError(t, err)
	f, err := NewFile(t.Name())
	require.NoError(t, err)
	require.NoError(t, f.Resize(int64(n)))
	m, err := Map(f, 0, res.Addr(), n, ProtReadWrite, FromReadWrite)
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.NoError(t, m.Release())
		assert.NoError(t, f.Close())
		assert.NoError(t, res.Release())
	})
	return &fixture{res: res, file: f, m: m}
}

func (fx *fixture) at(i uintptr) unsafe.Pointer { return unsafe.Add(fx.res.Addr(), i) }

// faults reports whether f faults (with SetPanicOnFault).
func faults(f func()) (faulted bool) {
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	defer func() {
		if r := recover(); r != nil {
			_, faulted = r.(interface{ Addr() uintptr })
			if !faulted {
				panic(r)
			}
		}
	}()
	f()
	return false
}

func procMemWrite(addr unsafe.Pointer, b []byte) error {
	f, err := os.OpenFile("/proc/self/mem", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteAt(b, int64(uintptr(addr)))
	return err
}

func TestReserveAlignment(t *testing.T) {
	for _, align := range []uintptr{PageSize, 64 << 10, 2 << 20, 1 << 30} {
		t.Run(fmt.Sprint(align), func(t *testing.T) {
			r, err := Reserve(3*PageSize, align)
			require.NoError(t, err)
			defer r.Release()
			assert.Zero(t, uintptr(r.Addr())%align)
			if runtime.GOOS == "linux" {
				maps, err := ReadMaps()
				require.NoError(t, err)
				e, ok := maps.Find(uintptr(r.Addr()))
				require.True(t, ok)
				assert.Equal(t, "---p", e.Perms, "a reservation has no access")
			}
		})
	}
	_, err := Reserve(PageSize, 3*PageSize)
	assert.Error(t, err, "alignment must be a power of two")
}

func TestMapReadWriteAndExtend(t *testing.T) {
	fx := newFixture(t, 2)
	b := fx.m.Bytes()
	b[0], b[len(b)-1] = 1, 2
	require.NoError(t, fx.file.Resize(int64(4*PageSize)))
	require.NoError(t, fx.m.Extend(2*PageSize))
	b = fx.m.Bytes()
	require.Len(t, b, int(4*PageSize))
	assert.Equal(t, byte(1), b[0])
	assert.Equal(t, byte(2), b[2*PageSize-1])
	assert.Equal(t, byte(0), b[len(b)-1], "new file bytes read as zero")
	b[len(b)-1] = 3
	// The read-only descriptor sees the same bytes.
	require.NoError(t, fx.file.OpenReadOnly())
	_, ro := fx.file.FDs()
	buf := make([]byte, 1)
	_, err := unix.Pread(ro, buf, int64(4*PageSize-1))
	require.NoError(t, err)
	assert.Equal(t, byte(3), buf[0])
}

func TestProtectReadOnlyFaults(t *testing.T) {
	fx := newFixture(t, 1)
	p := (*byte)(fx.at(0))
	*p = 7
	require.NoError(t, fx.m.Protect(ProtRead))
	assert.True(t, faults(func() { *p = 8 }), "write to a read-only mapping must fault")
	assert.Equal(t, byte(7), *p)
	require.NoError(t, fx.m.Protect(ProtReadWrite))
	assert.False(t, faults(func() { *p = 9 }))
}

func TestReleaseLeavesProtNoneAndFaults(t *testing.T) {
	fx := newFixture(t, 1)
	p := (*byte)(fx.at(0))
	*p = 1
	require.NoError(t, fx.m.Release())
	require.NoError(t, fx.m.Release(), "idempotent")
	assert.True(t, faults(func() { _ = *(*byte)(fx.at(0)) }), "read after release must fault")
	if runtime.GOOS == "linux" {
		maps, err := ReadMaps()
		require.NoError(t, err)
		e, ok := maps.Find(uintptr(fx.at(0)))
		require.True(t, ok, "range stays reserved")
		assert.Equal(t, "---p", e.Perms)
	}
}

func TestFallbackHasNoSeals(t *testing.T) {
	if Backend != "tempfile" {
		t.Skip("memfd backend")
	}
	seals, mseal, mremap, reopen := Features()
	assert.ErrorIs(t, seals, ErrUnsupported)
	assert.ErrorIs(t, mseal, ErrUnsupported)
	assert.ErrorIs(t, mremap, ErrUnsupported)
	assert.NoError(t, reopen)
	fx := newFixture(t, 1)
	assert.ErrorIs(t, fx.file.AddSeals(SealWrite), ErrUnsupported)
	_, err := fx.m.MoveAside(fx.at(PageSize))
	assert.ErrorIs(t, err, ErrUnsupported)
	// The read-only alias exists from the start and cannot be made writable.
	alias, err := Map(fx.file, 0, fx.at(2*PageSize), PageSize, ProtRead, FromReadOnly)
	require.NoError(t, err)
	defer alias.Release()
	fx.m.Bytes()[0] = 5
	assert.Equal(t, byte(5), alias.Bytes()[0])
	assert.Error(t, alias.Protect(ProtReadWrite))
}

func TestLabelCutsAtTheLimitOnARuneStart(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"fits", "config", "config"},
		{"empty", "", ""},
		{"exactly the limit", strings.Repeat("n", 10), strings.Repeat("n", 10)},
		{"one byte over", strings.Repeat("n", 11), strings.Repeat("n", 10)},
		{"NUL", "a\x00b", "a_b"},
		{"slash", "etc/app", "etc_app"},
		{"NUL past the limit", strings.Repeat("n", 12) + "\x00", strings.Repeat("n", 10)},
		{"2-byte rune across the limit", strings.Repeat("n", 9) + "é", strings.Repeat("n", 9)},
		{"2-byte rune ending at the limit", strings.Repeat("n", 8) + "éé", strings.Repeat("n", 8) + "é"},
		{"3-byte rune across the limit", strings.Repeat("n", 8) + "名n", strings.Repeat("n", 8)},
		{"4-byte rune with one byte past the limit", strings.Repeat("n", 7) + "😀", strings.Repeat("n", 7)},
		{"4-byte rune with one byte before the limit", strings.Repeat("n", 9) + "😀", strings.Repeat("n", 9)},
		{"not UTF-8", strings.Repeat("\x80", 20), strings.Repeat("\x80", 7)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := label(tc.in, 10, "\x00/", false)
			assert.Equal(t, tc.want, got)
			assert.LessOrEqual(t, len(got), 10)
			if utf8.ValidString(tc.in) {
				assert.True(t, utf8.ValidString(got), "%q", got)
			}
		})
	}
}

// Where the system takes only UTF-8 names (the temporary file on macOS),
// each byte outside a valid sequence becomes '_', and valid ones stay.
func TestLabelReplacesBytesThatAreNotUTF8(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"valid", "é名😀", "é名😀"},
		{"a stray byte", "a\xffb", "a_b"},
		{"a cut sequence", "a\xe5\x90b", "a__b"},
		{"U+FFFD itself", "a\uFFFDb", "a\uFFFDb"},
		{"past the limit", strings.Repeat("\x80", 20), strings.Repeat("_", 10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := label(tc.in, 10, "\x00/", true)
			assert.Equal(t, tc.want, got)
			assert.True(t, utf8.ValidString(got), "%q", got)
		})
	}
}

// TestNewFileTakesAnyName: a name the system would refuse (too long, or
// holding NUL or '/') still makes a file; Name keeps it whole, and the
// system shows the label KernelName documents.
func TestNewFileTakesAnyName(t *testing.T) {
	long := strings.Repeat("n", 300)
	wide := strings.Repeat("é", 150) // 300 bytes; both limits are odd
	for _, tc := range []struct {
		name            string
		in              string
		memfd, tempfile string // the label each backend gives the system
	}{
		{"300 bytes", long, long[:249], long[:237]},
		{"300 bytes of 2-byte runes", wide, wide[:248], wide[:236]},
		{"NUL", "a\x00b", "a_b", "a_b"},
		{"slash", "etc/app.json", "etc/app.json", "etc_app.json"},
		{"empty", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := map[string]string{"memfd": tc.memfd, "tempfile": tc.tempfile}[Backend]
			assert.Equal(t, want, KernelName(tc.in))
			f, err := NewFile(tc.in)
			require.NoError(t, err)
			defer f.Close()
			assert.Equal(t, tc.in, f.Name())
			require.NoError(t, f.Resize(int64(PageSize)))
			res, err := Reserve(PageSize, PageSize)
			require.NoError(t, err)
			defer res.Release()
			m, err := Map(f, 0, res.Addr(), PageSize, ProtRead, FromReadWrite)
			require.NoError(t, err)
			defer m.Release()
			if runtime.GOOS != "linux" {
				return
			}
			maps, err := ReadMaps()
			require.NoError(t, err)
			e, ok := maps.Find(uintptr(m.Addr()))
			require.True(t, ok)
			if Backend == "memfd" {
				assert.Equal(t, "/memfd:"+want+" (deleted)", e.Path)
			} else {
				assert.True(t, strings.HasPrefix(filepath.Base(e.Path), "frozen-"+want+"-"), e.Path)
			}
		})
	}
}

// TestPageSizeIsTheOneAskedFor makes `make emulated` fail, rather than
// quietly test 4 KiB pages again, if the emulator ignored its page-size
// flag: FROZEN_EXPECT_PAGESIZE names the page size the run is for.
func TestPageSizeIsTheOneAskedFor(t *testing.T) {
	want := os.Getenv("FROZEN_EXPECT_PAGESIZE")
	if want == "" {
		t.Skip("FROZEN_EXPECT_PAGESIZE not set")
	}
	assert.Equal(t, want, fmt.Sprint(PageSize))
	assert.Equal(t, want, fmt.Sprint(os.Getpagesize()))
}

func TestSmapsHeadersAreToldFromFields(t *testing.T) {
	for line, header := range map[string]bool{
		"7f0000000000-7f0000200000 r--s 00000000 00:01 12 /memfd:cfg (deleted)\n": true,
		"Rss:                 512 kB\n":                                           false,
		"VmFlags: rd sh mr mw me ms hg\n":                                         false,
		"THPeligible:    1\n":                                                     false,
		"\n":                                                                      false,
		"":                                                                        false,
	} {
		assert.Equal(t, header, isSmapsHeader(line), "%q", line)
	}
}

// Find and Covers take an entry's end for outside it: where one mapping
// ends and the next starts, the address is the next one's; an address at
// an entry's end with nothing after it, or in a gap, is nobody's; and a
// gap of one page between two entries leaves a range uncovered. Within
// leaves out the entries that end where the range starts or start where
// it ends.
func TestMapsFindAndCoversAtTheBounds(t *testing.T) {
	p := PageSize
	maps := Maps{
		{Start: p, End: 2 * p, Perms: "---p"},
		{Start: 2 * p, End: 3 * p, Perms: "r--s"},
		{Start: 3 * p, End: 4 * p, Perms: "---p"},
		{Start: 5 * p, End: 6 * p, Perms: "rw-s"},
	}
	for _, e := range maps {
		for _, addr := range []uintptr{e.Start, e.End - 1} {
			got, ok := maps.Find(addr)
			assert.True(t, ok, "%#x", addr)
			assert.Equal(t, e, got, "%#x", addr)
		}
	}
	for _, addr := range []uintptr{0, p - 1, 4 * p, 5*p - 1, 6 * p} {
		got, ok := maps.Find(addr)
		assert.False(t, ok, "%#x found in %+v", addr, got)
	}
	assert.True(t, maps.Covers(p, 4*p))
	assert.True(t, maps.Covers(2*p+1, 3*p+1))
	assert.True(t, maps.Covers(5*p, 6*p))
	assert.False(t, maps.Covers(p, 6*p), "a page's gap")
	assert.False(t, maps.Covers(3*p, 5*p+1))
	assert.False(t, maps.Covers(5*p, 6*p+1), "past the last entry")
	assert.False(t, maps.Covers(0, 2*p), "before the first entry")
	assert.Equal(t, maps[1:3], maps.Within(2*p, 4*p))
}

// An entry is shared or writable as the kernel's permission letters say:
// 's' last for a shared mapping ('p' for a private one), 'w' second for
// a writable one.
func TestMapsEntrySaysSharedAndWritable(t *testing.T) {
	for perms, want := range map[string][2]bool{
		"r--s": {true, false},
		"rw-s": {true, true},
		"rw-p": {false, true},
		"r-xp": {false, false},
		"---p": {false, false},
		"-w-s": {true, true},
		"":     {false, false},
	} {
		e := MapsEntry{Perms: perms}
		assert.Equal(t, want, [2]bool{e.Shared(), e.Writable()}, "%q", perms)
	}
}

// Reserve takes whole pages only: a size of zero, or one that is not a
// multiple of the page size (which the kernel would round up, so that the
// reservation's length would not be what was reserved), is refused.
func TestReserveRefusesSizesThatAreNotWholePages(t *testing.T) {
	for _, n := range []uintptr{0, 1, PageSize + 1, 2*PageSize - 1} {
		r, err := Reserve(n, PageSize)
		if !assert.Error(t, err, "%d bytes", n) {
			require.NoError(t, r.Release())
		}
	}
}

// NewAnon takes any size and rounds it up to whole pages, every byte of
// which can be written.
func TestNewAnonRoundsUpToWholePages(t *testing.T) {
	for _, n := range []uintptr{1, PageSize + 1, 3*PageSize - 1} {
		a, err := NewAnon(n)
		require.NoError(t, err, "%d bytes", n)
		want := (n + PageSize - 1) / PageSize * PageSize
		assert.Equal(t, want, a.Len(), "%d bytes", n)
		b := unsafe.Slice((*byte)(a.Addr()), a.Len())
		assert.False(t, faults(func() { b[len(b)-1] = 1 }), "the last page of %d bytes", n)
		require.NoError(t, a.Release())
	}
}

// sink keeps a read from being compiled away.
var sink byte

// Release is idempotent in deed, not only in its error: a second Release
// does not touch the range again, so that a mapping made there since (by
// the range's next owner) stays mapped.
func TestSecondReleaseLeavesANewMappingAlone(t *testing.T) {
	fx := newFixture(t, 1)
	require.NoError(t, fx.m.Release())
	next, err := Map(fx.file, 0, fx.at(0), PageSize, ProtReadWrite, FromReadWrite)
	require.NoError(t, err)
	defer func() { assert.NoError(t, next.Release()) }()
	next.Bytes()[0] = 6
	require.NoError(t, fx.m.Release())
	assert.True(t, fx.m.Released())
	require.False(t, faults(func() { sink = next.Bytes()[0] }), "the old owner's Release unmapped the new mapping")
	assert.Equal(t, byte(6), next.Bytes()[0])
}

// Size is the size the last Resize that succeeded gave the file, as the
// kernel has it; a Resize that fails (here with the read-write descriptor
// closed) leaves it.
func TestSizeFollowsResize(t *testing.T) {
	f, err := NewFile(t.Name())
	require.NoError(t, err)
	defer f.Close()
	assert.Zero(t, f.Size())
	rw, _ := f.FDs()
	for _, n := range []int64{3 * int64(PageSize), int64(PageSize), 0, 5 * int64(PageSize)} {
		require.NoError(t, f.Resize(n))
		assert.Equal(t, n, f.Size())
		var st unix.Stat_t
		require.NoError(t, unix.Fstat(rw, &st))
		assert.Equal(t, n, st.Size)
	}
	require.NoError(t, f.CloseWritable())
	assert.Error(t, f.Resize(int64(PageSize)))
	assert.Equal(t, 5*int64(PageSize), f.Size())
}

// The fallback's temporary file is unlinked once both descriptors are
// open: nothing is left in the temporary directory, while the file
// still maps.
func TestFallbackLeavesNoTemporaryFile(t *testing.T) {
	if Backend != "tempfile" {
		t.Skip("memfd backend")
	}
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	fx := newFixture(t, 1)
	fx.m.Bytes()[0] = 1
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, left)
}
