package elfdiff

// This file attributes type changes to the exported symbols that reach
// them, once every declaration is compared.

import (
	"slices"
	"strings"
)

// finish attributes type-level changes to the symbols that reach them and
// returns every change.
func (d *typeDiffer) finish() []Change {
	d.markDirty()
	d.attribute()
	return d.collect()
}

// markDirty marks the nodes that changed or reach a node that changed.
func (d *typeDiffer) markDirty() {
	var work []*node
	for _, nd := range d.all {
		if len(nd.local) > 0 {
			nd.dirty = true
			work = append(work, nd)
		}
	}
	for len(work) > 0 {
		nd := work[len(work)-1]
		work = work[:len(work)-1]
		for _, p := range nd.preds {
			if !p.dirty {
				p.dirty = true
				work = append(work, p)
			}
		}
	}
}

// collect returns the declaration-level changes, then the type-level
// changes that some root reaches.
func (d *typeDiffer) collect() []Change {
	out := make([]Change, 0, len(d.decls))
	for _, c := range d.decls {
		out = append(out, *c)
	}
	// The same type may be described once per compilation unit: merge
	// findings that say the same thing.
	type key struct {
		kind                   Kind
		typ, where, old, newer string
	}
	seen := make(map[key]int)
	for _, nd := range d.all {
		for _, c := range nd.local {
			if len(c.Affected) == 0 {
				continue
			}
			k := key{c.Kind, c.Type, c.Where, c.Old, c.New}
			if i, ok := seen[k]; ok {
				m := &out[i]
				m.Affected = append(m.Affected, c.Affected...)
				m.Reach = m.Reach.stronger(c.Reach)
				continue
			}
			seen[k] = len(out)
			out = append(out, *c)
		}
	}
	for i := range out {
		slices.Sort(out[i].Affected)
		out[i].Affected = slices.Compact(out[i].Affected)
	}
	return out
}

// joinPath joins the labels of a path, skipping empty ones.
func joinPath(labels []string) string {
	var b strings.Builder
	for _, l := range labels {
		if l == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(" → ")
		}
		b.WriteString(l)
	}
	return b.String()
}

// walk attaches symbol to the changes of the dirty nodes below the root
// edges es, breadth first, so that each change's path is a shortest one:
// over all symbols, a change keeps the shortest path found, from the
// first symbol that has one that short. visit numbers the walk, so that
// each node is visited at most once by value and once through a pointer
// per symbol.
func (d *typeDiffer) walk(visit int, symbol string, es []edge) {
	q := d.queue[:0]
	for _, e := range es {
		if e.to.dirty {
			q = append(q, step{nd: e.to, ptr: e.ptr, parent: -1, label: e.label, depth: 1})
		}
	}
	for i := 0; i < len(q); i++ {
		st := q[i]
		nd := st.nd
		if nd.mark == visit || (st.ptr && nd.pmark == visit) {
			continue
		}
		if st.ptr {
			nd.pmark = visit
		} else {
			nd.mark = visit
		}
		reach := ReachValue
		if st.ptr {
			reach = ReachPointer
		}
		path := ""
		if len(nd.local) > 0 && (nd.plen == 0 || st.depth < nd.plen) {
			nd.plen = st.depth
			path = pathOf(q, i, symbol)
		}
		for _, c := range nd.local {
			if n := len(c.Affected); n == 0 || c.Affected[n-1] != symbol {
				c.Affected = append(c.Affected, symbol)
			}
			c.Reach = c.Reach.stronger(reach)
			if path != "" {
				c.Path = path
			}
		}
		for _, e := range nd.edges {
			if e.to.dirty {
				q = append(q, step{nd: e.to, ptr: st.ptr || e.ptr, parent: i, label: e.label, depth: st.depth + 1})
			}
		}
	}
	d.queue = q[:0]
}

// A step is one node reached in a walk: by which edge, from which step.
type step struct {
	nd     *node
	ptr    bool
	parent int // index of the step it was reached from; -1 from the symbol
	root   int // the root it was reached from, in paths
	label  string
	depth  int
}

// pathOf returns the path of step i of q, from symbol.
func pathOf(q []step, i int, symbol string) string {
	var labels []string
	for ; i >= 0; i = q[i].parent {
		labels = append(labels, q[i].label)
	}
	labels = append(labels, symbol)
	slices.Reverse(labels)
	return joinPath(labels)
}

// paths gives each change a shortest path from the roots, from the first
// root in order among those with a path that short — the path the walks of
// every root would leave — in one breadth-first search from all the roots
// at once, their edges queued in the roots' order.
func (d *typeDiffer) paths() {
	q := d.queue[:0]
	for i, r := range d.roots {
		for _, e := range r.edges {
			if e.to.dirty {
				q = append(q, step{nd: e.to, parent: -1, root: i, label: e.label, depth: 1})
			}
		}
	}
	for i := 0; i < len(q); i++ {
		st := q[i]
		nd := st.nd
		if nd.plen != 0 {
			continue
		}
		nd.plen = st.depth
		if len(nd.local) > 0 {
			path := pathOf(q, i, d.roots[st.root].symbol)
			for _, c := range nd.local {
				c.Path = path
			}
		}
		for _, e := range nd.edges {
			if e.to.dirty && e.to.plen == 0 {
				q = append(q, step{nd: e.to, parent: i, root: st.root, label: e.label, depth: st.depth + 1})
			}
		}
	}
	d.queue = q[:0]
}
