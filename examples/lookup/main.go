// Command lookup builds a frozen lookup table of a million entries, serves
// lookups from it on every core, and compares it with a Go map holding the
// same entries: lookup time, memory, and what each costs the garbage
// collector. On the way, a stray write into a table's value is caught and
// named by the entry's key.
//
//	go run ./examples/lookup
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/snapshot"
)

// Route is what the table maps a 16-byte key (say, a session or device ID)
// to. It holds a string, so the table clones it next to the entries.
type Route struct {
	Shard   uint16
	Weight  uint16
	Backend string
}

// Plan is a value a table holds by pointer: every customer of a plan
// shares it, so a write through one Get's result would change it for all.
type Plan struct {
	RequestsPerSecond int
	Burst             int
}

const n = 1_000_000

func main() {
	keys := makeKeys(n)
	heapBefore := liveHeap()
	routes := make(map[string]Route, n)
	for i, k := range keys {
		routes[k] = Route{Shard: uint16(i % 512), Weight: uint16(i % 100), Backend: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)}
	}
	gcMap := gcTime() // the keys and the Go map
	mapBytes := liveHeap() - heapBefore

	heading("1. Build and freeze a table of a million entries")
	start := time.Now()
	table, err := snapshot.NewMap(maps.All(routes), snapshot.WithName("routes"))
	check(err)
	built := time.Since(start)
	fmt.Printf("%d entries in %s (%.0f ns per key), %s, %.1f MiB outside the Go heap, strategy %s\n",
		table.Len(), built.Round(time.Millisecond), float64(built.Nanoseconds())/n,
		table.Region().Mode(), float64(table.Size())/(1<<20), table.Strategy())
	fmt.Printf("the Go map of the same entries: %.1f MiB of Go heap, plus the %.1f MiB of key bytes it shares with the caller\n",
		float64(mapBytes)/(1<<20), float64(16*n)/(1<<20))

	heading("2. Serve lookups from every core, no locks")
	var wg sync.WaitGroup
	mismatches := make([]int, max(runtime.GOMAXPROCS(0), 2))
	for g := range mismatches {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 200_000 {
				k := keys[r.IntN(n)]
				got, ok := table.Get(k)
				if want := routes[k]; !ok || got != want {
					mismatches[g]++
				}
			}
		})
	}
	wg.Wait()
	for _, m := range mismatches {
		must(m == 0, "a lookup returned the wrong route")
	}
	_, ok := table.Get("no such key.....")
	must(!ok, "a missing key was found")
	fmt.Printf("%d lookups from %d goroutines: all match the Go map; a missing key is reported missing\n",
		200_000*len(mismatches), len(mismatches))

	heading("3. A stray write into a value is caught and named by its key")
	plans, err := snapshot.NewMap(maps.All(map[string]*Plan{
		"free": {RequestsPerSecond: 10, Burst: 20},
		"pro":  {RequestsPerSecond: 1000, Burst: 2000},
	}), snapshot.WithName("plans"))
	check(err)
	pro, ok := plans.Get("pro")
	must(ok, `plan "pro" is missing`)
	// A bug: one request doubles its own burst, on the plan every "pro"
	// customer shares.
	err = freeze.Guard(func() { pro.Burst *= 2 })
	var wf *freeze.WriteFault
	must(errors.As(err, &wf), "the stray write was not caught")
	if !wf.PageOnly { // a kernel that reports only the page names no field
		must(wf.Path == `Map[string,*Plan]["pro"].Burst`, "the write was named "+wf.Path)
	}
	must(pro.Burst == 2000, "the frozen plan changed")
	fmt.Println(err)
	check(plans.Close())

	heading("4. Lookup time, random keys (side by side, alternating rounds)")
	// The probes are copies of the keys, not the Go map's own key strings:
	// Go's string comparison returns equal without reading the bytes when
	// both strings share them, so probing with the very strings the Go map
	// stores would spare it reading its keys, while the frozen table always
	// compares with its own copy. A server gets its keys in fresh memory;
	// here one string built once holds the copies back to back, each probe
	// a 16-byte substring of it, and both maps get the same probes in the
	// same order.
	probe := make([]string, 1<<16)
	r := rand.New(rand.NewPCG(7, 7))
	var b strings.Builder
	b.Grow(16 * len(probe))
	for range probe {
		b.WriteString(keys[r.IntN(n)])
	}
	probeBytes := b.String()
	for i := range probe {
		probe[i] = probeBytes[16*i : 16*(i+1)]
	}
	frozenNs, mapNs := perOp(
		func(k string) bool { _, ok := table.Get(k); return ok },
		func(k string) bool { _, ok := routes[k]; return ok }, probe)
	fmt.Printf("frozen Get %5.1f ns    Go map %5.1f ns    (%.2fx)\n", frozenNs, mapNs, frozenNs/mapNs)
	fmt.Println("(the best of seven rounds each; on a shared machine one run can be off by a factor of two:")
	fmt.Println("bench/REPORT.md has repeated runs)")

	heading("5. What each costs the garbage collector")
	routes = nil
	heapFrozen := liveHeap()
	gcFrozen := gcTime() // the keys and the frozen table
	check(table.Verify())
	check(table.Close())
	heapNone := liveHeap()
	gcNone := gcTime() // only the keys (and the probes)
	// Times on a shared machine vary; what the collector has to scan does
	// not: the frozen table must hold next to nothing on the Go heap, and
	// the Go map must be gone (only the keys and the probes stay).
	tableHeap := heapFrozen - heapNone
	must(tableHeap < mapBytes/100, fmt.Sprintf("the frozen table kept %d bytes of Go heap live (the Go map %d)", tableHeap, mapBytes))
	must(heapNone-heapBefore < mapBytes/10, fmt.Sprintf("%d bytes more Go heap live than before the Go map was built (the map took %d)", heapNone-heapBefore, mapBytes))
	fmt.Printf("one forced runtime.GC() with 1e6 16-byte keys live, plus:\n")
	fmt.Printf("  nothing else      %8s\n", gcNone.Round(time.Microsecond))
	fmt.Printf("  the Go map        %8s  (%.1f MiB of Go heap to scan)\n", gcMap.Round(time.Microsecond), float64(mapBytes)/(1<<20))
	fmt.Printf("  the frozen table  %8s  (%.1f KiB of Go heap, its checksums and records, free of pointers)\n",
		gcFrozen.Round(time.Microsecond), float64(max(tableHeap, 0))/(1<<10))
	runtime.KeepAlive(keys)
	runtime.KeepAlive(probe)
	fmt.Printf("ok lookup: %d entries, Get %.1f ns vs Go map %.1f ns, GC %s vs %s\n",
		n, frozenNs, mapNs, gcFrozen.Round(time.Microsecond), gcMap.Round(time.Microsecond))
}

