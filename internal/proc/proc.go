// Package proc reads what the kernel reports of the process in
// /proc/self/status, and of memory in /proc/vmstat, for the OS layer and
// the tests that put the process under limits. It imports nothing of the
// library's, so both may use it.
package proc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// ErrNoVmSize is returned where /proc/self/status has no VmSize line (not
// Linux, or no /proc mounted).
var ErrNoVmSize = errors.New("proc: no VmSize in /proc/self/status")

// VmSize returns the process's address space in bytes: VmSize in
// /proc/self/status, the total that RLIMIT_AS limits.
func VmSize() (uint64, error) {
	status, err := ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	return vmSizeIn(status)
}

// vmSizeIn returns VmSize, in bytes, from the text of a status file.
func vmSizeIn(status []byte) (uint64, error) {
	f := fieldsOf(status, "VmSize:")
	if len(f) != 3 {
		return 0, ErrNoVmSize
	}
	kb, err := strconv.ParseUint(string(f[1]), 10, 64)
	return kb << 10, err
}

// fieldsOf returns the fields of the first line of text whose first field
// is key, or nil.
func fieldsOf(text []byte, key string) [][]byte {
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		if f := bytes.Fields(sc.Bytes()); len(f) > 0 && string(f[0]) == key {
			return f
		}
	}
	return nil
}

// VMStat returns the counter called name in /proc/vmstat, such as
// thp_file_fallback.
func VMStat(name string) (uint64, error) {
	vmstat, err := ReadFile("/proc/vmstat")
	if err != nil {
		return 0, err
	}
	return counterIn(vmstat, name)
}

// counterIn returns the counter called name from the text of /proc/vmstat,
// one "name value" pair per line.
func counterIn(vmstat []byte, name string) (uint64, error) {
	f := fieldsOf(vmstat, name)
	if len(f) != 2 {
		return 0, fmt.Errorf("proc: no %s in /proc/vmstat", name)
	}
	return strconv.ParseUint(string(f[1]), 10, 64)
}

// ReadFile returns the contents of the file at path, opened with Open.
func ReadFile(path string) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// OpenFDs returns the number of descriptors the process has open, as
// /proc/self/fd lists them, for the tests that check the library leaks
// none. It opens a file first: the first file a Go program opens makes
// the runtime open its poller's two descriptors (epoll and eventfd),
// which it keeps, so that a count taken before the process had opened
// any (a test run first, under -run or -shuffle) would take those for a
// leak at the next count. Listing /proc/self/fd does not open them.
func OpenFDs() (int, error) {
	if f, err := os.Open(os.DevNull); err == nil {
		_ = f.Close()
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, err
	}
	return len(ents), nil
}
