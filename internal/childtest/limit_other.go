//go:build !linux

package childtest

import "testing"

// NeedAddressSpace skips t where RLIMIT_AS leaves less than n bytes of
// address space (see limit_linux.go); elsewhere than on Linux, where what
// the process maps is not read, the test runs as it is.
func NeedAddressSpace(t testing.TB, n uint64) {}
