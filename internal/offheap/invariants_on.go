//go:build invariants || race

package offheap

// Invariants turns on the expensive self-checks: concurrent use of an Arena
// panics, and Clone re-validates the pointer graph it wrote. It is on under
// -race and with -tags invariants (make test uses both).
const Invariants = true
