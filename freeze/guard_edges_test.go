//go:build unix && !aix

package freeze_test

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/offheap"
	"github.com/frozen-go/frozen/internal/vm"
)

// runtime.Goexit inside f goes on, and Guard still restores the setting.
func TestGuardRestoresPanicOnFaultAfterGoexit(t *testing.T) {
	got := make(chan bool)
	go func() {
		debug.SetPanicOnFault(false)
		defer func() { got <- debug.SetPanicOnFault(false) }()
		_ = freeze.Guard(func() { runtime.Goexit() })
		t.Error("Goexit did not go on")
	}()
	assert.False(t, <-got)
}

// A fault in a deferred call of f while f exits through runtime.Goexit
// cannot be returned (the Goexit goes on once the fault is recovered):
// Guard panics with the report instead, so that a write into frozen
// memory, or a read after Close, is not recovered and then lost. The
// fault may come deep in calls, and it does not stop the Goexit of a
// goroutine that recovers the report above Guard.
func TestGuardPanicsWithAFaultDuringGoexit(t *testing.T) {
	_, _, ro := frozenConfig(t, freeze.Protect)
	closed, _, roClosed := frozenConfig(t, freeze.Protect)
	require.NoError(t, closed.Close())
	var deep func(n int)
	deep = func(n int) {
		if n == 0 {
			ro.Version = 42
			return
		}
		deep(n - 1)
	}
	for name, tc := range map[string]struct {
		fault func()
		check func(t *testing.T, err error)
	}{
		"write": {func() { ro.Version = 42 }, func(t *testing.T, err error) {
			var wf *freeze.WriteFault
			require.ErrorAs(t, err, &wf)
			assert.Equal(t, "*Config.Version", wf.Path)
		}},
		"write 200 calls deep": {func() { deep(200) }, func(t *testing.T, err error) {
			var wf *freeze.WriteFault
			require.ErrorAs(t, err, &wf)
			assert.Equal(t, "*Config.Version", wf.Path)
		}},
		"read after Close": {func() { _ = roClosed.Version }, func(t *testing.T, err error) {
			var uac *freeze.UseAfterClose
			require.ErrorAs(t, err, &uac)
		}},
	} {
		t.Run(name, func(t *testing.T) {
			if vm.FaultPageOnly && name != "read after Close" {
				t.Skip("the kernel reports only the page: no field is named")
			}
			var recovered any
			returned, exited := false, make(chan struct{})
			go func() {
				defer close(exited)
				defer func() { recovered = recover() }()
				_ = freeze.Guard(func() {
					defer tc.fault()
					runtime.Goexit()
				})
				returned = true
			}()
			<-exited
			assert.False(t, returned, "Goexit went on")
			err, ok := recovered.(error)
			require.True(t, ok, "Guard panicked with the fault's report, got %v", recovered)
			tc.check(t, err)
		})
	}
}

// A Guard inside a Guard reports its own fault, leaves the outer one's
// setting on, and the outer one restores the caller's.
func TestNestedGuardRestoresEachSetting(t *testing.T) {
	_, _, ro := frozenConfig(t, freeze.Protect)
	old := debug.SetPanicOnFault(false)
	defer debug.SetPanicOnFault(old)
	var inner error
	outer := freeze.Guard(func() {
		inner = freeze.Guard(func() { ro.Version = 3 })
		assert.True(t, debug.SetPanicOnFault(true), "the outer Guard's setting is back")
	})
	assert.NoError(t, outer)
	var wf *freeze.WriteFault
	require.ErrorAs(t, inner, &wf)
	assert.False(t, debug.SetPanicOnFault(false))
}

// Guard called from a deferred call while another panic unwinds does not
// recover that panic (recover in its own defer is not the panic's), with
// or without a fault of its own.
func TestGuardInADeferredCallWhilePanickingLeavesThatPanicAlone(t *testing.T) {
	_, _, ro := frozenConfig(t, freeze.Protect)
	for name, f := range map[string]func(){
		"read":  func() { _ = ro.Version },
		"write": func() { ro.Version = 5 },
	} {
		var guardErr error
		ranAfter := false
		var rec any
		func() {
			defer func() { rec = recover() }()
			func() {
				defer func() {
					guardErr = freeze.Guard(f)
					ranAfter = true
				}()
				panic("outer")
			}()
		}()
		assert.True(t, ranAfter, name)
		assert.Equal(t, "outer", rec, name)
		if name == "write" {
			var wf *freeze.WriteFault
			assert.ErrorAs(t, guardErr, &wf)
		} else {
			assert.NoError(t, guardErr)
		}
	}
}

