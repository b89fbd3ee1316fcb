package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// render writes the report of in, a run with count 1 unless in says
// otherwise, with its plots in a temporary directory.
func render(t *testing.T, in string) string {
	t.Helper()
	return renderPlots(t, in, t.TempDir())
}

// renderPlots is render with the plots in plotDir.
func renderPlots(t *testing.T, in, plotDir string) string {
	t.Helper()
	if !strings.Contains(in, "count:") {
		in = "count: 1\n" + in
	}
	d, err := read(strings.NewReader(in), "bench.txt")
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	r := &report{d: d, w: w, plotDir: plotDir, plotRel: "plots", in: "bench.txt"}
	if err := r.write(); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// goalRow returns the row of the goals table whose first column begins
// with what, split into its four columns.
func goalRow(t *testing.T, report, what string) (goal, target, measured, verdict string) {
	t.Helper()
	for l := range strings.SplitSeq(report, "\n") {
		if strings.HasPrefix(l, "| "+what) {
			cols := strings.Split(strings.Trim(l, "| "), " | ")
			if len(cols) != 4 {
				t.Fatalf("goal row with %d columns: %s", len(cols), l)
			}
			return cols[0], cols[1], cols[2], cols[3]
		}
	}
	t.Fatalf("no goal row for %q in:\n%s", what, report)
	return
}

// mapGet returns the MapGet results of every size of its goal, for both
// key types, hits and misses, with frozen taking ratio of gomap's time,
// except those skip rejects.
func mapGet(ratio float64, skip func(key, n, op, impl string) bool) string {
	var b strings.Builder
	for _, k := range []string{"string16", "uint64"} {
		for _, n := range []string{"1000", "100000", "1000000", "10000000"} {
			for _, op := range []string{"hit", "miss"} {
				for impl, ns := range map[string]float64{"frozen": 100 * ratio, "gomap": 100} {
					if skip == nil || !skip(k, n, op, impl) {
						fmt.Fprintf(&b, "BenchmarkMapGet/key=%s/n=%s/op=%s/impl=%s-2 100 %g ns/op\n", k, n, op, impl, ns)
					}
				}
			}
		}
	}
	return b.String()
}

// lines repeats a result line n times, as go test -count n writes it.
func lines(n int, line string) string {
	return strings.Repeat(line+"\n", n)
}

// readErr reads in and returns the error read gives, failing the test
// when there is none.
func readErr(t *testing.T, in string) error {
	t.Helper()
	_, err := read(strings.NewReader(in), "bench.txt")
	if err == nil {
		t.Fatalf("read accepted:\n%s", in)
	}
	return err
}

// A series with more results than the run's count (lines repeated, or
// appended from another run) is refused, not pooled into one median.
func TestReadRefusesMoreResultsThanCount(t *testing.T) {
	in := "count: 5\n" +
		lines(5, "BenchmarkAlloc/impl=arena.New-2 100 6.1 ns/op 0 B/op 0 allocs/op") +
		lines(5, "BenchmarkAlloc/impl=new-2 100 44 ns/op 32 B/op 1 allocs/op") +
		lines(6, "BenchmarkAlloc/impl=arena.New-2 100 4.0 ns/op 0 B/op 0 allocs/op")
	err := readErr(t, in)
	if !strings.Contains(err.Error(), "BenchmarkAlloc/impl=arena.New has 11") || strings.Contains(err.Error(), "impl=new") {
		t.Errorf("the error does not name the series with 11 results alone: %v", err)
	}
}

// Two whole runs in one file double every series.
func TestReadRefusesConcatenatedRuns(t *testing.T) {
	run := "count: 2\n" + lines(2, "BenchmarkClone/impl=arena.Clone-2 100 2100000 ns/op")
	readErr(t, run+"\n"+run)
}

// A run cut short leaves series with fewer results than its count; its
// medians would be those of other repetitions than the rest's.
func TestReadRefusesFewerResultsThanCount(t *testing.T) {
	in := "count: 5\n" +
		lines(5, "BenchmarkClone/impl=go-clone-slowly-2 100 4190000 ns/op") +
		lines(3, "BenchmarkClone/impl=arena.Clone-2 100 2100000 ns/op")
	if err := readErr(t, in); !strings.Contains(err.Error(), "BenchmarkClone/impl=arena.Clone has 3") {
		t.Errorf("the error does not name the short series: %v", err)
	}
}

// Without a count the repetitions cannot be checked.
func TestReadRefusesMissingCount(t *testing.T) {
	readErr(t, lines(5, "BenchmarkClone/impl=arena.Clone-2 100 2100000 ns/op"))
}

// Results at different GOMAXPROCS come from different runs (or go test
// -cpu) and are refused, whether the series would share a median or not.
func TestReadRefusesMixedGOMAXPROCS(t *testing.T) {
	for _, in := range []string{
		"BenchmarkAlloc/impl=arena.New 100 3.0 ns/op\nBenchmarkAlloc/impl=arena.New-2 100 9.0 ns/op\n",
		"BenchmarkAlloc/impl=arena.New-1 100 3.0 ns/op\nBenchmarkAlloc/impl=arena.New 100 9.0 ns/op\n",
		"BenchmarkAlloc/impl=new-2 100 44 ns/op\nBenchmarkAlloc/impl=arena.New-4 100 9.0 ns/op\n",
	} {
		if err := readErr(t, "count: 1\n"+in); !strings.Contains(err.Error(), "GOMAXPROCS") {
			t.Errorf("the error does not say why: %v", err)
		}
	}
}

// The committed run's shape, count results of every series at one
// GOMAXPROCS, is read.
func TestReadAcceptsCompleteRun(t *testing.T) {
	in := "count: 2\nmode: quick\n" +
		lines(2, "BenchmarkAlloc/impl=arena.New-2 100 6.1 ns/op 0 B/op 0 allocs/op") +
		lines(2, "BenchmarkAlloc/impl=new-2 100 44 ns/op 32 B/op 1 allocs/op")
	d, err := read(strings.NewReader(in), "bench.txt")
	if err != nil {
		t.Fatal(err)
	}
	if got := d.get("Alloc", "", "arena.New", "ns/op").med; got != 6.1 {
		t.Errorf("arena.New's median is %v, want 6.1", got)
	}
}

// A run in which a benchmark failed or panicked is refused, with the line
// that says so, even where every series it left has count results.
func TestReadRefusesFailedRun(t *testing.T) {
	ok := "count: 1\nBenchmarkClone/impl=arena.Clone-2 100 2100000 ns/op\n"
	for _, tail := range []string{
		"--- FAIL: BenchmarkClone/impl=go-clone-slowly-2\n    take_test.go:99: clone differs\n",
		"    --- FAIL: BenchmarkTake/impl=json-2\nFAIL\nexit status 1\nFAIL\tgithub.com/frozen-go/frozen/bench\t12.0s\n",
		"panic: runtime error: index out of range [3] with length 3\n\ngoroutine 7 [running]:\n",
		"fatal error: out of memory\n",
	} {
		err := readErr(t, ok+tail)
		if first, _, _ := strings.Cut(strings.TrimSpace(tail), "\n"); !strings.Contains(err.Error(), "bench.txt:3: the benchmark run failed ("+first+")") {
			t.Errorf("the error does not name line 3 and what it says: %v", err)
		}
	}
}

// A duration is written in the unit its rounded figure fits, never as
// 1000.0 of the one below.
func TestFmtNsUnitAfterRounding(t *testing.T) {
	for _, c := range []struct {
		ns   float64
		want string
	}{
		{5, "5.0 ns"},
		{999.94, "999.9 ns"},
		{999.96, "1.0 µs"},
		{999_940, "999.9 µs"},
		{999_990, "1.00 ms"},
		{999_994_000, "999.99 ms"},
		{999_996_000, "1.00 s"},
		{4_190_000, "4.19 ms"},
		{86.1e6, "86.10 ms"},
		{3.5e12, "3500.00 s"},
	} {
		if got := fmtNs(c.ns); got != c.want {
			t.Errorf("fmtNs(%v) = %q, want %q", c.ns, got, c.want)
		}
	}
}

// Map.Get's goal holds at every size from 1e3 to 1e6, for both key types,
// hits and misses: with any of those rows unmeasured for either map it
// gives no verdict, whatever the rows measured say, and names the rows.
func TestMapGetGoalNeedsEveryRow(t *testing.T) {
	_, _, measured, verdict := goalRow(t, render(t, mapGet(0.4, nil)), "snapshot.Map Get")
	if verdict != "met" || !strings.HasPrefix(measured, "worst 0.40×") {
		t.Fatalf("a complete run at 0.4× shows %q, %q", measured, verdict)
	}
	for _, c := range []struct {
		skip func(key, n, op, impl string) bool
		want string
	}{
		{func(k, n, op, impl string) bool {
			return k == "uint64" && n == "1000000" && op == "hit" && impl == "gomap"
		},
			"not measured in this run: key=uint64/n=1000000/op=hit (gomap)"},
		{func(k, n, op, impl string) bool { return k == "string16" && n == "100000" && op == "miss" },
			"not measured in this run: key=string16/n=100000/op=miss (frozen, gomap)"},
		{func(k, n, op, impl string) bool { return n == "1000" && op == "miss" },
			"not measured in this run: key=string16/n=1000/op=miss (frozen, gomap), key=uint64/n=1000/op=miss (frozen, gomap)"},
		{func(k, n, op, impl string) bool { return impl == "gomap" }, "not measured in this run: "},
		// 1e7 is not part of the goal, but only of its own rows.
		{func(k, n, op, impl string) bool { return n != "10000000" }, "not measured in this run: "},
	} {
		_, _, measured, verdict := goalRow(t, render(t, mapGet(0.4, c.skip)), "snapshot.Map Get")
		if verdict != "–" || !strings.HasPrefix(measured, c.want) {
			t.Errorf("with rows missing the goal shows %q, %q; want %q..., –", measured, verdict, c.want)
		}
	}
	// A NaN ratio (a time of zero for both maps) is as good as missing.
	in := mapGet(0.4, func(k, n, op, impl string) bool { return k == "uint64" && n == "1000" && op == "hit" }) +
		"BenchmarkMapGet/key=uint64/n=1000/op=hit/impl=frozen-2 100 0 ns/op\n" +
		"BenchmarkMapGet/key=uint64/n=1000/op=hit/impl=gomap-2 100 0 ns/op\n"
	if _, _, measured, verdict := goalRow(t, render(t, in), "snapshot.Map Get"); verdict == "met" {
		t.Errorf("a row with a NaN ratio leaves the goal met: %q", measured)
	}
}

// arena.New's goal needs its allocations as well as its time.
func TestArenaNewGoalNeedsAllocs(t *testing.T) {
	_, _, measured, verdict := goalRow(t, render(t, "BenchmarkAlloc/impl=arena.New-2 100 4.0 ns/op\n"), "arena.New[T]")
	if verdict != "–" || measured != "not measured in this run: arena.New allocs/op" {
		t.Errorf("without allocs/op the goal shows %q, %q", measured, verdict)
	}
}

// Each goal's verdict is that of its figure as printed: a figure that
// rounds onto the goal meets it, one that rounds past it misses it.
func TestGoalsJudgeFiguresAsPrinted(t *testing.T) {
	freeze := func(mode string, ns float64) string {
		return fmt.Sprintf("BenchmarkFreeze/size=1GiB/impl=%s-2 3 %g ns/op\nBenchmarkFreeze/size=1GiB/impl=copy-2 3 1000000 ns/op\n", mode, ns)
	}
	clone := func(ns float64) string {
		return fmt.Sprintf("BenchmarkClone/impl=arena.Clone-2 100 %g ns/op\nBenchmarkClone/impl=go-clone-slowly-2 100 1000 ns/op\n", ns)
	}
	verify := func(mbs float64) string {
		return fmt.Sprintf("BenchmarkVerify/size=1024MiB/impl=verify-2 1 1 ns/op %g MB/s\nBenchmarkVerify/size=1024MiB/impl=xxhash-1core-2 1 1 ns/op 1000 MB/s\n", mbs)
	}
	build := func(perKey, perEntry float64) string {
		return fmt.Sprintf("BenchmarkMapBuild/key=string16/n=1000000/impl=frozen-2 1 1 ns/op %g build-ns/key %g bytes/entry\n", perKey, perEntry)
	}
	gc := func(frozen, empty float64) string {
		return fmt.Sprintf("BenchmarkGCWithTable/n=10000000/impl=empty-2 15 1 ns/op %g gc-ms\nBenchmarkGCWithTable/n=10000000/impl=frozen-2 15 1 ns/op %g gc-ms\n", empty, frozen)
	}
	for _, c := range []struct {
		in, what, measured, verdict string
	}{
		{"BenchmarkAlloc/impl=arena.New-2 100 4.96 ns/op 0 B/op 0 allocs/op\n", "arena.New[T]", "5.0 ns, 0 allocs", "met"},
		{"BenchmarkAlloc/impl=arena.New-2 100 5.04 ns/op 0 B/op 0 allocs/op\n", "arena.New[T]", "5.0 ns, 0 allocs", "met"},
		{"BenchmarkAlloc/impl=arena.New-2 100 5.06 ns/op 0 B/op 0 allocs/op\n", "arena.New[T]", "5.1 ns, 0 allocs", "**missed**"},
		{"BenchmarkAlloc/impl=arena.New-2 100 4.0 ns/op 8 B/op 1 allocs/op\n", "arena.New[T]", "4.0 ns, 1 allocs", "**missed**"},
		{clone(504), "arena.Clone of", "0.50×", "met"},
		{clone(506), "arena.Clone of", "0.51×", "**missed**"},
		{freeze("Protect", 39900), "Freeze Protect", "0.0399 (1/25.1)×", "met"},
		{freeze("Protect", 40040), "Freeze Protect", "0.0400 (1/25.0)×", "met"},
		{freeze("Protect", 40100), "Freeze Protect", "0.0401 (1/24.9)×", "**missed**"},
		{freeze("Seal", 10040), "Freeze Seal", "0.0100 (1/100)×", "met"},
		{freeze("Seal", 10060), "Freeze Seal", "0.0101 (1/99.0)×", "**missed**"},
		{freeze("Alias", 600_400), "Freeze Alias", "0.60×", "met"},
		{verify(1695.1), "Verify throughput", "1.70×", "met"},
		{verify(1694.9), "Verify throughput", "1.69×", "**missed**"},
		{mapGet(0.504, nil), "snapshot.Map Get", "worst 0.50× (key=string16/n=1000/op=hit)", "met"},
		{mapGet(0.506, nil), "snapshot.Map Get", "worst 0.51× (key=string16/n=1000/op=hit)", "**missed**"},
		{build(150.4, 32.04), "Map build", "150 ns/key", "met"},
		{build(150.6, 32.04), "Map build", "151 ns/key", "**missed**"},
		{build(150.4, 32.04), "Map memory", "32.0 B/entry", "met"},
		{build(150.4, 32.06), "Map memory", "32.1 B/entry", "**missed**"},
		// 1.064 - 0.564 is 0.5000000000000001 in floating point.
		{gc(1.064, 0.564), "forced GC", "+0.50 ms (1.06 vs 0.56 ms)", "met"},
		{gc(1.068, 0.564), "forced GC", "+0.50 ms (1.07 vs 0.56 ms)", "met"},
		{gc(1.070, 0.564), "forced GC", "+0.51 ms (1.07 vs 0.56 ms)", "**missed**"},
		{gc(0.562, 0.564), "forced GC", "+0.00 ms (0.56 vs 0.56 ms)", "met"},
	} {
		what, _, measured, verdict := goalRow(t, render(t, c.in), c.what)
		if measured != c.measured || verdict != c.verdict {
			t.Errorf("%s: %q, %q; want %q, %q", what, measured, verdict, c.measured, c.verdict)
		}
	}
}

// A ratio below 0.1 is written with three significant digits and the
// inverse of the ratio as written, so that the two agree at a goal.
func TestFmtRatio(t *testing.T) {
	for _, c := range []struct {
		r    float64
		want string
	}{
		{0.26, "0.26"},
		{0.504, "0.50"},
		{0.09996, "0.10"},
		{0.0996, "0.0996 (1/10.0)"},
		{0.04, "0.0400 (1/25.0)"},
		{0.0401, "0.0401 (1/24.9)"},
		{0.002188, "0.00219 (1/457)"},
		{0.000544, "0.000544 (1/1838)"},
		{0, "0.00"},
		{1724.08, "1724.08"},
	} {
		if got := fmtRatio(c.r); got != c.want {
			t.Errorf("fmtRatio(%v) = %q, want %q", c.r, got, c.want)
		}
	}
}

// The noise table names each series as its benchmark did, without an
// empty parameter between two slashes.
func TestNoiseNamesSeries(t *testing.T) {
	rep := render(t, "count: 2\n"+
		"BenchmarkClone/impl=arena.Clone-2 100 2000 ns/op\nBenchmarkClone/impl=arena.Clone-2 100 3000 ns/op\n"+
		"BenchmarkVerify/size=1MiB/impl=verify-2 100 1 ns/op 100 MB/s\nBenchmarkVerify/size=1MiB/impl=verify-2 100 1 ns/op 110 MB/s\n")
	for _, want := range []string{"| Clone/impl=arena.Clone | 40% |", "| Verify/size=1MiB/impl=verify | 10% |"} {
		if !strings.Contains(rep, want) {
			t.Errorf("no row %q in the noise table:\n%s", want, rep[strings.Index(rep, "## Noise"):])
		}
	}
}

// A plot the run has no results for is removed, not left from an earlier
// run beside a report that does not show it; other files stay.
func TestStalePlotsRemoved(t *testing.T) {
	dir := t.TempDir()
	for _, f := range append(plotFiles, "notes.txt") {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("earlier run"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rep := renderPlots(t, "BenchmarkGCWithTable/n=1000/impl=empty-2 15 1 ns/op 0.2 gc-ms\n"+
		"BenchmarkGCWithTable/n=1000/impl=frozen-2 15 1 ns/op 0.2 gc-ms\n"+
		"BenchmarkGCWithTable/n=1000000/impl=empty-2 15 1 ns/op 0.2 gc-ms\n"+
		"BenchmarkGCWithTable/n=1000000/impl=frozen-2 15 1 ns/op 0.3 gc-ms\n", dir)
	if !strings.Contains(rep, "](plots/gc.svg)") {
		t.Errorf("the report does not link gc.svg:\n%s", rep)
	}
	for f, want := range map[string]string{"gc.svg": "<svg", "notes.txt": "earlier run", "freeze.svg": "", "lookup.svg": ""} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		switch {
		case want == "" && !os.IsNotExist(err):
			t.Errorf("%s was left in place (%v)", f, err)
		case want != "" && !strings.Contains(string(b), want):
			t.Errorf("%s holds %.40q (%v), want %q", f, b, err, want)
		}
	}
}

// A run of one size draws its plots, a single point each, instead of
// panicking in the plot library's log scale (which widens a range of one
// value by ±1, below zero): here the GC plot, one time of 0.2 ms.
func TestPlotsOfOneSize(t *testing.T) {
	dir := t.TempDir()
	out := renderPlots(t, "BenchmarkGCWithTable/n=1000/impl=empty-2 \t 10 \t 1000 ns/op \t 0.2 gc-ms\n"+
		"BenchmarkFreeze/size=1MiB/impl=Protect-2 \t 10 \t 1000 ns/op\n", dir)
	for _, f := range []string{"gc.svg", "freeze.svg"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s not drawn: %v", f, err)
		}
		if !strings.Contains(out, "plots/"+f) {
			t.Errorf("the report does not link %s", f)
		}
	}
}

// Result lines are read as bench/run writes them: sub-benchmark names
// split into parameters and impl, the GOMAXPROCS suffix dropped (and none
// taken from a name that merely ends in a dash and digits), every metric
// in the unit and value the benchmark reported (benchfmt rescales ns/op,
// MB/s and any unit with ns in it, such as read-ns and build-ns/key), and
// the lines go test writes between results (log output, PASS, ok,
// configuration) ignored.
func TestReadResultLines(t *testing.T) {
	in := "count: 2\n" +
		"goos: linux\npkg: github.com/frozen-go/frozen/bench\ncpu: AMD EPYC\n" +
		"BenchmarkFreeze/size=4KiB/impl=Protect-2         \t       3\t     45195 ns/op\t  90.63 MB/s\t        53.33 read-ns\t       163.3 wait-ns\t    1570 B/op\t      11 allocs/op\n" +
		"--- BENCH: BenchmarkFreeze/size=4KiB/impl=Protect-2\n    freeze_test.go:99: note: a log line\n" +
		"BenchmarkFreeze/size=4KiB/impl=Protect-2         \t       3\t     20111 ns/op\t 203.67 MB/s\t        46.33 read-ns\t       160.3 wait-ns\t    1085 B/op\t       7 allocs/op\n" +
		"PASS\nok  \tgithub.com/frozen-go/frozen/bench\t63.718s\n" +
		"goos: linux\n" +
		"BenchmarkMapBuild/key=string16/n=1000000/impl=frozen-2 \t 3\t 1 ns/op\t 133.4 build-ns/key\t 31.25 bytes/entry\n" +
		"BenchmarkMapBuild/key=string16/n=1000000/impl=frozen-2 \t 3\t 1 ns/op\t 121.0 build-ns/key\t 31.25 bytes/entry\n" +
		"BenchmarkGCWithTable/n=10000000/impl=empty-2 \t 15\t 1 ns/op\t 0.159 gc-ms\n" +
		"BenchmarkGCWithTable/n=10000000/impl=empty-2 \t 15\t 1 ns/op\t 0.161 gc-ms\n" +
		"BenchmarkVerify/size=1MiB/impl=xxhash-1core-2 \t 10\t 84000 ns/op\t 12416.0 MB/s\n" +
		"BenchmarkVerify/size=1MiB/impl=xxhash-1core-2 \t 10\t 86000 ns/op\t 12083.0 MB/s\n" +
		"BenchmarkClone/impl=arena.Clone-fresh-2 \t 100\t 0 ns/op\n" +
		"BenchmarkClone/impl=arena.Clone-fresh-2 \t 100\t 0 ns/op\n" +
		"PASS\nok  \tgithub.com/frozen-go/frozen/bench\t1.0s\n"
	d, err := read(strings.NewReader(in), "bench.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := []key{
		{"Freeze", "size=4KiB", "Protect"},
		{"MapBuild", "key=string16/n=1000000", "frozen"},
		{"GCWithTable", "n=10000000", "empty"},
		{"Verify", "size=1MiB", "xxhash-1core"},
		{"Clone", "", "arena.Clone-fresh"},
	}
	if fmt.Sprint(d.order) != fmt.Sprint(want) {
		t.Errorf("series %v, want %v", d.order, want)
	}
	for _, c := range []struct {
		k    key
		unit string
		want []float64
	}{
		{want[0], "ns/op", []float64{45195, 20111}},
		{want[0], "MB/s", []float64{90.63, 203.67}},
		{want[0], "read-ns", []float64{53.33, 46.33}},
		{want[0], "wait-ns", []float64{163.3, 160.3}},
		{want[0], "B/op", []float64{1570, 1085}},
		{want[0], "allocs/op", []float64{11, 7}},
		{want[1], "build-ns/key", []float64{133.4, 121.0}},
		{want[1], "bytes/entry", []float64{31.25, 31.25}},
		{want[2], "gc-ms", []float64{0.159, 0.161}},
		{want[3], "MB/s", []float64{12416, 12083}},
		{want[4], "ns/op", []float64{0, 0}},
	} {
		if got := d.values[c.k][c.unit]; fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%v %s: %v, want %v", c.k, c.unit, got, c.want)
		}
	}
	if got := d.get("GCWithTable", "n=10000000", "empty", "gc-ms"); got != (stats{0.16, 0.159, 0.161}) {
		t.Errorf("the median of two is not their mean: %+v", got)
	}
	if d.config["cpu"] != "AMD EPYC" || d.config["count"] != "2" {
		t.Errorf("configuration %v", d.config)
	}

	// At GOMAXPROCS 1 go test writes no suffix: an impl ending in a dash
	// and digits-then-letters keeps its name.
	d, err = read(strings.NewReader("count: 1\nBenchmarkVerify/size=1MiB/impl=xxhash-1core \t 10\t 84000 ns/op\n"), "bench.txt")
	if err != nil {
		t.Fatal(err)
	}
	if k := (key{"Verify", "size=1MiB", "xxhash-1core"}); len(d.values[k]["ns/op"]) != 1 {
		t.Errorf("series %v, want %v", d.order, k)
	}
}

