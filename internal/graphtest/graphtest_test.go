package graphtest

import (
	"fmt"
	"strings"
	"testing"
)

// failure records whether a check failed, as a testing.TB that stops the
// check at its first failure.
type failure struct {
	testing.TB
	msg string
}

func (f *failure) Helper() {}

func (f *failure) Errorf(format string, args ...any) { f.msg = fmt.Sprintf(format, args...) }

func (f *failure) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	f.FailNow()
}

func (f *failure) FailNow() { panic(f) }

// check runs RequireSameShape and returns its failure, "" if none.
func check(t *testing.T, orig, clone any) (msg string) {
	f := &failure{TB: t}
	defer func() {
		if r := recover(); r != nil && r != any(f) {
			panic(r)
		}
		msg = f.msg
	}()
	RequireSameShape(f, orig, clone)
	return ""
}

type pair struct{ A, B *[4]int64 }

// Two copies of equal bytes laid over each other are equal to the
// originals, deeply: only the shape check can tell that writing one would
// change the other.
func TestRequireSameShapeFindsOverlapsTheOriginalLacks(t *testing.T) {
	orig := pair{new([4]int64), new([4]int64)}
	var backing [5]int64
	overlapping := pair{(*[4]int64)(backing[:4]), (*[4]int64)(backing[1:])}
	apart := pair{(*[4]int64)(backing[:4]), new([4]int64)}
	if msg := check(t, orig, apart); msg != "" {
		t.Fatalf("copies kept apart failed the check: %s", msg)
	}
	if msg := check(t, orig, overlapping); msg == "" {
		t.Fatal("copies that overlap, of originals that do not, passed the check")
	} else {
		t.Log(msg)
	}
	// The other way round, an original inside another whose clone is not.
	if msg := check(t, overlapping, apart); msg == "" {
		t.Fatal("originals that overlap, with copies that do not, passed the check")
	}
}

// Each other difference the check looks for fails it.
func TestRequireSameShapeFindsEachDifference(t *testing.T) {
	shared := new([4]int64)
	var b1 [5]int64
	var b2 [6]int64
	for _, c := range []struct {
		name        string
		orig, clone any
		want        string
	}{
		{"sharing", pair{shared, shared}, pair{new([4]int64), new([4]int64)}, "sharing differs"},
		{"length", []int64{1, 2}, []int64{1, 2, 3}, "of length 2, in the clone a slice of length 3"},
		{"capacity", []int64{1, 2}, make([]int64, 2, 4), "cap 4 != len 2"},
		{"interior", pair{(*[4]int64)(b1[:4]), (*[4]int64)(b1[1:])}, pair{(*[4]int64)(b2[:4]), (*[4]int64)(b2[2:])},
			"points 8 bytes into root.(i).A; the clone does not"},
	} {
		msg := check(t, c.orig, c.clone)
		if !strings.Contains(msg, c.want) {
			t.Errorf("%s: the check said %q, want a message containing %q", c.name, msg, c.want)
		}
	}
	if msg := check(t, pair{shared, shared}, pair{shared, shared}); msg != "" {
		t.Errorf("a graph against itself failed the check: %s", msg)
	}
}
