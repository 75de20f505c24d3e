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

// walk attaches symbol to the changes of nd and of the dirty nodes below
// it. visit numbers the walk, so that each node is visited at most once by
// value and once through a pointer per symbol.
func (d *typeDiffer) walk(visit int, symbol string, nd *node, ptr bool, path []string) {
	if nd.mark == visit || (ptr && nd.pmark == visit) {
		return
	}
	if ptr {
		nd.pmark = visit
	} else {
		nd.mark = visit
	}
	reach := ReachValue
	if ptr {
		reach = ReachPointer
	}
	for _, c := range nd.local {
		if n := len(c.Affected); n == 0 || c.Affected[n-1] != symbol {
			c.Affected = append(c.Affected, symbol)
		}
		c.Reach = c.Reach.stronger(reach)
		if c.Path == "" {
			c.Path = joinPath(path)
		}
	}
	// path is a stack shared by the whole walk: nothing keeps it, since
	// joinPath copies it into a string.
	for _, e := range nd.edges {
		if e.to.dirty {
			path = append(path, e.label)
			d.walk(visit, symbol, e.to, ptr || e.ptr, path)
			path = path[:len(path)-1]
		}
	}
}
