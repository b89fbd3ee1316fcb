package proc

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// VmSize is read from its own line of the status file, in kB as the
// kernel prints it, whatever lines come before it (VmPeak among them);
// a file without it, or with a number that does not parse, is an error.
func TestVmSizeReadsItsOwnLine(t *testing.T) {
	const head = "Name:\tproc.test\nVmPeak:\t  999999 kB\n"
	for _, tc := range []struct {
		status string
		want   uint64
		err    error
	}{
		{head + "VmSize:\t 2466660 kB\nVmLck:\t       0 kB\n", 2466660 << 10, nil},
		{"VmSize:\t1 kB", 1 << 10, nil},
		{head + "VmRSS:\t   12 kB\n", 0, ErrNoVmSize},
		{"", 0, ErrNoVmSize},
		{head + "VmSize:\t\n", 0, ErrNoVmSize},
	} {
		got, err := vmSizeIn([]byte(tc.status))
		if tc.err != nil {
			assert.ErrorIs(t, err, tc.err, "%q", tc.status)
			continue
		}
		require.NoError(t, err, "%q", tc.status)
		assert.Equal(t, tc.want, got, "%q", tc.status)
	}
	_, err := vmSizeIn([]byte(head + "VmSize:\t 12x kB\n"))
	assert.Error(t, err, "a number that does not parse")
}

// A vmstat counter is read from the line that names it exactly (not one
// whose name it begins); a missing one, or a number that does not parse,
// is an error.
func TestCounterInReadsTheNamedLine(t *testing.T) {
	const vmstat = "thp_file_alloc 4711\nthp_file_fallback 3\nthp_file_fallback_charge 9\n"
	got, err := counterIn([]byte(vmstat), "thp_file_fallback")
	require.NoError(t, err)
	assert.Equal(t, uint64(3), got)
	got, err = counterIn([]byte(vmstat), "thp_file_fallback_charge")
	require.NoError(t, err)
	assert.Equal(t, uint64(9), got)
	_, err = counterIn([]byte(vmstat), "thp_file")
	assert.Error(t, err, "no such counter")
	_, err = counterIn([]byte("thp_file_fallback x\n"), "thp_file_fallback")
	assert.Error(t, err, "a number that does not parse")
}
