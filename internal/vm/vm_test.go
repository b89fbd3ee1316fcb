//go:build unix

package vm

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"testing"
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
