//go:build goexperiment.cgocheck2

package arena_test

import (
	"os"
	"os/exec"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
)

var keep *int

// TestCgocheck2AbortsOnHeapPointerStore proves that the second net is live
// in this build: a typed store of a Go-heap pointer into arena memory
// aborts the process (the library never makes one; this child does on
// purpose).
func TestCgocheck2AbortsOnHeapPointerStore(t *testing.T) {
	if os.Getenv("FROZEN_CGOCHECK2_CHILD") == "1" {
		a, err := arena.NewArena()
		if err != nil {
			t.Fatal(err)
		}
		slot := (**int)(unsafe.Pointer(arena.New[uintptr](a)))
		keep = new(int)
		*slot = keep // must abort here
		t.Log("the store was not caught")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCgocheck2AbortsOnHeapPointerStore$", "-test.v")
	cmd.Env = append(os.Environ(), "FROZEN_CGOCHECK2_CHILD=1")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "the child should have aborted:\n%s", out)
	assert.Contains(t, string(out), "Go pointer stored into non-Go memory")
}
