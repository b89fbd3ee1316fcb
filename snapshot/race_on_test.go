//go:build race

package snapshot_test

// leakCycles is how many Take/Close cycles the leak test runs. Under the
// race detector a tenth of the 100,000, which took 26 s there: a cycle is
// the same few system calls each time, and the race run is about
// goroutines, not about counting. The runs without it (make test's
// cgocheck2 and linux/386 steps) do all 100,000.
const leakCycles = 10_000
