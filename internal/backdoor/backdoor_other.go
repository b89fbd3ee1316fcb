//go:build !unix

// Package backdoor writes to frozen memory behind the library's back, for
// tests and demonstrations; on this platform every attempt fails.
package backdoor

import "errors"

var errUnsupported = errors.New("backdoor: not available on this platform")

// Reprotect is not available here.
func Reprotect[T any](p *T, v T) error { return errUnsupported }

// ProcMem is not available here.
func ProcMem[T any](p *T, v T) error { return errUnsupported }

// Pwrite is not available here.
func Pwrite(fd uintptr, off int64, b []byte) error { return errUnsupported }

// Truncate is not available here.
func Truncate(fd uintptr, size int64) error { return errUnsupported }
