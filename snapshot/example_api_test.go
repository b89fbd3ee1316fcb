//go:build unix && !aix

package snapshot_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/snapshot"
)

// Flags is a set of feature flags, reloaded while serving.
type Flags struct {
	Version int
	Enabled []string
}

// Backend is where a route sends its requests.
type Backend struct {
	Addr      string
	TimeoutMS int
}

// routeTable is a small route table, keyed by path prefix.
var routeTable = map[string]Backend{
	"/api":    {"10.0.0.1:8080", 500},
	"/static": {"10.0.0.2:8080", 100},
	"/admin":  {"10.0.0.3:9000", 2000},
}

func ExampleWithName() {
	s, err := snapshot.Take(Flags{Version: 1, Enabled: []string{"search"}}, snapshot.WithName("flags"))
	if err != nil {
		panic(err)
	}
	defer s.Close()
	// The name is used in fault reports and Verify errors.
	err = freeze.Guard(func() { s.Pointer().Version = 2 })
	var wf *freeze.WriteFault
	fmt.Println(s.Name(), errors.As(err, &wf), wf.Region, wf.Path)
	// Output: flags true flags Flags.Version
}

func ExampleSnapshot_Value() {
	s, err := snapshot.Take(Flags{Version: 3, Enabled: []string{"search", "beta-ui"}})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	flags := s.Value() // no deep copy, no allocation: valid until Close
	// Frozen slices have len == cap, so append copies to the Go heap
	// instead of writing into frozen memory.
	mine := append(flags.Enabled, "dark-mode")
	fmt.Println(flags.Version, flags.Enabled, mine)
	// Output: 3 [search beta-ui] [search beta-ui dark-mode]
}

func ExampleSnapshot_Verify() {
	s, err := snapshot.Take(Flags{Version: 1, Enabled: []string{"search"}})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	// A periodic health check: nil means not a byte changed since Take.
	fmt.Println(s.Verify())
	// Output: <nil>
}

func ExampleStore_Publish() {
	var st snapshot.Store[Flags]
	defer st.Close()
	for v := 1; v <= 3; v++ {
		// Each reload publishes a new version; the replaced one is
		// released once its last reader has left.
		if _, err := st.Publish(Flags{Version: v}); err != nil {
			panic(err)
		}
	}
	st.Read(func(f Flags) { fmt.Println("current version", f.Version) })
	fmt.Printf("%+v\n", st.Stats())
	// Output:
	// current version 3
	// {Published:3 Released:2}
}

func ExampleStore_Read() {
	var st snapshot.Store[Flags]
	defer st.Close()
	st.Read(func(f Flags) { fmt.Println("before Publish:", f.Version, f.Enabled == nil) })
	if _, err := st.Publish(Flags{Version: 7, Enabled: []string{"search"}}); err != nil {
		panic(err)
	}
	// f is valid only inside the callback: copy out what must outlive it.
	var enabled []string
	st.Read(func(f Flags) { enabled = append([]string(nil), f.Enabled...) })
	fmt.Println(enabled)
	// Output:
	// before Publish: 0 true
	// [search]
}

func ExampleStore_Close() {
	var st snapshot.Store[Flags]
	if _, err := st.Publish(Flags{Version: 1}); err != nil {
		panic(err)
	}
	fmt.Println(st.Close(), st.Close()) // idempotent
	_, err := st.Publish(Flags{Version: 2})
	fmt.Println(errors.Is(err, arena.ErrClosed))
	st.Read(func(f Flags) { fmt.Println("after Close:", f.Version) }) // the zero value
	// Output:
	// <nil> <nil>
	// true
	// after Close: 0
}

func ExampleStore_Configure() {
	var st snapshot.Store[Flags]
	defer st.Close()
	st.Configure(snapshot.WithName("flags"), snapshot.WithMode(freeze.Protect))
	s, err := st.Publish(Flags{Version: 1})
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Name(), s.Region().Mode())
	// Output: flags Protect
}

