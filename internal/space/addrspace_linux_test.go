package space

import (
	"testing"

	"github.com/frozen-go/frozen/internal/childtest"
)

// needAddressSpace skips t where RLIMIT_AS leaves less than n bytes to
// reserve (childtest.NeedAddressSpace).
func needAddressSpace(t *testing.T, n uint64) {
	t.Helper()
	childtest.NeedAddressSpace(t, n)
}
