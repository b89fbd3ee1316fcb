//go:build unix && !aix

package freeze_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/backdoor"
	"github.com/frozen-go/frozen/internal/offheap"
	"github.com/frozen-go/frozen/internal/vm"
)

type points struct{ Points []*Point }

// manyPoints returns 10,000 separately allocated points: as many records
// in an arena, which naming an allocation or a field walks.
func manyPoints() *points {
	src := &points{}
	for i := range 10_000 {
		src.Points = append(src.Points, &Point{X: int64(i)})
	}
	return src
}

// frozenPoints clones src into a new arena frozen in Protect mode, its
// baseline taken.
func frozenPoints(t *testing.T, src *points) (*freeze.Region, *points) {
	t.Helper()
	a := newArena(t)
	c, err := arena.Clone(a, src)
	require.NoError(t, err)
	r, err := freeze.Freeze(a, freeze.Protect)
	require.NoError(t, err)
	require.NoError(t, r.Wait())
	return r, c
}

// A Region may be used from several goroutines: Verify racing Close either
// describes the change (reading the allocation records and memory that
// Close releases) or says the region is closed, and never reads released
// memory. Before Verify described the pages under the region's lock, this
// crashed the process with a fault in a few of the rounds.
func TestVerifyRacingCloseReportsOrRefuses(t *testing.T) {
	src := manyPoints()
	var corrupt, closed int
	for round := range 40 {
		r, c := frozenPoints(t, src)
		require.NoError(t, backdoor.Reprotect(c.Points[len(c.Points)-1-round], Point{X: -1}))
		done := make(chan error)
		go func() { done <- r.Verify() }()
		time.Sleep(time.Duration(round%20) * 25 * time.Microsecond)
		require.NoError(t, r.Close())
		err := <-done
		var ce *freeze.CorruptionError
		switch {
		case errors.As(err, &ce):
			corrupt++
			require.NotEmpty(t, ce.Changed)
			require.NotEmpty(t, ce.Changed[0].Allocations, "the changed page's allocations are named")
		case errors.Is(err, arena.ErrClosed):
			closed++
		default:
			t.Fatalf("round %d: Verify racing Close returned %v", round, err)
		}
	}
	t.Logf("%d corruption reports, %d closed", corrupt, closed)
}

// Allocations racing Close lists every allocation (naming each walks the
// records Close releases) or refuses with ErrClosed, never a part of them
// nor a crash.
func TestAllocationsRacingCloseListsAllOrRefuses(t *testing.T) {
	src := &points{Points: manyPoints().Points[:2000]}
	var listed, closed int
	for round := range 40 {
		r, _ := frozenPoints(t, src)
		want, err := r.Allocations(0, uintptr(r.Size()))
		require.NoError(t, err)
		require.Greater(t, len(want), len(src.Points), "the slice's array and every Point")
		type result struct {
			all []freeze.Allocation
			err error
		}
		done := make(chan result)
		go func() {
			all, err := r.Allocations(0, uintptr(r.Size()))
			done <- result{all, err}
		}()
		time.Sleep(time.Duration(round%20) * 25 * time.Microsecond)
		require.NoError(t, r.Close())
		switch got := <-done; {
		case got.err == nil:
			listed++
			require.Equal(t, want, got.all)
		case errors.Is(got.err, arena.ErrClosed):
			closed++
		default:
			t.Fatalf("round %d: Allocations racing Close returned %v", round, got.err)
		}
	}
	t.Logf("%d listed, %d closed", listed, closed)
}

