//go:build unix && !aix

package arena_test

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/frozen-go/frozen/arena"
)

func Example() {
	type Service struct {
		Name  string
		Ports []uint16
	}
	orig := &Service{Name: "api", Ports: []uint16{80, 443}}

	a, err := arena.NewArena(arena.WithName("services"))
	if err != nil {
		panic(err)
	}
	defer a.Close() // the copy is valid until Close
	before := a.Len()
	c, err := arena.Clone(a, orig) // a deep copy outside the Go heap
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Name, c.Ports, c != orig, reflect.DeepEqual(c, orig))
	fmt.Println(before, a.Len() > before)
	// Output:
	// api [80 443] true true
	// 0 true
}

func ExampleNewArena() {
	a, err := arena.NewArena(arena.WithName("scratch"), arena.WithMaxBytes(1<<20))
	if err != nil {
		panic(err)
	}
	defer a.Close()
	fmt.Println(a.Name(), a.Cap(), a.Len())
	// Output: scratch 1048576 0
}

func ExampleNew() {
	a, _ := arena.NewArena()
	defer a.Close()
	p := arena.New[Point](a) // zeroed, aligned, outside the Go heap
	p.X = 3
	fmt.Println(*p)
	// Output: {3 0}
}

func ExampleMakeSlice() {
	a, _ := arena.NewArena()
	defer a.Close()
	s := arena.MakeSlice[int64](a, 4)
	s[3] = 7
	fmt.Println(s, len(s), cap(s))
	// Output: [0 0 0 7] 4 4
}

func ExampleString() {
	a, _ := arena.NewArena()
	defer a.Close()
	fmt.Println(arena.String(a, "copied"), string(arena.Bytes(a, []byte("bytes"))))
	// Output: copied bytes
}

func ExampleBytes() {
	a, _ := arena.NewArena()
	defer a.Close()
	src := []byte("header")
	b := arena.Bytes(a, src) // a copy outside the Go heap, len == cap
	src[0] = 'H'
	fmt.Println(string(b), len(b), cap(b), arena.Bytes(a, nil) == nil, arena.Bytes(a, []byte{}) != nil)
	// Output: header 6 6 true true
}

func ExampleClone() {
	type Node struct {
		Name string
		Next *Node
	}
	ring := &Node{Name: "a"}
	ring.Next = &Node{Name: "b", Next: ring} // a cycle

	a, _ := arena.NewArena()
	defer a.Close()
	c, err := arena.Clone(a, ring)
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Name, c.Next.Name, c.Next.Next == c, c != ring)

	_, err = arena.Clone(a, struct{ Index map[string]int }{})
	fmt.Println(errors.Is(err, arena.ErrUnsupported))
	// Output:
	// a b true true
	// true
}

func ExampleReadStats() {
	before := arena.ReadStats()
	a, _ := arena.NewArena()
	arena.MakeSlice[byte](a, 100_000)
	mid := arena.ReadStats()
	a.Close()
	fmt.Println(mid.Arenas-before.Arenas, mid.MappedBytes-before.MappedBytes >= 100_000)
	// Output: 1 true
}

func ExampleWithMaxBytes() {
	a, _ := arena.NewArena(arena.WithMaxBytes(4096))
	defer a.Close()
	buf := arena.MakeSlice[byte](a, 4000) // fits
	_, err := arena.Clone(a, make([]byte, 1000))
	fmt.Println(len(buf), errors.Is(err, arena.ErrExhausted))
	// Output: 4000 true
}

func ExampleSetQuarantine() {
	// Drain the quarantine (a zero budget), then keep at most 1 GiB of
	// released address space in 256 ranges inaccessible before reusing
	// any of it; restore the previous budget afterwards.
	prevBytes, prevRanges := arena.SetQuarantine(0, 0)
	defer arena.SetQuarantine(prevBytes, prevRanges)
	arena.SetQuarantine(1<<30, 256)

	a, _ := arena.NewArena(arena.WithMaxBytes(1 << 20))
	arena.MakeSlice[byte](a, 1<<20)
	a.Close()
	// The closed arena's address range is kept inaccessible, holding no
	// memory, so a pointer kept past Close faults.
	s := arena.ReadStats()
	fmt.Println(s.QuarantinedRanges, s.QuarantinedBytes)
	// Output: 1 1048576
}
