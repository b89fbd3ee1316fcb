//go:build unix && !aix

package offheap

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Of several interfaces whose types changed between PlanValue and
// ApplyValue, the error names the first the copy meets, in address order,
// not the last: all are written as nil, and the field the error names
// does not depend on how many others the race changed after it.
func TestApplyNamesTheFirstInterfaceWhoseTypeChanged(t *testing.T) {
	v := &twoAny{X: [2]int64{1, 2}, Y: [2]int64{3, 4}}
	p, err := PlanValue(&v)
	require.NoError(t, err)
	defer p.Release()
	v.X, v.Y = [4]int64{1, 2, 3, 4}, "sixteen bytes!!"
	a, err := NewArena("changed-twice", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	_, err = ApplyValue[*twoAny](a, p)
	require.ErrorIs(t, err, errChanged)
	var ce *CloneError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "*twoAny.X", ce.Path)
	require.NoError(t, a.Validate())
}
