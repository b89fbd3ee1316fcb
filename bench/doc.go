// Package bench holds frozen's benchmarks against other libraries, in a
// module of its own so that they stay out of the library's dependencies:
// Freeze in each mode against copy(), go-clone and a bare mprotect
// (BenchmarkFreeze), and of a list of a million pointers against copy()
// of its bytes (BenchmarkFreezePointers); Clone and Take of a
// config-like graph against go-clone and a JSON round trip
// (BenchmarkClone, BenchmarkTake);
// arena.New and arena.MakeSlice against new, make and Go's experimental
// arenas (BenchmarkAlloc, BenchmarkAllocSlice);
// snapshot.Map against Go's map (BenchmarkMapGet, BenchmarkMapBuild,
// BenchmarkGCWithTable); and Verify against one-core xxhash and copy()
// (BenchmarkVerify).
//
// From the repository root, make bench runs them all (bench/run) into
// bench/results/bench.txt, which benchstat reads, and make report turns
// that into REPORT.md and the SVG plots in plots/ (cmd/report). make
// bench-quick runs them at smaller sizes, fewer times, into
// bench/results/quick.txt, and make report-quick renders that into
// bench/results/quick/.
package bench
