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
			// A change only the library's static data reaches matters
			// to a hot upgrade, not to clients: kept when its type is
			// private, so that it reads as a private-* finding.
			if len(c.Affected) == 0 && !c.Facts.Has(FactStaticData|FactPrivate) {
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
//
// The exported symbols' roots go first: a change they reach gets a path
// from one of them, and the static roots give paths only to the rest.
func (d *typeDiffer) paths() {
	q := d.queue[:0]
	for _, static := range []bool{false, true} {
		start := len(q)
		for i, r := range d.roots {
			for _, e := range r.edges {
				if e.to.dirty && r.static == static {
					q = append(q, step{nd: e.to, parent: -1, root: i, label: e.name(), depth: 1})
				}
			}
		}
		q = d.walkPaths(q, start)
	}
	d.queue = q[:0]
}

// walkPaths runs the breadth-first search of paths over q from index i.
func (d *typeDiffer) walkPaths(q []step, i int) []step {
	for ; i < len(q); i++ {
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
				q = append(q, step{nd: e.to, parent: i, root: st.root, label: e.name(), depth: st.depth + 1})
			}
		}
	}
	return q
}