// The noise summary's median of an even number of spreads is the mean
// of the middle two, as every median in the report is, and its 90th
// percentile is the nearest rank: of ten spreads, the ninth, not the
// largest.
func TestNoiseMedianAndPercentile(t *testing.T) {
	in := "count: 2\n"
	for k := 1; k <= 10; k++ { // spreads 2%, 4%, ... 20%
		in += fmt.Sprintf("BenchmarkClone/impl=x%d-2 1 %d ns/op\nBenchmarkClone/impl=x%d-2 1 %d ns/op\n", k, 100-k, k, 100+k)
	}
	if want := "over 10 series: median 11%, 90th percentile 18%."; !strings.Contains(render(t, in), want) {
		t.Errorf("no %q in the noise summary:\n%s", want, render(t, in))
	}
}

// A cell the run did not measure reads –, without a unit or a range
// that would make it look like a figure.
func TestTableUnmeasuredCell(t *testing.T) {
	rep := render(t, "BenchmarkMapBuild/key=string16/n=1000/impl=frozen-2 1 1 ns/op 214 build-ns/key 32.1 bytes/entry\n"+
		"BenchmarkMapBuild/key=string16/n=1000/impl=gomap-2 1 1 ns/op 149 build-ns/key 70.7 bytes/entry\n"+
		"BenchmarkMapBuild/key=string16/n=100000/impl=frozen-2 1 1 ns/op 129 build-ns/key 31.3 bytes/entry\n"+
		"BenchmarkFreeze/size=4KiB/impl=Protect-2 3 16447 ns/op\nBenchmarkFreeze/size=4KiB/impl=copy-2 3 137 ns/op\n"+
		"BenchmarkFreeze/size=64KiB/impl=copy-2 3 2200 ns/op\n")
	for _, want := range []string{
		"| string16, 100000 | 129 ns <br><sub>129 ns–129 ns</sub> | – | – |",
		"| string16, 100000 | 31.3 B <br><sub>31.3 B–31.3 B</sub> | – | – |",
		"| 64KiB | – | 2.2 µs <br><sub>2.2 µs–2.2 µs</sub> | – |",
	} {
		if !strings.Contains(rep, want) {
			t.Errorf("no row %q in:\n%s", want, rep)
		}
	}
}

