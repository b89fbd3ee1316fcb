package freeze

import (
	"fmt"
	"reflect"
	"runtime"
	"runtime/debug"

	"github.com/frozen-go/frozen/arena"
	"github.com/frozen-go/frozen/internal/offheap"
	"github.com/frozen-go/frozen/internal/vm"
)

// WriteFault reports a write into frozen memory, caught by Guard.
type WriteFault struct {
	Region string  // the arena's name
	Mode   Mode    // how the region was frozen
	Offset uintptr // from the start of the arena
	Addr   uintptr // the faulting address
	// Path is the Go field written, from the root of the value holding it:
	// "*Config.Endpoints[1].Port" (the root a *Config), "*Config.Name[2]"
	// (byte 2 of the string in Name), or, for memory from arena.New or
	// MakeSlice, the type and the index among the values of that type
	// those made in the arena, in order: "Point#7.Y", the eighth Point
	// (the sixth element of the slice of MakeSlice[Point](a, 10) made
	// after two New[Point]). A pointer to a struct or an array is followed as Go
	// follows it, by the field or index ("*Config.Primary.Port"); what
	// any other pointer points to is named with the dereference spelt
	// out, so that it reads apart from the pointer itself: "(**Config.Timeout)"
	// for *c.Timeout = 5 where Timeout is an *int ("*Config.Timeout" is
	// c.Timeout = nil), "(**Config.Next).Port" for a **Endpoint, and
	// "(**Config.Any.(*int))" through an interface holding an *int.
	// It steps through an interface with its dynamic type,
	// as a type assertion ("*Config.Any.(*Endpoint).Port"), and without
	// it where the type is one Clone never met (an Update stored it):
	// "*Config.Any.Port". Where several pointers reach the bytes written,
	// it goes through one that is still reachable from the root (not in a
	// node an Update unlinked), and never round a cycle back to where it
	// has been; of those, through a typed pointer before an interface,
	// then the one pointing lowest (the slice of a whole array rather than
	// a pointer to one of its elements); strings sharing their bytes are
	// chosen between the same way. "(?)" marks a step it could not find,
	// and "…" the start of a path cut at twelve steps. A path climbs by
	// the links Clone recorded (who first reached what), looking beyond
	// them a bounded number of times: after Updates that relink nodes, so
	// that those links no longer lead to the root, a path may end in
	// "(?)" although the root still reaches the field by another route.
	// So may one in an arena of more than 4,096 allocations or 65,536
	// pointers, where each look beyond the links reads the whole arena
	// and a path looks at most four times, that climbs through arrays the
	// root reached, level after level, first by a pointer to one element
	// and only later whole (naming an element other than the one pointed
	// to takes a look).
	Path string
	// PageOnly is set where the kernel reports only the page that faulted
	// (linux/s390x): Addr and Offset are then the page's first byte and
	// Path is empty, since naming the field there would name the wrong one.
	PageOnly bool
	// Stack is the faulting goroutine's stack, innermost first, from the
	// function whose instruction faulted out to the function Guard ran,
	// at most 16 frames, each frame as runtime.Frame gives it, full
	// function name and file path:
	// "example.com/app/pkg.F (/src/app/pkg/f.go:12)".
	Stack []string
}

// Error says plainly what was written where: "freeze: write to frozen
// region "cfg" at offset 0x58, field *Config.Version (address …, Seal
// mode)".
func (e *WriteFault) Error() string {
	field := e.Path
	switch {
	case e.PageOnly:
		field = fmt.Sprintf("unknown (this platform reports only the page: offsets %#x to %#x)",
			e.Offset, e.Offset+vm.PageSize-1)
	case field == "":
		field = "(no allocation)"
	}
	return fmt.Sprintf("freeze: write to frozen region %q at offset %#x, field %s (address %#x, %s mode)",
		e.Region, e.Offset, field, e.Addr, e.Mode)
}

// Is makes errors.Is(err, arena.ErrFrozen) true.
func (e *WriteFault) Is(target error) bool { return target == arena.ErrFrozen }

// UseAfterClose reports an access to the memory of a closed arena or
// snapshot, caught by Guard while the range is in quarantine. Once the
// range has left quarantine (see arena.SetQuarantine), and until an arena
// takes it again, an access there is still caught, with an empty Region
// and Offset 0: the library knows the address lies in space it reserved
// and no arena holds, not which arena held it (nor whether one ever did:
// a wild pointer can land there too).
type UseAfterClose struct {
	Region string  // the name of what was closed ("" once out of quarantine)
	Offset uintptr // from the start of its range (0 once out of quarantine)
	// Addr is the faulting address (where the kernel reports only the
	// page, as on linux/s390x, the page's first byte, and so is Offset).
	Addr  uintptr
	Stack []string // as in WriteFault
}

