// Command report turns a benchmark run (bench/run's output, the format
// benchstat reads) into REPORT.md: tables of median, min and max with
// every ratio against the peer measured in the same run, the goals set
// for the library with what was measured against them, and SVG plots.
//
//	go run ./cmd/report -in results/bench.txt -out REPORT.md -plots plots
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"
)

func main() {
	in := flag.String("in", "results/bench.txt", "benchmark results to read")
	out := flag.String("out", "REPORT.md", "report to write")
	plots := flag.String("plots", "plots", "directory for the SVG plots, relative to the report")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("report: ")

	f, err := os.Open(*in)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	d, err := read(f, *in)
	if err != nil {
		log.Fatal(err)
	}
	if len(d.order) == 0 {
		log.Fatalf("%s holds no benchmark results", *in)
	}
	plotDir := filepath.Join(filepath.Dir(*out), *plots)
	if err := os.MkdirAll(plotDir, 0o755); err != nil {
		log.Fatal(err)
	}
	w, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	bw := bufio.NewWriter(w)
	r := &report{d: d, w: bw, plotDir: plotDir, plotRel: *plots, in: *in}
	if err := r.write(); err != nil {
		log.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("wrote %s and %d plots in %s\n", *out, r.nplots, plotDir)
	for _, f := range r.removed {
		fmt.Printf("removed %s: this run has no results for it\n", f)
	}
}

// key identifies one series: a benchmark, its parameters other than impl,
// and the implementation measured.
type key struct {
	bench  string // "Freeze"
	params string // "size=4KiB" (in the order of the name)
	impl   string // "Seal"
}

type data struct {
	config map[string]string
	values map[key]map[string][]float64 // unit → one value per run
	order  []key                        // first appearance
}

// read parses benchmark results with the benchfmt reader. It refuses a
// run that failed, and series that cannot be the repetitions of one run,
// more or fewer of them than the run's count or names that disagree on
// GOMAXPROCS: a median over those would look like any other.
func read(r io.Reader, name string) (*data, error) {
	in, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if err := checkFailures(in, name); err != nil {
		return nil, err
	}
	if err := checkComplete(in, name); err != nil {
		return nil, err
	}
	d := &data{config: map[string]string{}, values: map[key]map[string][]float64{}}
	runs := map[key]int{}  // result lines of each series
	procs, first := "", "" // the GOMAXPROCS suffix of the first result, and its name
	br := benchfmt.NewReader(bytes.NewReader(in), name)
	for br.Scan() {
		res, ok := br.Result().(*benchfmt.Result)
		if !ok {
			if se, isErr := br.Result().(*benchfmt.SyntaxError); isErr {
				return nil, se
			}
			continue
		}
		for _, c := range res.Config {
			d.config[c.Key] = string(c.Value)
		}
		base, parts := res.Name.Parts()
		k := key{bench: string(base)}
		suffix := ""
		var params []string
		for _, p := range parts {
			s := string(p)
			switch {
			case strings.HasPrefix(s, "-"): // GOMAXPROCS
				suffix = s
			case strings.HasPrefix(s, "/impl="):
				k.impl = strings.TrimPrefix(s, "/impl=")
			default:
				params = append(params, strings.TrimPrefix(s, "/"))
			}
		}
		// One run of bench/run has one GOMAXPROCS, so a second one means
		// results of another run or of go test -cpu, which the series
		// would otherwise pool.
		if first == "" {
			procs, first = suffix, string(res.Name)
		} else if suffix != procs {
			return nil, fmt.Errorf("%s: Benchmark%s and Benchmark%s were run at different GOMAXPROCS (suffixes %q and %q): the file holds more than one run",
				name, first, res.Name, procs, suffix)
		}
		k.params = strings.Join(params, "/")
		m := d.values[k]
		if m == nil {
			m = map[string][]float64{}
			d.values[k] = m
			d.order = append(d.order, k)
		}
		runs[k]++
		for _, v := range res.Values {
			unit, val := v.Unit, v.Value
			if v.OrigUnit != "" {
				unit, val = v.OrigUnit, v.OrigValue
			}
			m[unit] = append(m[unit], val)
		}
	}
	if err := br.Err(); err != nil {
		return nil, err
	}
	if len(d.order) == 0 {
		return d, nil
	}
	return d, d.checkCount(runs, name)
}

// checkFailures returns an error naming the first line of in that shows
// the benchmark run failed: a benchmark's --- FAIL, go test's FAIL, or a
// panic. The results of such a run are partial, whatever else they hold.
func checkFailures(in []byte, name string) error {
	for i, line := range strings.Split(string(in), "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "--- FAIL") || l == "FAIL" || strings.HasPrefix(l, "FAIL\t") || strings.HasPrefix(l, "FAIL ") ||
			strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			return fmt.Errorf("%s:%d: the benchmark run failed (%s); its results are partial, run the benchmarks again", name, i+1, l)
		}
	}
	return nil
}

