package abi

import (
	"debug/dwarf"
	"fmt"
	"strings"
	"testing"

	"github.com/compatgate/compatgate/internal/testlib"
)

// mergeHeader defines a ring of structs, each pointing to the next, and a
// struct reaching the ring: every unit that includes it describes them all.
const mergeHeader = `
struct ring0; struct ring1; struct ring2;
struct ring0 { int id; double weight; struct ring1 *next; char name[8]; };
struct ring1 { long id; struct ring2 *next; const char *label; };
struct ring2 { unsigned flags[3]; struct ring0 *next; };
struct top { struct ring0 *first; int (*hook)(struct top *); };
typedef struct top top_t;
`

// headerUnits returns n units including mergeHeader, each exporting
// functions that take every struct of it.
func headerUnits(n int) map[string]string {
	srcs := map[string]string{"types.h": mergeHeader}
	for u := range n {
		srcs[fmt.Sprintf("u%d.c", u)] = fmt.Sprintf(`#include "types.h"
int f%[1]d_0(struct ring0 *p) { return p->id; }
long f%[1]d_1(struct ring1 *p) { return p->id; }
unsigned f%[1]d_2(struct ring2 *p) { return p->flags[0]; }
int f%[1]d_3(top_t *p) { return p->first->id; }
`, u)
	}
	return srcs
}

