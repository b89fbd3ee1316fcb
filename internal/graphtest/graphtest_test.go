package graphtest

import (
	"fmt"
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
