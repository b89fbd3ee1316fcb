// Package arena copies Go values into memory outside the Go heap, so that
// package freeze can make that memory read-only.
//
// An Arena is backed by a memfd (an unlinked temporary file on macOS, the
// BSDs and the other Unix systems but AIX) mapped into an address range
// reserved up front (WithMaxBytes), so that allocations never move.
// Memory is used only as bytes are allocated, and is released by Close.
//
// # Allocating
//
// New, MakeSlice, String and Bytes allocate zeroed memory for
// pointer-free types, aligned for the type; on 32-bit systems a value
// of a type of 8 bytes or more (for MakeSlice, of an element type of 8
// bytes or more) starts at a multiple of 8, as sync/atomic's 64-bit
// functions need for the int64 and uint64 fields they hold (a slice of
// smaller elements, such as []uint32, gets its element's alignment only).
// A clone keeps each value's address modulo 8 from the original: it
// starts at a multiple of 8 where the original did, as Go's allocator
// places every value it allocates whose first word is an int64 or uint64,
// but not every value of 8 bytes or more (a [9]byte may start anywhere).
// Clone deep-copies any value whose types it supports, pointers included,
// keeping the shape of its pointer graph (shared objects,
// cycles, pointers into the middle of arrays and structs). Slices handed out
// have len == cap, so append copies to the heap instead of writing past an
// allocation. A re-slice with spare capacity that you store into arena
// memory yourself keeps it until freeze.Freeze, which cuts the capacity
// of every slice in the arena to its length: before that, append on it
// writes into the arena.
//
//	a, err := arena.NewArena(arena.WithName("config"))
//	cfg, err := arena.Clone(a, loadConfig()) // *Config, all in the arena
//	ports := arena.MakeSlice[uint16](a, 64)
//
// # Concurrency
//
// An Arena is not safe for concurrent use while it is being filled; the
// invariants build (on under -race and with -tags invariants) panics when two
// goroutines use one at the same time. Once frozen, what it holds may be read
// by any number of goroutines. Closing it, or the freeze.Region it was frozen
// into, is a use too: a call of New, MakeSlice, String, Bytes or Clone on a
// frozen arena (which fails with ErrFrozen) must not run while another
// goroutine closes its Region.
//
// # Errors
//
// Clone returns errors; New, MakeSlice, String and Bytes panic, but only with
// an error wrapping one of ErrUnsupported, ErrFrozen, ErrClosed,
// ErrExhausted or ErrInvalidSize (recover it and use errors.Is), except
// New on a nil *Arena, which panics with the runtime's nil dereference,
// and, in the invariants build (-tags invariants, or -race), concurrent use
// of one Arena, which panics with a message that says so.
// Errors about types name the offending field path, e.g.
// "arena: clone: Config.Index: map[string]int: maps are not supported
// (build a snapshot.Map instead)".
//
// # Caveats
//
// What may not be stored: maps, channels, funcs and unsafe.Pointer, at any
// depth (snapshot.Map is the frozen replacement for maps); unique.Handle,
// which is compared by identity and so cannot be copied (netip.Addr,
// netip.Prefix and netip.AddrPort hold one: store addresses as strings or
// byte arrays); the library's own handles (an Arena, freeze.Region,
// snapshot.Snapshot, Map or Store: keep them beside the value); and, for
// the typed allocators, anything holding pointers
// (strings, slices and interfaces count).
//
// The garbage collector does not scan arena memory, so no Go-heap pointer
// may ever be stored in it: the object it points to could be freed while
// the arena still refers to it. The library never stores one: Clone
// rewrites every pointer to an arena copy, freeze.Freeze re-validates the
// graph and refuses one it finds (ErrForeignPointer), and freeze.Update
// checks what its function changed before writing it. Code that changes a
// clone before Freeze must keep to the same rule, and can break it
// without unsafe: store into a pointer, string, slice or interface field
// of a value in an arena only nil, an empty value, or memory of the same
// arena (New, MakeSlice, String, Bytes, Clone, or another of its fields).
// c.Primary = &Endpoint{}, c.Name = strings.ToUpper(c.Name) or c.Tags =
// append(c.Tags, "x") store Go-heap memory that the next collection may
// free: Freeze then refuses the graph, but a read before it may read freed
// memory. Build the new value in the arena instead (c.Name =
// arena.String(a, strings.ToUpper(c.Name))). Under GOEXPERIMENT=cgocheck2
// the runtime aborts at such a store ("unpinned Go pointer stored into
// non-Go memory"); the library's own test suite runs under it too.
//
// Identity is not kept with anything outside the arena: a clone of an error
// wraps a copy of a sentinel (errors.Is against the original sentinel is
// false), and a time.Time in Local time carries a copy of the Local zone as
// it was at Clone. Interface type words point to Go's type descriptors,
// which Go never frees; they are the one kind of word in arena memory that
// points outside it.
//
// How long memory stays valid: until Close. After Close the range is
// inaccessible and quarantined (see SetQuarantine): a pointer kept past
// Close faults (freeze.Guard reports it as a *freeze.UseAfterClose) instead
// of reading memory that was reused, until later releases push the range
// out of the bounded quarantine (and a new arena takes it: until then it
// still faults, and Guard's report cannot name the arena). A range larger
// than the whole quarantine budget (64 GiB, 256 MiB on 32-bit systems) is
// not quarantined at all: an arena given a WithMaxBytes above it. Values
// read out of an arena must not be used after its Close.
//
// Memory outside the Go heap is invisible to the runtime: GOMEMLIMIT and
// runtime/metrics do not count it. Fresh arena pages cost a page fault on
// first touch, like any fresh memory; Clone pre-faults what it writes.
//
// Clone costs more per object than a copy on the heap: it first finds
// every range it will copy, and sorts them to find those that overlap,
// so that shared and interior pointers stay shared. A slice of many short
// strings, its worst case, took 75-154 ns a string against 19-37 for
// strings.Clone of each (BenchmarkCloneStrings), and 144-178 at a million
// strings listed out of address order; a million pointers to small
// structs took 152-162 ns a pointer, and 224-235 shuffled
// (BenchmarkClonePointers); a config of structs,
// slices and pointers clones in 0.37 of go-clone's cycle-safe time,
// counting a 64th of replacing a full arena a clone, and 0.39 counting a
// new arena for each clone (the README's Performance section).
package arena
