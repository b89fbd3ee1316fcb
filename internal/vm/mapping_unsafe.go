// This file is where package vm handles raw addresses: mappings and
// reservations are described by unsafe.Pointer, never uintptr, so that
// checkptr (on under -race) can check every conversion. The memory they
// describe lies outside the Go heap; no Go pointer is ever stored in it by
// this package.

package vm

import (
	"errors"
	"fmt"
	"unsafe"
)

// Source says which descriptor a mapping is made from.
type Source int

// Sources.
const (
	FromReadWrite Source = iota // the memfd's own descriptor: can be made writable again
	FromReadOnly                // the O_RDONLY reopen: can never be made writable
)

// Mapping is a MAP_SHARED|MAP_FIXED mapping of a File at an address the
// caller reserved. It is owned by exactly one holder, which calls Release
// once; afterwards the range is PROT_NONE and reserved again.
type Mapping struct {
	file   *File
	addr   unsafe.Pointer
	len    uintptr
	off    int64
	prot   Prot
	source Source
	done   bool
	lost   bool // released, and the range taken away (ErrRangeLost)
}

// Map maps n bytes of f, starting at file offset off, at address at (which
// must lie in a range the caller reserved and be page-aligned).
func Map(f *File, off int64, at unsafe.Pointer, n uintptr, prot Prot, src Source) (*Mapping, error) {
	m := &Mapping{file: f, addr: at, len: n, off: off, prot: prot, source: src}
	if err := mapFixed(f, off, at, n, prot, src); err != nil {
		return nil, err
	}
	m.adviseHuge()
	return m, nil
}

// adviseHuge asks for transparent huge pages over a mapping of 2 MiB or
// more (MADV_HUGEPAGE), after each call that makes a new mapping of its
// range. The kernel gives a memfd's mappings huge pages only where its
// setting for shared memory allows it (ShmemHugePagesGiven); then
// mprotect, the first touch of the
// pages and the moves of their page tables take one entry per 2 MiB
// instead of 512. It is advice: with small pages everything works the
// same, more slowly. Small mappings are not advised, so that a small
// arena never holds a 2 MiB page.
func (m *Mapping) adviseHuge() {
	if m.len >= hugePage {
		_ = adviseHuge(m.addr, m.len)
	}
}

// Addr returns the start of the mapping.
func (m *Mapping) Addr() unsafe.Pointer { return m.addr }

// Len returns its length in bytes.
func (m *Mapping) Len() uintptr { return m.len }

// Bytes returns the mapped memory as a byte slice (for hashing and tests).
//
// Unsafe: the slice aliases memory outside the Go heap; it stays valid only
// until Release, and writes fault unless the protection allows them.
func (m *Mapping) Bytes() []byte { return unsafe.Slice((*byte)(m.addr), m.len) }

// Extend maps n more bytes of the file directly after the mapping, with the
// same protection and source. The file must already be large enough. The
// kernel merges the two pieces into one mapping.
func (m *Mapping) Extend(n uintptr) error {
	if m.done {
		return errReleased
	}
	at := unsafe.Add(m.addr, m.len)
	if err := mapFixed(m.file, m.off+int64(m.len), at, n, m.prot, m.source); err != nil {
		return err
	}
	m.len += n
	m.adviseHuge() // the whole mapping: the kernel merges it into one again
	return nil
}

// Protect changes the protection of the whole mapping.
func (m *Mapping) Protect(p Prot) error {
	if m.done {
		return errReleased
	}
	if err := protect(m.addr, m.len, p); err != nil {
		return fmt.Errorf("vm: mprotect %s: %w", p, err)
	}
	m.prot = p
	return nil
}

// Remap replaces the mapping in place by a fresh mapping of the same file
// range, from the given descriptor and with the given protection. Pages are
// not lost (they live in the file); the new mapping faults them in again.
func (m *Mapping) Remap(src Source, p Prot) error {
	if m.done {
		return errReleased
	}
	if err := mapFixed(m.file, m.off, m.addr, m.len, p, src); err != nil {
		return err
	}
	m.prot, m.source = p, src
	m.adviseHuge()
	return nil
}

