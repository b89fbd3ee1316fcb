// Command tour is the first thing to run: it freezes a configuration,
// catches a stray write and names the field, shows Verify catching a change
// made through a back door, shows a use after Close faulting instead of
// reading reused memory, and times freezing against copying.
//
//	go run ./examples/tour
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/internal/fixture"
	"github.com/frozen-go/frozen/snapshot"
)

func main() {
	heading("1. Take a snapshot of a configuration")
	cfg := fixture.NewConfig(10_000) // services, upstreams, routes, users: ~10,000 objects
	s, err := snapshot.Take(cfg, snapshot.WithName("config"))
	check(err)
	v := s.Value()
	fmt.Printf("snapshot %q of a configuration of about 10,000 objects (services, upstreams, routes, users):\n"+
		"%d KiB outside the Go heap, frozen in %s mode\n", s.Name(), s.Size()>>10, s.Region().Mode())
	fmt.Printf("v.Upstreams[3].Backends[2] = %s:%d (read by any goroutine, no locks)\n",
		v.Upstreams[3].Backends[2].Host, v.Upstreams[3].Backends[2].Port)

	heading("2. A stray write is caught and named")
	err = freeze.Guard(func() {
		v.Upstreams[3].Backends[2].Port = 9999 // the bug: writing shared config
	})
	var wf *freeze.WriteFault
	must(errors.As(err, &wf), "the stray write was not caught")
	fmt.Println(err)
	must(wf.Path == "*Config.Upstreams[3].Backends[2].Port", "wrong field: "+wf.Path)
	check(s.Verify())
	fmt.Println("Verify: nothing changed")

	heading("3. Verify catches a change made through a back door (Protect mode)")
	p, err := snapshot.Take(cfg, snapshot.WithName("config-protect"), snapshot.WithMode(freeze.Protect))
	check(err)
	check(p.Region().Wait())
	pv := p.Value()
	target := &pv.Upstreams[1].Backends[0].Weight
	// An ordinary write is refused, and its report says where the field is.
	must(errors.As(freeze.Guard(func() { *target = 42 }), &wf), "the write was not refused")
	// Only where there is no mprotect (not Unix: Windows, js/wasm,
	// wasip1) is the back door skipped. On Unix it must work: an error means
	// a Protect-mode region stopped being what the library says it is.
	if !haveBackdoor {
		fmt.Println("back door not available here:", backdoorWrite(target, 42))
	} else {
		check(backdoorWrite(target, 42))
		err = p.Verify()
		var ce *freeze.CorruptionError
		must(errors.As(err, &ce), "Verify missed a back-door change")
		must(ce.Changed[0].Start <= wf.Offset && wf.Offset < ce.Changed[0].End, "Verify named another page")
		fmt.Printf("code that made the page writable again (mprotect) wrote %s (offset %#x);\n", wf.Path, wf.Offset)
		fmt.Println("checksums are per 4 KiB page, so Verify names the page and what it holds:")
		fmt.Println(" ", err)
		// Which of the page's allocations changed, checksums cannot say:
		// the error lists what the page holds, in address order, cut at
		// eight. Region.Allocations lists all of it.
		pg := ce.Changed[0]
		all, err := p.Region().Allocations(pg.Start, pg.End)
		check(err)
		written := -1
		for i, al := range all {
			if al.Offset <= wf.Offset && wf.Offset < al.Offset+al.Size {
				written = i
			}
		}
		must(written >= 0, "no allocation of the page holds the field written")
		al := all[written]
		fmt.Printf("Region().Allocations(page.Start, page.End) lists all %d allocations of page %d\n"+
			"(the error's ChangedPage holds the first %d, its message names %d),\n",
			len(all), pg.Index, len(pg.Allocations), min(3, len(pg.Allocations)))
		fmt.Printf("and the field written lies in number %d: %s (%s) at [%#x, %#x)\n", written+1, al.Path, al.Type, al.Offset, al.Offset+al.Size)
	}
	check(p.Close())

	heading("4. Seal mode refuses every back door")
	if s.Region().Mode() != freeze.Seal {
		// Take uses Seal where the platform has memfd seals (Linux), and
		// Protect elsewhere (macOS, the BSDs).
		fmt.Printf("skipped: this platform has no memfd seals, so the snapshot is in %s mode\n", s.Region().Mode())
	} else {
		for _, attempt := range sealAttempts(s) {
			fmt.Printf("%-40s %v\n", attempt.name+":", attempt.err)
			must(attempt.err != nil, attempt.name+" succeeded on a sealed snapshot")
			must(errors.Is(attempt.err, attempt.want), fmt.Sprintf("%s failed, but not as the seals refuse it (%v)", attempt.name, attempt.want))
		}
	}
	check(s.Verify())

	heading("5. Use after Close faults instead of reading reused memory")
	kept := v.Upstreams[0]
	check(s.Close())
	err = freeze.Guard(func() { _ = kept.Name })
	var uac *freeze.UseAfterClose
	must(errors.As(err, &uac), "a read after Close did not fault")
	fmt.Println(err)

	heading("6. Freezing against copying, 64 MiB arena")
	timings()
	fmt.Println("ok tour")
}

