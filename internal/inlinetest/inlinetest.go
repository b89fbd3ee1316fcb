// Package inlinetest checks the compiler's inlining decisions that the
// library's documented speed rests on (arena.New and snapshot.Map.Get are
// each inlined into their callers, which then make one call). A timing
// could not catch their loss on a shared machine; the compiler's own
// report (-gcflags=-m) does.
package inlinetest

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// Inlined builds the command in dir (a testdata directory of the calling
// package, whose main.go makes the call) with -gcflags=-m and fails t
// unless the compiler reports inlining a call to want there. It is skipped
// in -short runs (the emulated and portable-backend suites) and where the
// go command or the gc compiler is missing.
func Inlined(t *testing.T, dir, want string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a program: not in -short runs")
	}
	if runtime.Compiler != "gc" {
		t.Skip("inlining is checked for the gc compiler")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	cmd := exec.Command(goCmd, "build", "-gcflags=-m", "-o", os.DevNull, "./"+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build -gcflags=-m ./%s: %v\n%s", dir, err, out)
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		if strings.Contains(line, "main.go:") && strings.Contains(line, "inlining call to "+want) {
			return
		}
	}
	t.Errorf("the compiler did not inline the call to %s in %s/main.go; its report:\n%s", want, dir, out)
}
