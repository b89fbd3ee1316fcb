//go:build unix && !aix && !goexperiment.cgocheck2

// The example here stores a Go heap pointer into arena memory, which is
// what GOEXPERIMENT=cgocheck2 aborts on (that run of the suite leaves it
// out).

package freeze_test

import (
	"errors"
	"fmt"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
)

// hop is a link of a route, for ExampleStepError.
type hop struct {
	Addr string
	Next *hop
}

// A failed Freeze returns a *StepError naming the step that failed; every
// earlier step has been undone, so the arena is as it was and can be
// frozen again once the cause is mended (or in another mode, where a
// platform lacks what this one needs: without memfd seals, Seal fails at
// step "probe"). Here a pointer into the Go heap was stored into a clone.
func ExampleStepError() {
	a, _ := arena.NewArena(arena.WithName("route"))
	defer a.Close()
	first, _ := arena.Clone(a, &hop{Addr: "10.0.0.1"})
	first.Next = &hop{Addr: "10.0.0.2"} // a Go heap pointer, refused
	_, err := freeze.Freeze(a, freeze.Protect)
	var se *freeze.StepError
	if errors.As(err, &se) {
		fmt.Println(se.Step, errors.Is(err, arena.ErrForeignPointer), se.Rollback)
		first.Next, _ = arena.Clone(a, first.Next) // mended: a clone in the arena
	}
	r, err := freeze.Freeze(a, freeze.Protect)
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Mode(), freeze.ReadOnly(r, first).Next.Addr)
	// Output:
	// validate true <nil>
	// Protect 10.0.0.2
}