// A write caught by Guard while another goroutine closes the region is
// reported as a write to the frozen region or as a use after Close, never
// as a crash while naming the field in released records.
func TestGuardRacingCloseReportsWriteOrClose(t *testing.T) {
	// Naming a field in the last of many allocations walks many records,
	// which widens the window in which Close could release them.
	src := manyPoints()
	var writes, uses int
	for round := range 40 {
		r, c := frozenPoints(t, src)
		last := c.Points[len(c.Points)-1]
		done := make(chan error)
		go func() { done <- freeze.Guard(func() { last.Y = 8 }) }()
		time.Sleep(time.Duration(round%20) * 10 * time.Microsecond)
		require.NoError(t, r.Close())
		var wf *freeze.WriteFault
		var uac *freeze.UseAfterClose
		switch err := <-done; {
		case errors.As(err, &wf):
			writes++
			if !vm.FaultPageOnly {
				assert.Equal(t, "*points.Points[9999].Y", wf.Path)
			}
		case errors.As(err, &uac):
			uses++
			assert.Equal(t, r.Name(), uac.Region)
		default:
			t.Fatalf("Guard racing Close returned %v", err)
		}
	}
	t.Logf("%d write faults, %d uses after Close", writes, uses)
}

// Checksum reads the root checksum that Update replaces: every value a
// reader sees while Updates run is the checksum before them or after one
// of them, never one half replaced; under -race this also fails if
// Checksum reads it without the region's lock.
func TestChecksumRacingUpdate(t *testing.T) {
	r, _, ro := frozenConfig(t, freeze.Alias)
	valid := map[uint64]bool{r.Checksum(): true}
	var done atomic.Bool
	var wg sync.WaitGroup
	seen := make(map[uint64]bool)
	reads := 0
	wg.Go(func() {
		for !done.Load() {
			seen[r.Checksum()] = true
			reads++
		}
	})
	for i := range 200 {
		require.NoError(t, freeze.Update(r, ro, func(w *Config) { w.Version = i + 2 }))
		valid[r.Checksum()] = true
	}
	done.Store(true)
	wg.Wait()
	require.Len(t, valid, 201, "each Update gives a new checksum")
	for c := range seen {
		assert.True(t, valid[c], "Checksum returned %#x, which no Update produced", c)
	}
	t.Logf("%d reads saw %d checksums", reads, len(seen))
}

// A stray write from another goroutine that faults the moment Freeze makes
// the memory read-only is named like any later one: the region is known
// to Guard before its memory is protected. When Freeze published it only
// afterwards, such a write passed through Guard as a bare fault (which
// crashes the program), and the race detector saw Guard read what Freeze
// wrote with nothing ordering the two.
func TestStrayWriteRacingFreezeIsNamed(t *testing.T) {
	type path struct {
		name     string
		mode     freeze.Mode
		asideMin uintptr // Seal's threshold for moving page tables aside
	}
	paths := []path{{"Protect", freeze.Protect, 0}}
	if seals, _, _, _ := vm.Features(); seals == nil {
		paths = append(paths, path{"Seal", freeze.Seal, ^uintptr(0) >> 1}, path{"Seal/aside", freeze.Seal, vm.PageSize})
	}
	for _, p := range paths {
		mode := p.mode
		t.Run(p.name, func(t *testing.T) {
			if p.asideMin != 0 {
				defer offheap.SetAsideMin(offheap.SetAsideMin(p.asideMin))
			}
			for round := range 20 {
				a := newArena(t)
				pts := arena.MakeSlice[Point](a, (1<<20)/int(unsafe.Sizeof(Point{})))
				last := &pts[len(pts)-1]
				writing := make(chan struct{})
				done := make(chan error)
				go func() {
					close(writing)
					for {
						if err := freeze.Guard(func() { last.Y++ }); err != nil {
							done <- err
							return
						}
					}
				}()
				<-writing
				time.Sleep(time.Duration(round) * 10 * time.Microsecond)
				r, err := freeze.Freeze(a, mode)
				require.NoError(t, err)
				var wf *freeze.WriteFault
				select {
				case err = <-done:
				case <-time.After(30 * time.Second):
					t.Fatalf("round %d: a write to the last element never faulted after Freeze returned", round)
				}
				require.ErrorAs(t, err, &wf, "round %d", round)
				assert.Equal(t, a.Name(), wf.Region)
				if !vm.FaultPageOnly {
					assert.Equal(t, fmt.Sprintf("Point#%d.Y", len(pts)-1), wf.Path)
				}
				require.NoError(t, r.Wait())
				require.NoError(t, r.Verify(), "the baseline missed a write made before Freeze returned")
				// Twenty arenas of 1 GiB kept to the end did not fit under
				// an RLIMIT_AS of 8 GiB (ErrExhausted).
				require.NoError(t, r.Close())
			}
		})
	}
}

