//go:build unix

package snapshot

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/freeze"
)

// gapValue has its string bytes in the arena too, so that reading a
// released version touches quarantined memory through more than the root.
type gapValue struct {
	Seq  int
	Name string
}

func makeGapValue(seq int) gapValue { return gapValue{Seq: seq, Name: "v" + strconv.Itoa(seq)} }

// inReadersGap makes the next reader's enter run f once, after it has
// loaded the current version and before it announces itself on it: the
// window in which a writer can replace and release that version without
// seeing the reader. The hook is removed when the test ends.
func inReadersGap(t *testing.T, f func()) {
	t.Helper()
	require.Nil(t, testHookAfterLoad, "hook already set")
	fired := false
	testHookAfterLoad = func() {
		if !fired { // the reader's retry loads again; run f only in the first gap
			fired = true
			f()
		}
	}
	t.Cleanup(func() { testHookAfterLoad = nil })
}

// A version is released once nobody has announced reading it, so a writer
// can release it while a reader that has loaded it has not yet announced
// itself. The reader must then see, on re-checking, that it is no longer
// current and start again, instead of reading released memory. These
// tests put a Publish, and a Close, exactly in that gap: without the
// re-check the reader reads the first version after its release, which
// faults (quarantine), and Guard reports it. The stress test
// TestStoreManyReadersManyVersions meets this window only by chance.
// guardedRead runs st.Read under freeze.Guard, copying the value it reads
// (the string's bytes too, which are in the arena) and running inside, if
// not nil, within the callback. read says whether the callback ran.
func guardedRead(st *Store[gapValue], inside func()) (got gapValue, read bool, err error) {
	err = freeze.Guard(func() {
		st.Read(func(v gapValue) {
			read = true
			got = v
			got.Name = strings.Clone(v.Name)
			if inside != nil {
				inside()
			}
		})
	})
	return got, read, err
}

func TestStoreReaderLoadingAReleasedVersionStartsAgain(t *testing.T) {
	t.Run("publish in the gap", func(t *testing.T) {
		var st Store[gapValue]
		defer func() { assert.NoError(t, st.Close()) }()
		_, err := st.Publish(makeGapValue(1))
		require.NoError(t, err)

		var gapErr error
		var gapStats StoreStats
		inReadersGap(t, func() {
			_, gapErr = st.Publish(makeGapValue(2))
			gapStats = st.Stats()
		})
		var inside StoreStats
		got, read, err := guardedRead(&st, func() {
			// Replace the version being read: it must stay until we leave.
			if _, err := st.Publish(makeGapValue(3)); err != nil {
				t.Error(err)
			}
			inside = st.Stats()
		})
		require.NoError(t, err, "the reader read a version released before it announced itself")
		require.NoError(t, gapErr)
		assert.Equal(t, StoreStats{Published: 2, Released: 1}, gapStats,
			"version 1 had no announced reader when replaced: released at once")
		require.True(t, read, "the callback did not run")
		assert.Equal(t, makeGapValue(2), got, "the reader did not start again on the current version")
		assert.Equal(t, StoreStats{Published: 3, Released: 1}, inside,
			"version 2 was released while its reader was inside Read")
		assert.Equal(t, StoreStats{Published: 3, Released: 2}, st.Stats(),
			"version 2 was not released when its last reader left")
	})

	t.Run("close in the gap", func(t *testing.T) {
		var st Store[gapValue]
		_, err := st.Publish(makeGapValue(1))
		require.NoError(t, err)

		var closeErr error
		inReadersGap(t, func() { closeErr = st.Close() })
		got, read, err := guardedRead(&st, nil)
		require.NoError(t, err, "the reader read a version released before it announced itself")
		require.NoError(t, closeErr)
		require.True(t, read, "the callback did not run")
		assert.Equal(t, gapValue{}, got, "a Read after Close sees the zero value")
		assert.Equal(t, StoreStats{Published: 1, Released: 1}, st.Stats())
	})
}