// Error names what was closed and where it was accessed.
func (e *UseAfterClose) Error() string {
	if e.Region == "" {
		return fmt.Sprintf("freeze: access to address %#x, in space the library reserved and no arena holds: "+
			"most likely memory of an arena or snapshot closed long enough ago to have left quarantine (see arena.SetQuarantine)", e.Addr)
	}
	return fmt.Sprintf("freeze: access to %q after it was closed (offset %#x, address %#x)", e.Region, e.Offset, e.Addr)
}

// Is makes errors.Is(err, arena.ErrClosed) true.
func (e *UseAfterClose) Is(target error) bool { return target == arena.ErrClosed }

// Guard runs f and turns a fault caused by a write into frozen memory into
// a *WriteFault naming the region, offset and Go field, and an access to a
// closed (quarantined) range into a *UseAfterClose naming it, as it does an
// access to a closed range that has left quarantine, unnamed, until an
// arena takes its addresses again. Other panics, faults elsewhere
// included, pass through unchanged (re-panicked with the same value).
// Guard sets debug.SetPanicOnFault for the calling goroutine while
// f runs and restores it after. A write that faults while another
// goroutine's Freeze is making the memory read-only is named too: the
// region is known before its memory is protected.
//
// Limits: the fault must happen on the goroutine that called Guard (a
// goroutine f starts is not guarded, and a fault there still kills the
// process); a system call writing into frozen memory fails with EFAULT
// instead of faulting; a store straddling two pages reports the first
// byte of the read-only page; where the kernel reports only the page that
// faulted (linux/s390x), a WriteFault has PageOnly set and no Path. Under
// the race detector (-race) an atomic operation into frozen memory
// (sync/atomic, and so locking a sync.Mutex or running a sync.Once held in
// a snapshot) kills the process with a fatal runtime error rather than
// faulting into Guard: the race runtime performs atomics in C code, where
// the runtime cannot turn a fault into a panic (plain writes, copy and
// clear are caught as usual). A panic(nil) passes through as the
// runtime's *runtime.PanicNilError, except under GODEBUG=panicnil=1,
// where recover cannot tell it from runtime.Goexit (which must go on) and
// Guard returns nil. A fault in a deferred call of f while f exits through
// runtime.Goexit (after t.FailNow, say) cannot be returned, for the Goexit
// goes on once the fault is recovered: Guard panics with its *WriteFault
// or *UseAfterClose instead, which a recover above Guard gets, and which
// otherwise ends the process naming the field. Guard panics if f is nil.
func Guard(f func()) (err error) {
	if f == nil {
		panic("freeze: Guard with a nil func")
	}
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		// A memory fault is a runtime.Error with the faulting address, of
		// a type of package runtime: a panic value of the user's with
		// RuntimeError and Addr methods is not one, wherever Addr points.
		if af, ok := r.(interface {
			runtime.Error
			Addr() uintptr
		}); ok && reflect.TypeOf(r).PkgPath() == "runtime" {
			addr := af.Addr()
			if info, ok := offheap.Resolve(addr); ok {
				if info.Unheld {
					err = &UseAfterClose{Addr: addr, Stack: faultStack()}
				} else if info.Released {
					err = &UseAfterClose{Region: info.Region, Offset: info.Offset, Addr: addr, Stack: faultStack()}
				} else {
					err = &WriteFault{Region: info.Region, Mode: Mode(info.Mode), Offset: info.Offset, Addr: addr,
						Path: info.Path, PageOnly: info.PageOnly, Stack: faultStack()}
				}
				if goexiting() {
					panic(err) // a recovered fault would resume the Goexit, and err be lost
				}
				return
			}
		}
		panic(r)
	}()
	f()
	return nil
}

// guardFunc is Guard's name in a stack trace, where the frames of a fault
// inside f end.
const guardFunc = "github.com/frozen-go/frozen/freeze.Guard"

// goexiting reports whether the fault Guard's deferred recover handles
// happened while runtime.Goexit ran f's deferred calls: whether
// runtime.Goexit lies between the recover and Guard's own frame.
func goexiting() bool {
	pcs := make([]uintptr, 64)
	for skip := 2; ; skip += len(pcs) { // the faulting code may run deep
		n := runtime.Callers(skip, pcs)
		frames := runtime.CallersFrames(pcs[:n])
		for {
			f, more := frames.Next()
			switch f.Function {
			case "runtime.Goexit":
				return true
			case guardFunc:
				return false
			}
			if !more {
				break
			}
		}
		if n < len(pcs) {
			return false
		}
	}
}

// maxStack bounds the frames kept in a fault report.
const maxStack = 16

// faultStack returns the frames of the faulting goroutine from the
// function that faulted outwards. Called from Guard's deferred recover,
// while the faulting frames are still on the stack above runtime.sigpanic.
func faultStack() []string {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(1, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	var out []string
	seen := false
	for {
		f, more := frames.Next()
		if seen && len(out) < maxStack {
			if f.Function == guardFunc {
				break
			}
			out = append(out, fmt.Sprintf("%s (%s:%d)", f.Function, f.File, f.Line))
		}
		if f.Function == "runtime.sigpanic" {
			seen = true
		}
		if !more {
			break
		}
	}
	return out
}
