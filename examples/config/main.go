// Command config shows hot configuration reload: a snapshot.Store is
// republished whenever a JSON file changes, while reader goroutines keep
// serving requests from whatever version is current. Old versions are
// released only when their last reader has left.
//
//	go run ./examples/config
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/frozen-go/frozen/snapshot"
)

// Config is what the service reads on every request.
type Config struct {
	Version   int       `json:"version"`
	Greeting  string    `json:"greeting"`
	RateLimit int       `json:"rate_limit"`
	Backends  []string  `json:"backends"`
	Features  []Feature `json:"features"`
}

// Feature is a feature flag.
type Feature struct {
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
}

func main() {
	dir, err := os.MkdirTemp("", "frozen-config-")
	check(err)
	err = run(filepath.Join(dir, "config.json"))
	os.RemoveAll(dir)
	check(err)
}

func run(path string) error {
	var store snapshot.Store[Config]
	store.Configure(snapshot.WithName("config"))
	if err := write(path, 1); err != nil {
		return err
	}
	if err := reload(&store, path); err != nil {
		return err
	}

	// Readers: serve "requests" from the current version.
	var stop atomic.Bool
	var served [5]atomic.Int64 // requests served per version; validate keeps versions in 1..4
	var wg sync.WaitGroup
	for r := 0; r < 8; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				store.Read(func(c Config) {
					// A consistent version: every field agrees.
					if c.Greeting != fmt.Sprintf("hello v%d", c.Version) || len(c.Backends) != c.Version {
						panic(fmt.Sprintf("inconsistent config %+v", c))
					}
					served[c.Version].Add(1)
				})
				time.Sleep(50 * time.Microsecond) // the rest of the request
			}
		}()
	}

	// The watcher: poll the file, republish on change. It starts from
	// the file that version 1 was read from: taken inside the goroutine,
	// once it ran, a version written before then went unnoticed.
	done := make(chan struct{})
	last := modTime(path)
	go func() {
		defer close(done)
		for !stop.Load() {
			time.Sleep(10 * time.Millisecond)
			if t := modTime(path); !t.Equal(last) {
				last = t
				if err := reload(&store, path); err != nil {
					fmt.Println("reload failed, keeping the current version:", err)
				}
			}
		}
	}()

	// Each version is written once the one before has been served. A
	// watcher that polls sees only the file's latest version: written
	// while the watcher was held up for a poll or more (on a loaded
	// machine), the one before went unpublished, and the example waited
	// for a fourth version that never came.
	for v := 2; v <= 4; v++ {
		time.Sleep(100 * time.Millisecond)
		if err := write(path, v); err != nil {
			stop.Store(true)
			return err
		}
		// Wait for a reader to serve it; a reload that failed leaves an
		// older version current, and then none will.
		for deadline := time.Now().Add(10 * time.Second); served[v].Load() == 0; {
			if time.Now().After(deadline) {
				stop.Store(true)
				wg.Wait()
				<-done
				return fmt.Errorf("version %d was not served within 10s (%d versions were published)", v, store.Stats().Published)
			}
			time.Sleep(time.Millisecond)
		}
	}
	time.Sleep(100 * time.Millisecond) // serve a while with the last version
	stop.Store(true)
	wg.Wait()
	<-done

	store.Read(func(c Config) {
		fmt.Printf("current: version %d, %q, %d backends\n", c.Version, c.Greeting, len(c.Backends))
	})
	for v := 1; v <= 4; v++ {
		fmt.Printf("requests served with version %d: %d\n", v, served[v].Load())
	}
	// The readers have stopped: every version replaced is released by now,
	// not held until Close; the current one is released by Close.
	if st := store.Stats(); st.Published != 4 || st.Released != 3 {
		return fmt.Errorf("before Close, with no reader left: %+v, want 4 versions published and the 3 replaced ones released", st)
	}
	fmt.Println("before Close: the 3 replaced versions were released once their last readers left")
	if err := store.Close(); err != nil {
		return err
	}
	st := store.Stats()
	fmt.Printf("versions published %d, released %d\n", st.Published, st.Released)
	if st.Published != 4 || st.Released != 4 || served[4].Load() == 0 {
		return fmt.Errorf("unexpected counts: %+v, %d requests with the last version", st, served[4].Load())
	}
	fmt.Println("ok config: 4 versions published and released while 8 readers served")
	return nil
}

// reload parses the file and publishes a new version.
func reload(store *snapshot.Store[Config], path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return err
	}
	// Check the new version before it goes live: once published, every
	// reader serves it. The readers here count requests per version 1 to
	// 4 and expect each field to agree with the version.
	if err := validate(c); err != nil {
		return err
	}
	if _, err := store.Publish(c); err != nil {
		return err
	}
	fmt.Printf("published version %d\n", c.Version)
	return nil
}

// validate refuses a config that the readers could not serve, such as
// a hand-edited file with a version out of range.
func validate(c Config) error {
	if c.Version < 1 || c.Version > 4 {
		return fmt.Errorf("version %d: this example serves versions 1 to 4", c.Version)
	}
	if c.Greeting != fmt.Sprintf("hello v%d", c.Version) || len(c.Backends) != c.Version {
		return fmt.Errorf("version %d: greeting %q and %d backends do not match the version", c.Version, c.Greeting, len(c.Backends))
	}
	return nil
}

func write(path string, v int) error {
	c := Config{Version: v, Greeting: fmt.Sprintf("hello v%d", v), RateLimit: 100 * v}
	for i := 0; i < v; i++ {
		c.Backends = append(c.Backends, fmt.Sprintf("10.0.0.%d:8080", i+1))
	}
	c.Features = []Feature{{"new-ui", v >= 3}, {"fast-path", true}}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path) // atomic replace, as config managers do
}

func modTime(path string) time.Time {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "config:", err)
		os.Exit(1)
	}
}
