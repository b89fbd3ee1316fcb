package graphtest

// FNode and the types it holds are the fuzz catalogue: node types whose
// fields cover every kind of slot.
type FNode struct {
	I     int
	S     string
	B     []byte
	P     *FNode
	Kids  []*FNode
	Arr   [2]*FNode
	Any   any
	Vals  []FVal
	Inner FInner
	IP    *int  // may point into another node's I (an interior pointer)
	Sub   []int // may share a backing array with other nodes' Sub
	Str   *string
	Pair  *[2]FVal // may view two elements of a node's Vals, straddling other views
}

// FVal is a catalogue value with a pointer back to a node.
type FVal struct {
	X    int16
	Name string
	Back *FNode
}

// FInner is a catalogue struct held inline.
type FInner struct {
	Y uint8
	Q *FNode
}

// graphBuilder turns fuzz bytes into a graph.
// input hands out a fuzzer's bytes one at a time, and zeros once they
// run out.
type input struct{ data []byte }

func (in *input) next() int {
	if len(in.data) == 0 {
		return 0
	}
	b := in.data[0]
	in.data = in.data[1:]
	return int(b)
}

type graphBuilder struct {
	input
	nodes   []*FNode
	backing [][]int
	strs    []string
}

func (g *graphBuilder) node() *FNode {
	if len(g.nodes) == 0 {
		return nil
	}
	n := g.next() % (len(g.nodes) + 1)
	if n == len(g.nodes) {
		return nil
	}
	return g.nodes[n]
}

func (g *graphBuilder) str() string {
	switch g.next() % 4 {
	case 0:
		return ""
	case 1:
		s := string(rune('a'+g.next()%26)) + "…" + string(rune('a'+g.next()%26))
		g.strs = append(g.strs, s)
		return s
	default:
		if len(g.strs) == 0 {
			return "x"
		}
		s := g.strs[g.next()%len(g.strs)]
		lo := g.next() % (len(s) + 1)
		return s[lo:] // a substring sharing bytes
	}
}

// Build turns fuzz bytes into a graph of catalogue nodes and returns its
// first node. The same bytes always give the same shape, so that seed
// corpora keep what they found.
func Build(data []byte) *FNode {
	g := &graphBuilder{input: input{data}}
	n := 1 + g.next()%12
	for i := 0; i < n; i++ {
		g.nodes = append(g.nodes, &FNode{I: g.next() - 128})
	}
	g.backing = append(g.backing, make([]int, 8, 12))
	for len(g.data) > 0 {
		nd := g.nodes[g.next()%len(g.nodes)]
		switch g.next() % 15 {
		case 0:
			nd.S = g.str()
			if g.next()%4 == 0 {
				// A one-byte string converted from a []byte points into
				// the runtime's table of small values, as an interface
				// holding a small integer (Any, below) does.
				nd.S = string([]byte{byte(g.next())})
			}
		case 1:
			nd.B = []byte(g.str())
			if g.next()%3 == 0 {
				nd.B = nd.B[:0]
			}
		case 2:
			nd.P = g.node()
		case 3:
			nd.Kids = append(nd.Kids, g.node())
		case 4:
			nd.Arr[g.next()%2] = g.node()
		case 5:
			switch g.next() % 6 {
			case 0:
				nd.Any = g.next()
			case 1:
				nd.Any = g.str()
			case 2:
				nd.Any = g.node()
			case 3:
				nd.Any = FVal{X: int16(g.next()), Name: g.str(), Back: g.node()}
			case 4:
				nd.Any = nd.Sub
			case 5:
				nd.Any = nil
			}
		case 6:
			nd.Vals = append(nd.Vals, FVal{X: int16(g.next()), Name: g.str(), Back: g.node()})
		case 7:
			nd.Inner = FInner{Y: uint8(g.next()), Q: g.node()}
		case 8:
			if t := g.node(); t != nil {
				nd.IP = &t.I // interior pointer into a struct
			}
		case 9:
			b := g.backing[g.next()%len(g.backing)]
			lo := g.next() % (cap(b) + 1)
			hi := lo + g.next()%(cap(b)-lo+1)
			nd.Sub = b[lo:hi] // overlapping subslices, some beyond len
			if len(nd.Sub) > 0 {
				nd.Sub[0] = g.next()
			}
		case 10:
			g.backing = append(g.backing, make([]int, g.next()%6))
		case 11:
			s := g.str()
			nd.Str = &s
		case 12:
			if t := g.node(); t != nil && len(t.Vals) > 0 {
				nd.Any = &t.Vals[g.next()%len(t.Vals)] // pointer into a slice element
			}
		case 13:
			if t := g.node(); t != nil && len(t.Vals) >= 2 {
				i := g.next() % (len(t.Vals) - 1)
				nd.Pair = (*[2]FVal)(t.Vals[i : i+2]) // an array view of a slice
			}
		case 14:
			switch t := g.node(); {
			case t != nil && len(t.Vals) > 0:
				lo := g.next() % len(t.Vals)
				nd.Vals = t.Vals[lo : lo+1+g.next()%(len(t.Vals)-lo)] // a view of another node's Vals
			case t != nil && len(t.Kids) > 0:
				lo := g.next() % len(t.Kids)
				nd.Kids = t.Kids[lo : lo+1+g.next()%(len(t.Kids)-lo)] // a window of another node's Kids
			}
		}
	}
	return g.nodes[0]
}
