//go:build unix && !aix

package offheap

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type noStrings struct {
	P     *int64
	Items []int32
}

type namedItems struct {
	Name  string
	Items []int32
}

// A clone records the bytes of its strings as one run only when it has
// string bytes to pack: a value without strings, or whose only string is
// empty, adds no run of strings, not even an empty one at the copy's end,
// a record of nothing that Freeze and every report would walk past.
func TestCloneRecordsARunOfStringsOnlyForStringBytes(t *testing.T) {
	n := int64(7)
	for _, tc := range []struct {
		name  string
		clone func(a *Arena) error
		runs  int
	}{
		{"no strings", func(a *Arena) error {
			_, err := Clone(a, &noStrings{P: &n, Items: []int32{1, 2}})
			return err
		}, 0},
		{"an empty string", func(a *Arena) error {
			_, err := Clone(a, &namedItems{Items: []int32{1, 2}})
			return err
		}, 0},
		{"a string", func(a *Arena) error {
			_, err := Clone(a, &namedItems{Name: "abc", Items: []int32{1, 2}})
			return err
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := NewArena("string-run", 1<<20)
			require.NoError(t, err)
			defer a.Close()
			require.NoError(t, tc.clone(a))
			runs := 0
			for j := range a.recs.len() {
				if a.recs.at(j).Parent == RunOfStrings {
					runs++
					_, size := a.recSpan(j)
					assert.Equal(t, uintptr(3), size)
				}
			}
			assert.Equal(t, tc.runs, runs)
		})
	}
}
