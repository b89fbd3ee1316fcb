// Package childtest runs a test again in a child process, for tests that
// change what the whole process lives under (its address-space limit) or
// may leave it unusable.
package childtest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

const env = "FROZEN_CHILD_TEST"

// InChild reports whether the test runs in the child process that an
// earlier call started for it. Otherwise it starts one, running only this
// test with the given environment variables added, fails t if the child
// fails or skips, and returns false: the caller returns at once. The
// child's -test.timeout is three quarters of the time left before t's
// deadline. Under an emulator (FROZEN_TEST_EXEC_WRAPPER set) it skips the
// test instead.
//
//	if !childtest.InChild(t) {
//		return
//	}
//	// what the child does
func InChild(t *testing.T, environ ...string) bool {
	t.Helper()
	return inChild(t, true, environ)
}

// InChildWithoutPoller is InChild for a test of what a process does before
// the Go runtime has set up its poller (epoll), which the first timer or
// the first file opened through os sets up: the child is given no
// -test.timeout, whose timer would set it up. If the child hangs, the
// parent kills it at three quarters of the time left before t's deadline
// (without the goroutine dump a timeout of the child's own would print).
// The test must itself start no timer before it has seen what it tests.
func InChildWithoutPoller(t *testing.T, environ ...string) bool {
	t.Helper()
	return inChild(t, false, environ)
}

// inChild is InChild, and with timeout unset, InChildWithoutPoller.
func inChild(t *testing.T, timeout bool, environ []string) bool {
	t.Helper()
	if os.Getenv(env) == t.Name() {
		return true
	}
	if os.Getenv("FROZEN_TEST_EXEC_WRAPPER") != "" {
		t.Skip("under an emulator, whose own mappings and limits the child's would mix with")
	}
	args := []string{"-test.run=^" + t.Name() + "$", "-test.v", "-test.count=1"}
	ctx := context.Background()
	if deadline, ok := t.Deadline(); ok {
		// A child that hangs stops itself, printing its goroutines, while
		// the parent can still report it: with no timeout of its own it
		// ran until the parent's, which stopped the parent without a word
		// from the child and left the child running.
		left := max(time.Until(deadline)*3/4, time.Second)
		if timeout {
			args = append(args, "-test.timeout="+left.String())
		} else {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, left)
			defer cancel()
		}
	}
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	// No asynchronous preemption in the child: to preempt a goroutine so,
	// the runtime saves its registers in memory it maps on demand, and at
	// the limits these tests set that mmap fails and the runtime aborts
	// ("fatal error: runtime: cannot allocate memory", seen in CI).
	godebug := "asyncpreemptoff=1"
	if g := os.Getenv("GODEBUG"); g != "" {
		godebug = g + "," + godebug
	}
	cmd.Env = append(append(os.Environ(), env+"="+t.Name(), "GODEBUG="+godebug), environ...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child process: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("child process did not pass:\n%s", out)
	}
	t.Logf("child process:\n%s", out)
	return false
}
