//go:build unix && !aix

package snapshot

import (
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
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

// withString is a value whose only pointer is a string's: a copy of it
// reads the bytes only when it copies them, once its arena is made.
type withString struct{ S string }

// A copy that faults, rather than fails (the bytes of a string in a closed
// snapshot, under freeze.Guard), unwinds through Take, Publish and NewMap,
// which discard the arena they made for it: none is left live (nothing
// refers to it, so nothing could ever close it), nor quarantined, nor a
// descriptor open. (A value whose pointers lead into a closed snapshot
// faults while its copy is planned, before there is an arena.)
func TestTakeWhoseCopyFaultsDiscardsTheArena(t *testing.T) {
	for _, m := range []freeze.Mode{freeze.Protect, freeze.Alias, freeze.Seal} {
		t.Run(m.String(), func(t *testing.T) {
			if err := offheap.ModeMissing(offheap.Mode(m)); err != nil {
				t.Skip(err)
			}
			src, err := Take(withString{S: strings.Repeat("s", 100)}, WithMode(m))
			require.NoError(t, err)
			v := src.Value() // its header on the heap, its bytes in src
			require.NoError(t, src.Close())

			before, fds := statsOfLive(), openFDs(t)
			var st Store[withString]
			st.Configure(WithMode(m))
			for name, copyV := range map[string]func(){
				"Take":    func() { _, _ = Take(v, WithMode(m)) },
				"Publish": func() { _, _ = st.Publish(v) },
				"NewMap":  func() { _, _ = NewMap(maps.All(map[int]withString{1: v}), WithMode(m)) },
			} {
				var uac *freeze.UseAfterClose
				require.ErrorAs(t, freeze.Guard(copyV), &uac, name)
				assert.Equal(t, before, statsOfLive(), "%s left an arena live or quarantined", name)
				assert.Equal(t, fds, openFDs(t), "%s left a descriptor open", name)
			}
			require.NoError(t, st.Close())
		})
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
