//go:build unix && !aix

package offheap

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type stringsAndNodes struct {
	Words []string
	Nodes []*hashedNode
}

// interleavedStrings returns n strings, each allocated just after a node
// (so that, by address, blocks of string bytes and typed blocks take
// turns), listed in a shuffled order (so that they are discovered in an
// order their addresses do not follow), with every tenth a substring of
// the one before it in allocation order and every hundredth longer than
// hashChunk.
func interleavedStrings(n int) stringsAndNodes {
	var v stringsAndNodes
	r := rand.New(rand.NewPCG(7, uint64(n)))
	prev := ""
	for i := range n {
		v.Nodes = append(v.Nodes, &hashedNode{Name: fmt.Sprint("node ", i), Pad: [3]byte{byte(i)}})
		var s string
		switch {
		case i%100 == 99:
			s = strings.Repeat(fmt.Sprint(i, ","), hashChunk/4)
		case i%10 == 9 && len(prev) > 2:
			s = prev[1 : len(prev)-1]
		default:
			s = fmt.Sprintf("word %d %x", i, r.Uint64())
		}
		v.Words = append(v.Words, s)
		prev = s
	}
	r.Shuffle(n, func(i, j int) { v.Words[i], v.Words[j] = v.Words[j], v.Words[i] })
	return v
}

// TestCloneCopiesStringBlocksAmongTypedOnes clones strings whose blocks
// lie among typed ones by address, met in another order, in clones small
// and large enough for Clone to read their ranges ahead in chunks
// (touchBlocks): every string must come out equal, in the arena, sharing
// the bytes it shared, and the pages hashed as they are written must be
// those the copy left.
func TestCloneCopiesStringBlocksAmongTypedOnes(t *testing.T) {
	for _, n := range []int{1, touchChunk - 1, touchChunk, touchChunk + 1, 3000, touchMin + 1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			v := interleavedStrings(n)
			a, err := NewArena("strings", 64<<20)
			require.NoError(t, err)
			defer a.Close()
			a.HashWhileCopying()
			cl, err := ApplyValue[stringsAndNodes](a, planOnce(t, v))
			require.NoError(t, err)

			require.Equal(t, v.Words, cl.Words)
			require.Equal(t, len(v.Nodes), len(cl.Nodes))
			for i := range v.Nodes {
				require.Equal(t, *v.Nodes[i], *cl.Nodes[i])
			}
			lo, hi := uintptr(a.Base()), uintptr(a.Base())+a.used
			at := make(map[uintptr]int, n) // where each original string's bytes begin
			for i, s := range v.Words {
				p := uintptr(unsafe.Pointer(unsafe.StringData(cl.Words[i])))
				require.True(t, p >= lo && p+uintptr(len(s)) <= hi, "string %d lies in the arena", i)
				at[uintptr(unsafe.Pointer(unsafe.StringData(s)))] = i
			}
			// A substring of another string lies in that string's copy.
			shared := 0
			for i, s := range v.Words {
				src := uintptr(unsafe.Pointer(unsafe.StringData(s)))
				if j, ok := at[src-1]; ok && len(v.Words[j]) == len(s)+2 {
					want := unsafe.Add(unsafe.Pointer(unsafe.StringData(cl.Words[j])), 1)
					assert.Equal(t, want, unsafe.Pointer(unsafe.StringData(cl.Words[i])), "string %d shares the bytes of string %d", i, j)
					shared++
				}
			}
			require.Equal(t, n/10-n/100, shared, "substrings checked (every tenth string but the long ones)")
			require.True(t, a.copied.ready(a.used), "the copy hashed what it wrote")
			assert.Equal(t, pageHashes(a.Base(), a.used), a.copied.sums)
		})
	}
}
