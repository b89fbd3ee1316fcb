package bench

import (
	"encoding/json"
	"testing"

	"github.com/huandu/go-clone"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/fixture"
	"github.com/frozen-go/frozen/snapshot"
)

// acyclicConfig is the config-like graph of about 10,000 objects that the
// library's own benchmarks use, with its two cycles cut so that every
// peer, JSON included, can copy it.
func acyclicConfig() *fixture.Config {
	c := fixture.NewConfig(10_000)
	for _, u := range c.Upstreams {
		u.Fallback = nil
	}
	for _, u := range c.Users {
		u.Boss = nil
	}
	return c
}

var sinkConfig *fixture.Config

// BenchmarkTake makes an immutable copy of a config-like pointer graph:
// snapshot.Take in each mode (clone off the heap, freeze, baseline
// checksum; Alias also relocates the graph to its read-only view) and the
// snapshot's Close, against go-clone's deep copy (plain, and Slowly, its
// cycle-safe mode that keeps shared pointers shared, as Take does) and a
// JSON round trip (which loses sharing and interface types), whose
// collections, which their allocations set off, are timed likewise.
func BenchmarkTake(b *testing.B) {
	c := acyclicConfig()
	for _, m := range []freeze.Mode{freeze.Seal, freeze.Protect, freeze.Alias} {
		b.Run("impl=take-"+m.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s, err := snapshot.Take(c, snapshot.WithMode(m))
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Region().Wait(); err != nil {
					b.Fatal(err)
				}
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("impl=go-clone", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkConfig = clone.Clone(c).(*fixture.Config)
		}
	})
	b.Run("impl=go-clone-slowly", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkConfig = clone.Slowly(c).(*fixture.Config)
		}
	})
	b.Run("impl=json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			data, err := json.Marshal(c)
			if err != nil {
				b.Fatal(err)
			}
			var out fixture.Config
			if err := json.Unmarshal(data, &out); err != nil {
				b.Fatal(err)
			}
			sinkConfig = &out
		}
	})
	sinkConfig = nil
}

// BenchmarkClone copies the config-like graph, cycles included, into fresh
// memory: arena.Clone against go-clone's cycle-safe Slowly, the only
// go-clone mode that copies this graph at all. Every clone writes memory
// the arena never used before, and so pays first-touch page faults, where
// go-clone mostly reuses memory the collector freed, and pays the
// collections its allocations set off. "arena.Clone" fills one arena with
// 64 clones before replacing it (NewArena, and Close of the full arena,
// timed: a 64th of it a clone); "arena.Clone-fresh" times a new arena for
// every clone, and the Close of the one before: the difference between
// the two rows is what making and releasing an arena for each clone adds.
func BenchmarkClone(b *testing.B) {
	c := fixture.NewConfig(10_000)
	for _, per := range []int{64, 1} {
		name := "impl=arena.Clone"
		if per == 1 {
			name += "-fresh"
		}
		b.Run(name, func(b *testing.B) {
			var a *arena.Arena
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i%per == 0 {
					if a != nil {
						if err := a.Close(); err != nil {
							b.Fatal(err)
						}
					}
					var err error
					if a, err = arena.NewArena(); err != nil {
						b.Fatal(err)
					}
				}
				i++
				var err error
				if sinkConfig, err = arena.Clone(a, c); err != nil {
					b.Fatal(err)
				}
			}
			sinkConfig = nil
			a.Close()
		})
	}
	b.Run("impl=go-clone-slowly", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkConfig = clone.Slowly(c).(*fixture.Config)
		}
	})
	sinkConfig = nil
}
