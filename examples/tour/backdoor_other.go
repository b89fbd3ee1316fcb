//go:build !unix

package main

import "errors"

// errNoBackdoor is what backdoorWrite returns outside Unix, where there is
// no mprotect to call.
var errNoBackdoor = errors.New("tour: no mprotect back door on this platform")

// backdoorWrite has no mprotect to call outside Unix (Windows,
// js/wasm, wasip1): it always returns errNoBackdoor, and the tour skips the
// back-door step. (The library has no backend there either, so the tour
// stops at its first snapshot before reaching that step.)
func backdoorWrite(p *int, v int) error { return errNoBackdoor }

// haveBackdoor: the back-door step is skipped here.
const haveBackdoor = false

// Nothing is sealed here: there are no errors of back doors to expect.
var errDenied, errIO, errSealed error = errNoBackdoor, errNoBackdoor, errNoBackdoor
