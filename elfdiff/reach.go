package elfdiff

// This file attributes the changes of the type graph to the symbols that
// reach them. Walking the graph from every symbol costs symbols × types
// when every symbol reaches every type (one strongly connected graph, as
// in libraries whose structs point back to a context). Instead, the
// changed nodes each node reaches are computed once, as bit sets over the
// strongly connected components of the dirty nodes, and each symbol takes
// the union of those of the nodes it uses; the path shown with a change is
// a shortest one, found by one breadth-first search from all the symbols.

import (
	mathbits "math/bits"
)

// attribute attaches every root's symbol to the changes of the nodes it
// reaches, with the strongest way it reaches them, and gives each change
// a shortest path from a root.
func (d *typeDiffer) attribute() {
	var dirty, changed []*node
	for _, nd := range d.all {
		if nd.dirty {
			nd.di = int32(len(dirty))
			dirty = append(dirty, nd)
		}
		if len(nd.local) > 0 {
			changed = append(changed, nd)
			nd.ci = int32(len(changed))
		}
	}
	if len(changed) == 0 {
		return
	}
	words := (len(changed) + 63) / 64
	all := reachSets(dirty, words, false)
	byValue := reachSets(dirty, words, true)
	a, v := make([]uint64, words), make([]uint64, words)
	for _, r := range d.roots {
		clear(a)
		clear(v)
		for _, e := range r.edges {
			if !e.to.dirty {
				continue
			}
			or(a, all[e.to.di])
			if !e.ptr {
				or(v, byValue[e.to.di])
			}
		}
		for w, x := range a {
			for ; x != 0; x &= x - 1 {
				k := w*64 + mathbits.TrailingZeros64(x)
				reach := ReachPointer
				if v[w]&(1<<(k%64)) != 0 {
					reach = ReachValue
				}
				for _, c := range changed[k].local {
					if r.static {
						c.Facts |= FactStaticData
						continue
					}
					if n := len(c.Affected); n == 0 || c.Affected[n-1] != r.symbol {
						c.Affected = append(c.Affected, r.symbol)
					}
					c.Reach = c.Reach.stronger(reach)
				}
			}
		}
	}
	d.paths()
}

// or sets in dst the bits of src.
func or(dst, src []uint64) {
	for i, x := range src {
		dst[i] |= x
	}
}

// reachSets returns, for each dirty node by its index, the set of changed
// nodes it reaches through dirty nodes (by their index ci-1), following
// only the edges that are not through a pointer when byValue is set. The
// nodes of one strongly connected component share one set.
func reachSets(dirty []*node, words int, byValue bool) [][]uint64 {
	s := sccs{dirty: dirty, words: words, byValue: byValue,
		index: make([]int32, len(dirty)), low: make([]int32, len(dirty)),
		onStack: make([]bool, len(dirty)), sets: make([][]uint64, len(dirty))}
	for i := range s.index {
		s.index[i] = -1
	}
	for i := range dirty {
		if s.index[i] < 0 {
			s.visit(int32(i))
		}
	}
	return s.sets
}

// sccs is Tarjan's algorithm over the dirty nodes, computing the reach
// sets of each component once its successors' are known.
type sccs struct {
	dirty      []*node
	words      int
	byValue    bool
	index, low []int32
	onStack    []bool
	stack      []int32
	next       int32
	sets       [][]uint64
}

// follows reports whether the walk follows e.
func (s *sccs) follows(e edge) bool { return e.to.dirty && !(s.byValue && e.ptr) }

func (s *sccs) visit(v int32) {
	s.index[v], s.low[v] = s.next, s.next
	s.next++
	s.stack = append(s.stack, v)
	s.onStack[v] = true
	for _, e := range s.dirty[v].edges {
		if !s.follows(e) {
			continue
		}
		w := e.to.di
		if s.index[w] < 0 {
			s.visit(w)
			s.low[v] = min(s.low[v], s.low[w])
		} else if s.onStack[w] {
			s.low[v] = min(s.low[v], s.index[w])
		}
	}
	if s.low[v] != s.index[v] {
		return
	}
	start := len(s.stack) - 1
	for s.stack[start] != v {
		start--
	}
	members := s.stack[start:]
	set := make([]uint64, s.words)
	for _, m := range members {
		s.onStack[m] = false
		if c := s.dirty[m].ci; c > 0 {
			set[(c-1)/64] |= 1 << ((c - 1) % 64)
		}
	}
	// The components below are complete; this one's members have no
	// set yet.
	for _, m := range members {
		for _, e := range s.dirty[m].edges {
			if s.follows(e) && s.sets[e.to.di] != nil {
				or(set, s.sets[e.to.di])
			}
		}
	}
	for _, m := range members {
		s.sets[m] = set
	}
	s.stack = s.stack[:start]
}
