// Command straywrite debugs a classic aliasing bug with frozen.
//
// A service keeps a shared table of tax rates. A helper returns the rates
// of a region as a sub-slice of the table: no copy, it aliases the shared
// data. Much later, report code sorts "its" slice in place to show the
// highest rates first, and silently reorders the shared table under every
// other goroutine. On the heap the bug shows up, if at all, as wrong
// answers far away. Frozen, the first write faults and Guard names the
// table, the field and the line.
//
//	go run ./examples/straywrite
package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/snapshot"
)

// Table is the shared table of rates, grouped by region.
type Table struct {
	Rates   []Rate
	Regions []Span // Regions[i] is where region i's rates are in Rates
}

// Rate is a tax rate.
type Rate struct {
	Code  string
	Basis int // basis points
}

// Span is a range of Rates.
type Span struct {
	Region   string
	From, To int
}

func newTable() *Table {
	return &Table{
		Rates: []Rate{
			{"DE-food", 700}, {"DE-std", 1900}, {"DE-books", 700},
			{"FR-food", 550}, {"FR-std", 2000}, {"FR-books", 550},
		},
		Regions: []Span{{"DE", 0, 3}, {"FR", 3, 6}},
	}
}

// ratesOf returns a region's rates. The bug starts here: the sub-slice
// aliases the shared table instead of copying it.
func ratesOf(t *Table, region string) []Rate {
	for _, s := range t.Regions {
		if s.Region == region {
			return t.Rates[s.From:s.To]
		}
	}
	return nil
}

// topRates is report code written much later, by someone else: it sorts
// "its" slice in place.
func topRates(t *Table, region string) []string {
	rates := ratesOf(t, region)
	slices.SortFunc(rates, func(a, b Rate) int { return b.Basis - a.Basis })
	var out []string
	for _, r := range rates {
		out = append(out, fmt.Sprintf("%s %d.%02d%%", r.Code, r.Basis/100, r.Basis%100))
	}
	return out
}

// foodRate is what the rest of the service does: the first rate of a region
// is its food rate (a layout the table's author documented).
func foodRate(t *Table, region string) Rate { return ratesOf(t, region)[0] }

func main() {
	fmt.Println("== on the heap: the bug is silent")
	heap := newTable()
	fmt.Println("food rate DE before the report:", foodRate(heap, "DE"))
	fmt.Println("report:", strings.Join(topRates(heap, "DE"), ", "))
	after := foodRate(heap, "DE")
	if after.Code == "DE-food" {
		fmt.Fprintln(os.Stderr, "straywrite: the report left the heap table as it was: there is no bug to show")
		os.Exit(1)
	}
	fmt.Println("food rate DE after the report: ", after, " <- wrong, and nothing said so")

	fmt.Println("\n== frozen: the first write is caught and named")
	s, err := snapshot.Take(newTable(), snapshot.WithName("tax-rates"))
	check(err)
	table := s.Value()
	err = freeze.Guard(func() { topRates(table, "DE") })
	var wf *freeze.WriteFault
	if !errors.As(err, &wf) {
		fmt.Fprintln(os.Stderr, "straywrite: the write was not caught:", err)
		os.Exit(1)
	}
	fmt.Println(err)
	fmt.Println("written by:")
	culprit := false // the report's own code is on the stack
	for _, f := range wf.Stack {
		fmt.Println("   ", trimPath(f))
		culprit = culprit || strings.HasPrefix(f, "main.topRates ")
	}
	check(s.Verify())
	fmt.Println("food rate DE is still:", foodRate(table, "DE"))
	if foodRate(table, "DE").Code != "DE-food" || !strings.HasPrefix(wf.Path, "*Table.Rates[") || !culprit {
		fmt.Fprintln(os.Stderr, "straywrite: unexpected result (or main.topRates missing from the stack)")
		os.Exit(1)
	}
	check(s.Close())
	fmt.Println("ok straywrite: the in-place sort of an aliased slice was caught at", wf.Path)
}

// trimPath shortens "pkg.F (/long/path/file.go:12)" to "pkg.F (file.go:12)".
func trimPath(frame string) string {
	open := strings.LastIndexByte(frame, '(')
	slash := strings.LastIndexByte(frame, '/')
	if open < 0 || slash < open {
		return frame
	}
	return frame[:open+1] + frame[slash+1:]
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "straywrite:", err)
		os.Exit(1)
	}
}
