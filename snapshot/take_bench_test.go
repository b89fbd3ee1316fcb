package snapshot_test

import (
	"fmt"
	"testing"

	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/snapshot"
)

type small struct {
	Name  string
	Ports []uint16
}

// BenchmarkTakeClose is the life cycle of one small snapshot.
func BenchmarkTakeClose(b *testing.B) {
	for _, m := range []freeze.Mode{freeze.Protect, freeze.Alias, freeze.Seal} {
		b.Run("mode="+m.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s, err := snapshot.Take(small{"svc", []uint16{80, 443}}, snapshot.WithMode(m))
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var sinkSmall small

// BenchmarkValue reads the frozen value: no allocation.
func BenchmarkValue(b *testing.B) {
	s, err := snapshot.Take(small{"svc", []uint16{80}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	for b.Loop() {
		sinkSmall = s.Value()
	}
}

// BenchmarkStoreRead reads a Store's current version from all cores.
func BenchmarkStoreRead(b *testing.B) {
	var st snapshot.Store[small]
	if _, err := st.Publish(small{"svc", []uint16{80}}); err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		n := 0
		for pb.Next() {
			st.Read(func(v small) { n += len(v.Ports) })
		}
		_ = n
	})
}

// table is a large value of few pointers: a lookup table's arrays.
type table struct {
	Name string
	Keys []uint64
	Vals []uint32
}

// BenchmarkTakeLarge takes a snapshot of a table of the given size in
// each mode: until Take returns (wait=no), and until Region.Wait returns
// too (wait=yes). Take returns with the baseline complete in every mode,
// so the two differ only by what a mode finishes in the background after
// it (see freeze.Region.Wait).
func BenchmarkTakeLarge(b *testing.B) {
	for _, mib := range []int{1, 64} {
		n := mib << 20 / 12
		v := table{Name: "table", Keys: make([]uint64, n), Vals: make([]uint32, n)}
		for i := range n {
			v.Keys[i], v.Vals[i] = uint64(i)*0x9e3779b97f4a7c15, uint32(i)
		}
		for _, m := range []freeze.Mode{freeze.Protect, freeze.Alias, freeze.Seal} {
			for _, wait := range []bool{false, true} {
				name := fmt.Sprintf("size=%dMiB/mode=%s/wait=%s", mib, m, map[bool]string{false: "no", true: "yes"}[wait])
				b.Run(name, func(b *testing.B) {
					b.SetBytes(int64(mib) << 20)
					for b.Loop() {
						s, err := snapshot.Take(v, snapshot.WithMode(m))
						if err != nil {
							b.Fatal(err)
						}
						if wait {
							if err := s.Region().Wait(); err != nil {
								b.Fatal(err)
							}
						}
						b.StopTimer()
						if err := s.Close(); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
					}
				})
			}
		}
	}
}
