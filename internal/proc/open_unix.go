//go:build unix

package proc

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Open opens the file at path for reading with open(2) itself, not
// os.Open. The first file a Go program opens through os (or its first
// timer) makes the runtime set up its poller, which takes a descriptor of
// its own; where the open took the process's last one, that setup fails
// and the runtime ends the process ("netpollinit failed"). The library
// reads files of /proc and /sys on paths a program takes (arena.ReadStats,
// a Close at the mapping limit, a new arena's huge-page advice), where
// running out of descriptors must be an error it returns instead.
func Open(path string) (io.ReadCloser, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		return &file{fd: fd, path: path}, nil
	}
}

// file is an open descriptor read with read(2), blocking: the files of
// /proc and /sys never block.
type file struct {
	fd   int
	path string
}

func (f *file) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, err := unix.Read(f.fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, &os.PathError{Op: "read", Path: f.path, Err: err}
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (f *file) Close() error { return unix.Close(f.fd) }
