//go:build unix && !aix

package freeze_test

import (
	"errors"
	"fmt"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
)

type Route struct {
	Prefix  string
	Backend string
	Weight  int
}

func Example() {
	type Endpoint struct {
		Host string
		Port uint16
	}
	type Config struct {
		Name      string
		Endpoints []Endpoint
	}
	a, _ := arena.NewArena(arena.WithName("config"))
	cfg, _ := arena.Clone(a, &Config{"edge", []Endpoint{{"10.0.0.1", 80}, {"10.0.0.2", 443}}})
	r, err := freeze.Freeze(a, freeze.Protect) // read-only from here on
	if err != nil {
		panic(err)
	}
	defer r.Close()
	ro := freeze.ReadOnly(r, cfg) // what readers get, in every mode

	err = freeze.Guard(func() { ro.Endpoints[1].Port = 8443 }) // a stray write
	var wf *freeze.WriteFault
	fmt.Println(errors.As(err, &wf), wf.Region, wf.Mode, wf.Path)
	fmt.Println(ro.Endpoints[1].Port, r.Verify()) // unchanged; nil: not a byte changed
	// Output:
	// true config Protect *Config.Endpoints[1].Port
	// 443 <nil>
}

func ExampleFreeze() {
	a, err := arena.NewArena(arena.WithName("routes"))
	if err != nil {
		panic(err)
	}
	routes, err := arena.Clone(a, []Route{{"/api", "10.0.0.1", 3}, {"/static", "10.0.0.2", 1}})
	if err != nil {
		panic(err)
	}
	r, err := freeze.Freeze(a, freeze.Protect)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	fmt.Println(r.Name(), r.Mode(), len(routes), r.Verify())
	// Output: routes Protect 2 <nil>
}

func ExampleGuard() {
	a, _ := arena.NewArena(arena.WithName("routes"))
	routes, _ := arena.Clone(a, []Route{{"/api", "10.0.0.1", 3}, {"/static", "10.0.0.2", 1}})
	r, _ := freeze.Freeze(a, freeze.Protect)
	defer r.Close()

	err := freeze.Guard(func() {
		routes[1].Weight++ // a stray write, perhaps deep in a library
	})
	var wf *freeze.WriteFault
	if errors.As(err, &wf) {
		fmt.Printf("caught a write to %q, field %s\n", wf.Region, wf.Path)
	}
	fmt.Println(errors.Is(err, arena.ErrFrozen))
	// Output:
	// caught a write to "routes", field []Route[1].Weight
	// true
}

func ExampleReadOnly() {
	for _, mode := range []freeze.Mode{freeze.Protect, freeze.Alias} {
		a, _ := arena.NewArena(arena.WithName("routes"))
		routes, _ := arena.Clone(a, []Route{{"/api", "10.0.0.1", 3}})
		r, err := freeze.Freeze(a, mode)
		if err != nil {
			panic(err)
		}
		// In Protect (and Seal) mode the arena itself is read-only, so the
		// pointer comes back unchanged; in Alias mode readers get the same
		// object in the read-only view, and everything reachable from it
		// lies in that view too.
		view := freeze.ReadOnly(r, &routes[0])
		fmt.Println(mode, view == &routes[0], view.Backend)
		r.Close()
	}
	// Output:
	// Protect true 10.0.0.1
	// Alias false 10.0.0.1
}

func ExampleUpdate() {
	a, _ := arena.NewArena(arena.WithName("routes"))
	routes, _ := arena.Clone(a, []Route{{"/api", "10.0.0.1", 3}})
	r, _ := freeze.Freeze(a, freeze.Alias)
	defer r.Close()

	// Readers get the read-only view; the owner changes data with Update.
	view := freeze.ReadOnly(r, &routes[0])
	if err := freeze.Update(r, view, func(w *Route) { w.Weight = 5 }); err != nil {
		panic(err)
	}
	fmt.Println(view.Weight, r.Verify())

	// A write through the owner's mapping that bypasses Update is caught.
	routes[0].Weight = 6
	var ce *freeze.CorruptionError
	fmt.Println(errors.As(r.Verify(), &ce), len(ce.Pages))
	// Output:
	// 5 <nil>
	// true 1
}

func ExampleRegion_Verify() {
	a, _ := arena.NewArena(arena.WithName("table"))
	table := arena.MakeSlice[uint64](a, 1024)
	for i := range table {
		table[i] = uint64(i * i)
	}
	r, _ := freeze.Freeze(a, freeze.Alias)
	defer r.Close()
	fmt.Println(r.Verify())
	table[7] = 0 // the owner's mapping stays writable in Alias mode
	fmt.Println(r.Verify() != nil)
	// Output:
	// <nil>
	// true
}
