//go:build linux

package snapshot_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/frozen-go/frozen/freeze"
	"github.com/frozen-go/frozen/snapshot"
)

type Limits struct {
	MaxConns int
	Burst    int
}

type ServerConfig struct {
	Name   string
	Ports  []uint16
	Limits *Limits
}

func Example() {
	type Config struct {
		Name     string
		Ports    []uint16
		MaxConns int
	}
	s, err := snapshot.Take(Config{Name: "api", Ports: []uint16{80, 443}, MaxConns: 100})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	cfg := s.Value() // no deep copy: frozen, for every goroutine, valid until Close
	fmt.Println(cfg.Name, cfg.Ports, cfg.MaxConns)

	codes := map[string]string{"DE": "Germany", "FR": "France", "JP": "Japan"}
	m, err := snapshot.NewMap(maps.All(codes)) // a frozen lookup table
	if err != nil {
		panic(err)
	}
	defer m.Close()
	name, ok := m.Get("JP")
	_, found := m.Get("XX")
	fmt.Println(name, ok, found)
	// Output:
	// api [80 443] 100
	// Japan true false
}

func ExampleTake() {
	cfg := &ServerConfig{Name: "api", Ports: []uint16{80, 443}, Limits: &Limits{MaxConns: 100}}
	s, err := snapshot.Take(cfg, snapshot.WithName("config"))
	if err != nil {
		panic(err)
	}
	defer s.Close()

	v := s.Value() // share with every goroutine: no locks, no copies
	fmt.Println(v.Name, v.Ports, v.Limits.MaxConns)

	// The original can change; the snapshot does not.
	cfg.Ports[0] = 8080
	fmt.Println(v.Ports[0], s.Verify())

	// A stray write faults; Guard names the field.
	err = freeze.Guard(func() { v.Limits.MaxConns = 0 })
	var wf *freeze.WriteFault
	if errors.As(err, &wf) {
		fmt.Println(wf.Region, wf.Path)
	}
	// Output:
	// api [80 443] 100
	// 80 <nil>
	// config *ServerConfig.Limits.MaxConns
}

func ExampleDefaultMode() {
	// Take freezes in DefaultMode unless WithMode says otherwise: Seal
	// where memfd seals exist (Linux), Protect elsewhere.
	s, err := snapshot.Take(&Limits{MaxConns: 10})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	fmt.Println(s.Region().Mode() == snapshot.DefaultMode())
	// Output: true
}

func ExampleStore() {
	var st snapshot.Store[ServerConfig]
	defer st.Close()
	if _, err := st.Publish(ServerConfig{Name: "v1", Ports: []uint16{80}}); err != nil {
		panic(err)
	}
	// Readers: v is valid only inside the callback.
	st.Read(func(c ServerConfig) { fmt.Println("serving with", c.Name, c.Ports) })

	// A reload publishes a new version; the old one is released once its
	// last reader has left.
	if _, err := st.Publish(ServerConfig{Name: "v2", Ports: []uint16{80, 443}}); err != nil {
		panic(err)
	}
	st.Read(func(c ServerConfig) { fmt.Println("serving with", c.Name, c.Ports) })
	fmt.Printf("%+v\n", st.Stats())
	// Output:
	// serving with v1 [80]
	// serving with v2 [80 443]
	// {Published:2 Released:1}
}

func ExampleSnapshot_Close() {
	s, err := snapshot.Take(&Limits{MaxConns: 10}, snapshot.WithName("limits"))
	if err != nil {
		panic(err)
	}
	p := s.Value()
	s.Close()
	// A pointer kept past Close faults instead of reading reused memory.
	err = freeze.Guard(func() { fmt.Println(p.MaxConns) })
	var uac *freeze.UseAfterClose
	fmt.Println(errors.As(err, &uac), uac.Region)
	// Output:
	// true limits
}

func ExampleNewMap() {
	countries := map[string]string{"DE": "Germany", "FR": "France", "JP": "Japan", "NZ": "New Zealand"}
	m, err := snapshot.NewMap(maps.All(countries), snapshot.WithName("countries"))
	if err != nil {
		panic(err)
	}
	defer m.Close()
	name, ok := m.Get("JP")
	fmt.Println(name, ok, m.Len())
	_, ok = m.Get("XX")
	fmt.Println(ok)

	dup := func(yield func(string, int) bool) { _ = yield("a", 1) && yield("b", 2) && yield("a", 3) }
	_, err = snapshot.NewMap(dup)
	fmt.Println(errors.Is(err, snapshot.ErrDuplicateKey), err)
	// Output:
	// Japan true 4
	// false
	// true snapshot: duplicate key: "a"
}

func ExampleMap_All() {
	m, err := snapshot.NewMap(maps.All(map[uint16]string{80: "http", 443: "https", 22: "ssh"}))
	if err != nil {
		panic(err)
	}
	defer m.Close()
	// The order is fixed but unspecified: sort for display.
	var ports []uint16
	for port := range m.All() {
		ports = append(ports, port)
	}
	slices.Sort(ports)
	fmt.Println(ports, m.Strategy()) // three entries: a linear scan
	// Output: [22 80 443] tiny
}

func ExampleWithMode() {
	// Alias mode: readers get a read-only view; the owner keeps a writable
	// mapping for deliberate updates (see freeze.Update).
	s, err := snapshot.Take(&Limits{MaxConns: 10}, snapshot.WithMode(freeze.Alias))
	if err != nil {
		panic(err)
	}
	defer s.Close()
	fmt.Println(s.Region().Mode(), s.Value().MaxConns)
	// Output: Alias 10
}
