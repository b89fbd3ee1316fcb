//go:build linux && !frozen_fallback

package freeze_test

import (
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
