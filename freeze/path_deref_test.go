//go:build unix && !aix

package freeze_test

import (
	"testing"
	"unsafe"

	"github.com/frozen-go/frozen/internal/vm"
)

// Derefs holds pointers to what Go does not follow by a field or an
// index alone: a pointer, an integer, a string, a slice.
type Derefs struct {
	PP  **Point
	IP  *int64
	SP  *string
	XP  *[]Point
	Ptr *Point // a pointer to a struct, for comparison
}

// A write to what a pointer to a pointer, an integer, a string or a slice
// points to is named with the dereference, "(*…)", as Go spells it; the
// pointer itself is named without: the two writes read differently.
func TestFaultPathSpellsDereferences(t *testing.T) {
	if vm.FaultPageOnly {
		t.Skip("the kernel reports only the page of a fault")
	}
	for _, m := range modes(t) {
		t.Run(m.String(), func(t *testing.T) {
			p, n, s, xs := &Point{X: 1}, int64(2), "hello", []Point{{X: 3}, {X: 4}}
			_, ro := frozenClone(t, m, &Derefs{PP: &p, IP: &n, SP: &s, XP: &xs, Ptr: &Point{X: 5}})
			assertFaultPaths(t, map[string]func(){
				"*Derefs.PP":         func() { ro.PP = nil },
				"(**Derefs.PP)":      func() { *ro.PP = nil },
				"(**Derefs.PP).Y":    func() { (*ro.PP).Y = 9 },
				"*Derefs.IP":         func() { ro.IP = nil },
				"(**Derefs.IP)":      func() { *ro.IP = 9 },
				"(**Derefs.SP)":      func() { *ro.SP = "" },
				"(**Derefs.SP)[1]":   func() { *(*byte)(unsafe.Add(unsafe.Pointer(unsafe.StringData(*ro.SP)), 1)) = 'x' },
				"(**Derefs.XP)":      func() { *ro.XP = nil },
				"(**Derefs.XP)[1].X": func() { (*ro.XP)[1].X = 9 },
				"*Derefs.Ptr.X":      func() { ro.Ptr.X = 9 },
			})
		})
	}
}

// DynDerefs holds, in interfaces, pointers to an integer and to a
// pointer, and for comparison one to a struct.
type DynDerefs struct {
	IP, PP, SP any
}

// A write to what an interface's *int or **Point points to is named
// with the dereference spelt out around the assertion, as for a typed
// pointer; one to a field of what its *Point points to is not.
func TestFaultPathSpellsDereferencesThroughInterfaces(t *testing.T) {
	if vm.FaultPageOnly {
		t.Skip("the kernel reports only the page of a fault")
	}
	for _, m := range modes(t) {
		t.Run(m.String(), func(t *testing.T) {
			n, p := int64(2), &Point{X: 1}
			_, ro := frozenClone(t, m, &DynDerefs{IP: &n, PP: &p, SP: &Point{X: 5}})
			assertFaultPaths(t, map[string]func(){
				"*DynDerefs.IP":                func() { ro.IP = nil },
				"(**DynDerefs.IP.(*int64))":    func() { *ro.IP.(*int64) = 9 },
				"(**DynDerefs.PP.(**Point))":   func() { *ro.PP.(**Point) = nil },
				"(**DynDerefs.PP.(**Point)).Y": func() { (*ro.PP.(**Point)).Y = 9 },
				"*DynDerefs.SP.(*Point).Y":     func() { ro.SP.(*Point).Y = 9 },
			})
		})
	}
}
