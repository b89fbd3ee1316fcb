//go:build unix && !aix

package freeze_test

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
)

// Upstream is a backend in a load balancer's frozen configuration.
type Upstream struct {
	Host    string
	Port    uint16
	Healthy bool
}

func ExampleRegion_Checksum() {
	a, _ := arena.NewArena(arena.WithName("upstreams"))
	ups, _ := arena.Clone(a, []Upstream{{"10.0.0.1", 8080, true}})
	r, _ := freeze.Freeze(a, freeze.Alias)
	defer r.Close()

	// The checksum fingerprints the frozen bytes: stable while nothing
	// changes, different after a deliberate Update (Alias mode).
	before := r.Checksum()
	fmt.Println(before == r.Checksum())
	if err := freeze.Update(r, &ups[0], func(w *Upstream) { w.Port = 9090 }); err != nil {
		panic(err)
	}
	fmt.Println(before == r.Checksum(), r.Verify())
	// Output:
	// true
	// false <nil>
}

func ExampleRegion_Wait() {
	a, _ := arena.NewArena(arena.WithName("upstreams"))
	ups, _ := arena.Clone(a, []Upstream{{"10.0.0.1", 8080, true}})
	// Freeze returns once nothing can change the bytes (in Alias mode,
	// on Linux, its owner's mapping is read-only too) and takes the
	// baseline checksum in the background; Wait blocks until it is taken
	// (Verify, Checksum and Update wait too), and the owner's mapping is
	// then writable again.
	r, _ := freeze.Freeze(a, freeze.Alias)
	defer r.Close()
	if err := r.Wait(); err != nil {
		panic(err)
	}
	fmt.Println("baseline ready")
	ups[0].Port = 9090 // a stray write through the owner's mapping
	fmt.Println(r.Verify() != nil)
	// Output:
	// baseline ready
	// true
}

func ExampleRegion_Close() {
	a, _ := arena.NewArena(arena.WithName("upstreams"))
	arena.Clone(a, []Upstream{{"10.0.0.1", 8080, true}})
	r, _ := freeze.Freeze(a, freeze.Protect)

	// Close releases the region and its arena; it is idempotent.
	fmt.Println(r.Close(), r.Close())
	_, err := arena.Clone(a, Upstream{})
	fmt.Println(errors.Is(err, arena.ErrClosed))
	// Output:
	// <nil> <nil>
	// true
}

func ExampleRegion_Name() {
	a, _ := arena.NewArena(arena.WithName("upstreams-eu"))
	r, _ := freeze.Freeze(a, freeze.Protect)
	defer r.Close()
	fmt.Println(r.Name()) // the arena's name (arena.WithName)
	// Output: upstreams-eu
}

func ExampleRegion_Mode() {
	a, _ := arena.NewArena()
	r, _ := freeze.Freeze(a, freeze.Alias)
	defer r.Close()
	fmt.Println(r.Mode(), r.Mode() == freeze.Alias)
	// Output: Alias true
}

func ExampleRegion_Size() {
	a, _ := arena.NewArena()
	weights := arena.MakeSlice[uint32](a, 1000)
	r, _ := freeze.Freeze(a, freeze.Protect)
	defer r.Close()
	// Everything allocated in the arena is frozen.
	fmt.Println(len(weights), r.Size(), r.Size() == r.Arena().Len())
	// Output: 1000 4000 true
}

func ExampleWriteFault() {
	a, _ := arena.NewArena(arena.WithName("upstreams"))
	ups, _ := arena.Clone(a, []Upstream{{"10.0.0.1", 8080, true}, {"10.0.0.2", 8080, true}})
	r, _ := freeze.Freeze(a, freeze.Protect)
	defer r.Close()

	// A health checker marks a backend down in the frozen configuration
	// instead of in its own state.
	err := freeze.Guard(func() { ups[1].Healthy = false })
	var wf *freeze.WriteFault
	if errors.As(err, &wf) {
		fmt.Println(wf.Region, wf.Mode, wf.Path)
	}
	fmt.Println(ups[1].Healthy) // unchanged
	// Output:
	// upstreams Protect []Upstream[1].Healthy
	// true
}

func ExampleUseAfterClose() {
	a, _ := arena.NewArena(arena.WithName("upstreams"))
	ups, _ := arena.Clone(a, []Upstream{{"10.0.0.1", 8080, true}})
	r, _ := freeze.Freeze(a, freeze.Protect)
	first := &ups[0] // kept past Close: a bug
	r.Close()

	// The closed range stays inaccessible, so the read faults instead of
	// returning whatever reused the memory.
	err := freeze.Guard(func() { fmt.Println(first.Port) })
	var uac *freeze.UseAfterClose
	fmt.Println(errors.As(err, &uac), uac.Region, errors.Is(err, arena.ErrClosed))
	// Output: true upstreams true
}

