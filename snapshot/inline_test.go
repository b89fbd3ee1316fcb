package snapshot_test

import (
	"testing"

	"github.com/frozen-go/frozen/internal/inlinetest"
)

// TestMapGetIsInlined: Map.Get is inlined into its callers, so that a
// lookup costs them one call (to the table's lookup).
func TestMapGetIsInlined(t *testing.T) {
	inlinetest.Inlined(t, "testdata/inline", "snapshot.(*Map[")
}
