package vm

// Transient reports whether err is the lack of a resource that may be
// there later. Plan 9 has no backend, so no error here is one.
func Transient(error) bool { return false }