func ExampleCorruptionError() {
	a, _ := arena.NewArena(arena.WithName("ports"))
	ports := arena.MakeSlice[uint16](a, 4)
	copy(ports, []uint16{80, 443, 8080, 8443})
	weights := arena.MakeSlice[float64](a, 4)
	copy(weights, []float64{1, 1, 0.5, 0.5})
	// (Typed allocations are laid out in the order they are made; a
	// Clone's objects follow their heap addresses, which vary from run to
	// run, so this example, whose output names offsets, allocates.)
	r, _ := freeze.Freeze(a, freeze.Protect)
	defer r.Close()
	r.Wait() // the baseline describes the bytes as frozen

	// Code that calls mprotect on the range itself (a C library, say) can
	// still write to a Protect region; Verify catches it and says where.
	p := unsafe.Pointer(&ports[2])
	size := uintptr(os.Getpagesize())
	page := unsafe.Slice((*byte)(unsafe.Add(p, -int(uintptr(p)%size))), size)
	if err := unix.Mprotect(page, unix.PROT_READ|unix.PROT_WRITE); err != nil {
		panic(err)
	}
	ports[2] = 9090
	_ = unix.Mprotect(page, unix.PROT_READ)

	err := r.Verify()
	var ce *freeze.CorruptionError
	fmt.Println(errors.As(err, &ce), ce.Region, ce.Mode, ce.Pages)
	fmt.Println(err) // each changed page, with the allocations it holds
	// Output:
	// true ports Protect [0]
	// freeze: region "ports" (Protect): 1 page changed since Freeze; page 0 [0x0, 0x28) holding uint16#0…3 ([4]uint16), float64#0…3 ([4]float64)
}

// Allocations lists what lies in a range of a region, with offset, size,
// type and path: all of a changed page's where a CorruptionError had more
// than eight to list (ChangedPage.More). Typed allocations of one type
// made back to back are one run, listed once, and numbered among all the
// arena's typed allocations of that type (the second uint32 is #1).
func ExampleRegion_Allocations() {
	a, _ := arena.NewArena(arena.WithName("limits"))
	for i := range 2 {
		*arena.New[uint32](a) = uint32(i)
		*arena.New[uint16](a) = uint16(i)
	}
	arena.MakeSlice[uint16](a, 3)
	*arena.New[uint16](a) = 443 // the run of ports grows
	r, _ := freeze.Freeze(a, freeze.Protect)
	defer r.Close()

	all, _ := r.Allocations(0, freeze.PageSize)
	for _, al := range all {
		fmt.Printf("%#x+%d %s %s\n", al.Offset, al.Size, al.Type, al.Path)
	}
	// Output:
	// 0x0+4 uint32 uint32#0
	// 0x4+2 uint16 uint16#0
	// 0x8+4 uint32 uint32#1
	// 0xc+10 [5]uint16 uint16#1…5
}

func ExampleRegion_Arena() {
	a, err := arena.NewArena(arena.WithName("upstreams"))
	if err != nil {
		panic(err)
	}
	u := arena.New[[4]uint16](a)
	u[0] = 8080
	r, err := freeze.Freeze(a, freeze.Protect)
	if err != nil {
		panic(err)
	}
	// The frozen arena still answers questions; what would write to it
	// panics with ErrFrozen, and closing it is closing the region.
	fmt.Println(r.Arena() == a, r.Arena().Name(), r.Arena().Len() == r.Size())
	func() {
		defer func() { fmt.Println(errors.Is(recover().(error), arena.ErrFrozen)) }()
		arena.New[uint64](r.Arena())
	}()
	fmt.Println(r.Arena().Close(), r.Verify() != nil)
	// Output:
	// true upstreams true
	// true
	// <nil> true
}

func ExampleMode_String() {
	for _, m := range []freeze.Mode{freeze.Protect, freeze.Alias, freeze.Seal, 9} {
		fmt.Print(m, " ")
	}
	fmt.Println()
	// Output: Protect Alias Seal Mode(9)
}

// Update is for Alias regions only; on a region of another mode it fails
// before running its function.
func Example_errNotAlias() {
	a, _ := arena.NewArena(arena.WithName("limits"))
	limits := arena.New[[2]int64](a)
	r, err := freeze.Freeze(a, freeze.Protect)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	err = freeze.Update(r, limits, func(l *[2]int64) { l[0] = 100 })
	fmt.Println(errors.Is(err, freeze.ErrNotAlias), limits[0])
	// Output: true 0
}

// ReadOnly and Update accept only pointers into the region.
func Example_errNotInRegion() {
	a, _ := arena.NewArena(arena.WithName("limits"))
	arena.New[[2]int64](a)
	r, err := freeze.Freeze(a, freeze.Alias)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	onHeap := new([2]int64)
	err = freeze.Update(r, onHeap, func(l *[2]int64) { l[0] = 100 })
	fmt.Println(errors.Is(err, freeze.ErrNotInRegion), onHeap[0])
	// Output: true 0
}

// Inside Update's function, the region may be read and verified but not
// updated again or closed.
func Example_errInsideUpdate() {
	a, _ := arena.NewArena(arena.WithName("limits"))
	limits := arena.New[[2]int64](a)
	r, err := freeze.Freeze(a, freeze.Alias)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	var inner error
	err = freeze.Update(r, limits, func(l *[2]int64) {
		l[0] = 100
		inner = r.Close()
	})
	fmt.Println(err, errors.Is(inner, freeze.ErrInsideUpdate))
	fmt.Println(freeze.ReadOnly(r, limits)[0], r.Verify())
	// Output:
	// <nil> true
	// 100 <nil>
}

// Checksums are kept per page of PageSize bytes, so a CorruptionError
// names pages, and an offset in the region lies on page offset/PageSize.
func Example_pageSize() {
	a, _ := arena.NewArena(arena.WithName("table"))
	arena.MakeSlice[byte](a, 3*freeze.PageSize+1)
	r, err := freeze.Freeze(a, freeze.Protect)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	pages := (r.Size() + freeze.PageSize - 1) / freeze.PageSize
	fmt.Println(freeze.PageSize, pages)
	// Output: 4096 4
}
