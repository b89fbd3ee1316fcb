//go:build unix && !aix

package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/frozen-go/frozen/snapshot"
)

// A hand-edited file that the readers could not serve is refused and
// the version before it stays current.
func TestReloadRefusesAConfigReadersCannotServe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	var store snapshot.Store[Config]
	t.Cleanup(func() { require.NoError(t, store.Close()) })
	require.NoError(t, write(path, 2))
	require.NoError(t, reload(&store, path))

	for name, body := range map[string]string{
		"version out of range": `{"version": 7, "greeting": "hello v7", "backends": ["a","b","c","d","e","f","g"]}`,
		"version zero":         `{"greeting": "hello v0"}`,
		"fields disagree":      `{"version": 3, "greeting": "hello v3", "backends": ["a"]}`,
		"not JSON":             `{"version": 3,`,
	} {
		require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
		require.Error(t, reload(&store, path), name)
		store.Read(func(c Config) {
			require.Equal(t, 2, c.Version, name)
		})
	}
	require.EqualValues(t, 1, store.Stats().Published)
}
