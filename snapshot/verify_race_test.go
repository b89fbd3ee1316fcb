//go:build unix

package snapshot_test

import (
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/backdoor"
	"github.com/frozen-go/frozen/snapshot"
)

// Map.Verify racing Close names the entries on a changed page or says
// the map is closed, as Region.Verify does, and never reads the table's
// memory after Close released it.
func TestMapVerifyRacingCloseReportsOrRefuses(t *testing.T) {
	want := map[string]int{}
	for i := range 20000 {
		want[fmt.Sprintf("a key longer than sixteen bytes, number %06d", i)] = i
	}
	var corrupt, closed int
	for round := range 60 {
		fm, err := snapshot.NewMap(maps.All(want), snapshot.WithMode(freeze.Protect))
		require.NoError(t, err)
		require.NoError(t, fm.Region().Wait())
		var victim string
		for k := range fm.All() {
			victim = k
			break
		}
		require.NoError(t, backdoor.Reprotect(unsafe.StringData(victim), 'Z'))
		done := make(chan error)
		go func() { done <- fm.Verify() }()
		time.Sleep(time.Duration(round%20) * 25 * time.Microsecond)
		require.NoError(t, fm.Close())
		err = <-done
		var ce *freeze.CorruptionError
		switch {
		case errors.As(err, &ce):
			corrupt++
		case errors.Is(err, arena.ErrClosed):
			closed++
		default:
			t.Fatalf("round %d: Verify racing Close returned %v", round, err)
		}
	}
	t.Logf("%d corruption reports, %d closed", corrupt, closed)
}
