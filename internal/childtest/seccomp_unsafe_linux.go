//go:build linux

// Seccomp filters for child processes (InChild).
//
// Unsafe: the filter program's address is passed to prctl as an integer,
// in the system call's own argument list (see install).

package childtest

import (
	"encoding/binary"
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
	install(t, []unix.SockFilter{
		// seccomp_data.nr, the system call's number, is the first 32 bits.
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: uint32(nr)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(errno)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	})
}

// RefuseSyscallFlag is RefuseSyscall for only those calls of nr whose
// argument arg (counted from 0) has bit set in its low 32 bits (set true)
// or clear (set false): a kernel that does not know a flag, or one that
// insists on it.
func RefuseSyscallFlag(t *testing.T, nr uintptr, arg int, bit uint32, set bool, errno unix.Errno) {
	t.Helper()
	// seccomp_data: nr and arch (32 bits each), the instruction pointer,
	// then args[6], 64 bits each in the machine's byte order.
	off := uint32(16 + 8*arg)
	if binary.NativeEndian.Uint16([]byte{0, 1}) == 1 {
		off += 4 // big-endian: the low 32 bits come second
	}
	var jt, jf uint8 = 0, 1 // refuse when the bit is set
	if !set {
		jt, jf = 1, 0
	}
	install(t, []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 3, K: uint32(nr)},
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off},
		{Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, Jt: jt, Jf: jf, K: bit},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(errno)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	})
}

// install installs filter on the calling thread (see RefuseSyscall).
func install(t *testing.T, filter []unix.SockFilter) {
	t.Helper()
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
