//go:build unix && !aix

package offheap

import (
	"sync"
	"sync/atomic"
	"testing"
)

// In the invariants build, concurrent use of an Arena panics saying so
// before any of its fields is read: under -race, New's fast path once
// read the arena's run before the check, and the race detector reported
// that read (failing the program, and this test) before the panic.
func TestConcurrentNewPanicsBeforeTheRaceDetectorSeesIt(t *testing.T) {
	if !Invariants {
		t.Skip("needs -race or -tags invariants")
	}
	a, err := NewArena("shared", 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	const want = "arena: concurrent use of an Arena (an Arena is not safe for concurrent use)"
	var panicked, other atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range 4 {
		wg.Go(func() {
			<-start
			for i := 0; i < 20_000 && panicked.Load() == 0; i++ {
				func() {
					defer func() {
						switch r := recover(); {
						case r == want:
							panicked.Add(1)
						case r != nil:
							other.Add(1)
							t.Errorf("goroutine %d: panicked with %v", g, r)
						}
					}()
					if i%2 == 0 {
						*New[int64](a) = int64(i)
					} else {
						s, _ := MakeSlice[int32](a, 3)
						s[1] = int32(i)
					}
				}()
			}
		})
	}
	close(start)
	wg.Wait()
	if panicked.Load() == 0 && other.Load() == 0 {
		t.Skip("the goroutines never overlapped inside the arena")
	}
}