// checkComplete returns an error if a go test run in `in` (from its
// "pkg:" line) has no "ok" line before the next run or the end: a run cut
// off between two benchmarks, whose every series has its count of results
// and whose missing series would only withhold verdicts without a word.
// bench/run replaces its file only after a complete run, so this is a
// file cut or assembled by hand.
func checkComplete(in []byte, name string) error {
	open := 0 // line of the run without an "ok" line yet, or 0
	for i, line := range strings.Split(string(in), "\n") {
		if strings.HasPrefix(line, "ok ") || strings.HasPrefix(line, "ok\t") {
			open = 0
		} else if strings.HasPrefix(line, "pkg: ") {
			if open != 0 {
				return fmt.Errorf("%s:%d: the go test run from this line has no ok line before the next run starts: it was cut short", name, open)
			}
			open = i + 1
		}
	}
	if open != 0 {
		return fmt.Errorf("%s:%d: the go test run from this line has no ok line before the end of the file: it was cut short", name, open)
	}
	return nil
}

// checkCount holds every series to the count of repetitions the run's
// configuration gives (bench/run's count line): more means result lines
// repeated or appended from another run, fewer a run cut short, and
// either would change medians and spreads without showing.
func (d *data) checkCount(runs map[key]int, name string) error {
	c, ok := d.config["count"]
	if !ok {
		return fmt.Errorf("%s has no count line (bench/run writes one): the repetitions of each series cannot be checked", name)
	}
	count, err := strconv.Atoi(strings.TrimSpace(c))
	if err != nil || count < 1 {
		return fmt.Errorf("%s: count %q is not a number of repetitions", name, c)
	}
	var bad []string
	for _, k := range d.order {
		if n := runs[k]; n != count {
			bad = append(bad, fmt.Sprintf("Benchmark%s has %d", k, n))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	list := strings.Join(bad[:min(len(bad), 5)], ", ")
	if len(bad) > 5 {
		list += fmt.Sprintf(" and %d more", len(bad)-5)
	}
	return fmt.Errorf("%s: the run's count is %d, but %d series have another number of results (repeated or appended lines, or a run cut short): %s",
		name, count, len(bad), list)
}

// String names a series as its benchmark did, without the Benchmark
// prefix and GOMAXPROCS.
func (k key) String() string {
	s := k.bench
	if k.params != "" {
		s += "/" + k.params
	}
	if k.impl != "" {
		s += "/impl=" + k.impl
	}
	return s
}

// stats summarises one series' values of one unit.
type stats struct{ med, min, max float64 }

func summarise(vs []float64) stats {
	if len(vs) == 0 {
		return stats{med: math.NaN(), min: math.NaN(), max: math.NaN()}
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stats{med: med, min: s[0], max: s[len(s)-1]}
}

func (d *data) get(bench, params, impl, unit string) stats {
	return summarise(d.values[key{bench, params, impl}][unit])
}

// params returns the parameter sets of a benchmark in order of appearance.
func (d *data) params(bench string) []string {
	var out []string
	for _, k := range d.order {
		if k.bench == bench && !slices.Contains(out, k.params) {
			out = append(out, k.params)
		}
	}
	return out
}

// impls returns the implementations of a benchmark in order of appearance.
func (d *data) impls(bench string) []string {
	var out []string
	for _, k := range d.order {
		if k.bench == bench && !slices.Contains(out, k.impl) {
			out = append(out, k.impl)
		}
	}
	return out
}

// param returns the value of name in a parameter string such as
// "key=uint64/n=1000/op=hit".
func param(params, name string) string {
	for p := range strings.SplitSeq(params, "/") {
		if v, ok := strings.CutPrefix(p, name+"="); ok {
			return v
		}
	}
	return ""
}

// parseSize reads sizes such as 4KiB, 16MiB and 1GiB.
func parseSize(s string) float64 {
	for suffix, mult := range map[string]float64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.ParseFloat(n, 64)
			if err == nil {
				return v * mult
			}
		}
	}
	return math.NaN()
}

// nsUnits are the units durations are written in, smallest first, with
// the decimals each is written with.
var nsUnits = []struct {
	name  string
	scale float64 // nanoseconds in one
	prec  int
}{{"ns", 1, 1}, {"µs", 1e3, 1}, {"ms", 1e6, 2}, {"s", 1e9, 2}}

// The goals' verdicts compare each figure as the report prints it, so
// that a figure never contradicts its verdict: 0.50× meets ≤ 0.5× however
// far the unrounded ratio lies above 0.5. The functions below return a
// figure's text with the value that text reads as.

// roundTo returns v rounded to prec decimals, as FormatFloat writes it.
func roundTo(v float64, prec int) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', prec, 64), 64)
	return f
}

