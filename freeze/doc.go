// Package freeze makes an arena read-only and proves, with checksums, that
// its bytes never changed.
//
//	a, _ := arena.NewArena(arena.WithName("config"))
//	cfg, _ := arena.Clone(a, loaded)
//	r, err := freeze.Freeze(a, freeze.Seal)
//	ro := freeze.ReadOnly(r, cfg) // hand ro to readers
//	err = freeze.Guard(func() { ro.Port = 1 }) // *freeze.WriteFault naming "*Config.Port"
//	err = r.Verify()                           // nil, or a *freeze.CorruptionError
//
// # Modes
//
// Protect makes the arena's range read-only in place with mprotect and, on
// Linux, adds F_SEAL_FUTURE_WRITE, F_SEAL_GROW and F_SEAL_SHRINK to its
// memfd, so no descriptor can write it, and none kept from before Freeze
// can truncate it (which would zero the frozen bytes and make readers
// fault). Only another mprotect on the range can make it writable again.
// Cost: proportional to the resident pages (the kernel rewrites each page
// table entry; see Huge pages below), which stay mapped, so readers go on
// at full speed. Moving the page tables aside first, as Seal does, would
// return sooner but make readers fault every page in again, which
// measured three to six times the cost of the mprotect over the runs
// measured (bench/REPORT.md: a first pass over 1 GiB after Seal took
// 138.5 ms, Protect's mprotect 30.8 ms); Protect does not.
//
// Alias maps the same memfd a second time, read-only, from an O_RDONLY
// reopen (so the view can never be made writable), and relocates the
// arena's pointer graph to it: every pointer reachable from ReadOnly's
// result points into the read-only view. The owner keeps its writable
// mapping and changes data deliberately with Update, whose function
// changes a copy on the Go heap that is checked and written back, and
// which re-baselines the checksum; any other change (a stray write through the owner's mapping,
// /proc/self/mem) is caught by Verify, and an Update of a value on a page
// that changed another way is refused rather than take the change into
// its checksums. On Linux the memfd gets the same seals as in Protect
// mode: the owner's mapping, made before them, still writes; no
// descriptor can, nor change the file's size. The owner's mapping is
// made read-only as well until the baseline is taken, in the background
// (Wait, Update and Verify wait for it): a write through it before then
// faults, as in Protect mode, and Guard names it; from then on it writes,
// and Verify catches what did not go through Update. A snapshot's arena,
// whose copy hashed its pages, is never made read-only: its baseline is
// ready when Freeze returns. Cost: O(1) for the mapping, plus rewriting
// the pointers, plus an mprotect of the owner's mapping (Protect's cost);
// the hashing of every byte, and the mprotect that makes the owner's
// mapping writable again, come after Freeze returns.
//
// Seal remaps the range in place from the O_RDONLY descriptor and seals the
// memfd with F_SEAL_WRITE, F_SEAL_GROW, F_SEAL_SHRINK and F_SEAL_SEAL:
// once that is done (Region.Wait; for large arenas see below and the
// Caveats), nothing inside or outside the process can change the bytes, and
// Region.File hands a read-only descriptor to other processes (from Linux
// 6.3 the memfd also carries F_SEAL_EXEC, which every arena's memfd is
// made with: it can never be given execute bits). Large
// arenas first move their page tables aside (mremap), which costs O(1) per
// GiB when the arena is 1 GiB-aligned, so Freeze returns in microseconds;
// F_SEAL_FUTURE_WRITE, GROW and SHRINK hold from that moment, F_SEAL_WRITE
// and F_SEAL_SEAL follow in the background once the moved-aside mapping is
// gone; the baseline is hashed through the moved-aside mapping before it
// is released. The remapped range starts with no pages mapped: readers,
// and the first Verify, fault each page in once (a first pass over 1 GiB
// took 44–148 ms on the hosts measured, against 4–11 ms after Protect; see
// bench/REPORT.md). Permanent additionally mseals the range (Linux
// 6.10+): it can never be unmapped for the life of the process.
//
// The costs above, and bench/REPORT.md's Freeze figures, are those of
// data without pointers. Before any mode's own work, Freeze checks that
// every pointer in the arena leads into it, and Alias then points each
// into the view: 9-16 ns a pointer in Protect and Seal mode and 22-33 in
// Alias mode on the 2-core hosts measured, so a list of a million nodes
// (16 MiB) froze in 9-17 and 23-35 ms, where a copy of its bytes took
// 0.7-1.4 ms (bench: BenchmarkFreezePointers).
//
// # Huge pages
//
// Arenas of 2 MiB and more ask for transparent huge pages (MADV_HUGEPAGE)
// on every mapping of their memfd: the owner's, an Alias view, and Seal's
// remapped range. Linux gives shared memory huge pages only where
// /sys/kernel/mm/transparent_hugepage/shmem_enabled allows it ("advise"
// or "always"; many distributions ship "never"; since Linux 6.11
// hugepages-2048kB/shmem_enabled there overrides it for 2 MiB pages
// unless it says "inherit"). Where it does, mprotect
// and the first reads of a remapped range or a view take one page-table
// entry per 2 MiB instead of 512: Protect of 1 GiB took 0.09 ms instead
// of 11 ms on one host, and a first pass over 1 GiB after Alias or Seal
// 8.5 ms instead of 40–42 (README, "Huge pages"). An arena then holds up to
// one 2 MiB page it only partly uses.
//
// # Checksums and Verify
//
// Every 4 KiB page of the frozen bytes has its own xxhash, computed on all
// cores; Checksum combines them. The baseline describes the bytes as they
// were when Freeze returned: the kernel already prevents changes (in
// Alias mode by making the owner's mapping read-only until the baseline
// is taken), so it is finished in the background and Verify, Checksum,
// Update and Wait wait for it (a write that gets around the protection
// before then can be taken into it: see Caveats). A snapshot's arena
// (snapshot.Take, Store.Publish, NewMap) comes with the hashes its copy
// took of each page it wrote: its
// baseline is complete when Freeze returns, in every mode, with no such
// window. Verify recomputes every page in parallel, allocates nothing when
// nothing changed, and otherwise returns a *CorruptionError naming each
// changed page and up to eight allocations in it (type and field path);
// Region.Allocations lists every allocation in a range of offsets, such
// as a changed page that holds more.
//
// # Guard
//
// Guard runs a function with debug.SetPanicOnFault and turns a write fault
// in frozen memory into a *WriteFault naming the region, the offset and the
// Go field, for example:
//
//	freeze: write to frozen region "config" at offset 0x58, field *Config.Endpoints[1].Port (address 0x7f…, Seal mode)
//
// Without Guard the runtime kills the process
// with "unexpected fault address", naming no region or field; under
// debug.SetPanicOnFault alone it panics with a misleading "invalid memory
// address or nil pointer dereference". That is what Guard is for.
//
// # Failure
//
// Freeze is all or nothing: if any step fails (mprotect, mapping the view,
// moving page tables, sealing) the earlier steps are undone, the arena is
// left open and writable exactly as it was, and the *StepError names the
// step. Steps that cannot be undone (file seals) come last. Should undoing
// fail too, StepError.Rollback says so, and what could not be undone stays:
// an arena left read-only refuses allocations and another Freeze (errors
// wrapping arena.ErrFrozen) and can only be closed (see Freeze).
//
// # Caveats
//
// What each mode does not protect against: Protect can be undone by any
// code in the process that calls mprotect on the range, and a write made
// that way in the window while the background baseline is being taken
// (41–145 ms per GiB on the hosts measured, bench/REPORT.md's Background
// column) is folded into the baseline, unless the arena is a snapshot's
// (see Checksums); so, in the same window, can the owner's mapping of an
// Alias region. Alias leaves the owner's mapping writable by design once
// the baseline is taken: Verify catches changes, it does not prevent
// them. Before that a stray write through the owner's mapping faults,
// and outside Guard the fault kills the process, where a moment later
// Verify would have reported the write: code that writes through the
// owner's mapping outside Update (a test of Verify, say) calls Wait
// first. Update refuses or undoes itself rather than take a change made
// another way into its checksums, but Freeze itself hashes the Alias
// baseline after its checks,
// so a write through the arena's memory by another goroutine while Freeze
// runs (a data race: an Arena is not for concurrent use) lands in the
// baseline unchecked. Seal prevents every write, but until its background
// step finishes (100–190 ms per GiB on the hosts measured) the moved-aside
// writable mapping of an arena whose mapping has grown to 2 MiB or more
// still exists, at an address the library hands to no caller (though it
// may be a range that has left quarantine, which a pointer kept long past
// a Close could still hold): code that finds it (in /proc/self/maps) or
// such a pointer, and writes through it before the baseline
// is hashed has its write folded into the baseline, as in Protect mode, and
// Verify does not see it (again unless the arena is a snapshot's). No mode
// protects against code that reads frozen data and keeps a copy: copies are
// ordinary Go values.
//
// Platforms without memfd seals (every Unix but Linux, for now) cannot
// Seal (ErrModeUnsupported, never a silent downgrade); their Protect and
// Alias modes take the baseline before returning, since nothing stops a
// write through a descriptor, and Alias leaves the owner's mapping
// writable throughout. Windows, AIX, wasm and Plan 9 return an error
// wrapping arena.ErrUnsupportedPlatform.
//
// Guard only guards the calling goroutine; a fault in another goroutine
// still kills the process, as any fault does. A system call that writes into
// frozen memory (read(2) into a frozen buffer) fails with EFAULT instead of
// faulting. Under the race detector, an atomic operation into frozen
// memory (sync/atomic, a sync.Mutex or sync.Once in a snapshot) kills the
// process whether or not Guard runs it: the race runtime does atomics in C
// code, whose faults the Go runtime cannot recover. A fault does not say
// whether it was a read or a write: in a frozen range it can only be a
// write; in a closed range it is any access.
// On linux/s390x the kernel reports only the page that faulted, so a
// WriteFault there has PageOnly set and names no field (make test runs the
// suite for s390x under emulation to keep this, and the big-endian code,
// honest).
//
// How long pointers stay valid: until the region (or its arena) is closed.
// After that the range is inaccessible and quarantined, so a dangling
// pointer faults instead of reading reused memory, within the bounds of
// the quarantine (arena.SetQuarantine: a range larger than its whole
// budget is not quarantined).
package freeze
