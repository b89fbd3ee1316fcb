//go:build !race

package snapshot_test

// leakCycles is how many Take/Close cycles the leak test runs
// (race_on_test.go has the count under the race detector).
const leakCycles = 100_000
