//go:build unix && !aix

package freeze_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/offheap"
)

// An arena that a failed Freeze left read-only (its rollback could not
// make the mapping writable again) refuses New of the type whose run of
// allocations ended at its used bytes, too: New's fast path appends to
// such a run without asking the arena, and must not hand out memory that
// faults when written.
func TestABrokenArenaEndsNewsRun(t *testing.T) {
	a := newArena(t)
	_, err := arena.Clone(a, newConfig())
	require.NoError(t, err)
	*arena.New[int64](a) = 1
	*arena.New[int64](a) = 2 // a run of int64 ending at the used bytes
	injected, rollback := errors.New("injected failure"), errors.New("injected rollback failure")
	offheap.SetFailpoint(func(s string) error {
		switch s {
		case "protect":
			return injected
		case "writable-again":
			return rollback
		}
		return nil
	})
	_, err = freeze.Freeze(a, freeze.Protect)
	offheap.SetFailpoint(nil)
	require.ErrorIs(t, err, rollback)
	var p *int64
	err = func() (err error) {
		defer func() { err, _ = recover().(error) }()
		p = arena.New[int64](a)
		return nil
	}()
	require.ErrorIs(t, err, arena.ErrFrozen, "New handed out %p", p)
	assert.Nil(t, p)
}
