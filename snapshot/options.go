package snapshot

import (
	"fmt"

	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/offheap"
)

// Option configures Take, Store.Publish and NewMap. Options apply in
// order, a later one overriding an earlier; a nil Option is ignored.
type Option func(*options)

type options struct {
	mode      freeze.Mode
	modeSet   bool // WithMode was given: mode is not replaced by the default
	name      string
	permanent bool
}

// WithMode chooses how the snapshot is frozen. The default is
// DefaultMode(): Seal where the platform supports it (Linux), Protect
// elsewhere. A mode that is none of Protect, Alias and Seal (such as
// Mode(0)) fails Take with an error wrapping freeze.ErrModeUnsupported; it
// does not mean the default. So does a mode the platform lacks (Alias and
// Seal map a read-only reopen of the memory file, Seal seals it too),
// before anything is copied.
func WithMode(m freeze.Mode) Option { return func(o *options) { o.mode, o.modeSet = m, true } }

// WithName names the snapshot in fault reports, Verify errors and
// /proc/self/maps. The default is "snapshot" ("map" for NewMap, "store"
// for the versions a Store publishes). Any string is accepted;
// /proc/self/maps may show it shortened (see arena.WithName).
func WithName(name string) Option { return func(o *options) { o.name = name } }

// WithPermanent makes the snapshot permanent (Seal mode, Linux 6.10+): its
// memory is msealed and can never be unmapped, re-protected or released for
// the life of the process; Close then returns freeze.ErrPermanent. Use it
// only for data that lives as long as the process.
func WithPermanent() Option { return func(o *options) { o.permanent = true } }

// DefaultMode returns the mode used when WithMode is not given: Seal where
// memfd seals work and the memfd can be reopened read-only through
// /proc/self/fd (Linux with /proc mounted), Protect elsewhere. A probe that failed for
// want of descriptors or memory does not count as seals missing: Take then
// fails, rather than freeze in a weaker mode.
func DefaultMode() freeze.Mode {
	if offheap.ModeMissing(offheap.Seal) == nil {
		return freeze.Seal
	}
	return freeze.Protect
}

// makeOptions applies opts in order over the defaults; a nil Option is
// skipped, as if it were not given.
func makeOptions(defaultName string, opts []Option) options {
	o := options{name: defaultName}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if !o.modeSet {
		o.mode = DefaultMode()
	}
	return o
}

// check refuses a mode that is none of Protect, Alias and Seal, and
// WithPermanent outside Seal mode or where mseal is missing, before any
// work is done.
func (o options) check() error {
	if !offheap.Mode(o.mode).Valid() {
		return fmt.Errorf("%w: WithMode(%d): not Protect, Alias or Seal", freeze.ErrModeUnsupported, int(o.mode))
	}
	if err := offheap.ModeMissing(offheap.Mode(o.mode)); err != nil {
		// Refused before anything is built, as Freeze would refuse it
		// after the copy.
		return fmt.Errorf("%w: WithMode(%s): %w", freeze.ErrModeUnsupported, o.mode, err)
	}
	if o.permanent && o.mode != freeze.Seal {
		if missing := offheap.ModeMissing(offheap.Seal); !o.modeSet && missing != nil {
			// The mode is the default, not the caller's choice: say why
			// Seal is not it.
			return fmt.Errorf("%w: WithPermanent needs Seal mode, which is missing here (the default is %s): %w",
				freeze.ErrModeUnsupported, o.mode, missing)
		}
		return fmt.Errorf("%w: WithPermanent needs Seal mode, not %s", freeze.ErrModeUnsupported, o.mode)
	}
	if o.permanent {
		if err := offheap.MsealMissing(); err != nil {
			return fmt.Errorf("%w: WithPermanent: %w", freeze.ErrModeUnsupported, err)
		}
	}
	return nil
}
