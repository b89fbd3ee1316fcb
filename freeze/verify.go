package freeze

import (
	"fmt"
	"strings"

	"github.com/frozen-go/frozen/internal/offheap"
)

// BlockSize is the unit of checksumming: 64 KiB (measured faster to hash
// in parallel than 4 KiB pages).
const BlockSize = offheap.BlockSize

// CorruptionError is returned by Verify when frozen bytes changed. It
// lists every changed block and the allocations inside it, so that a
// reader can see what changed, not only that something did.
type CorruptionError struct {
	Region string
	Mode   Mode
	Blocks []ChangedBlock
}

// ChangedBlock is one checksum block whose bytes changed.
type ChangedBlock struct {
	Index       int     // block number
	Start, End  uintptr // arena offsets [Start, End)
	Allocations []Allocation
	More        bool // more allocations overlap than are listed
}

// Allocation is an allocation overlapping a changed block.
type Allocation struct {
	Offset, Size uintptr
	Type         string // e.g. "Endpoint", "[3]Endpoint", "string data"
	Path         string // e.g. "Config.Endpoints[1]"
}

// maxListed bounds the allocations listed per changed block.
const maxListed = 8

func (e *CorruptionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "freeze: region %q (%s): %d block(s) changed since Freeze", e.Region, e.Mode, len(e.Blocks))
	for i, blk := range e.Blocks {
		if i == 4 {
			fmt.Fprintf(&b, "; …")
			break
		}
		fmt.Fprintf(&b, "; block %d [%#x, %#x)", blk.Index, blk.Start, blk.End)
		for j, a := range blk.Allocations {
			if j == 3 {
				b.WriteString(", …")
				break
			}
			sep := ": "
			if j > 0 {
				sep = ", "
			}
			fmt.Fprintf(&b, "%s%s %s", sep, a.Path, a.Type)
		}
	}
	return b.String()
}

// Verify recomputes the checksums of the frozen bytes, on all cores, and
// returns nil if none changed, or a *CorruptionError listing every changed
// block and the allocations in it. It waits for the baseline, returns the
// error of a failed background seal, and does not allocate when nothing
// changed.
func (r *Region) Verify() error {
	changed, err := r.r.Verify()
	if err != nil || changed == nil {
		return err
	}
	e := &CorruptionError{Region: r.r.Name(), Mode: Mode(r.r.Mode())}
	for _, i := range changed {
		lo := uintptr(i) * BlockSize
		hi := min(lo+BlockSize, uintptr(r.r.Size()))
		allocs := r.r.Arena().AllocationsIn(lo, hi, maxListed+1)
		blk := ChangedBlock{Index: i, Start: lo, End: hi, More: len(allocs) > maxListed}
		for _, a := range allocs[:min(len(allocs), maxListed)] {
			blk.Allocations = append(blk.Allocations, Allocation(a))
		}
		e.Blocks = append(e.Blocks, blk)
	}
	return e
}
