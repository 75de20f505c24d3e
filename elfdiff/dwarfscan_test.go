package elfdiff

import (
	"bytes"
	"debug/dwarf"
	"debug/elf"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const scanCSrc = `
struct node { struct node *next; int v[4]; union { long l; double d; } u; };
enum color { RED, GREEN = 7 };
typedef struct node node_t;
static int hidden(int x) { return x * 3; }
int counter = 4;
__thread int tls_counter;
const char *names[] = { "a", "b" };
int walk(node_t *n, enum color c) {
	int s = 0;
	for (; n; n = n->next) s += n->v[0] + hidden(c);
	return s;
}
__attribute__((cold, noinline)) static void slow(int *p) { *p = 0; }
int maybe(int *p) { if (__builtin_expect(p == 0, 0)) { slow(p); return -1; } return *p; }
int vsum(int n, ...) { return n; }
`

const scanCXXSrc = `
#include <string>
#include <vector>
namespace outer { namespace {
struct Hidden { int h; };
}
class Base { public: virtual ~Base(); virtual int f(int) const; int b; };
Base::~Base() {}
int Base::f(int x) const { return x + b; }
template <typename T> struct Box { T v; T get() const { return v; } };
struct Derived : Base { int f(int) const override; Box<std::string> s; struct Inner { long q; } in; };
int Derived::f(int x) const { return x * 2 + int(s.v.size()); }
int use(const Box<int> &b, std::vector<int> &v) { v.push_back(b.get()); return Hidden{3}.h; }
}
int global_var = 3;
`

// A dwarfBuild is a library built from src with compiler and flags.
type dwarfBuild struct {
	name, compiler, src string
	flags               []string
}

// dwarfBuilds are the libraries the DWARF readers are checked against
// debug/dwarf on: each DWARF version, optimisation, compression, split
// DWARF and type units.
func dwarfBuilds() []dwarfBuild {
	return []dwarfBuild{
		{"c-dwarf5", "gcc", scanCSrc, []string{"-gdwarf-5"}},
		{"c-dwarf5-O2", "gcc", scanCSrc, []string{"-gdwarf-5", "-O2"}},
		{"c-dwarf4", "gcc", scanCSrc, []string{"-gdwarf-4", "-O2"}},
		{"c-dwarf3", "gcc", scanCSrc, []string{"-gdwarf-3"}},
		{"c-dwarf2-strict", "gcc", scanCSrc, []string{"-gdwarf-2", "-gstrict-dwarf"}},
		{"c-zlib", "gcc", scanCSrc, []string{"-gdwarf-5", "-O2", "-gz=zlib"}},
		{"c-split", "gcc", scanCSrc, []string{"-gdwarf-5", "-gsplit-dwarf"}},
		{"cxx-dwarf5", "g++", scanCXXSrc, []string{"-gdwarf-5", "-O1"}},
		{"cxx-dwarf4", "g++", scanCXXSrc, []string{"-gdwarf-4"}},
		{"cxx-dwarf4-no-sibling", "g++", scanCXXSrc, []string{"-gdwarf-4", "-O2", "-fno-eliminate-unused-debug-types"}},
		{"cxx-type-units5", "g++", scanCXXSrc, []string{"-gdwarf-5", "-fdebug-types-section"}},
		{"cxx-type-units4", "g++", scanCXXSrc, []string{"-gdwarf-4", "-fdebug-types-section"}},
		{"cxx-zlib", "g++", scanCXXSrc, []string{"-gdwarf-4", "-gz=zlib"}},
	}
}

// TestDIEScannerMatchesDebugDWARF walks every DIE of libraries built with
// each DWARF version, compression, split DWARF and type units, with the
// scanner and with debug/dwarf, and compares what both decode.
func TestDIEScannerMatchesDebugDWARF(t *testing.T) {
	cases := dwarfBuilds()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			so := buildScanLib(t, tc.compiler, tc.src, tc.flags...)
			df := openScanLib(t, so)
			min := 20
			if tc.name == "c-split" {
				min = 1 // the skeleton unit: the rest is in the .dwo file
			}
			if n := compareWalk(t, df, false); n < min {
				t.Fatalf("only %d DIEs read", n)
			}
			compareWalk(t, df, true)
		})
	}
}

