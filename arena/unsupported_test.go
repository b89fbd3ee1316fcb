//go:build !unix || aix

package arena_test

import (
	"errors"
	"testing"

	"github.com/frozen-go/frozen/arena"
)

// Where there is no backend, NewArena fails with a typed error instead of
// crashing, and nothing is left behind.
func TestNewArenaFailsWithUnsupportedPlatform(t *testing.T) {
	a, err := arena.NewArena(arena.WithName("config"))
	if a != nil || !errors.Is(err, arena.ErrUnsupportedPlatform) {
		t.Fatalf("NewArena = %v, %v; want nil and an error wrapping ErrUnsupportedPlatform", a, err)
	}
	if s := arena.ReadStats(); s.Arenas != 0 || s.MappedBytes != 0 {
		t.Fatalf("a failed NewArena left %+v", s)
	}
}