// nsFigure writes a duration given in nanoseconds with a unit a reader
// can take in at a glance, and returns it in nanoseconds as written. The
// unit is chosen after rounding, so that 999.96 ns is written 1.0 µs
// rather than 1000.0 ns.
func nsFigure(ns float64) (float64, string) {
	if math.IsNaN(ns) {
		return ns, "–"
	}
	var v float64
	var u int
	for u = range nsUnits {
		if v = roundTo(ns/nsUnits[u].scale, nsUnits[u].prec); math.Abs(v) < 1000 {
			break
		}
	}
	return v * nsUnits[u].scale, strconv.FormatFloat(v, 'f', nsUnits[u].prec, 64) + " " + nsUnits[u].name
}

func fmtNs(ns float64) string {
	_, s := nsFigure(ns)
	return s
}

// ratioFigure writes a ratio with two decimals, or below 0.1 with three
// significant digits and its inverse, and returns the ratio as written.
// The inverse is that of the ratio as written, so the two never disagree
// about a goal: 0.0401 (1/24.9) misses ≤ 1/25, 0.0400 (1/25.0) meets it.
func ratioFigure(r float64) (float64, string) {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return r, "–"
	}
	if r > 0 {
		e := strconv.FormatFloat(r, 'e', 2, 64) // "2.19e-03"
		v, _ := strconv.ParseFloat(e, 64)
		if v < 0.1 {
			exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
			prec, inv := 2-exp, 1/v
			if roundTo(inv, 1) < 100 {
				return v, fmt.Sprintf("%.*f (1/%.1f)", prec, v, inv)
			}
			return v, fmt.Sprintf("%.*f (1/%.0f)", prec, v, inv)
		}
	}
	return roundTo(r, 2), strconv.FormatFloat(r, 'f', 2, 64)
}

func fmtRatio(r float64) string {
	_, s := ratioFigure(r)
	return s
}

func fmtNum(v float64, prec int) string {
	if math.IsNaN(v) {
		return "–"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// spread is (max-min)/median: how far apart the repetitions of one
// measurement were.
func (s stats) spread() float64 { return (s.max - s.min) / s.med }
