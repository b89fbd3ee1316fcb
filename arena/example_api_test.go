//go:build unix && !aix

package arena_test

import (
	"errors"
	"fmt"

	"github.com/frozen-go/frozen/arena"
)

func ExampleWithName() {
	// The name shows up in errors, fault reports and /proc/self/maps,
	// so that a failure says which arena it came from.
	a, err := arena.NewArena(arena.WithName("geoip"), arena.WithMaxBytes(4096))
	if err != nil {
		panic(err)
	}
	defer a.Close()
	_, err = arena.Clone(a, [8192]byte{})
	fmt.Println(err)
	// Output: arena: exhausted: arena "geoip": 8192 bytes needed, 4096 allowed (raise WithMaxBytes)
}

func ExampleArena_Close() {
	a, _ := arena.NewArena(arena.WithName("request"))
	greeting := arena.String(a, "hello")
	fmt.Println(greeting)

	// Close releases the memory; values read out of the arena must not be
	// used afterwards, and the arena accepts no more allocations.
	fmt.Println(a.Close(), a.Close()) // idempotent
	_, err := arena.Clone(a, "again")
	fmt.Println(errors.Is(err, arena.ErrClosed))
	// Output:
	// hello
	// <nil> <nil>
	// true
}

func ExampleArena_Len() {
	a, _ := arena.NewArena()
	defer a.Close()
	fmt.Println(a.Len())
	arena.New[byte](a)
	fmt.Println(a.Len())
	arena.New[uint32](a) // aligned to 4 bytes: Len counts the padding
	fmt.Println(a.Len())
	// Output:
	// 0
	// 1
	// 8
}

func ExampleArena_Cap() {
	small, _ := arena.NewArena(arena.WithMaxBytes(64 << 10))
	defer small.Close()
	def, _ := arena.NewArena() // DefaultMaxBytes of address space, no memory yet
	defer def.Close()
	fmt.Println(small.Cap(), def.Cap() == arena.DefaultMaxBytes)
	// Output: 65536 true
}

func ExampleArena_Name() {
	named, _ := arena.NewArena(arena.WithName("sessions"))
	defer named.Close()
	unnamed, _ := arena.NewArena()
	defer unnamed.Close()
	fmt.Println(named.Name(), unnamed.Name())
	// Output: sessions arena
}

func Example_errInvalidSize() {
	a, _ := arena.NewArena(arena.WithName("sizes"))
	defer a.Close()
	n := -1 // a length computed from bad input
	err := func() (err error) {
		defer func() { err, _ = recover().(error) }()
		arena.MakeSlice[uint32](a, n)
		return nil
	}()
	fmt.Println(errors.Is(err, arena.ErrInvalidSize))
	_, err = arena.NewArena(arena.WithMaxBytes(0)) // 0 is not "unlimited"
	fmt.Println(errors.Is(err, arena.ErrInvalidSize))
	// Output:
	// true
	// true
}
