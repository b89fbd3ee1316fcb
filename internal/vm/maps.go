package vm

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/bits"
	"strconv"
	"strings"

	"github.com/frozen-go/frozen/internal/proc"
)

// MapsEntry is one line of /proc/self/maps.
type MapsEntry struct {
	Start, End uintptr
	Perms      string // e.g. "r--s"
	Offset     uint64
	Path       string // e.g. "/memfd:frozen (deleted)"
}

// Shared reports whether the mapping is MAP_SHARED.
func (e MapsEntry) Shared() bool { return len(e.Perms) == 4 && e.Perms[3] == 's' }

// Overlaps reports whether the mapping shares an address with [start, end).
func (e MapsEntry) Overlaps(start, end uintptr) bool { return e.End > start && e.Start < end }

// Writable reports whether the mapping is writable.
func (e MapsEntry) Writable() bool { return len(e.Perms) > 1 && e.Perms[1] == 'w' }

// Maps is a parsed /proc/self/maps, sorted by address.
type Maps []MapsEntry

// ReadMaps parses /proc/self/maps (Linux only; elsewhere it returns an error
// wrapping ErrUnsupported).
func ReadMaps() (Maps, error) {
	return ReadMapsWithin(0, ^uintptr(0))
}

// ReadMapsWithin returns the entries of /proc/self/maps that overlap
// [start, end). It reads the file through a small buffer and parses only
// those lines: near the mapping limit the file holds some 65,000 lines,
// and holding it whole takes megabytes that the Go runtime may be unable
// to map just then. Linux only, as ReadMaps.
func ReadMapsWithin(start, end uintptr) (Maps, error) {
	f, err := proc.Open("/proc/self/maps") // not os.Open: see proc.Open
	if err != nil {
		return nil, &FeatureError{Feature: "/proc/self/maps", Err: err}
	}
	defer f.Close()
	var out Maps
	// A line holds at most a path, but a path is not bounded by PATH_MAX
	// (d_path of a deeply nested file can be longer): read lines in
	// pieces, skip the rest of a line outside the range, and gather
	// only the lines inside it whole.
	r := bufio.NewReaderSize(f, 4096)
	for {
		chunk, err := r.ReadSlice('\n')
		if len(chunk) == 0 && err != nil {
			if err == io.EOF {
				return out, nil
			}
			return nil, err
		}
		lo, hi, ok := mapsLineRange(chunk)
		if !ok {
			return nil, fmt.Errorf("vm: maps line %q: bad range", chunk)
		}
		inRange := (MapsEntry{Start: lo, End: hi}).Overlaps(start, end)
		var line []byte
		if inRange {
			line = append(line, chunk...)
		}
		for err == bufio.ErrBufferFull {
			chunk, err = r.ReadSlice('\n')
			if inRange {
				line = append(line, chunk...)
			}
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		if inRange {
			e, perr := parseMapsLine(strings.TrimSuffix(string(line), "\n"), lo, hi)
			if perr != nil {
				return nil, perr
			}
			out = append(out, e)
		}
		if err == io.EOF {
			return out, nil
		}
	}
}

// mapsLineRange parses the "start-end" that begins a maps line, without
// allocating.
func mapsLineRange(line []byte) (lo, hi uintptr, ok bool) {
	var n [2]uintptr
	i := 0
	for k := range n {
		digits := 0
		for ; i < len(line); i++ {
			d, ok := hexDigit(line[i])
			if !ok || digits == bits.UintSize/4 {
				break
			}
			n[k] = n[k]<<4 | uintptr(d)
			digits++
		}
		sep := byte('-')
		if k == 1 {
			sep = ' '
		}
		if digits == 0 || i == len(line) || line[i] != sep {
			return 0, 0, false
		}
		i++
	}
	return n[0], n[1], true
}

// hexDigit is the value of a lower-case hex digit, as the kernel prints
// them.
func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// parseMapsLine parses the rest of a maps line whose range, [lo, hi),
// mapsLineRange has read.
func parseMapsLine(line string, lo, hi uintptr) (MapsEntry, error) {
	var e MapsEntry
	fields := bytes.Fields([]byte(line))
	if len(fields) < 5 {
		return e, fmt.Errorf("vm: maps line %q: too few fields", line)
	}
	off, err := strconv.ParseUint(string(fields[2]), 16, 64)
	if err != nil {
		return e, fmt.Errorf("vm: maps line %q: bad offset", line)
	}
	e.Start, e.End, e.Perms, e.Offset = lo, hi, string(fields[1]), off
	if len(fields) > 5 {
		// The path may contain spaces ("(deleted)").
		idx := bytes.Index([]byte(line), fields[5])
		e.Path = line[idx:]
	}
	return e, nil
}

// Find returns the entry containing addr.
func (m Maps) Find(addr uintptr) (MapsEntry, bool) {
	lo, hi := 0, len(m)
	for lo < hi {
		mid := (lo + hi) / 2
		switch {
		case addr < m[mid].Start:
			hi = mid
		case addr >= m[mid].End:
			lo = mid + 1
		default:
			return m[mid], true
		}
	}
	return MapsEntry{}, false
}

// Within returns the entries overlapping [start, end).
func (m Maps) Within(start, end uintptr) Maps {
	var out Maps
	for _, e := range m {
		if e.Overlaps(start, end) {
			out = append(out, e)
		}
	}
	return out
}

// Covers reports whether mappings cover all of [start, end), with no
// gap.
func (m Maps) Covers(start, end uintptr) bool {
	at := start
	for _, e := range m.Within(start, end) {
		if e.Start > at {
			return false
		}
		at = max(at, e.End)
	}
	return at >= end
}

// SmapsField returns what follows field (such as "VmFlags:" or
// "ShmemPmdMapped:") in the entry of /proc/self/smaps for the mapping that
// starts at start, trimmed (Linux only).
func SmapsField(start uintptr, field string) (string, error) {
	smaps, err := proc.ReadFile("/proc/self/smaps")
	if err != nil {
		return "", &FeatureError{Feature: "/proc/self/smaps", Err: err}
	}
	head := fmt.Sprintf("%08x-", start) // the kernel pads addresses to 8 digits
	in := false
	for line := range strings.Lines(string(smaps)) {
		switch {
		case strings.HasPrefix(line, head):
			in = true
		case in && strings.HasPrefix(line, field):
			return strings.TrimSpace(strings.TrimPrefix(line, field)), nil
		case in && isSmapsHeader(line): // the next mapping's
			in = false
		}
	}
	return "", fmt.Errorf("vm: no %s for a mapping at %#x in /proc/self/smaps", field, start)
}

// isSmapsHeader reports whether line of /proc/self/smaps starts a mapping's
// entry ("7f…-7f… r--s …") rather than being one of its fields ("Rss: …").
func isSmapsHeader(line string) bool {
	first, _, _ := strings.Cut(line, " ")
	return strings.Contains(first, "-") && !strings.HasSuffix(first, ":")
}
