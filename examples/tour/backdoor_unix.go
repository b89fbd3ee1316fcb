//go:build unix

package main

import (
	"golang.org/x/sys/unix"

	"github.com/frozen-go/frozen/internal/backdoor"
)

// haveBackdoor: the back-door step must run here.
const haveBackdoor = true

// The errors a sealed snapshot's back doors meet: mprotect(PROT_WRITE) of
// a mapping of a read-only descriptor is denied, the kernel's own write
// through /proc/self/mem fails, and a write or resize of a memfd sealed
// against them is not permitted.
var errDenied, errIO, errSealed error = unix.EACCES, unix.EIO, unix.EPERM

// backdoorWrite changes a frozen int the way buggy native code could: by
// making its page writable again with mprotect first. On Unix any code in
// the process can do this to a region frozen in Protect mode, so the tour
// treats an error here as a regression, not as a missing feature.
func backdoorWrite(p *int, v int) error { return backdoor.Reprotect(p, v) }