// pageOnly is what a fault report gives of an address or offset x: x
// itself, or where the kernel reports only the page (vm.FaultPageOnly),
// the page's start.
func pageOnly(x uintptr) uintptr {
	if vm.FaultPageOnly {
		return x &^ (vm.PageSize - 1)
	}
	return x
}

// The first and last bytes of the mapping, the used bytes' end and a
// byte past them: write faults with those offsets while frozen (through
// the reader's pointer, the view in Alias mode), uses after Close through
// the reader's pointer and the owner's; a small arena and one that Seal
// moves aside, faulting before the background work is done.
func TestGuardNamesTheMappingsEdgesBeforeAndAfterClose(t *testing.T) {
	for _, size := range []int{3 * 4096, 4 << 20} {
		for _, m := range modes(t) {
			t.Run(fmt.Sprintf("%s/%d", m, size), func(t *testing.T) {
				a := newArena(t, arena.WithName("edges"))
				s := arena.MakeSlice[byte](a, size)
				r, err := freeze.Freeze(a, m)
				require.NoError(t, err)
				ro := freeze.ReadOnly(r, &s[0])
				mapped := uintptr(offheap.Unwrap(a).Mapped())
				for _, off := range []uintptr{0, uintptr(size) - 1, uintptr(size), mapped - 1} {
					if off >= mapped {
						continue
					}
					p := (*byte)(unsafe.Add(unsafe.Pointer(ro), off))
					err := freeze.Guard(func() { *p = 1 })
					var wf *freeze.WriteFault
					require.ErrorAs(t, err, &wf, "off %#x", off)
					assert.Equal(t, pageOnly(off), wf.Offset)
					assert.Equal(t, pageOnly(uintptr(unsafe.Pointer(p))), wf.Addr)
					assert.Equal(t, m, wf.Mode)
					assert.Equal(t, "edges", wf.Region)
				}
				require.NoError(t, r.Verify(), "the refused writes changed nothing")
				require.NoError(t, r.Close())
				for _, base := range []unsafe.Pointer{unsafe.Pointer(ro), unsafe.Pointer(&s[0])} {
					for _, off := range []uintptr{0, mapped - 1} {
						p := (*byte)(unsafe.Add(base, off))
						var v byte
						err := freeze.Guard(func() { v = *p })
						var uac *freeze.UseAfterClose
						require.ErrorAs(t, err, &uac, "off %#x read %d", off, v)
						assert.Equal(t, pageOnly(off), uac.Offset)
						assert.Equal(t, "edges", uac.Region)
					}
				}
			})
		}
	}
}