// A quick run's banner gives the run's own count of repetitions (bench/run
// takes COUNT), not always two.
func TestQuickRunBannerCount(t *testing.T) {
	for count, want := range map[int]string{2: "smaller sizes and 2 repetitions", 3: "smaller sizes and 3 repetitions"} {
		in := fmt.Sprintf("count: %d\nmode: quick\n", count) + lines(count, "BenchmarkClone/impl=arena.Clone-2 100 2100000 ns/op")
		if rep := render(t, in); !strings.Contains(rep, want) {
			t.Errorf("count %d: no %q in:\n%s", count, want, rep[:strings.Index(rep, "## Machine")])
		}
	}
}

// The freeze and Verify goals are set at 1 GiB and the GC goal at 1e7
// entries: a full run cut short of those sizes gives them no verdict,
// naming what is missing, instead of judging them at the largest size it
// did measure; a quick run, which measures smaller sizes only, judges
// them there and says its verdicts are indicative.
func TestGoalsAtTheirOwnSizes(t *testing.T) {
	run := "BenchmarkFreeze/size=256MiB/impl=Protect-2 3 1000 ns/op\nBenchmarkFreeze/size=256MiB/impl=Alias-2 3 1000 ns/op\n" +
		"BenchmarkFreeze/size=256MiB/impl=Seal-2 3 10 ns/op\nBenchmarkFreeze/size=256MiB/impl=copy-2 3 100000 ns/op\n" +
		"BenchmarkVerify/size=256MiB/impl=verify-2 1 1 ns/op 2000 MB/s\nBenchmarkVerify/size=256MiB/impl=xxhash-1core-2 1 1 ns/op 1000 MB/s\n" +
		"BenchmarkGCWithTable/n=1000000/impl=empty-2 15 1 ns/op 0.2 gc-ms\nBenchmarkGCWithTable/n=1000000/impl=frozen-2 15 1 ns/op 0.2 gc-ms\n"
	for _, c := range []struct {
		what, full, quick string
	}{
		{"Freeze Protect", "Freeze Protect, 1GiB", "Freeze Protect, 256MiB"},
		{"Freeze Alias", "Freeze Alias, 1GiB", "Freeze Alias, 256MiB"},
		{"Freeze Seal", "Freeze Seal, 1GiB", "Freeze Seal, 256MiB"},
		{"Verify throughput", "Verify throughput vs single-core xxhash, 1024MiB", "Verify throughput vs single-core xxhash, 256MiB"},
		{"forced GC", "forced GC with a table live, n=10000000", "forced GC with a table live, n=1000000"},
	} {
		what, _, measured, verdict := goalRow(t, render(t, "mode: full\n"+run), c.what)
		if what != c.full || verdict != "–" || !strings.HasPrefix(measured, "not measured in this run: ") {
			t.Errorf("full run cut short: %q, %q, %q; want %q, no verdict", what, measured, verdict, c.full)
		}
		what, _, measured, verdict = goalRow(t, render(t, "mode: quick\n"+run), c.what)
		if what != c.quick || verdict == "–" {
			t.Errorf("quick run: %q, %q, %q; want %q with a verdict", what, measured, verdict, c.quick)
		}
	}
}

