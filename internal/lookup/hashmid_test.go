package lookup

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// hashMid reads every byte of a key of 17 to 64 bytes: flipping any one
// bit of the key, at every length and position, changes its hash (a block
// the loop skipped, or a last block misplaced, would leave bytes that do
// not). And the seed changes every key's hash.
func TestHashMidDependsOnEveryByteAndTheSeed(t *testing.T) {
	var tb Table[string, int]
	r := rand.New(rand.NewPCG(1, 2))
	for n := 17; n <= maxMid; n++ {
		key := make([]byte, n)
		for i := range key {
			key[i] = byte(r.Uint32())
		}
		for _, seed := range []uint64{0, 0x9e3779b97f4a7c15, r.Uint64()} {
			h := tb.hashBytes(key, seed)
			require.NotEqual(t, h, tb.hashBytes(key, seed+1), "n=%d: the seed does not change the hash", n)
			for i := range key {
				for bit := range 8 {
					key[i] ^= 1 << bit
					require.NotEqual(t, h, tb.hashBytes(key, seed), "n=%d: byte %d bit %d is no part of the hash", n, i, bit)
					key[i] ^= 1 << bit
				}
			}
		}
	}
}

// Tables of string keys of every length from 1 to 80 bytes, across the
// three hashes (two words, hashMid, xxhash), answer hits and misses as a
// Go map does; among them keys that share all but their last byte or
// their first, which hashMid's first and last blocks must tell apart.
func TestKeysAcrossHashLengths(t *testing.T) {
	want := map[string]int{}
	for n := 1; n <= 80; n++ {
		for j := range 40 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte('a' + (i*7+j)%26)
			}
			want[string(b)] = len(want)
			b[n-1] ^= 0x40
			want[string(b)] = len(want)
			b[0] ^= 0x20
			want[string(b)] = len(want)
		}
	}
	tb, err := Build(maps.All(want))
	require.NoError(t, err)
	for k, v := range want {
		got, ok := tb.Get(k)
		require.True(t, ok, "%q (%d bytes) not found", k, len(k))
		require.Equal(t, v, got)
		miss := []byte(k)
		miss[len(miss)/2] = '#'
		if _, isKey := want[string(miss)]; !isKey {
			_, ok = tb.Get(string(miss))
			require.False(t, ok, fmt.Sprintf("%q found", miss))
		}
	}
}
