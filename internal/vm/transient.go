//go:build !plan9

package vm

import (
	"errors"
	"syscall"
)

// Transient reports whether err is the lack of a resource that may be
// there later (descriptors, memory), rather than of a feature.
func Transient(err error) bool {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOMEM, syscall.EAGAIN, syscall.EINTR} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}
