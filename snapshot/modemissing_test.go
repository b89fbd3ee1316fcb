//go:build unix && !aix

package snapshot_test

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/vm"
	"github.com/frozen-go/frozen/snapshot"
)

// Where only the seals are missing (the read-only reopen works), Seal
// mode, which seals the file, is missing, and Alias, which needs only
// the reopen, is not: the default is Protect, Take refuses Seal with an
// error wrapping freeze.ErrModeUnsupported and the seals' probe before
// anything is built, and takes in Alias mode.
func TestSealNeedsTheSealsAsWellAsTheReopen(t *testing.T) {
	seals, mseal, mremap, reopen := vm.Features()
	if seals != nil || reopen != nil {
		t.Skip("needs seals and the read-only reopen here:", seals, reopen)
	}
	missing := &vm.FeatureError{Feature: "memfd seals", Err: syscall.ENOSYS}
	defer vm.SetFeatures(missing, mseal, mremap, reopen)()
	assert.Equal(t, freeze.Protect, snapshot.DefaultMode())

	requireTakeRefusedUnbuilt(t, freeze.Seal)

	s, err := snapshot.Take(bulky{Name: "alias"}, snapshot.WithMode(freeze.Alias))
	require.NoError(t, err, "Alias needs only the reopen")
	assert.Equal(t, "alias", s.Value().Name)
	require.NoError(t, s.Close())
}

// WithPermanent without WithMode, where Seal is missing and so the
// default is Protect, is refused with the reason Seal is missing: it said
// "needs Seal mode, not Protect", as if the caller had asked for Protect.
func TestPermanentByDefaultWhereSealIsMissing(t *testing.T) {
	seals, mseal, mremap, reopen := vm.Features()
	if seals != nil || reopen != nil {
		t.Skip("needs seals and the read-only reopen here:", seals, reopen)
	}
	missing := &vm.FeatureError{Feature: "memfd seals", Err: syscall.ENOSYS}
	defer vm.SetFeatures(missing, mseal, mremap, reopen)()
	s, err := snapshot.Take(bulky{Name: "permanent"}, snapshot.WithPermanent())
	assert.Nil(t, s)
	require.ErrorIs(t, err, freeze.ErrModeUnsupported)
	assert.ErrorIs(t, err, syscall.ENOSYS)
	assert.ErrorContains(t, err, "WithPermanent needs Seal mode, which is missing here (the default is Protect)")

	_, err = snapshot.Take(bulky{Name: "permanent"}, snapshot.WithMode(freeze.Protect), snapshot.WithPermanent())
	require.ErrorIs(t, err, freeze.ErrModeUnsupported)
	assert.ErrorContains(t, err, "WithPermanent needs Seal mode, not Protect", "a mode asked for is named as before")
}
