package elfdiff

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/compatgate/compatgate/internal/testlib"
)

// headerPair builds two versions of a library whose units each include
// one header of structs, the second version changing one struct, with
// units compilation units.
func headerPair(t *testing.T, units int) (old, new *Corpus) {
	t.Helper()
	const header = `struct item;
struct list { struct item *head; long count; };
struct item { struct item *next; struct list *owner; %s value; char tag[4]; };
`
	var out [2]*Corpus
	for v, value := range []string{"int", "long"} {
		srcs := map[string]string{"types.h": fmt.Sprintf(header, value)}
		for u := range units {
			srcs[fmt.Sprintf("u%d.c", u)] = fmt.Sprintf(`#include "types.h"
long count%[1]d(struct list *l) { return l->count; }
long value%[1]d(struct item *i) { return i->value; }
`, u)
		}
		c, err := Load(testlib.BuildUnitsWith(t, "gcc", srcs))
		if err != nil {
			t.Fatal(err)
		}
		out[v] = c
	}
	return out[0], out[1]
}

// TestDiffMergedCopies compares a library whose units repeat its types:
// each pair of types is compared once whatever the number of units, and
// the finding names every function that reaches the change.
func TestDiffMergedCopies(t *testing.T) {
	old, new := headerPair(t, 1)
	want := len(compareDecls(old, new, vtableClasses(old, new)).all)
	for _, units := range []int{3, 6} {
		old, new := headerPair(t, units)
		d := compareDecls(old, new, vtableClasses(old, new))
		if got := len(d.all); got != want {
			t.Errorf("%d units: %d pairs of types compared, %d with one unit", units, got, want)
		}
		var found []string
		for _, c := range d.finish() {
			if c.Kind == MemberTypeChanged {
				found = append(found, fmt.Sprintf("%s %s: %d affected", c.Type, c.Where, len(c.Affected)))
			}
		}
		if w := fmt.Sprintf("struct item member value: %d affected", 2*units); strings.Join(found, "; ") != w {
			t.Errorf("%d units: %q, want %q", units, found, w)
		}
	}
}

// reachSrc is a library whose types form cycles, reached by value and
// through pointers, by several functions; the second version changes two
// of its structs.
const reachSrc = `struct ctx;
struct leaf { %s v; };
struct pair { struct leaf inner; struct ctx *back; };
struct node { struct node *next; struct pair p; struct ctx *owner; };
struct ctx { struct node *head; struct leaf cache[2]; %s gen; };
int by_value(struct pair p) { return (int)p.inner.v; }
int by_pointer(struct leaf *l) { return (int)l->v; }
int from_node(struct node *n) { return n->next != 0; }
int from_ctx(struct ctx *c) { return c->head != 0; }
long generation(struct ctx c) { return (long)c.gen; }
`

// TestAttributeMatchesWalks checks the attribution by reach sets against
// the walk of every root from the type graph.
func TestAttributeMatchesWalks(t *testing.T) {
	var libs [2]*Corpus
	for v, ty := range [][2]string{{"int", "int"}, {"long", "short"}} {
		c, err := Load(testlib.BuildLib(t, "gcc", fmt.Sprintf(reachSrc, ty[0], ty[1]), "-g", "-O1"))
		if err != nil {
			t.Fatal(err)
		}
		libs[v] = c
	}
	got := compareDecls(libs[0], libs[1], vtableClasses(libs[0], libs[1])).finish()
	ref := compareDecls(libs[0], libs[1], vtableClasses(libs[0], libs[1]))
	ref.markDirty()
	walkEveryRoot(ref)
	want := ref.collect()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("attribution differs from the walks (-walks +sets):\n%s", diff)
	}
	if len(got) < 3 {
		t.Errorf("%d changes, want the changes of struct leaf and struct ctx: %v", len(got), got)
	}
}

// walkEveryRoot attributes the changes of d as a breadth-first walk from
// each root in turn would: every symbol reaching a change is added to it
// with the strongest way it reaches it, and a change keeps the shortest
// path found, from the first root that has one that short. It is the
// reference the reach sets and the one search of paths must agree with.
func walkEveryRoot(d *typeDiffer) {
	best := make(map[*node]int) // the length of the shortest path found
	for _, r := range d.roots {
		byValue, byPointer := make(map[*node]bool), make(map[*node]bool)
		var q []step
		for _, e := range r.edges {
			if e.to.dirty {
				q = append(q, step{nd: e.to, ptr: e.ptr, parent: -1, label: e.name(), depth: 1})
			}
		}
		for i := 0; i < len(q); i++ {
			st := q[i]
			nd := st.nd
			if byValue[nd] || (st.ptr && byPointer[nd]) {
				continue
			}
			if st.ptr {
				byPointer[nd] = true
			} else {
				byValue[nd] = true
			}
			reach := ReachValue
			if st.ptr {
				reach = ReachPointer
			}
			path := ""
			if len(nd.local) > 0 && (best[nd] == 0 || st.depth < best[nd]) {
				best[nd] = st.depth
				path = pathOf(q, i, r.symbol)
			}
			for _, c := range nd.local {
				if n := len(c.Affected); n == 0 || c.Affected[n-1] != r.symbol {
					c.Affected = append(c.Affected, r.symbol)
				}
				c.Reach = c.Reach.stronger(reach)
				if path != "" {
					c.Path = path
				}
			}
			for _, e := range nd.edges {
				if e.to.dirty {
					q = append(q, step{nd: e.to, ptr: st.ptr || e.ptr, parent: i, label: e.name(), depth: st.depth + 1})
				}
			}
		}
	}
}
