//go:build linux && !frozen_fallback

package freeze_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/offheap"
)

// A write that faults on the memory of a Freeze that then fails may be
// named while the Freeze is still under way, but the naming is done
// before the failed Freeze gives the arena back: its owner allocating
// again then races with nothing (the race detector would report the
// records being read and written at once). The write itself is named,
// passes through Guard as the runtime's fault if it was looked up after
// the Freeze withdrew, or lands once the memory is writable again. (The
// portable backend has no step after Protect's mprotect to fail.)
func TestAFaultNamedDuringAFailedFreezeIsDoneBeforeItReturns(t *testing.T) {
	a := newArena(t)
	c, err := arena.Clone(a, newConfig())
	require.NoError(t, err)
	type outcome struct {
		err       error
		recovered any
	}
	done := make(chan outcome, 1)
	offheap.SetFailpoint(func(step string) error {
		if step != "seal" { // Protect's step after its mprotect
			return nil
		}
		go func() {
			var o outcome
			defer func() { o.recovered = recover(); done <- o }()
			o.err = freeze.Guard(func() { c.Version = 7 })
		}()
		time.Sleep(20 * time.Millisecond) // the write faults meanwhile
		return errors.New("injected")
	})
	_, err = freeze.Freeze(a, freeze.Protect)
	offheap.SetFailpoint(nil)
	require.ErrorContains(t, err, "injected")
	for range 100 {
		_ = arena.New[Point](a) // the owner's again
	}
	o := <-done
	var wf *freeze.WriteFault
	switch {
	case errors.As(o.err, &wf):
		assert.Equal(t, a.Name(), wf.Region)
		if !wf.PageOnly { // linux/s390x reports only the page
			assert.Equal(t, "*Config.Version", wf.Path)
		}
	case o.recovered != nil:
		assert.Contains(t, fmt.Sprint(o.recovered), "fault")
	default:
		require.NoError(t, o.err)
		assert.Equal(t, 7, c.Version, "the write landed on writable memory")
	}
}
