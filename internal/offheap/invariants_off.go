//go:build !(invariants || race)

package offheap

// Invariants turns on the expensive self-checks; see invariants_on.go.
const Invariants = false
