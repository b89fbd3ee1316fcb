package arena_test

import (
	"testing"

	"github.com/frozen-go/frozen/internal/inlinetest"
)

// TestNewIsInlined: arena.New is inlined into its callers, so that a New
// costs them one call (to the allocator), as the README says.
func TestNewIsInlined(t *testing.T) {
	inlinetest.Inlined(t, "testdata/inline", "arena.New[")
}
