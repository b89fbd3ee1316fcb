package freeze

import (
	"fmt"
	"strings"

	"github.com/frozen-go/frozen/internal/offheap"
)

// PageSize is the unit of checksumming: every 4 KiB page of a region has
// its own 64-bit xxhash, so Verify names exactly the pages that changed.
const PageSize = offheap.PageSize

// CorruptionError is returned by Verify when frozen bytes changed. It
// names every changed 4 KiB page and up to eight of the allocations
// overlapping each (type and field path), so that a reader can see what
// changed, not only that something did. Checksums tell which pages
// changed, not which bytes: on a page holding many small allocations the
// one written may be among those not listed (ChangedPage.More), which
// Region.Allocations lists.
type CorruptionError struct {
	Region  string        // the arena's name
	Mode    Mode          // how the region was frozen
	Pages   []int         // indices of the changed pages (offset = index × PageSize)
	Changed []ChangedPage // the same pages, with their allocations
}

// ChangedPage is one checksum page whose bytes changed.
type ChangedPage struct {
	Index       int          // page number
	Start, End  uintptr      // arena offsets [Start, End)
	Allocations []Allocation // up to eight, in address order
	More        bool         // more allocations overlap than are listed (Region.Allocations lists all)
}

// Allocation is an allocation in a region: one overlapping a changed page,
// or one Region.Allocations lists.
//
// Offset, Size and Type come from the arena's records, kept on the Go
// heap; Path is found by following the pointers in the region as they
// read now. Where a change hit a pointer or a slice header, what it
// pointed to may then be named by another field, or as (?) for a field
// that is no longer found: the page and the allocation's bytes are
// still exact.
type Allocation struct {
	Offset, Size uintptr // arena offset and size in bytes
	// Type is the allocation's Go type, e.g. "Endpoint", "[3]Endpoint";
	// "string data" for the bytes of the strings Clone packs together,
	// while those of arena.String and arena.Bytes are listed as a run of
	// bytes, "[n]uint8".
	Type string
	Path string // the field that points to it, e.g. "*Config.Endpoints"; "string data" for the bytes of many strings packed together
}

// maxListed bounds the allocations listed per changed page.
const maxListed = offheap.MaxListed

// Error names the region, how many pages changed, and for the first four
// pages up to three of their allocations.
func (e *CorruptionError) Error() string {
	var b strings.Builder
	pages := "pages"
	if len(e.Pages) == 1 {
		pages = "page"
	}
	fmt.Fprintf(&b, "freeze: region %q (%s): %d %s changed since Freeze", e.Region, e.Mode, len(e.Pages), pages)
	for i, pg := range e.Changed {
		if i == 4 {
			fmt.Fprintf(&b, "; …")
			break
		}
		fmt.Fprintf(&b, "; page %d [%#x, %#x) holding", pg.Index, pg.Start, pg.End)
		for j, a := range pg.Allocations {
			if j == 3 {
				b.WriteString(", …")
				break
			}
			sep := " "
			if j > 0 {
				sep = ", "
			}
			fmt.Fprintf(&b, "%s%s (%s)", sep, a.Path, a.Type)
		}
	}
	return b.String()
}

// Verify recomputes the checksum of every frozen page, on all cores, and
// returns nil if none changed, or a *CorruptionError naming every changed
// page and the allocations in it. It waits for the baseline, returns the
// error of a failed background seal, and does not allocate when nothing
// changed. After Close it returns an error wrapping arena.ErrClosed.
func (r *Region) Verify() error {
	if r.missing() {
		return errNoRegion
	}
	changed, err := r.r.Verify(maxListed + 1)
	if err != nil || changed == nil {
		return err
	}
	return r.corruption(changed)
}

// Allocations returns every allocation overlapping the arena offsets
// [start, end), in address order, with its type and field path as a
// CorruptionError names them (typed allocations of one type made back to
// back are one run, listed once: "[5]uint16", "uint16#3…7", the fourth to
// the eighth uint16 the arena's typed allocations made). A
// CorruptionError lists at most eight per changed page; where
// ChangedPage.More says there were more, this lists them all:
//
//	all, err := r.Allocations(page.Start, page.End)
//
// The range is clipped to the region's Size; an empty one lists nothing.
// After Close it returns an error wrapping arena.ErrClosed.
func (r *Region) Allocations(start, end uintptr) ([]Allocation, error) {
	if r.missing() {
		return nil, errNoRegion
	}
	as, err := r.r.Allocations(start, end)
	if err != nil {
		return nil, err
	}
	return allocations(as), nil
}

// allocations converts offheap's descriptions of allocations; nil if none.
func allocations(as []offheap.Allocation) []Allocation {
	if len(as) == 0 {
		return nil
	}
	out := make([]Allocation, len(as))
	for i, a := range as {
		out[i] = Allocation(a)
	}
	return out
}

// corruption describes changed pages, listed with up to maxListed+1
// allocations each.
func (r *Region) corruption(changed []offheap.ChangedPage) *CorruptionError {
	e := &CorruptionError{Region: r.r.Name(), Mode: Mode(r.r.Mode())}
	for _, c := range changed {
		pg := ChangedPage{Index: c.Index, Start: c.Start, End: c.End, More: len(c.Allocs) > maxListed,
			Allocations: allocations(c.Allocs[:min(len(c.Allocs), maxListed)])}
		e.Pages = append(e.Pages, c.Index)
		e.Changed = append(e.Changed, pg)
	}
	return e
}
