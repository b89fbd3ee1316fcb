// Command tour is the first thing to run: it freezes a configuration,
// catches a stray write and names the field, and shows Verify at work.
//
//	go run ./examples/tour
package main

import (
	"fmt"
	"os"

	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/fixture"
	"github.com/frozen-go/frozen/snapshot"
)

func main() {
	s, err := snapshot.Take(fixture.NewConfig(10_000), snapshot.WithName("config"))
	check(err)
	cfg := s.Value()
	fmt.Printf("snapshot %q: %d bytes, %s mode, %d upstreams\n", s.Name(), s.Size(), s.Region().Mode(), len(cfg.Upstreams))
	err = freeze.Guard(func() { cfg.Upstreams[3].Backends[2].Port = 1 })
	fmt.Println("stray write:", err)
	check(s.Verify())
	check(s.Close())
	fmt.Println("ok tour")
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "tour:", err)
		os.Exit(1)
	}
}