// A series whose median is zero has no relative spread: the noise
// summary leaves it out rather than print NaN% or +Inf%.
func TestNoiseLeavesOutZeroMedians(t *testing.T) {
	rep := render(t, "count: 2\n"+
		"BenchmarkClone/impl=arena.Clone-2 100 2000 ns/op\nBenchmarkClone/impl=arena.Clone-2 100 3000 ns/op\n"+
		"BenchmarkGCWithTable/n=1000/impl=empty-2 15 1 ns/op 0 gc-ms\nBenchmarkGCWithTable/n=1000/impl=empty-2 15 1 ns/op 0 gc-ms\n")
	noise := rep[strings.Index(rep, "## Noise"):]
	if strings.Contains(noise, "NaN") || strings.Contains(noise, "Inf") || !strings.Contains(noise, "over 1 series: median 40%") {
		t.Errorf("the noise summary counts a zero median:\n%s", noise)
	}
}

// A run of one repetition has no Noise section, and the machine section
// does not point at one.
func TestOneRepetitionPointsAtNoNoise(t *testing.T) {
	rep := render(t, "count: 1\nBenchmarkClone/impl=arena.Clone-2 100 2000 ns/op\n")
	if strings.Contains(rep, "## Noise") || strings.Contains(rep, "under *Noise*") {
		t.Errorf("a run of one repetition mentions noise:\n%s", rep)
	}
}

