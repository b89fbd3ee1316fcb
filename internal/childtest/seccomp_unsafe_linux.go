//go:build linux

package childtest

import (
	"runtime"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// RefuseSyscall installs a seccomp filter on the calling thread that fails
// system call nr with errno and allows every other. The filter cannot be
// taken off again: only for a child process (InChild), on a thread locked
// (runtime.LockOSThread) for the rest of the test. It skips the test on a
// kernel without seccomp filters.
func RefuseSyscall(t *testing.T, nr uintptr, errno unix.Errno) {
	t.Helper()
	filter := []unix.SockFilter{
		// seccomp_data.nr, the system call's number, is the first 32 bits.
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: uint32(nr)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(errno)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	// Without privileges, a filter may only be installed by a thread that
	// can gain none (seccomp(2)).
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		t.Fatalf("prctl(PR_SET_NO_NEW_PRIVS): %v", err)
	}
	// The kernel copies the program during the call. The conversion to
	// uintptr in the call to Syscall itself keeps prog alive and in place
	// until it returns (unsafe.Pointer's rule for system calls; a
	// goroutine's stack is not moved while it is in one), and prog's
	// Filter pointer keeps filter alive with it.
	_, _, e := unix.Syscall6(unix.SYS_PRCTL, unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&prog)), 0, 0, 0)
	runtime.KeepAlive(filter)
	if e == unix.EINVAL {
		t.Skipf("this kernel has no seccomp filters: %v", e)
	}
	if e != 0 {
		t.Fatalf("prctl(PR_SET_SECCOMP): %v", e)
	}
}
