//go:build unix && !aix

package snapshot

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/internal/offheap"
	"github.com/frozen-go/frozen/internal/proc"
)

// boxed holds an interface behind a pointer: Take copies its root, the
// pointer, but not what it points to, which a test can change after Take
// has planned the copy.
type boxed struct{ X any }

// A value changed while Take copies it (an interface given another type
// between planning the copy and making it, as a goroutine racing with
// Take could) fails the copy, and Take discards the arena it made for it:
// no snapshot, no arena, mapped or reserved bytes left live, no
// descriptor and no mapping of the arena's name left open, and nothing
// quarantined, since nobody had an address in the arena. Left open, the
// arena stayed mapped for the life of the process with nothing to release
// it. Only a data race reaches this failure, so the test makes the change
// from the hook between planning and copying.
func TestTakeOfAValueChangedWhileCopiedDiscardsTheArena(t *testing.T) {
	const name = "changed-while-taken"
	v := &boxed{X: [2]int64{1, 2}}
	changed := false
	require.Nil(t, testHookBeforeApply, "hook already set")
	testHookBeforeApply = func() { changed = true; v.X = "now a string" }
	defer func() { testHookBeforeApply = nil }()

	before, fds := statsOfLive(), openFDs(t)
	s, err := Take(v, WithName(name))
	require.True(t, changed, "Take never reached the hook")
	if s != nil {
		assert.NoError(t, s.Close())
	}
	assert.Nil(t, s, "a snapshot was returned with the error")
	var ce *offheap.CloneError
	require.ErrorAs(t, err, &ce, "the copy of the changed value did not fail")
	assert.Contains(t, err.Error(), "boxed.X")
	assert.Equal(t, before, statsOfLive(), "a failed Take left its arena live, or quarantined it")
	assert.Equal(t, fds, openFDs(t), "a failed Take left a descriptor open")
	if maps, err := os.ReadFile("/proc/self/maps"); err == nil {
		var left []string
		for line := range strings.Lines(string(maps)) {
			if strings.Contains(line, name) {
				left = append(left, line)
			}
		}
		assert.Empty(t, left, "a failed Take left its arena mapped")
	}
}

// statsOfLive is arena.ReadStats without the mapping count, which
// depends on where ranges lie.
func statsOfLive() arena.Stats {
	s := arena.ReadStats()
	s.Mappings = 0
	return s
}

// openFDs counts the process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	n, err := proc.OpenFDs()
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return n
}