// buildUnitsLib compiles the named sources, one compilation unit each, into
// one shared object with g++ -g -O1.
func buildUnitsLib(tb testing.TB, srcs map[string]string) string {
	tb.Helper()
	if _, err := exec.LookPath("g++"); err != nil {
		tb.Skip("g++ not installed")
	}
	dir := tb.TempDir()
	var files []string
	for _, name := range slices.Sorted(maps.Keys(srcs)) {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(srcs[name]), 0o644); err != nil {
			tb.Fatal(err)
		}
		files = append(files, f)
	}
	so := filepath.Join(dir, "lib.so")
	args := append([]string{"-shared", "-fPIC", "-g", "-O1", "-o", so}, files...)
	if out, err := exec.Command("g++", args...).CombinedOutput(); err != nil {
		tb.Fatalf("g++: %v\n%s", err, out)
	}
	return so
}

func buildScanLib(t *testing.T, compiler, src string, flags ...string) string {
	t.Helper()
	if _, err := exec.LookPath(compiler); err != nil {
		t.Skipf("%s not installed", compiler)
	}
	dir := t.TempDir()
	ext := ".c"
	if compiler == "g++" {
		ext = ".cc"
	}
	file := filepath.Join(dir, "lib"+ext)
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	so := filepath.Join(dir, "lib.so")
	args := append([]string{"-shared", "-fPIC", "-o", so, file}, flags...)
	cmd := exec.Command(compiler, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", compiler, err, out)
	}
	return so
}

