package offheap

import "runtime"

// goid returns the calling goroutine's id, read from the first line of its
// stack trace ("goroutine 18 [running]:"). It costs a stack header, about a
// microsecond, so it is called only where an Update is in progress: to
// tell a call made from inside Update's function, on the goroutine that
// holds the region's lock (which would deadlock waiting for itself), from
// a call on another goroutine, which waits for the Update to finish.
func goid() uint64 {
	var buf [32]byte
	n := runtime.Stack(buf[:], false)
	const prefix = "goroutine "
	var id uint64
	for _, c := range buf[min(len(prefix), n):n] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	return id
}

// inOwnUpdate reports whether the calling goroutine is running the
// function of an Update of r, and so holds r.mu for writing already.
func (r *Region) inOwnUpdate() bool {
	u := r.updater.Load()
	return u != 0 && u == goid()
}
