//go:build unix && !aix

package offheap

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type repeatedStrings struct {
	Same     []string // one string, many times
	Prefixes []string // prefixes of one string: one address, each its own length
}

// stringRanges counts the ranges of string bytes a plan holds.
func stringRanges(p *ClonePlan) int {
	n := 0
	for i := range p.c.ranges {
		if p.c.ranges[i].via == viaString {
			n++
		}
	}
	return n
}

// A string met many times is planned as one range: 1,000 copies of one
// string, then 1,000 prefixes of another (one address, 1,000 lengths),
// make 1,001 ranges of string bytes. The clone reads back equal, the
// copies of the repeated string share one copy of its bytes, and each
// prefix keeps its own length within one copy of the longest.
func TestRepeatedStringIsOneRange(t *testing.T) {
	const n = 1000
	one := strings.Clone("GET")
	long := strings.Repeat("abcdefgh", n/8+1)
	v := &repeatedStrings{Same: make([]string, n), Prefixes: make([]string, n)}
	for k := range n {
		v.Same[k] = one
		v.Prefixes[k] = long[:k+1]
	}
	p, err := PlanValue(&v)
	require.NoError(t, err)
	defer p.Release()
	assert.Equal(t, 1+n, stringRanges(p))

	a, err := NewArena("repeated-strings", 1<<20)
	require.NoError(t, err)
	defer a.Close()
	root, err := ApplyValue[*repeatedStrings](a, p)
	require.NoError(t, err)
	c := *root
	require.Equal(t, v, c)
	for k := range n {
		assert.Same(t, unsafe.StringData(c.Same[0]), unsafe.StringData(c.Same[k]))
		assert.Same(t, unsafe.StringData(c.Prefixes[0]), unsafe.StringData(c.Prefixes[k]))
	}
	assert.NotSame(t, unsafe.StringData(one), unsafe.StringData(c.Same[0]), "the bytes are copied")
	require.NoError(t, a.Validate())
}

// The cloner is reused from clone to clone, and its table of strings met
// lately with it: an entry left by an earlier clone names a range index
// that may hold anything in the next one. Clones of values whose repeated
// string lands at ever other indices (after a growing number of distinct
// strings) all read back equal, each planning the repeated string once.
func TestRepeatedStringAcrossReusedCloners(t *testing.T) {
	a, err := NewArena("reused-cloner", 16<<20)
	require.NoError(t, err)
	defer a.Close()
	shared := strings.Clone("shared")
	for k := range 64 {
		v := &repeatedStrings{}
		for j := range k {
			v.Same = append(v.Same, fmt.Sprintf("distinct-%d-%d", k, j))
		}
		for range 16 {
			v.Prefixes = append(v.Prefixes, shared)
		}
		p, err := PlanValue(&v)
		require.NoError(t, err)
		assert.Equal(t, k+1, stringRanges(p), "clone %d", k)
		root, err := ApplyValue[*repeatedStrings](a, p)
		p.Release()
		require.NoError(t, err)
		require.Equal(t, v, *root, "clone %d", k)
	}
	require.NoError(t, a.Validate())
}

// Entries of the table of strings are told from those of earlier clones
// by the clone's number, which wraps after 2^32 clones: the table is then
// emptied, or an entry written 2^32 clones before would pass for the new
// clone's. A cloner about to wrap, whose entry for a string names range 0
// (the root) as the first clone after the wrap numbers itself, clones
// that string as its bytes all the same.
func TestStringTableAtTheWrapOfCloneNumbers(t *testing.T) {
	s := strings.Clone("wrapped")
	data, n := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(len(s))
	v := &namedItems{Name: s}
	for try := 0; ; try++ {
		c := new(cloner)
		c.reset()
		c.gen = ^uint32(0)
		c.strs[stringSlot(data, n)] = stringEntry{addr: data, n: n, idx: 0, gen: 1}
		cloners.Put(c)
		p, err := PlanValue(&v)
		require.NoError(t, err)
		if p.c != c {
			// The pool handed out another cloner (it may drop what it
			// is given): try again.
			p.Release()
			if try == 100 {
				t.Skip("the pool never handed back the cloner put in it")
			}
			continue
		}
		assert.Equal(t, uint32(1), c.gen)
		a, err := NewArena("wrap", 1<<20)
		require.NoError(t, err)
		defer a.Close()
		root, err := ApplyValue[*namedItems](a, p)
		p.Release()
		require.NoError(t, err)
		assert.Equal(t, "wrapped", (*root).Name)
		return
	}
}