// MoveAside moves the mapping's page tables to the reserved range at to
// (mremap with MREMAP_DONTUNMAP), leaving m in place with no pages populated.
// It is O(page-table entries / 512), or O(1) per GiB when both addresses are
// 1 GiB-aligned, where a remap in place would walk every page. The returned
// Mapping, at to, has m's old protection and source; its owner releases it.
func (m *Mapping) MoveAside(to unsafe.Pointer) (*Mapping, error) {
	if m.done {
		return nil, errReleased
	}
	if err := moveAside(m.addr, to, m.len); err != nil {
		return nil, err
	}
	aside := *m
	aside.addr = to
	return &aside, nil
}

// MoveOnto moves the mapping onto dst's range, replacing dst (which is
// marked released without touching its range), and takes its place: the
// reverse of MoveAside, for rolling back. m's old range stays mapped, with
// no pages, and is made a PROT_NONE reservation again; if that fails, the
// error comes with a Mapping of the old range, still able to reach the
// file's pages, for its owner to release later.
//
// If the move fails, m and dst are as they were, except that dst's range
// may have been unmapped and reserved again (PROT_NONE), so that its owner
// must map it anew; if it could not be reserved again, the error wraps
// ErrRangeLost and dst is marked released without touching its range,
// which nothing may map over again.
func (m *Mapping) MoveOnto(dst *Mapping) (old *Mapping, err error) {
	if m.done || dst.done {
		return nil, errReleased
	}
	if m.len != dst.len {
		return nil, fmt.Errorf("vm: move onto: length %d != %d", m.len, dst.len)
	}
	if err := moveOnto(m.addr, dst.addr, m.len); err != nil {
		if errors.Is(err, ErrRangeLost) {
			dst.done, dst.lost = true, true
		}
		return nil, err
	}
	// Until decommitted, the old range could write the file's pages.
	derr := decommit(m.addr, m.len)
	if derr != nil {
		left := *m
		if errors.Is(derr, ErrRangeLost) {
			// Unmapped, but not reserved again: released, and lost.
			left.done, left.lost = true, true
		}
		old = &left
		err = fmt.Errorf("vm: release moved-from range: %w", derr)
	}
	m.addr, dst.done = dst.addr, true
	return old, err
}

// Mseal makes the mapping's address range permanent: it can never again be
// unmapped, remapped or re-protected, for the life of the process. Where
// the kernel lacks mseal or refuses it (ENOSYS, EPERM), the error is a
// *FeatureError wrapping ErrUnsupported, as Features reports it.
func (m *Mapping) Mseal() error {
	if m.done {
		return errReleased
	}
	return mseal(m.addr, m.len)
}

// PopulateWrite asks the kernel to fault in [off, off+n) of the mapping for
// writing now, in one call, instead of one fault per page as the bytes are
// first written. It is advice: an error only means the pages fault in on
// first touch instead.
func (m *Mapping) PopulateWrite(off, n uintptr) error {
	if m.done {
		return errReleased
	}
	lo := off &^ (PageSize - 1)
	hi := min((off+n+PageSize-1)&^(PageSize-1), m.len)
	if hi <= lo {
		return nil
	}
	return populateWrite(unsafe.Add(m.addr, lo), hi-lo)
}

// Release replaces the mapping by a PROT_NONE reservation of the same range
// (no unmapped hole appears). It is idempotent. If it fails, the mapping
// is as it was, except where the error wraps ErrRangeLost: the mapping is
// then gone but its range could not be reserved again (see decommit), and
// the mapping counts as released and lost (Lost): its owner must never
// map over the range or hand it out again.
func (m *Mapping) Release() error {
	if m.done {
		return nil
	}
	if err := decommit(m.addr, m.len); err != nil {
		if errors.Is(err, ErrRangeLost) {
			m.done, m.lost = true, true
		}
		return fmt.Errorf("vm: release mapping: %w", err)
	}
	m.done = true
	return nil
}

// Released reports whether the mapping has been released (or its range
// lost).
func (m *Mapping) Released() bool { return m.done }

// Lost reports whether releasing the mapping, or moving it onto another,
// lost its range (ErrRangeLost): nothing may map over the range again.
func (m *Mapping) Lost() bool { return m.lost }

var errReleased = errors.New("vm: mapping already released")

