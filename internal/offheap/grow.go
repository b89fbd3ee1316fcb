package offheap

import "slices"

// push appends v to s, doubling the capacity when s is full. append grows
// large slices by only a quarter each time; for the cloner's per-range
// slices, which reach millions of elements, that measured most of a
// clone's time here (every growth is a fresh allocation to copy, fault
// in and, for slices holding pointers, scan).
func push[T any](s []T, v T) []T {
	if len(s) == cap(s) {
		s = slices.Grow(s, max(len(s), 16))
	}
	return append(s, v)
}
