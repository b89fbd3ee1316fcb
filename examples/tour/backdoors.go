package main

import (
	"errors"

	"github.com/frozen-go/frozen/internal/backdoor"
	"github.com/frozen-go/frozen/internal/fixture"
	"github.com/frozen-go/frozen/snapshot"
)

// errNoBackdoor is what backdoorWrite returns where the back door does not
// exist (backdoor_other.go); on Unix it never does, so any error there is a
// failure of the tour.
var errNoBackdoor = errors.New("tour: no mprotect back door on this platform")

type attempt struct {
	name string
	err  error
}

// sealAttempts tries every back door on a sealed snapshot.
func sealAttempts(s *snapshot.Snapshot[*fixture.Config]) []attempt {
	v := s.Value()
	p := &v.Upstreams[1].Backends[0].Weight
	out := []attempt{
		{"mprotect(PROT_WRITE) and write", backdoor.Reprotect(p, 42)},
		{"write through /proc/self/mem", backdoor.ProcMem(p, 42)},
	}
	f, err := s.Region().File()
	if err != nil {
		return append(out, attempt{"get the sealed file", err})
	}
	defer f.Close()
	return append(out,
		attempt{"pwrite through a read-write reopen", backdoor.Pwrite(f.Fd(), 0, []byte{42})},
		attempt{"ftruncate", backdoor.Truncate(f.Fd(), 0)},
	)
}