func ExampleMap_Get() {
	routes, err := snapshot.NewMap(maps.All(routeTable), snapshot.WithName("routes"))
	if err != nil {
		panic(err)
	}
	defer routes.Close()
	if b, ok := routes.Get("/api"); ok {
		fmt.Println(b.Addr, b.TimeoutMS)
	}
	_, ok := routes.Get("/missing")
	fmt.Println(ok)
	// Output:
	// 10.0.0.1:8080 500
	// false
}

func ExampleMap_Len() {
	routes, err := snapshot.NewMap(maps.All(routeTable))
	if err != nil {
		panic(err)
	}
	defer routes.Close()
	fmt.Println(routes.Len())
	// Output: 3
}

func ExampleMap_Name() {
	routes, err := snapshot.NewMap(maps.All(routeTable), snapshot.WithName("routes"))
	if err != nil {
		panic(err)
	}
	defer routes.Close()
	plain, err := snapshot.NewMap(maps.All(routeTable))
	if err != nil {
		panic(err)
	}
	defer plain.Close()
	fmt.Println(routes.Name(), plain.Name())
	// Output: routes map
}

func ExampleMap_Strategy() {
	statusText := make([]string, 512) // indexed by HTTP status code
	statusText[200], statusText[404] = "OK", "Not Found"
	hosts := map[string]int{}
	for i := range 100 {
		hosts[fmt.Sprintf("host-%d.example.com", i)] = i
	}
	routes, _ := snapshot.NewMap(maps.All(routeTable)) // up to eight entries
	defer routes.Close()
	codes, _ := snapshot.NewMap(slices.All(statusText)) // dense integer keys
	defer codes.Close()
	byHost, _ := snapshot.NewMap(maps.All(hosts)) // anything else
	defer byHost.Close()
	fmt.Println(routes.Strategy(), codes.Strategy(), byHost.Strategy())
	// Output: tiny dense open-addressing
}

func ExampleMap_Verify() {
	routes, err := snapshot.NewMap(maps.All(routeTable))
	if err != nil {
		panic(err)
	}
	defer routes.Close()
	fmt.Println(routes.Verify()) // nil: not a byte changed since NewMap
	// Output: <nil>
}

// KeysIn maps offsets in a table's region back to its entries: the
// pages a Verify error names (each ChangedPage's Start and End), or the
// offset of a write freeze.Guard caught (fault.Offset, fault.Offset+1).
func ExampleMap_KeysIn() {
	routes, err := snapshot.NewMap(maps.All(routeTable))
	if err != nil {
		panic(err)
	}
	defer routes.Close()
	keys, _ := routes.KeysIn(0, uintptr(routes.Size())) // the whole table
	slices.Sort(keys)
	fmt.Println(keys)
	// Output: [/admin /api /static]
}

func ExampleMap_Close() {
	routes, err := snapshot.NewMap(maps.All(routeTable), snapshot.WithName("routes"))
	if err != nil {
		panic(err)
	}
	api, _ := routes.Get("/api")
	fmt.Println(api.Addr) // use results before Close
	fmt.Println(routes.Close(), routes.Close())

	// Get after Close panics with an error wrapping arena.ErrClosed.
	defer func() {
		err, _ := recover().(error)
		fmt.Println(errors.Is(err, arena.ErrClosed))
	}()
	routes.Get("/api")
	// Output:
	// 10.0.0.1:8080
	// <nil> <nil>
	// true
}

func ExampleSnapshot_Size() {
	s, err := snapshot.Take([4]int64{1, 2, 3, 4})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	// The bytes outside the Go heap that the frozen value takes.
	fmt.Println(s.Size(), s.Size() == s.Region().Size())
	// Output: 32 true
}

func ExampleMap_Size() {
	ids := make(map[uint64]int64, 100_000)
	for i := range uint64(100_000) {
		ids[i*0x9e3779b97f4a7c15] = int64(i)
	}
	m, err := snapshot.NewMap(maps.All(ids))
	if err != nil {
		panic(err)
	}
	defer m.Close()
	// Keys, values and index, outside the Go heap.
	fmt.Println(m.Size()/m.Len() < 32)
	// Output: true
}

