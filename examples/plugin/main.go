// Command plugin is the problem frozen comes from: a host hands pointers to
// its data to plugins it does not trust, and wants the data read-only for
// them. The host freezes its arena in Alias mode: plugins get a second,
// read-only mapping of the same memory; the host keeps its writable one for
// deliberate updates, which the plugins see.
//
//	go run ./examples/plugin
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/examples/plugin/catalog"
	"github.com/frozen-go/frozen/examples/plugin/plugins"
	"github.com/frozen-go/frozen/freeze"
)

func main() {
	a, err := arena.NewArena(arena.WithName("catalog"))
	check(err)
	own, err := arena.Clone(a, &catalog.Catalog{
		Store: "Corner Shop", Currency: "EUR",
		Products: []catalog.Product{
			{SKU: "A-1", Name: "Kettle", Price: 2999, Stock: 12, Tags: []string{"kitchen"}},
			{SKU: "B-7", Name: "Lamp", Price: 4599, Stock: 3, Tags: []string{"sale"}},
			{SKU: "C-3", Name: "Chair", Price: 8900, Stock: 7, Tags: []string{"sale", "garden"}},
		},
	})
	check(err)
	r, err := freeze.Freeze(a, freeze.Alias)
	check(err)
	defer r.Close()
	view := freeze.ReadOnly(r, own) // what plugins get: every pointer in it is read-only

	fmt.Println("== plugins run on a read-only view")
	caught := runAll(view)

	fmt.Println("\n== the host updates a price through its own handle")
	check(freeze.Update(r, &view.Products[0], func(p *catalog.Product) { p.Price = 2499 }))
	fmt.Println("host: Kettle now costs 2499")
	runAll(view)

	check(r.Verify()) // the misbehaving plugin changed nothing
	fmt.Println("\nVerify: the catalogue is exactly what the host made it")
	if caught != 1 || view.Products[1].Price != 4599 || view.Products[0].Price != 2499 {
		fmt.Fprintln(os.Stderr, "plugin: unexpected result")
		os.Exit(1)
	}
	fmt.Println("ok plugin: one misbehaving plugin caught, the host's update seen by all")
}

// runAll runs every plugin under freeze.Guard and reports what each did.
func runAll(view *catalog.Catalog) (caught int) {
	for _, p := range plugins.All() {
		var out string
		err := freeze.Guard(func() { out = p.Run(view) })
		var wf *freeze.WriteFault
		switch {
		case errors.As(err, &wf):
			caught++
			fmt.Printf("%-10s REFUSED: tried to write field %s of %q\n", p.Name(), wf.Path, wf.Region)
		case err != nil:
			check(err)
		default:
			fmt.Printf("%-10s %s\n", p.Name(), out)
		}
	}
	return caught
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "plugin:", err)
		os.Exit(1)
	}
}
