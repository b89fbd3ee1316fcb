// This file is where Clone hashes the pages it has just written, while they
// are still in the CPU's cache, so that a Freeze right after it (Take, in
// Alias mode) need not read the arena again for its baseline.
//
// Unsafe: pages are hashed as []byte made with unsafe.Slice over
// [base+lo, base+hi), inside the arena's writable mapping and below its
// used bytes: by Apply, which has just allocated and written them and
// waits for its hashing goroutines before it returns, and by adopt, in
// Freeze, which hashes again the pages relocate changed.

package offheap

import (
	"math/bits"
	"sync"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// copyHashes are the page hashes Apply takes as it copies into a fresh
// arena. They hold only while nothing else writes the arena between the
// copy and Freeze, which is why only Take, whose arena nobody else has
// yet, asks for them (HashWhileCopying). Apply writes the arena in
// increasing address order (blocks in layout order, each from its start
// to its end), so every page below its write cursor is final.
//
// Pages are hashed a MiB at a time by goroutines of their own, on another
// core while the copy goes on (on one core, hashing the copy's output
// took longer than the background baseline on two that it replaces).
type copyHashes struct {
	on   bool           // HashWhileCopying was called on the fresh arena
	sums []uint64       // sums[i]: the hash of page i as Apply left it
	upTo uintptr        // pages below this offset are hashed, or being hashed
	used uintptr        // the arena's used bytes when the sums were done; 0 while not
	wg   sync.WaitGroup // the goroutines hashing below upTo
	// dirty marks the pages whose words Freeze changed after the copy
	// (Alias mode relocates pointers into the view): hashed again.
	dirty []uint64
}

// HashWhileCopying asks the next Apply (or ApplyValue) to hash the pages
// it writes, for Freeze to adopt as its baseline. It does nothing unless
// the arena is fresh: nothing allocated yet. The caller must write
// nothing into the arena between that Apply and Freeze (Take clones into
// an arena nobody else has, and freezes it at once); Freeze adopts the
// hashes only if the arena's used bytes are still those Apply left.
func (a *Arena) HashWhileCopying() {
	if a.used == 0 {
		a.copied.reset()
		a.copied.on = true
	}
}

// startCopy is called by Apply once it has allocated n bytes at offset
// off: it keeps hashing on only for a fresh arena's first allocation.
func (h *copyHashes) startCopy(off, n uintptr) bool {
	if !h.on || off != 0 || n == 0 {
		h.reset()
		return false
	}
	h.sums = make([]uint64, Pages(n))
	return true
}

// written hands the pages wholly below offset end, which Apply has
// written to the end of, to a hashing goroutine once they make a MiB.
func (h *copyHashes) written(base unsafe.Pointer, end uintptr) {
	end &^= PageSize - 1
	if end-h.upTo < chunkSize {
		return
	}
	lo, sums := h.upTo, h.sums
	h.upTo = end
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		hashRange(base, sums, lo, end)
	}()
}

// hashRange hashes the pages of [lo, hi) at base into sums, the last
// one short if hi is not a page boundary.
func hashRange(base unsafe.Pointer, sums []uint64, lo, hi uintptr) {
	for ; lo < hi; lo += PageSize {
		n := min(PageSize, hi-lo)
		sums[lo/PageSize] = xxhash.Sum64(unsafe.Slice((*byte)(unsafe.Add(base, lo)), n))
	}
}

// finish hashes what is left of [0, used), the last page short, waits
// for the hashing goroutines and marks the sums done for an arena of used
// bytes.
func (h *copyHashes) finish(base unsafe.Pointer, used uintptr) {
	hashRange(base, h.sums, h.upTo, used)
	h.upTo = used
	h.wg.Wait()
	h.on, h.used = false, used
}

// wait waits for the hashing goroutines: Apply's way out, whatever
// happened, for none may read the arena once it could be released.
func (h *copyHashes) wait() { h.wg.Wait() }

// ready reports whether the sums describe [0, used) as it is now: Apply
// finished them and nothing was allocated since.
func (h *copyHashes) ready(used uintptr) bool { return h.used != 0 && h.used == used }

// markDirty records that Freeze changed the word at offset off.
func (h *copyHashes) markDirty(off uintptr) {
	if h.dirty == nil {
		h.dirty = make([]uint64, (len(h.sums)+63)/64)
	}
	pg := off / PageSize
	h.dirty[pg/64] |= 1 << (pg % 64)
}

// adopt hands the sums to a baseline of the arena's [0, used) bytes seen at
// base, hashing again the pages Freeze changed, and forgets them: it
// returns nil if they do not describe the arena as it is.
func (h *copyHashes) adopt(base unsafe.Pointer, used uintptr) []uint64 {
	defer h.reset()
	if !h.ready(used) {
		return nil
	}
	for w, word := range h.dirty {
		for ; word != 0; word &= word - 1 {
			lo := uintptr(w*64+bits.TrailingZeros64(word)) * PageSize
			hashRange(base, h.sums, lo, min(lo+PageSize, used))
		}
	}
	return h.sums
}

// reset forgets the hashes (none is being taken: Apply waited).
func (h *copyHashes) reset() {
	h.on, h.sums, h.upTo, h.used, h.dirty = false, nil, 0, 0, nil
}
