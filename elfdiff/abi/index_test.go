package abi

import (
	"debug/dwarf"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/compatgate/compatgate/internal/testlib"
)

// TestParallelIndexMatchesSequential indexes a library of several
// compilation units in one run and split into runs of one unit each, and
// compares everything the index finds.
func TestParallelIndexMatchesSequential(t *testing.T) {
	so := testlib.BuildUnits(t, map[string]string{
		"a.cc": "namespace ns { struct Outer { struct Inner; int f(); static int count; }; }\n" +
			"struct ns::Outer::Inner { long v; };\nint ns::Outer::f() { return 1; }\nint ns::Outer::count = 2;\n" +
			"extern \"C\" int c_api(ns::Outer::Inner *p) { return (int)p->v; }\n",
		"b.cc": "namespace ns { struct Outer { struct Inner; int f(); static int count; }; }\n" +
			"struct ns::Outer::Inner { long v; };\nint use_inner(ns::Outer::Inner &i) { return (int)i.v; }\n" +
			"template <class T> struct Box { T t; T get() const { return t; } };\nint boxed(Box<int> b) { return b.get(); }\n",
		"c.c": "struct point { int x, y; };\nint norm(struct point p) { return p.x + p.y; }\nextern int counter;\nint counter = 7;\n",
	})
	syms := exportsOf(t, so)
	df := openTestDWARF(t, so)
	if chunks := splitUnits(df.Sec, 8, 1); len(chunks) < 3 {
		t.Fatalf("%d runs of units, want one per unit (3)", len(chunks))
	}
	type result struct {
		Idx     *declIndex
		Defs    map[defKey]dwarf.Offset
		Scope   offsetStrings
		Methods []dwarf.Offset
		Units   []unitInfo
	}
	index := func(workers int, minBytes uint64) result {
		dr := newDWARFReader(df)
		idx, err := dr.index(syms, workers, minBytes)
		if err != nil {
			t.Fatal(err)
		}
		r := result{Idx: idx, Defs: dr.defs, Scope: dr.scope, Methods: dr.methods}
		for _, u := range dr.units {
			r.Units = append(r.Units, *u)
		}
		return r
	}
	seq, par := index(1, 0), index(8, 1)
	if len(seq.Idx.funcAt) < 4 || len(seq.Scope.offs) == 0 || len(seq.Units) != 3 {
		t.Fatalf("sequential index found too little: %+v", seq)
	}
	if diff := cmp.Diff(seq, par, cmp.AllowUnexported(declIndex{}, offsetStrings{}, unitInfo{})); diff != "" {
		t.Errorf("parallel index differs from sequential (-seq +par):\n%s", diff)
	}
}