func makeKeys(n int) []string {
	r := rand.New(rand.NewPCG(1, 2))
	seen := make(map[string]bool, n)
	keys := make([]string, 0, n)
	var b [16]byte
	for len(keys) < n {
		binary.LittleEndian.PutUint64(b[:], r.Uint64())
		binary.LittleEndian.PutUint64(b[8:], r.Uint64())
		if k := string(b[:]); !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// perOp returns the mean time of one call of a and of b over the probe
// keys, each the best of seven rounds, a's and b's rounds alternating so
// that both meet the same moments of a shared machine.
func perOp(a, b func(string) bool, probe []string) (aNs, bNs float64) {
	round := func(get func(string) bool) time.Duration {
		start := time.Now()
		for _, k := range probe {
			if !get(k) {
				panic("a key was not found")
			}
		}
		return time.Since(start)
	}
	bestA, bestB := time.Duration(1<<62), time.Duration(1<<62)
	for range 7 {
		bestA = min(bestA, round(a))
		bestB = min(bestB, round(b))
	}
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(len(probe)) }
	return per(bestA), per(bestB)
}

// gcTime returns the fastest of five forced collections.
func gcTime() time.Duration {
	runtime.GC()
	best := time.Duration(1 << 62)
	for range 5 {
		start := time.Now()
		runtime.GC()
		best = min(best, time.Since(start))
	}
	return best
}

// liveHeap returns the bytes of live Go heap objects after a collection.
func liveHeap() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

func heading(s string) { fmt.Printf("\n== %s\n", s) }

func must(ok bool, msg string) {
	if !ok {
		fmt.Fprintln(os.Stderr, "lookup:", msg)
		os.Exit(1)
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "lookup:", err)
		os.Exit(1)
	}
}
