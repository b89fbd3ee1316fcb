//go:build !unix

package proc

import (
	"io"
	"os"
)

// Open opens the file at path for reading. (On Unix systems it does so
// without os, whose first open sets up the runtime's poller: see
// open_unix.go. There is no /proc here, and the library reads none.)
func Open(path string) (io.ReadCloser, error) { return os.Open(path) }
