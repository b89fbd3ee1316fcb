package main

import (
	"github.com/frozen-go/frozen/internal/backdoor"
	"github.com/frozen-go/frozen/internal/fixture"
	"github.com/frozen-go/frozen/snapshot"
)

// backdoorWrite changes a frozen int the way buggy native code could: by
// making its page writable again first.
func backdoorWrite(p *int, v int) error { return backdoor.Reprotect(p, v) }

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