func ExampleMap_Region() {
	routes, err := snapshot.NewMap(maps.All(routeTable), snapshot.WithName("routes"))
	if err != nil {
		panic(err)
	}
	defer routes.Close()
	// The frozen region behind the table: its name, mode and checksum.
	r := routes.Region()
	fmt.Println(r.Name(), r.Mode() == snapshot.DefaultMode(), r.Verify())
	// Output: routes true <nil>
}

// WithPermanent is for data that lives as long as the process, such as a
// table built once at start-up: its memory is msealed and can never be
// released. (No Output: the example is not run, as it would keep its memory
// for the rest of the test binary's life.)
func ExampleWithPermanent() {
	countries, err := snapshot.NewMap(maps.All(map[string]string{"DE": "Germany", "JP": "Japan"}),
		snapshot.WithName("countries"), snapshot.WithPermanent())
	if errors.Is(err, freeze.ErrModeUnsupported) {
		// No mseal (Linux before 6.10, or another system): build it
		// without the option instead.
		countries, err = snapshot.NewMap(maps.All(map[string]string{"DE": "Germany", "JP": "Japan"}),
			snapshot.WithName("countries"))
	}
	if err != nil {
		panic(err)
	}
	name, _ := countries.Get("JP")
	fmt.Println(name)
	fmt.Println(errors.Is(countries.Close(), freeze.ErrPermanent)) // true if msealed: it stays readable
}

func ExampleSnapshot_Name() {
	plain, err := snapshot.Take(Flags{Version: 1})
	if err != nil {
		panic(err)
	}
	defer plain.Close()
	named, err := snapshot.Take(Flags{Version: 2}, snapshot.WithName("flags-v2"))
	if err != nil {
		panic(err)
	}
	defer named.Close()
	// The default name, and one given with WithName; fault reports, Verify
	// errors and /proc/self/maps use it.
	fmt.Println(plain.Name(), named.Name())
	// Output: snapshot flags-v2
}

func ExampleSnapshot_Pointer() {
	s, err := snapshot.Take([1024]int64{0: 7, 1023: 9})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	// Pointer hands out the frozen value itself, without copying its 8 KiB
	// the way Value would; writing through it faults.
	p := s.Pointer()
	fmt.Println(p[0], p[1023])
	err = freeze.Guard(func() { p[3] = 1 })
	var wf *freeze.WriteFault
	fmt.Println(errors.As(err, &wf), wf.Path)
	// Output:
	// 7 9
	// true [1024]int64[3]
}

func ExampleSnapshot_Region() {
	s, err := snapshot.Take(Flags{Version: 1, Enabled: []string{"search"}}, snapshot.WithMode(freeze.Protect))
	if err != nil {
		panic(err)
	}
	defer s.Close()
	// The region behind the snapshot: its mode, size and checksum.
	r := s.Region()
	fmt.Println(r.Mode(), r.Size() == s.Size(), r.Checksum() != 0)
	// Output: Protect true true
}

func ExampleStore_Stats() {
	var st snapshot.Store[Flags]
	defer st.Close()
	// A reader holds version 1 while version 2 replaces it: version 1 is
	// released only when that reader leaves.
	if _, err := st.Publish(Flags{Version: 1}); err != nil {
		panic(err)
	}
	st.Read(func(Flags) {
		if _, err := st.Publish(Flags{Version: 2}); err != nil {
			panic(err)
		}
		fmt.Printf("inside Read: %+v\n", st.Stats())
	})
	fmt.Printf("after Read:  %+v\n", st.Stats())
	// Output:
	// inside Read: {Published:2 Released:0}
	// after Read:  {Published:2 Released:1}
}

// A Store owns the versions it publishes: it closes each one when no
// reader holds it any more, and refuses to let anyone else close it.
func Example_errOwnedByStore() {
	var st snapshot.Store[Flags]
	defer st.Close()
	s, err := st.Publish(Flags{Version: 1, Enabled: []string{"search"}})
	if err != nil {
		panic(err)
	}
	err = s.Close()
	fmt.Println(errors.Is(err, snapshot.ErrOwnedByStore))
	st.Read(func(f Flags) { fmt.Println(f.Version, f.Enabled) }) // still served
	// Output:
	// true
	// 1 [search]
}
