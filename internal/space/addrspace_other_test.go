//go:build unix && !aix && !linux

package space

import "testing"

// needAddressSpace is childtest.NeedAddressSpace on Linux; elsewhere
// the tests run as they are.
func needAddressSpace(t *testing.T, n uint64) {}
