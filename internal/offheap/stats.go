package offheap

import (
	"sync"
	"sync/atomic"

	"github.com/frozen-go/frozen/internal/space"
)

// Process-wide accounting of arena memory, which the Go runtime does not
// see. Updated only when an arena is created, grows, freezes or closes, so
// allocation pays nothing for it.
var counters struct {
	// mu makes ReadStats see one state of the accounting: NewArena,
	// Freeze and Close each change several counters (an arena and its
	// bytes stop being frozen, mapped and live together), and make all
	// their changes under mu, which ReadStats reads them under. Read apart, a Close
	// between two loads showed FrozenArenas above Arenas, or
	// FrozenBytes above MappedBytes. A change of one counter alone
	// needs no lock.
	mu                  sync.Mutex
	arenas, frozen      atomic.Int64
	mapped, frozenBytes atomic.Int64
	reserved            atomic.Int64
	scratch             atomic.Int64 // bytes of unreleased Scratch memory
}

// Stats is a snapshot of the accounting.
type Stats struct {
	Arenas            int   // live arenas, frozen or not
	FrozenArenas      int   // of which frozen
	MappedBytes       int64 // bytes of memfd mapped by live arenas: what can be resident
	FrozenBytes       int64 // bytes frozen in live regions
	ReservedBytes     int64 // address space reserved by live arenas and Alias views
	QuarantinedBytes  int64 // released address space kept inaccessible
	QuarantinedRanges int
	// Mappings counts the lines of /proc/self/maps inside the library's
	// reservations (what counts against vm.max_map_count), or -1 where
	// that cannot be read.
	Mappings int
}

// ReadStats returns the current accounting.
func ReadStats() Stats {
	sp := space.ReadStats()
	counters.mu.Lock()
	s := Stats{
		Arenas:            int(counters.arenas.Load()),
		FrozenArenas:      int(counters.frozen.Load()),
		MappedBytes:       counters.mapped.Load(),
		FrozenBytes:       counters.frozenBytes.Load(),
		ReservedBytes:     counters.reserved.Load(),
		QuarantinedBytes:  int64(sp.QuarantineBytes),
		QuarantinedRanges: sp.QuarantineRanges,
		Mappings:          -1,
	}
	counters.mu.Unlock()
	if n, err := space.MapsLines(); err == nil {
		s.Mappings = n
	}
	return s
}
