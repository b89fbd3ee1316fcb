package graphtest

// SNode and the types it holds are a second fuzz catalogue, for shapes
// that FNode's catalogue lacks: embedded structs, arrays of interfaces and slices
// over them, pointers to zero-size values and fields, pointers into
// array and struct fields held inline, interfaces holding interior
// pointers, arrays, slices of interfaces and values stored directly, and
// byte slices and strings sharing bytes.
type SNode struct {
	SEmb   // embedded: its fields are promoted
	I      int
	Zero   struct{} // a zero-size field in the middle of the node
	S      string
	B      []byte
	Arr    [2]*SNode
	AnyArr [3]any
	Anys   []any // may view another node's AnyArr, or share a backing array
	Any    any
	ZP     *struct{} // a zero-size pointee: a node's Zero, the runtime's zero base, or another object's zero-size field
	Zs     []struct{}
	ArrP   **SNode // into a node's Arr
	AnyP   *any    // into a node's AnyArr or Anys
	EmbP   *SEmb   // into a node's embedded SEmb
	StrP   *string // into a node's S or SEmb.T
	Nodes  []SNode // nodes held inline, pointed into by others
	NodeP  *SNode  // into another node's Nodes
}

// SEmb is embedded in SNode.
type SEmb struct {
	T string
	R *SNode
}

// sdirect is stored directly in an interface's data word.
type sdirect struct{ P *SNode }

type shapeBuilder struct {
	input
	nodes []*SNode
	anys  [][]any
	strs  []string
	zero  struct{}
}

func (g *shapeBuilder) node() *SNode {
	n := g.next() % (len(g.nodes) + 1)
	if n == len(g.nodes) {
		return nil
	}
	return g.nodes[n]
}

// some returns a node, never nil.
func (g *shapeBuilder) some() *SNode { return g.nodes[g.next()%len(g.nodes)] }

func (g *shapeBuilder) str() string {
	switch g.next() % 3 {
	case 0:
		return ""
	case 1:
		s := string(rune('a'+g.next()%26)) + "-" + string(rune('a'+g.next()%26)) + "…"
		g.strs = append(g.strs, s)
		return s
	}
	if len(g.strs) == 0 {
		return "y"
	}
	s := g.strs[g.next()%len(g.strs)]
	lo := g.next() % (len(s) + 1)
	return s[lo : lo+g.next()%(len(s)-lo+1)]
}

func (g *shapeBuilder) value() any {
	switch g.next() % 12 {
	case 0:
		return nil
	case 1:
		return g.next()
	case 2:
		return g.str()
	case 3:
		return g.node()
	case 4:
		return sdirect{g.node()}
	case 5:
		return [2]any{g.node(), g.str()}
	case 6:
		return &g.some().Arr // a pointer to an array field
	case 7:
		return &g.some().SEmb // a pointer to an embedded field
	case 8:
		return g.some().AnyArr[:] // a slice over an array field
	case 9:
		return SEmb{T: g.str(), R: g.node()}
	case 10:
		return &g.some().Zero
	case 11:
		if n := g.some(); len(n.Nodes) > 0 {
			return n.Nodes[g.next()%len(n.Nodes):]
		}
	}
	return struct{}{}
}

// BuildShapes turns fuzz bytes into a graph of SNodes and returns its
// first node. The same bytes always give the same shape.
func BuildShapes(data []byte) *SNode {
	g := &shapeBuilder{input: input{data}}
	n := 1 + g.next()%8
	for i := 0; i < n; i++ {
		g.nodes = append(g.nodes, &SNode{I: g.next()})
	}
	g.anys = append(g.anys, make([]any, 4, 6))
	for len(g.data) > 0 {
		nd := g.some()
		switch g.next() % 20 {
		case 0:
			nd.S = g.str()
		case 1:
			nd.T = g.str()
		case 2:
			if t := g.some(); len(t.B) > 0 {
				lo := g.next() % len(t.B)
				nd.B = t.B[lo : lo+g.next()%(len(t.B)-lo+1)] // bytes shared
			} else {
				nd.B = []byte(g.str())
			}
		case 3:
			nd.Arr[g.next()%2] = g.node()
		case 4:
			nd.AnyArr[g.next()%3] = g.value()
		case 5:
			t := g.some()
			lo := g.next() % 4
			nd.Anys = t.AnyArr[lo : lo+g.next()%(4-lo)] // a slice over an array field
		case 6:
			b := g.anys[g.next()%len(g.anys)]
			lo := g.next() % (cap(b) + 1)
			nd.Anys = b[lo : lo+g.next()%(cap(b)-lo+1)]
			if len(nd.Anys) > 0 {
				nd.Anys[0] = g.value()
			}
		case 7:
			nd.Any = g.value()
		case 8:
			switch g.next() % 3 {
			case 0:
				nd.ZP = &g.some().Zero
			case 1:
				nd.ZP = new(struct{})
			case 2:
				nd.ZP = &g.zero
			}
		case 9:
			nd.Zs = make([]struct{}, g.next()%3)
		case 10:
			t := g.some()
			nd.ArrP = &t.Arr[g.next()%2]
		case 11:
			t := g.some()
			if len(t.Anys) > 0 && g.next()%2 == 0 {
				nd.AnyP = &t.Anys[g.next()%len(t.Anys)]
			} else {
				nd.AnyP = &t.AnyArr[g.next()%3]
			}
		case 12:
			nd.EmbP = &g.some().SEmb
		case 13:
			t := g.some()
			if g.next()%2 == 0 {
				nd.StrP = &t.S
			} else {
				nd.StrP = &t.T
			}
		case 14:
			nd.R = g.node()
		case 15:
			nd.Nodes = append(nd.Nodes, SNode{I: g.next(), S: g.str()})
		case 16:
			if t := g.some(); len(t.Nodes) > 0 {
				nd.NodeP = &t.Nodes[g.next()%len(t.Nodes)]
				nd.NodeP.Arr[0] = g.node()
			}
		case 17:
			g.anys = append(g.anys, make([]any, g.next()%5))
		case 18:
			if t := g.some(); len(t.Nodes) > 0 {
				k := g.next() % len(t.Nodes)
				t.Nodes[k].Any = g.value() // an interface inside an inline node
				nd.AnyP = &t.Nodes[k].AnyArr[g.next()%3]
			}
		case 19:
			if t := g.some(); len(t.Nodes) > 0 {
				lo := g.next() % len(t.Nodes)
				nd.Nodes = t.Nodes[lo:]
			}
		}
	}
	return g.nodes[0]
}
