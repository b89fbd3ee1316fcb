package arena

import "github.com/frozen-go/frozen/internal/offheap"

// Stats accounts for the memory of every arena in the process. The Go
// runtime does not see it: runtime/metrics and GOMEMLIMIT count only the
// memory the runtime maps itself (the heap, goroutine stacks, its own
// metadata). When large arenas or snapshots are live, set GOMEMLIMIT to the
// memory you can give Go minus MappedBytes (see the README).
type Stats struct {
	Arenas       int   // live arenas, frozen or not (snapshots included)
	FrozenArenas int   // of which frozen
	MappedBytes  int64 // memory mapped by live arenas: an upper bound of what they keep resident
	FrozenBytes  int64 // bytes frozen in live regions
	// ReservedBytes is the address space reserved by live arenas
	// (WithMaxBytes each, and an Alias region's read-only view, as long
	// as the arena has mapped); it costs no memory.
	ReservedBytes int64
	// QuarantinedBytes and QuarantinedRanges describe released address
	// space kept inaccessible so that dangling pointers fault (see
	// SetQuarantine); it costs no memory.
	QuarantinedBytes  int64
	QuarantinedRanges int // the number of quarantined ranges
	// Mappings is the number of kernel mappings (lines of
	// /proc/self/maps) the library holds, which counts against
	// vm.max_map_count (65530 by default); -1 where it cannot be read.
	// A live arena costs one or two, and one more while released ranges
	// lie on both sides of it: released ones merge with each other, not
	// with live ones. The address space reserved for arenas (64 GiB at a
	// time, 256 MiB on 32-bit systems) is counted too, where no arena
	// splits it: once an arena has been made, Mappings is at least one,
	// with no arena live and the quarantine empty.
	Mappings int
}

// ReadStats returns the current accounting. It reads /proc/self/maps to
// count mappings, so it is meant for monitoring, not hot paths. It may be
// called while other goroutines create, freeze and close arenas: the
// counts of arenas and bytes are of one moment (FrozenArenas never
// exceeds Arenas, nor FrozenBytes MappedBytes), while the quarantine's
// and Mappings are read apart.
func ReadStats() Stats { return Stats(offheap.ReadStats()) }
