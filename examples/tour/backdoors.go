package main

import (
	"github.com/frozen-go/frozen/internal/backdoor"
	"github.com/frozen-go/frozen/internal/fixture"
	"github.com/frozen-go/frozen/snapshot"
)

// attempt is one back door tried on a sealed snapshot: the error it met,
// and the error the kernel refuses it with (any other error, a missing
// /proc say, would not show that the seals refused it).
type attempt struct {
	name      string
	err, want error
}

// sealAttempts tries every back door on a sealed snapshot.
func sealAttempts(s *snapshot.Snapshot[*fixture.Config]) []attempt {
	v := s.Value()
	p := &v.Upstreams[1].Backends[0].Weight
	out := []attempt{
		{"mprotect(PROT_WRITE) and write", backdoor.Reprotect(p, 42), errDenied},
		{"write through /proc/self/mem", backdoor.ProcMem(p, 42), errIO},
	}
	f, err := s.Region().File()
	if err != nil {
		return append(out, attempt{"get the sealed file", err, nil})
	}
	defer f.Close()
	return append(out,
		attempt{"pwrite through a read-write reopen", backdoor.Pwrite(f.Fd(), 0, []byte{42}), errSealed},
		attempt{"ftruncate", backdoor.Truncate(f.Fd(), 0), errSealed},
	)
}
