//go:build unix && !aix

package arena_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zone below, whatever the machine has

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/arena"
)

// A time in Local time keeps its zone in a clone even when nothing in the
// process had used the Local zone yet: the time package loads it lazily,
// and a clone of time.Now() taken first copied the empty zone and read
// as UTC. It runs in a child process, where Local is still unloaded.
func TestCloneOfATimeInAnUnloadedLocalZone(t *testing.T) {
	if os.Getenv("FROZEN_LOCAL_CHILD") == "1" {
		a, err := arena.NewArena()
		require.NoError(t, err)
		defer a.Close()
		now := time.Now() // in Local, not loaded yet
		c, err := arena.Clone(a, now)
		require.NoError(t, err)
		_, off := c.Zone()
		_, want := now.Zone()
		assert.Equal(t, want, off, "the clone's zone offset")
		assert.Equal(t, now.String(), c.String())
		return
	}
	args := []string{os.Args[0], "-test.run=^TestCloneOfATimeInAnUnloadedLocalZone$", "-test.v"}
	if w := strings.Fields(os.Getenv("FROZEN_TEST_EXEC_WRAPPER")); len(w) > 0 {
		args = append(w, args...) // an emulator and its flags, for a test binary of another GOARCH
	}
	cmd := exec.Command(args[0], args[1:]...)
	// A zone far from UTC all year, so that losing it shows.
	cmd.Env = append(os.Environ(), "FROZEN_LOCAL_CHILD=1", "TZ=Asia/Tokyo")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "--- PASS")
}
