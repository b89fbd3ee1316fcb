// Command inline calls arena.New, for TestNewIsInlined, which builds it
// with -gcflags=-m and looks for the compiler's report that the call was
// inlined.
package main

import "github.com/frozen-go/frozen/arena"

type point struct{ X, Y, Z, W int64 }

var sink *point

func main() {
	a, err := arena.NewArena()
	if err != nil {
		panic(err)
	}
	defer a.Close()
	sink = arena.New[point](a)
}
