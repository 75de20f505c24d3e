package elfdiff

import (
	"fmt"
	"strings"
	"testing"

	"github.com/compatgate/compatgate/elfdiff/internal/testlib"
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
	want := len(compareDecls(old, new).all)
	for _, units := range []int{3, 6} {
		old, new := headerPair(t, units)
		d := compareDecls(old, new)
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