func openScanLib(t *testing.T, so string) *dwarfFile {
	t.Helper()
	f, err := os.Open(so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	ef, err := elf.NewFile(f)
	if err != nil {
		t.Fatal(err)
	}
	df, err := newDWARFFile(ef, f, so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(df.Close)
	// The sections read must decode as elf.File.DWARF decodes them.
	ref, err := ef.DWARF()
	if err != nil {
		t.Fatal(err)
	}
	var n, m int
	for r := ref.Reader(); ; n++ {
		if e, err := r.Next(); err != nil || e == nil {
			break
		}
	}
	for r := df.data.Reader(); ; m++ {
		if e, err := r.Next(); err != nil || e == nil {
			break
		}
	}
	if n != m || n == 0 {
		t.Fatalf("debug/elf's DWARF has %d entries, ours %d", n, m)
	}
	return df
}

// compareWalk reads the DIEs with both readers and returns how many it
// read. With skip, it skips the children of every DIE below the unit DIE,
// as the index does for function bodies (by DW_AT_sibling or by walking);
// without, it reads every DIE and compares what both decode.
func compareWalk(t *testing.T, df *dwarfFile, skip bool) int {
	t.Helper()
	s := newDIEScanner(df.sec)
	r := df.data.Reader()
	dies := 0
	for {
		want, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.next()
		if err != nil {
			t.Fatalf("after %d DIEs: %v", dies, err)
		}
		if want == nil || got == nil {
			if (want == nil) != (got == nil) {
				t.Fatalf("after %d DIEs: debug/dwarf ended %v, scanner ended %v", dies, want == nil, got == nil)
			}
			return dies
		}
		dies++
		if want.Tag != got.tag || (want.Tag != 0 && want.Offset != got.off) {
			t.Fatalf("DIE %d: debug/dwarf at %#x tag %v, scanner at %#x tag %v", dies, want.Offset, want.Tag, got.off, got.tag)
		}
		if want.Tag == 0 {
			continue
		}
		if !skip {
			compareDIE(t, want, got)
			continue
		}
		unitDIE := want.Tag == dwarf.TagCompileUnit || want.Tag == dwarf.TagTypeUnit ||
			want.Tag == dwarf.TagPartialUnit || want.Tag == dwarf.TagSkeletonUnit
		if want.Children && !unitDIE {
			r.SkipChildren()
			if err := s.skipChildren(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func compareDIE(t *testing.T, want *dwarf.Entry, got *scannedDIE) {
	t.Helper()
	at := want.Offset
	if got.off != at || got.children != want.Children {
		t.Fatalf("DIE at %#x: scanner read offset %#x children %v, want children %v", at, got.off, got.children, want.Children)
	}
	if got.indirect {
		return // the index re-reads such DIEs with debug/dwarf
	}
	str := func(a dwarf.Attr) string { v, _ := want.Val(a).(string); return v }
	if string(got.name) != str(dwarf.AttrName) || string(got.linkage) != str(dwarf.AttrLinkageName) {
		t.Errorf("DIE at %#x: names %q %q, want %q %q", at, got.name, got.linkage, str(dwarf.AttrName), str(dwarf.AttrLinkageName))
	}
	pc, hasPC := want.Val(dwarf.AttrLowpc).(uint64)
	if got.hasLowPC != hasPC || got.lowPC != pc {
		t.Errorf("DIE at %#x: low_pc %#x %v, want %#x %v", at, got.lowPC, got.hasLowPC, pc, hasPC)
	}
	if got.hasRanges != (want.AttrField(dwarf.AttrRanges) != nil) {
		t.Errorf("DIE at %#x: ranges %v", at, got.hasRanges)
	}
	loc, _ := want.Val(dwarf.AttrLocation).([]byte)
	if !bytes.Equal(got.location, loc) {
		t.Errorf("DIE at %#x: location %x, want %x", at, got.location, loc)
	}
	decl, _ := want.Val(dwarf.AttrDeclaration).(bool)
	if got.declaration != decl {
		t.Errorf("DIE at %#x: declaration %v, want %v", at, got.declaration, decl)
	}
	spec, hasSpec := want.Val(dwarf.AttrSpecification).(dwarf.Offset)
	if got.hasSpec != hasSpec || got.spec != spec {
		t.Errorf("DIE at %#x: specification %#x %v, want %#x %v", at, got.spec, got.hasSpec, spec, hasSpec)
	}
	if lang, ok := want.Val(dwarf.AttrLanguage).(int64); ok && got.language != lang {
		t.Errorf("DIE at %#x: language %d, want %d", at, got.language, lang)
	}
}

// TestDIEScannerMalformed cuts and corrupts .debug_info and checks the
// scanner fails with an error, never a panic or an endless loop.
func TestDIEScannerMalformed(t *testing.T) {
	so := buildScanLib(t, "gcc", scanCSrc, "-gdwarf-5", "-O2")
	df := openScanLib(t, so)
	info := df.sec.info
	for _, n := range []int{0, 1, 5, 11, 12, 13, len(info) / 3, len(info) / 2, len(info) - 1} {
		for _, corrupt := range []bool{false, true} {
			sec := *df.sec
			sec.info = append([]byte(nil), info[:n]...)
			if corrupt && n > 12 {
				for i := 12; i < n; i += 7 {
					sec.info[i] ^= 0xa5
				}
			}
			s := newDIEScanner(&sec)
			for steps := 0; ; steps++ {
				if steps > len(info) {
					t.Fatalf("cut at %d (corrupt %v): the scanner does not end", n, corrupt)
				}
				d, err := s.next()
				if err != nil || d == nil {
					break
				}
				if d.children && steps%2 == 0 {
					if err := s.skipChildren(); err != nil {
						break
					}
				}
			}
		}
	}
}

// TestParallelIndexMatchesSequential indexes a library of several
// compilation units in one run and split into runs of one unit each, and
// compares everything the index finds.
func TestParallelIndexMatchesSequential(t *testing.T) {
	so := buildUnitsLib(t, map[string]string{
		"a.cc": "namespace ns { struct Outer { struct Inner; int f(); static int count; }; }\n" +
			"struct ns::Outer::Inner { long v; };\nint ns::Outer::f() { return 1; }\nint ns::Outer::count = 2;\n" +
			"extern \"C\" int c_api(ns::Outer::Inner *p) { return (int)p->v; }\n",
		"b.cc": "namespace ns { struct Outer { struct Inner; int f(); static int count; }; }\n" +
			"struct ns::Outer::Inner { long v; };\nint use_inner(ns::Outer::Inner &i) { return (int)i.v; }\n" +
			"template <class T> struct Box { T t; T get() const { return t; } };\nint boxed(Box<int> b) { return b.get(); }\n",
		"c.c": "struct point { int x, y; };\nint norm(struct point p) { return p.x + p.y; }\nextern int counter;\nint counter = 7;\n",
	})
	c, err := LoadWith(so, LoadOptions{NoDebugInfo: true})
	if err != nil {
		t.Fatal(err)
	}
	df := openScanLib(t, so)
	if chunks := splitUnits(df.sec, 8, 1); len(chunks) < 3 {
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
		idx, err := dr.index(&c.symbols, workers, minBytes)
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