// ReadStats may be called while other goroutines freeze and close arenas
// (it is meant for monitoring): what it returns must be one state of the
// accounting, in which a frozen arena is also a live one and its frozen
// bytes are also mapped, never FrozenArenas above Arenas nor FrozenBytes
// above MappedBytes.
func TestReadStatsRacingFreezeAndCloseIsConsistent(t *testing.T) {
	var done atomic.Bool
	var cycles atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for ; !done.Load(); cycles.Add(1) {
			a, err := arena.NewArena(arena.WithName("stats"), arena.WithMaxBytes(1<<20))
			if !assert.NoError(t, err) {
				return
			}
			arena.MakeSlice[Point](a, 1000)
			r, err := freeze.Freeze(a, freeze.Protect)
			if !assert.NoError(t, err) {
				return
			}
			assert.NoError(t, r.Close())
		}
	})
	defer func() {
		done.Store(true)
		wg.Wait()
	}()
	// ReadStats counts the lines of /proc/self/maps, which under qemu-user
	// (make emulated, -short) takes a tenth of a second or more: 200 reads
	// took half a minute there, while the other goroutine ran 100,000 cycles.
	minReads := 200
	if testing.Short() {
		minReads = 20
	}
	for reads := 0; reads < minReads || cycles.Load() < 200; reads++ {
		s := arena.ReadStats()
		require.LessOrEqual(t, s.FrozenArenas, s.Arenas, "more frozen arenas than live ones: %+v", s)
		require.LessOrEqual(t, s.FrozenBytes, s.MappedBytes, "more bytes frozen than mapped: %+v", s)
	}
}

// Guard may resolve a fault at an address that another goroutine's
// NewArena is taking at that moment: a pointer kept past Close, into a
// range that left quarantine and is handed out again. The new arena is
// in the registry before NewArena has finished filling it in, so Guard
// must take what it needs of an arena that is not frozen from the
// registry alone. When it read the arena's range, the race detector saw
// that read race NewArena's write of it.
func TestGuardFaultInARangeANewArenaTakesReadsNothingUnfinished(t *testing.T) {
	defer arena.SetQuarantine(arena.SetQuarantine(0, 0)) // the range is reused at once
	const size = 64 << 10
	a, err := arena.NewArena(arena.WithName("first"), arena.WithMaxBytes(size))
	require.NoError(t, err)
	p := arena.New[Point](a)
	require.NoError(t, a.Close())

	// A fault at p, in the range no arena holds now, is a use after
	// Close that Guard cannot name; in the one the next NewArena takes
	// it is not the library's to explain: Guard passes it on, and read
	// recovers it.
	read := func() (faulted bool) {
		defer func() {
			if recover() != nil {
				faulted = true
			}
		}()
		var x int64
		err := freeze.Guard(func() { x = p.X })
		var uac *freeze.UseAfterClose
		if errors.As(err, &uac) && uac.Region == "" {
			return true
		}
		return x != 0
	}
	started, done := make(chan struct{}), make(chan int)
	go func() {
		close(started)
		faults := 0
		for range 20_000 {
			if read() {
				faults++
			}
		}
		done <- faults
	}()
	<-started
	// Nothing orders this NewArena before the reader's faults.
	b, err := arena.NewArena(arena.WithName("second"), arena.WithMaxBytes(size))
	require.NoError(t, err)
	faults := <-done
	defer func() { assert.NoError(t, b.Close()) }()
	require.Equal(t, 20_000, faults, "every read of the unmapped range faults")
	bp := arena.New[Point](b)
	require.Equal(t, unsafe.Pointer(p), unsafe.Pointer(bp), "the second arena did not take the first one's range")
}
