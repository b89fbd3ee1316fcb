//go:build unix && !aix

package freeze_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
)

// BenchmarkUpdateOneElement changes one element of a large frozen slice
// of structs that hold pointers (strings): Update checks the pointer words
// of that element and rehashes its page, whatever the slice's length;
// only the root checksum, over one 8-byte sum per page, grows with it.
//
//	go test -run '^$' -bench UpdateOneElement ./freeze/
func BenchmarkUpdateOneElement(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("elements=%d", n), func(b *testing.B) {
			a := newArena(b)
			eps := make([]Endpoint, n)
			for i := range eps {
				eps[i] = Endpoint{Host: "h", Port: uint16(i)}
			}
			c, err := arena.Clone(a, &Config{Endpoints: eps})
			require.NoError(b, err)
			r, err := freeze.Freeze(a, freeze.Alias)
			require.NoError(b, err)
			ro := freeze.ReadOnly(r, c)
			mid := &ro.Endpoints[n/2]
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := freeze.Update(r, mid, func(w *Endpoint) { w.Port = uint16(i) }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