// Anon is private anonymous read-write memory, never shared and never
// frozen: scratch space for building something that is then copied into
// an arena. Large ones are 2 MiB-aligned and ask for transparent huge
// pages, which the kernel gives private memory more often than a memfd's
// (see Mapping.adviseHuge), so that filling them takes fewer faults and
// TLB misses. It is owned by exactly one holder, which calls Release
// once.
type Anon struct {
	r *Reservation
}

// NewAnon maps n bytes (rounded up to whole pages) of zeroed private
// memory. Pages are allocated as they are first written, or by Populate.
func NewAnon(n uintptr) (*Anon, error) {
	n = (n + PageSize - 1) &^ (PageSize - 1)
	align := PageSize
	if n >= hugePage {
		align = hugePage
	}
	r, err := Reserve(n, align)
	if err != nil {
		return nil, err
	}
	if err := mapAnon(r.addr, n); err != nil {
		return nil, errors.Join(fmt.Errorf("vm: map %d anonymous bytes: %w", n, err), r.Release())
	}
	if n >= hugePage {
		_ = adviseHuge(r.addr, n) // advice: small pages work too
	}
	return &Anon{r: r}, nil
}

// hugePage is the size of a transparent huge page on the platforms that
// have them.
const hugePage = 2 << 20

// Addr returns the start of the memory; nil after Release.
func (a *Anon) Addr() unsafe.Pointer { return a.r.addr }

// Len returns its length.
func (a *Anon) Len() uintptr { return a.r.len }

// Populate asks the kernel to allocate the pages of [off, off+n) for
// writing now, in one call. It is advice, like Mapping.PopulateWrite.
func (a *Anon) Populate(off, n uintptr) error {
	if a.r.addr == nil {
		return errReleased
	}
	lo := off &^ (PageSize - 1)
	hi := min((off+n+PageSize-1)&^(PageSize-1), a.r.len)
	if hi <= lo {
		return nil
	}
	return populateWrite(unsafe.Add(a.r.addr, lo), hi-lo)
}

// Release unmaps the memory and frees its pages. It is idempotent.
func (a *Anon) Release() error { return a.r.Release() }

// Reservation is a range of address space with no access and no memory
// behind it (PROT_NONE, MAP_NORESERVE). Mappings are placed inside it.
type Reservation struct {
	addr unsafe.Pointer
	len  uintptr
}

// Reserve reserves n bytes of address space aligned to align (a power of
// two, at least PageSize).
func Reserve(n, align uintptr) (*Reservation, error) {
	if align < PageSize {
		align = PageSize
	}
	if align&(align-1) != 0 || n == 0 || n%PageSize != 0 {
		return nil, fmt.Errorf("vm: reserve %d bytes aligned to %d: bad size or alignment", n, align)
	}
	// Over-reserve, then give back the unaligned head and tail. The
	// kernel's address is page-aligned, so the aligned start lies at most
	// align-PageSize bytes past it: that much more is enough (nothing
	// more when align is PageSize), and under a tight RLIMIT_AS a page
	// more could be refused where the range itself fits.
	total := n + align - PageSize
	if total < n {
		return nil, fmt.Errorf("vm: reserve %d bytes: overflow", n)
	}
	p, err := reserve(total)
	if err != nil {
		return nil, fmt.Errorf("vm: reserve %d bytes: %w", n, err)
	}
	head := (align - uintptr(p)%align) % align
	if head > 0 {
		if err := unmap(p, head); err != nil {
			return nil, errors.Join(err, unmap(p, total))
		}
	}
	start := unsafe.Add(p, head)
	if tail := total - head - n; tail > 0 {
		if err := unmap(unsafe.Add(start, n), tail); err != nil {
			return nil, errors.Join(err, unmap(start, n+tail))
		}
	}
	return &Reservation{addr: start, len: n}, nil
}

// Addr returns the start of the reservation.
func (r *Reservation) Addr() unsafe.Pointer { return r.addr }

// Len returns its length.
func (r *Reservation) Len() uintptr { return r.len }

// Release unmaps the whole reservation, including anything mapped into it.
// If the kernel refuses, the reservation stays as it was, and Release may
// be called again.
func (r *Reservation) Release() error {
	if r.addr == nil {
		return nil
	}
	if err := unmap(r.addr, r.len); err != nil {
		return err
	}
	r.addr = nil
	return nil
}