// A go test run cut off between two benchmarks leaves every series it
// wrote with its count of results; the missing "ok" line shows it.
func TestReadRefusesRunWithoutOk(t *testing.T) {
	run := func(bench string) string {
		return "goos: linux\npkg: github.com/frozen-go/frozen/bench\n" +
			lines(2, "Benchmark"+bench+"/impl=arena.Clone-2 100 2100000 ns/op")
	}
	done := "PASS\nok  \tgithub.com/frozen-go/frozen/bench\t12.0s\n"
	if _, err := read(strings.NewReader("count: 2\n"+run("Clone")+done+run("Take")+done), "bench.txt"); err != nil {
		t.Fatalf("two complete runs refused: %v", err)
	}
	for in, line := range map[string]string{
		"count: 2\n" + run("Clone") + done + run("Take"): "bench.txt:9:",
		"count: 2\n" + run("Clone") + run("Take") + done: "bench.txt:3:",
	} {
		if err := readErr(t, in); !strings.Contains(err.Error(), line) || !strings.Contains(err.Error(), "cut short") {
			t.Errorf("the error does not name the run's pkg line (%s) and say why: %v", line, err)
		}
	}
}

// The table of what follows Freeze gives each figure's range too, and a
// dash for a mode not measured.
func TestFreezeWaitTableRanges(t *testing.T) {
	rep := render(t, "count: 3\n"+
		"BenchmarkFreeze/size=4KiB/impl=Protect-2 3 16447 ns/op 53 read-ns 160 wait-ns\n"+
		"BenchmarkFreeze/size=4KiB/impl=Protect-2 3 16447 ns/op 47 read-ns 190 wait-ns\n"+
		"BenchmarkFreeze/size=4KiB/impl=Protect-2 3 16447 ns/op 44 read-ns 170 wait-ns\n"+
		lines(3, "BenchmarkFreeze/size=4KiB/impl=copy-2 3 137 ns/op"))
	want := "| 4KiB | 170.0 ns <br><sub>160.0 ns–190.0 ns</sub> | – | – | 47.0 ns <br><sub>44.0 ns–53.0 ns</sub> | – | – |"
	if !strings.Contains(rep, want) {
		t.Errorf("no row %q in:\n%s", want, rep)
	}
}