// readUnits builds srcs with compiler and reads the DWARF of the result.
func readUnits(t *testing.T, compiler string, srcs map[string]string) *DebugInfo {
	t.Helper()
	so := testlib.BuildUnitsWith(t, compiler, srcs)
	info, err := Read(openTestDWARF(t, so), exportsOf(t, so), so)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// paramOf returns the type of the first parameter of the exported
// function name.
func paramOf(t *testing.T, info *DebugInfo, name string) *Type {
	t.Helper()
	for _, f := range info.Funcs {
		if f.Name == name && len(f.Params) > 0 {
			return f.Params[0].Type
		}
	}
	t.Fatalf("no function %s with parameters", name)
	return nil
}

// TestMergeHeaderCopies reads a library whose units all include one
// header: the types decoded do not depend on the number of units, and
// every unit's functions use the same Types.
func TestMergeHeaderCopies(t *testing.T) {
	one := readUnits(t, "gcc", headerUnits(1))
	for _, n := range []int{2, 5} {
		info := readUnits(t, "gcc", headerUnits(n))
		if info.Types != one.Types {
			t.Errorf("%d units: %d types decoded, %d with one unit", n, info.Types, one.Types)
		}
		for i := range 4 {
			first := paramOf(t, info, fmt.Sprintf("f0_%d", i))
			for u := 1; u < n; u++ {
				if other := paramOf(t, info, fmt.Sprintf("f%d_%d", u, i)); other != first {
					t.Errorf("%d units: f%d_%d takes %s, not the Type of f0_%d's", n, u, i, other, i)
				}
			}
		}
	}
}

// TestMergeKeepsDistinctDefinitions checks that copies that differ stay
// apart: a struct defined otherwise in one unit (#ifdef), a ring one of
// whose members differs far from the struct compared, a C++ class whose
// units instantiate different member templates.
func TestMergeKeepsDistinctDefinitions(t *testing.T) {
	cases := []struct {
		name, compiler string
		srcs           map[string]string
		// fa and fb take the two definitions; check compares them.
		fa, fb string
		check  func(a, b *Type) string
	}{{
		name: "ifdef", compiler: "gcc",
		srcs: map[string]string{
			"cfg.h": "struct cfg {\n#ifdef WIDE\n\tlong v;\n#else\n\tint v;\n#endif\n};\n",
			"a.c":   "#include \"cfg.h\"\nint fa(struct cfg *c) { return c->v; }\n",
			"b.c":   "#define WIDE\n#include \"cfg.h\"\nint fb(struct cfg *c) { return c->v; }\n",
		},
		fa: "fa", fb: "fb",
		check: func(a, b *Type) string {
			if got := [2]string{a.Elem.Members[0].Type.Name, b.Elem.Members[0].Type.Name}; got != [2]string{"int", "long int"} {
				return fmt.Sprintf("members of type %q, want int and long int", got)
			}
			return ""
		},
	}, {
		name: "ring member", compiler: "gcc",
		srcs: map[string]string{
			"ring.h": strings.Replace(mergeHeader, "unsigned flags[3];",
				"\n#ifdef WIDE\n\tunsigned flags[4];\n#else\n\tunsigned flags[3];\n#endif\n", 1),
			"a.c": "#include \"ring.h\"\nint fa(struct ring0 *p) { return p->id; }\n",
			"b.c": "#define WIDE\n#include \"ring.h\"\nint fb(struct ring0 *p) { return p->id; }\n",
		},
		fa: "fa", fb: "fb",
		check: func(a, b *Type) string {
			ca := a.Elem.Members[2].Type.Elem.Members[1].Type.Elem.Members[0].Type.Count
			cb := b.Elem.Members[2].Type.Elem.Members[1].Type.Elem.Members[0].Type.Count
			if ca != 3 || cb != 4 {
				return fmt.Sprintf("ring2.flags has %d and %d elements, want 3 and 4", ca, cb)
			}
			return ""
		},
	}, {
		name: "member templates", compiler: "g++",
		srcs: map[string]string{
			"box.h": "struct Box { int v; template <class T> void put(T x) { v += int(x); } };\n",
			"a.cc":  "#include \"box.h\"\nvoid fa(Box *b) { b->put(1); }\n",
			"b.cc":  "#include \"box.h\"\nvoid fb(Box *b) { b->put(2.0); }\n",
		},
		fa: "fa", fb: "fb",
		check: func(a, b *Type) string {
			ma, mb := a.Elem.Class.Methods, b.Elem.Class.Methods
			if len(ma) != 1 || len(mb) != 1 || ma[0].Linkage == mb[0].Linkage {
				return fmt.Sprintf("methods %v and %v, want one put each, of other types", ma, mb)
			}
			return ""
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			info := readUnits(t, tc.compiler, tc.srcs)
			a, b := paramOf(t, info, tc.fa), paramOf(t, info, tc.fb)
			if a.Elem == b.Elem {
				t.Fatalf("%s and %s take one merged Type: %s", tc.fa, tc.fb, a)
			}
			if msg := tc.check(a, b); msg != "" {
				t.Error(msg)
			}
		})
	}
}

// TestUnitOfBackAndForth looks up the units of DIEs going back and forth
// between three units, and of the offsets at and around their bounds:
// unitOf, which looks first at the last two units it found, must find the
// unit that holds each.
func TestUnitOfBackAndForth(t *testing.T) {
	so := testlib.BuildUnitsWith(t, "gcc", headerUnits(3))
	df := openTestDWARF(t, so)
	dr := newDWARFReader(df)
	if _, err := dr.index(exportsOf(t, so), 1, 0); err != nil {
		t.Fatal(err)
	}
	if len(dr.units) != 3 {
		t.Fatalf("%d units, want 3", len(dr.units))
	}
	dies := testlib.EntriesByUnit(t, mustDWARF(t, df))
	var offs []dwarf.Offset
	for _, u := range dr.units {
		offs = append(offs, 0, u.off-1, u.off, u.off+1)
	}
	// Back and forth: a DIE of unit 0, of unit 1, of unit 0, of unit 2…
	for k := 0; k < len(dies[0]) || k < len(dies[1]) || k < len(dies[2]); k++ {
		for _, u := range []int{0, 1, 0, 2, 1} {
			if k < len(dies[u]) {
				offs = append(offs, dies[u][k].Offset)
			}
		}
	}
	offs = append(offs, 1<<31)
	for _, off := range offs {
		var want *unitInfo
		for _, u := range dr.units {
			if u.off <= off {
				want = u
			}
		}
		if got := dr.unitOf(off); got != want {
			t.Fatalf("unitOf(%#x) = %v, want %v", off, got, want)
		}
	}
}

// TestReadPaced reads a library of several units with a Pace that counts
// its calls: it is called before the index and on entering each unit, and
// the DWARF reads as it does unpaced.
func TestReadPaced(t *testing.T) {
	const units = 4
	so := testlib.BuildUnitsWith(t, "gcc", headerUnits(units))
	plain, err := Read(openTestDWARF(t, so), exportsOf(t, so), so)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	paced, err := ReadWith(openTestDWARF(t, so), exportsOf(t, so), so, ReadOptions{Pace: func() { calls++ }})
	if err != nil {
		t.Fatal(err)
	}
	if calls < 1+units {
		t.Errorf("Pace called %d times, want at least %d (the index, then each unit)", calls, 1+units)
	}
	if paced.Types != plain.Types || len(paced.Funcs) != len(plain.Funcs) {
		t.Errorf("paced: %d types, %d functions; unpaced: %d, %d", paced.Types, len(paced.Funcs), plain.Types, len(plain.Funcs))
	}
	for u := range units {
		for i := range 4 {
			name := fmt.Sprintf("f%d_%d", u, i)
			if got, want := paramOf(t, paced, name).String(), paramOf(t, plain, name).String(); got != want {
				t.Errorf("%s takes %s paced, %s unpaced", name, got, want)
			}
		}
	}
}
