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
	"strings"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/examples/plugin/catalog"
	"github.com/frozen-go/frozen/examples/plugin/plugins"
	"github.com/frozen-go/frozen/freeze"
)

// The Kettle's price when the catalogue is made, and after the host's
// update: the report plugin must read each in its round.
const (
	kettlePrice = 2999
	newPrice    = 2499
)

func main() {
	a, err := arena.NewArena(arena.WithName("catalog"))
	check(err)
	own, err := arena.Clone(a, &catalog.Catalog{
		Store: "Corner Shop", Currency: "EUR",
		Products: []catalog.Product{
			{SKU: "A-1", Name: "Kettle", Price: kettlePrice, Stock: 12, Tags: []string{"kitchen"}},
			{SKU: "B-7", Name: "Lamp", Price: 4599, Stock: 3, Tags: []string{"sale"}},
			{SKU: "C-3", Name: "Chair", Price: 8900, Stock: 7, Tags: []string{"sale", "garden"}},
		},
	})
	check(err)
	r, err := freeze.Freeze(a, freeze.Alias)
	check(err)
	// The host's own mapping is read-only until Freeze's baseline checksum
	// is taken, in the background; from then on, only plugins are refused.
	check(r.Wait())
	view := freeze.ReadOnly(r, own) // what plugins get: every pointer in it is read-only

	fmt.Println("== plugins run on a read-only view")
	checkRound(runAll(view), kettlePrice)

	fmt.Println("\n== the host updates a price through its own handle")
	check(freeze.Update(r, &own.Products[0], func(p *catalog.Product) { p.Price = newPrice }))
	fmt.Printf("host: Kettle now costs %d\n", newPrice)
	checkRound(runAll(view), newPrice)

	check(r.Verify()) // the misbehaving plugins changed nothing
	fmt.Println("\nVerify: the catalogue is exactly what the host made it")
	if view.Products[1].Price != 4599 || view.Products[0].Price != newPrice || view.Currency != "EUR" {
		fail("the catalogue is not what the host made it")
	}
	check(r.Close())
	fmt.Println("ok plugin: the misbehaving plugins caught at their writes in every round, the host's update seen through the plugins' view")
}

// misbehaving names the plugins that write to the catalogue and the field
// each one's first write is to (Discount lowers the price of the first
// product tagged "sale", the Lamp; Convert relabels the catalogue's
// currency, a field of the struct the view points to itself); every other
// plugin must run to its end.
var misbehaving = map[string]string{
	"discount": "*Catalog.Products[1].Price",
	"convert":  "*Catalog.Currency",
}

// result is what one plugin did in one round: its output if it ran to the
// end, or the write that stopped it.
type result struct {
	name  string
	out   string
	fault *freeze.WriteFault
}

// runAll runs every plugin under freeze.Guard and reports what each did.
func runAll(view *catalog.Catalog) []result {
	var results []result
	for _, p := range plugins.All() {
		res := result{name: p.Name()}
		err := freeze.Guard(func() { res.out = p.Run(view) })
		switch {
		case errors.As(err, &res.fault):
			fmt.Printf("%-10s REFUSED: tried to write field %s of %q\n", res.name, res.fault.Path, res.fault.Region)
		case err != nil:
			check(err)
		default:
			fmt.Printf("%-10s %s\n", res.name, res.out)
		}
		results = append(results, res)
	}
	return results
}

// checkRound fails unless every misbehaving plugin was stopped at the write
// to its expected field of the host's catalogue, every other plugin ran to
// its end, and the report plugin read price as the first product's price.
func checkRound(results []result, price int) {
	refused, sawPrice := 0, false
	for _, res := range results {
		want, bad := misbehaving[res.name]
		switch {
		case bad && res.fault == nil:
			fail(res.name + ": its write was not caught")
		case bad && (res.fault.Path != want || res.fault.Region != "catalog"):
			fail(fmt.Sprintf("%s: caught writing %s of %q, want %s of \"catalog\"", res.name, res.fault.Path, res.fault.Region, want))
		case bad:
			refused++
		case res.fault != nil:
			fail(res.name + ": a read-only plugin was refused a write: " + res.fault.Error())
		}
		if res.name == "report" {
			wantEnd := fmt.Sprintf("first price %d", price)
			if !strings.HasSuffix(res.out, wantEnd) {
				fail(fmt.Sprintf("report: got %q, want it to end %q (the host's price)", res.out, wantEnd))
			}
			sawPrice = true
		}
	}
	if refused != len(misbehaving) || !sawPrice {
		fail(fmt.Sprintf("%d of %d misbehaving plugins refused, report ran: %t", refused, len(misbehaving), sawPrice))
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "plugin:", msg)
	os.Exit(1)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "plugin:", err)
		os.Exit(1)
	}
}
