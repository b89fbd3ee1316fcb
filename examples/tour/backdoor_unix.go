//go:build unix

package main

import "github.com/frozen-go/frozen/internal/backdoor"

// backdoorWrite changes a frozen int the way buggy native code could: by
// making its page writable again with mprotect first. On Unix any code in
// the process can do this to a region frozen in Protect mode, so the tour
// treats an error here as a regression, not as a missing feature.
func backdoorWrite(p *int, v int) error { return backdoor.Reprotect(p, v) }