// Writers fault through pointers into regions of every mode that another
// goroutine keeps closing and replacing, with a quarantine of a few ranges
// that keeps evicting: each fault is a write to, or a use after Close of,
// exactly the region the pointer was taken from, never passed through.
// (A pointer kept past its range's eviction may fault in whatever took
// the range: that is what the quarantine's budget means. So the closing
// goroutine waits, before each close, until no writer holds a pointer it
// took four or more closes ago: the range of a region closed since is
// still in quarantine, which holds the last eight, two ranges each.)
func TestGuardRacingCloseAndEvictionNamesTheRightRegion(t *testing.T) {
	defer arena.SetQuarantine(arena.SetQuarantine(1<<40, 16))
	type slot struct {
		name string
		r    *freeze.Region
		p    *Point
	}
	const n = 64
	ms := modes(t)
	mk := func(i, gen int) *slot {
		name := fmt.Sprintf("race-%d-%d", i, gen)
		a, err := arena.NewArena(arena.WithName(name), arena.WithMaxBytes(64<<10))
		require.NoError(t, err)
		c, err := arena.Clone(a, &Point{X: int64(i)})
		require.NoError(t, err)
		r, err := freeze.Freeze(a, ms[(i+gen)%len(ms)])
		require.NoError(t, err)
		return &slot{name, r, freeze.ReadOnly(r, c)}
	}
	var mu sync.Mutex
	slots := make([]*slot, n)
	for i := range slots {
		slots[i] = mk(i, 0)
	}
	wantPath := "*Point.Y"
	if vm.FaultPageOnly {
		wantPath = "" // the kernel gives the page: the field cannot be named
	}
	var stop atomic.Bool
	var bad atomic.Int64
	var wg sync.WaitGroup
	var closed atomic.Int64  // closes done
	var took [3]atomic.Int64 // closed, when each writer took its pointer
	for w := range 3 {
		wg.Go(func() {
			defer took[w].Store(math.MaxInt64)
			for k := w; !stop.Load() && bad.Load() < 5; {
				k = (k*7 + 3) % n
				took[w].Store(closed.Load())
				mu.Lock()
				s := slots[k]
				mu.Unlock()
				var rec any
				var err error
				func() {
					defer func() { rec = recover() }()
					err = freeze.Guard(func() { s.p.Y = 9 })
				}()
				lo := uintptr(unsafe.Pointer(s.p))
				var wf *freeze.WriteFault
				var uac *freeze.UseAfterClose
				switch {
				case rec != nil:
					bad.Add(1)
					t.Errorf("passed through: %v", rec)
				case errors.As(err, &wf):
					if wf.Region != s.name || wf.Path != wantPath {
						bad.Add(1)
						t.Errorf("%v, for %s", wf, s.name)
					}
				case errors.As(err, &uac):
					// The first access may be the nil check of s.p.
					if uac.Region != s.name || uac.Addr < pageOnly(lo) || uac.Addr >= lo+16 {
						bad.Add(1)
						t.Errorf("%v, for %s", uac, s.name)
					}
				default:
					bad.Add(1)
					t.Errorf("Guard returned %v", err)
				}
			}
		})
	}
	for gen := 1; gen < 300 && bad.Load() == 0; gen++ {
		i := gen % n
		for w := range took {
			for took[w].Load() < closed.Load()-4 {
				runtime.Gosched()
			}
		}
		mu.Lock()
		old := slots[i]
		mu.Unlock()
		require.NoError(t, old.r.Close())
		closed.Add(1)
		ns := mk(i, gen)
		mu.Lock()
		slots[i] = ns
		mu.Unlock()
	}
	stop.Store(true)
	wg.Wait()
	for _, s := range slots {
		require.NoError(t, s.r.Close())
	}
}

// Only the mapped pages are frozen: the first byte past them, still in the
// arena's reservation, faults on any access, and Guard passes that fault
// through instead of calling it a write to the region.
func TestGuardPassesThroughAFaultJustPastTheMappedPages(t *testing.T) {
	for _, m := range modes(t) {
		t.Run(m.String(), func(t *testing.T) {
			a := newArena(t, arena.WithName("past"))
			s := arena.MakeSlice[byte](a, 3*4096)
			r, err := freeze.Freeze(a, m)
			require.NoError(t, err)
			require.NoError(t, r.Wait())
			core := offheap.Unwrap(a)
			mapped := uintptr(core.Mapped())
			if core.Range().Len() <= mapped {
				t.Skip("the reservation ends with the mapping")
			}
			last := (*byte)(unsafe.Add(unsafe.Pointer(freeze.ReadOnly(r, &s[0])), mapped-1))
			var wf *freeze.WriteFault
			require.ErrorAs(t, freeze.Guard(func() { *last = 1 }), &wf, "the last mapped byte is frozen")
			past := (*byte)(unsafe.Add(unsafe.Pointer(&s[0]), mapped))
			var passed any
			func() {
				defer func() { passed = recover() }()
				err = freeze.Guard(func() { *past = 1 })
			}()
			assert.False(t, errors.As(err, &wf), "a write past the mapped pages is reported as a write to the region: %v", err)
			assert.NotNil(t, passed, "the fault passes through Guard")
			require.NoError(t, r.Verify())
		})
	}
}

// A nil func is a mistake in the caller: Guard panics saying so, as
// Update and Store.Read do, before it turns on SetPanicOnFault, rather
// than re-panic the runtime's nil dereference of the call, and the
// caller's setting is as it was.
func TestGuardWithANilFuncPanicsPlainly(t *testing.T) {
	old := debug.SetPanicOnFault(false)
	defer debug.SetPanicOnFault(old)
	assert.PanicsWithValue(t, "freeze: Guard with a nil func", func() { _ = freeze.Guard(nil) })
	assert.False(t, debug.SetPanicOnFault(false), "the caller's setting is left alone")
}
