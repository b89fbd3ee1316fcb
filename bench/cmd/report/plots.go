package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// plotFiles are the plots a report can draw. One the run has no results
// for is removed from the plot directory, so that an earlier run's plot
// is not taken for this one's.
var plotFiles = []string{"freeze.svg", "lookup.svg", "gc.svg"}

// removeStale removes the plots of plotFiles this report did not draw,
// and records those it removed.
func (r *report) removeStale() error {
	for _, f := range plotFiles {
		if r.drawn[f] {
			continue
		}
		path := filepath.Join(r.plotDir, f)
		switch err := os.Remove(path); {
		case err == nil:
			r.removed = append(r.removed, path)
		case !errors.Is(err, fs.ErrNotExist):
			return err
		}
	}
	return nil
}

// line is one curve: its legend and points.
type line struct {
	name string
	xys  plotter.XYs
}

// savePlot draws lines on log-log axes into plotDir/file and links it
// from the report.
func (r *report) savePlot(file, title, xlabel, ylabel string, lines []line) {
	if !slices.Contains(plotFiles, file) {
		r.err = fmt.Errorf("plot %s is not among plotFiles, which removeStale keeps current", file)
		return
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true
	var args []any
	for _, l := range lines {
		if len(l.xys) > 0 {
			args = append(args, l.name, l.xys)
		}
	}
	if len(args) == 0 {
		return
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		r.err = err
		return
	}
	// One value on an axis (a run of one size, or one GC time) is a range
	// of nothing, which the plot would widen by ±1 into values a log scale
	// refuses (it panics): widen it by a factor of two each way instead.
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		if ax.Min == ax.Max {
			ax.Min, ax.Max = ax.Min/2, ax.Max*2
		}
	}
	if err := p.Save(7*vg.Inch, 4.5*vg.Inch, filepath.Join(r.plotDir, file)); err != nil {
		r.err = err
		return
	}
	r.nplots++
	if r.drawn == nil {
		r.drawn = map[string]bool{}
	}
	r.drawn[file] = true
	r.p("![%s](%s/%s)\n\n", title, r.plotRel, file)
}

// series returns the medians of one implementation of bench as points,
// x taken from the parameter xParam of each parameter set that filter
// accepts.
func (r *report) series(bench, impl, unit, xParam string, filter func(ps string) bool, extra ...string) plotter.XYs {
	var xys plotter.XYs
	for _, ps := range r.d.params(bench) {
		if filter != nil && !filter(ps) {
			continue
		}
		y := r.d.get(bench, ps, impl, unit).med
		for _, u := range extra {
			y += r.d.get(bench, ps, impl, u).med
		}
		x := parseSize(param(ps, xParam))
		if math.IsNaN(x) {
			fmt.Sscan(param(ps, xParam), &x)
		}
		if !math.IsNaN(y) && y > 0 && x > 0 {
			xys = append(xys, plotter.XY{X: x, Y: y})
		}
	}
	return xys
}

func (r *report) plotFreeze() {
	var ls []line
	for _, im := range []string{"Protect", "Alias", "Seal", "copy", "go-clone", "mprotect"} {
		ls = append(ls, line{im, r.series("Freeze", im, "ns/op", "size", nil)})
	}
	ls = append(ls, line{"Seal, background included", r.series("Freeze", "Seal", "ns/op", "size", nil, "wait-ns")})
	r.savePlot("freeze.svg", "Freeze vs copy: time until readers have read-only data", "resident bytes", "ns", ls)
}

func (r *report) plotLookup() {
	var ls []line
	for _, k := range []string{"string16", "string32", "uint64"} {
		for _, im := range []string{"frozen", "gomap"} {
			f := func(ps string) bool { return param(ps, "key") == k && param(ps, "op") == "hit" }
			ls = append(ls, line{fmt.Sprintf("%s, %s keys", im, k), r.series("MapGet", im, "ns/op", "n", f)})
		}
	}
	r.savePlot("lookup.svg", "Get of a random key that is present", "entries", "ns per Get", ls)
}

func (r *report) plotGC() {
	var ls []line
	for _, im := range []string{"empty", "frozen", "gomap", "gomap-uint64"} {
		ls = append(ls, line{im, r.series("GCWithTable", im, "gc-ms", "n", nil)})
	}
	r.savePlot("gc.svg", "A forced runtime.GC() with a table live (median)", "entries", "ms", ls)
}
