// Package snapshot is the high-level face of frozen: immutable copies of Go
// values, outside the Go heap, that every goroutine can read without locks
// or copies, that fault on a stray write, and that can be replaced by newer
// versions without anyone reading freed memory.
//
//	s, err := snapshot.Take(cfg)     // deep copy, frozen (Seal mode on Linux)
//	v := s.Value()                   // read-only, shared by all goroutines
//	err = s.Verify()                 // nil: not a byte changed
//	s.Close()                        // memory released, addresses quarantined
//
// # Snapshots
//
// Take copies a value with arena.Clone into a fresh arena sized for it
// (the copy's bytes and room to align them), freezes it with
// freeze.Freeze (WithMode; Seal by default where memfd seals exist,
// Protect elsewhere) and takes a baseline checksum from the
// hashes its copy took of each page as it wrote it: the baseline is
// complete when Take returns, in every mode, so a write that gets around
// the protection afterwards fails Verify. Value returns the frozen value
// without allocating.
//
// # Hot reload
//
// A Store publishes versions: Publish takes a snapshot and makes it
// current, Read runs a callback on the current version. Readers take no
// lock and allocate nothing; a replaced version is released once its last
// reader has left the callback.
//
// # Lookup tables
//
// NewMap builds a Map, a read-only hash table frozen like a snapshot, from
// any iter.Seq2 (maps.All(m), a slice, a file being parsed):
//
//	m, err := snapshot.NewMap(maps.All(countries))
//	name, ok := m.Get("DE")
//
// Keys and values are stored together in slots outside the Go heap, with
// the tags, keys of more than 16 bytes and whatever values point to beside
// them in the same frozen arena, so a table of ten million entries costs
// the garbage collector nothing.
// The strategy follows the keys: a linear scan for up to eight entries,
// direct addressing for dense integer keys (spanning at most twice their
// count: a slot holds only a value, its key being the smallest key plus
// the slot's index), and otherwise static open addressing placed in
// home-slot order, with one tag byte per slot (four
// bits of the key's hash and the key's distance from its home slot). A
// lookup reads eight tags at once from the key's home slot, compares keys
// only where a tag matches, and stops where the next home's keys begin
// (or at an empty slot), so a hit usually reads one slot and a miss none.
// Such tables are 80% full. Those of 8-byte integer keys (int64, uint64,
// and int, uint and uintptr on 64-bit systems) have no tags and are 60% full: each slot holds its
// key's hash, a bijection of the key, in increasing order, and a lookup
// compares hashes four slots at a time from the home slot on, so a hit
// reads one slot and no tag word; a miss reads a slot too.
//
// A Map's Verify names the entries with bytes on each changed page, and
// KeysIn maps any range of offsets in its region back to entries: a
// changed page's, or the offset of a write freeze.Guard caught, where
// it lies in the table's own bytes (keys and the values stored in its
// slots, not what values point to). A write that Guard catches in a value
// or in what a value points to is named by the entry's key, as Go indexes
// a map: `Map[string,*Route]["/api"].TimeoutMS`; one in what a slot holds
// of the key, `key "/api" of Map[string,*Route]`; one in the table's other
// parts (its tags, the bytes of keys longer than 16), through the Map:
// `Map[string,*Route].tags[12]`.
//
// # Memory accounting
//
// Snapshot memory is invisible to the Go runtime (GOMEMLIMIT, runtime
// metrics). arena.ReadStats reports the bytes mapped by live arenas and
// snapshots, frozen bytes, quarantined address space and the number of
// kernel mappings in use. NewMap builds a table of 16,384 entries or more
// with pointer-free values in scratch memory outside the Go heap, about
// three times the finished table, released before it returns; ReadStats
// does not count it. On the Go heap, where GOMEMLIMIT counts it, each
// snapshot keeps 24 bytes of allocation records (never scanned) for each
// run of objects of one type laid out together, until Close: one for a
// slice of structs, but one per node of a linked list (a million 16-byte
// nodes keep 23 MiB). Take and Publish clone in scratch memory on the Go
// heap, a few hundred bytes per object reached (about 400 at its peak for
// such a list), garbage once they return but for the scratch of up to
// 65,536 objects, which a pool keeps (see the README, Memory accounting).
//
// # Caveats
//
// How long values stay valid: a Snapshot's value, and everything reachable
// from it, is valid until Close, which nothing but the program calls (a
// snapshot, map or Store dropped without Close keeps its memory for the
// life of the process). Close may be called from several goroutines at
// once (one releases, the others wait, and return nil once it has
// succeeded), but must not race with readers: a reader still holding the
// value afterwards faults, because the range stays inaccessible in quarantine instead of
// being reused, and the fault kills the process unless the reader runs
// under freeze.Guard, which reports a *freeze.UseAfterClose naming the
// snapshot. The quarantine is bounded (arena.SetQuarantine; by default 64
// GiB of address space, 256 MiB on 32-bit systems, and 16,384 ranges,
// and less under an RLIMIT_AS that leaves less address space):
// once that many later releases have pushed a range out, a pointer kept
// into it reads whatever newer arena reuses the range, or, while none
// does, faults, and Guard reports a *freeze.UseAfterClose that cannot
// name the snapshot (its Region is empty). A snapshot larger than the
// whole byte budget is not quarantined at all, rather than push every
// other out. When readers and releases overlap,
// use a Store: a value passed to Read's callback is valid only inside the
// callback, and the Store releases a version only after every callback
// reading it has returned (a callback that panics, a fault caught by
// Guard say, leaves the release to the next Publish or Close, so that
// Guard can still name the field written). The *Snapshot that Publish
// returns belongs to the Store: closing it (directly or through its
// Region), or making its Region permanent, is refused with
// ErrOwnedByStore. Closing a snapshot's or map's Region, or its arena,
// is the same as closing the snapshot or map. A Store must not be copied
// (go vet reports it): a copy made after its first use panics with an
// error wrapping ErrStoreCopied at its first method call.
//
// What can be snapshotted: anything arena.Clone accepts. Maps, channels,
// funcs, unsafe.Pointer and unique.Handle (which netip.Addr holds) are
// refused with an error naming the field path. Pointer identity with
// objects outside the snapshot is not kept (a cloned error wraps a copy of
// its sentinel).
//
// Maps: Get's results, including strings and anything pointed to by a
// value, are frozen memory valid until the Map's Close, like a snapshot's
// value, and Close must not race with Get: a Get that starts after Close
// panics with an error wrapping arena.ErrClosed, but one still running
// when Close unmaps the table faults, which kills the process unless the
// Get runs under freeze.Guard (which reports a *freeze.UseAfterClose), and
// so does a result kept past Close. Keys may be strings, integers, and
// arrays or structs of booleans and integers; float keys
// (NaN != NaN, and -0 == +0 with different bytes), pointers, interfaces,
// channels and strings inside array or struct keys are refused with an error
// wrapping arena.ErrUnsupported, except where == compares no byte of them:
// in an array of length 0, or in a blank (_) field that holds no pointer,
// such as a float. A duplicate key fails the build with an
// error wrapping ErrDuplicateKey that names the key, and keys that crowd
// together under every seed tried with ErrClusteredKeys. Building costs
// more when values hold pointers: each string or pointed-to object in a
// value is cloned like any Go object, so a million entries whose values
// hold a string took 0.6-0.8 µs per key to build (go run
// ./examples/lookup on 2026-12-07; 0.65-0.96 µs that day before Clone
// read the sources of string bytes ahead of copying them, 0.9-1.4
// before it grew its lists ahead, 1-3 µs on hosts measured earlier),
// against 0.08-0.18 µs for int64 values (bench/REPORT.md, since the
// build moved off the Go heap): three to ten times as long. A slot
// holds a string key of up to 16 bytes; a longer key's bytes are kept
// beside the slots. Where all such keys have one length,
// they are laid out by slot, so that a hit reads its slot and the key's
// bytes at once after the tag word (the key's bytes then take a quarter
// more room: empty slots keep room for one); keys of several lengths
// over 16 bytes cost a third read, the slot first for where the bytes
// are. With 32-byte keys hits took 1.29-1.69 times as long as Go's map's
// at 1e3 to 1e7 keys before the layout by slot, and misses, which the
// tags settle, 0.4-0.5 of its time from 1e5 keys (1.2 at 1e3). Laid out
// by slot, hits took 1.18, 0.78, 0.94 and 0.89 of Go's map's time at 1e3,
// 1e5, 1e6 and 1e7 keys in the latest full run (bench/REPORT.md,
// key=string32; 1.50, 1.20, 0.97 and 0.70 in the one before), and 0.6
// at 1e5 and 0.9 at 1e6 in alternating runs of the binaries before and
// after the change. Such a table saves the collector's work more than
// lookup time.
//
// Frozen values are read-only: writing through them faults, and
// appending to a frozen slice copies it to the heap (frozen slices have
// len == cap). Copies of frozen values are ordinary Go values. That
// includes the writes a value's own methods make: Take copies a
// sync.Mutex, sync.Once or atomic counter like any other field, but
// locking it, running it or adding to it faults once frozen (under the
// race detector, a fatal error that freeze.Guard cannot catch), as does
// using a type that builds its state on first use (a strings.Replacer).
// Leave such fields out of the value, or keep them beside the snapshot.
//
// Each live snapshot costs one or two kernel mappings (two to four in Alias
// mode: an arena of 2 MiB or more is aligned to 2 MiB, which can leave a
// reserved gap after it, and in Alias mode after its view too), and one
// more while it has released ranges on both sides of it (released snapshots
// merge with each other, not with live ones), so about 20,000 (13,000 in
// Alias mode) can be live at once under the default vm.max_map_count
// (65530); in Seal mode it also keeps one read-only descriptor open (for
// Region.File), which counts against RLIMIT_NOFILE. Stay well below the
// limit: once the process has reached it, Take fails, a Freeze that fails
// may be unable to undo itself (the arena is then left to be closed), and
// the Go runtime, unable to map memory to grow its heap, soon stops the
// process. Close still works there (over the limit the kernel refuses the
// mmap that releases a mapping, so the library unmaps the range and
// reserves it again), and each Close brings the process back under it.
// WithPermanent snapshots can never be released.
package snapshot
