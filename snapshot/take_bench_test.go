package snapshot_test

import (
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