// timings freezes a filled 64 MiB arena in each mode and compares with
// copying the same bytes.
func timings() {
	const n = 64 << 20
	src := make([]byte, n)
	for i := range src {
		src[i] = byte(i)
	}
	readSum := sumPages(src)
	dst := make([]byte, n)
	copy(dst, src) // fault the destination in
	best := func(f func() time.Duration) time.Duration {
		b := time.Duration(1 << 62)
		for i := 0; i < 5; i++ {
			b = min(b, f())
		}
		return b
	}
	copyTime := best(func() time.Duration {
		t := time.Now()
		copy(dst, src)
		return time.Since(t)
	})
	fmt.Printf("%-34s %10v\n", "copy() of the bytes", copyTime.Round(time.Microsecond))
	sealed := false // whether Seal, and so memfd seals, worked here
	for _, m := range []freeze.Mode{freeze.Protect, freeze.Alias, freeze.Seal} {
		// ready and firstRead are those of the fastest freeze, d.
		d, ready, firstRead := time.Duration(1<<62), time.Duration(0), time.Duration(0)
		for range 5 {
			a, err := arena.NewArena(arena.WithMaxBytes(n))
			check(err)
			data := arena.New[[n]byte](a)
			copy(data[:], src)
			runtime.GC()
			t := time.Now()
			r, err := freeze.Freeze(a, m)
			if errors.Is(err, freeze.ErrModeUnsupported) {
				d = 0
				check(a.Close())
				break
			}
			check(err)
			frozen := time.Since(t)
			check(r.Wait())
			waited := time.Since(t)
			// A range Freeze mapped afresh (Alias's view, Seal's remapped
			// range) faults each page in on its first read.
			ro := freeze.ReadOnly(r, data)
			t = time.Now()
			sum := sumPages(ro[:])
			read := time.Since(t)
			must(sum == readSum, "the frozen bytes read back")
			check(r.Close())
			if frozen < d {
				d, ready, firstRead = frozen, waited, read
			}
		}
		if d == 0 {
			fmt.Printf("%-34s %10s\n", "Freeze("+m.String()+")", "unsupported")
			continue
		}
		sealed = sealed || m == freeze.Seal
		fmt.Printf("%-34s %10v  (%.3f× copy; baseline ready after %v; readers' first pass over every page %v)\n",
			"Freeze("+m.String()+")", d.Round(time.Microsecond), float64(d)/float64(copyTime),
			ready.Round(time.Microsecond), firstRead.Round(time.Microsecond))
	}
	if sealed {
		fmt.Println("Protect pays the kernel's mprotect per page; so does Alias, whose owner's mapping stays read-only")
		fmt.Println("until the baseline is hashed; Seal moves page tables. With memfd seals all three hash after returning.")
	} else {
		fmt.Println("Protect pays the kernel's mprotect per page. Without memfd seals (this platform) nothing stops a write")
		fmt.Println("through a descriptor, so Protect and Alias hash before returning, and Alias's owner mapping stays writable.")
	}
	fmt.Println("Best of five each, on a shared machine: see bench/REPORT.md for measured runs.")
}

// sumPages adds up one byte of every 4 KiB of b, reading each page once.
func sumPages(b []byte) byte {
	var x byte
	for i := 0; i < len(b); i += 4096 {
		x += b[i]
	}
	return x
}

func heading(s string) { fmt.Printf("\n== %s\n", s) }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "tour:", err)
		os.Exit(1)
	}
}

func must(ok bool, msg string) {
	if !ok {
		fmt.Fprintln(os.Stderr, "tour:", msg)
		os.Exit(1)
	}
}
