// Command inline calls snapshot.Map.Get, for TestMapGetIsInlined, which
// builds it with -gcflags=-m and looks for the compiler's report that the
// call was inlined.
package main

import (
	"maps"

	"github.com/frozen-go/frozen/snapshot"
)

var sink uint64

func main() {
	m, err := snapshot.NewMap(maps.All(map[uint64]uint64{1: 2}))
	if err != nil {
		panic(err)
	}
	defer m.Close()
	v, _ := m.Get(1)
	sink = v
}
