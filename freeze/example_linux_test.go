//go:build linux && !frozen_fallback

package freeze_test

import (
	"errors"
	"fmt"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/freeze"
)

func ExampleRegion_File() {
	a, _ := arena.NewArena(arena.WithName("dictionary"))
	words := arena.MakeSlice[byte](a, 5)
	copy(words, "hello")
	r, err := freeze.Freeze(a, freeze.Seal)
	if err != nil {
		panic(err)
	}
	defer r.Close()

	// A read-only descriptor of the sealed memfd, for another process
	// (pass it as cmd.ExtraFiles, say). Nobody can write through it.
	f, err := r.File()
	if err != nil {
		panic(err)
	}
	defer f.Close()
	buf := make([]byte, 5)
	_, err = f.ReadAt(buf, 0)
	fmt.Println(string(buf), err)
	_, err = f.WriteAt([]byte("j"), 0)
	fmt.Println(err != nil)
	// Output:
	// hello <nil>
	// true
}

// Permanent is for data that lives as long as the process: once msealed,
// the region can never be unmapped, re-protected or released. (No Output:
// the example is not run, as it would keep its memory for the rest of the
// test binary's life, and mseal needs Linux 6.10.)
func ExampleRegion_Permanent() {
	a, _ := arena.NewArena(arena.WithName("country-codes"))
	codes, _ := arena.Clone(a, &[3]string{"DE", "FR", "JP"})
	r, err := freeze.Freeze(a, freeze.Seal)
	if err != nil {
		panic(err)
	}
	if err := r.Permanent(); err != nil {
		// Before Linux 6.10: an error wrapping ErrModeUnsupported; the
		// region is still sealed, and can still be closed.
		fmt.Println(err)
	}
	fmt.Println(*freeze.ReadOnly(r, codes))
	fmt.Println(errors.Is(r.Close(), freeze.ErrPermanent)) // true if msealed: it stays mapped
}
