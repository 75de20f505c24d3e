package testlib

import (
	"debug/dwarf"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// CSrc is a C library with the DWARF constructs the readers handle.
const CSrc = `
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

// CXXSrc is a C++ library with classes, templates, namespaces and
// anonymous namespaces.
const CXXSrc = `
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

// A Build is a library built from Src with Compiler and Flags.
type Build struct {
	Name, Compiler, Src string
	Flags               []string
}

// Builds are the libraries the DWARF readers are checked against
// debug/dwarf on: each DWARF version, optimisation, compression, split
// DWARF and type units.
func Builds() []Build {
	return []Build{
		{"c-dwarf5", "gcc", CSrc, []string{"-gdwarf-5"}},
		{"c-dwarf5-O2", "gcc", CSrc, []string{"-gdwarf-5", "-O2"}},
		{"c-dwarf4", "gcc", CSrc, []string{"-gdwarf-4", "-O2"}},
		{"c-dwarf3", "gcc", CSrc, []string{"-gdwarf-3"}},
		{"c-dwarf2-strict", "gcc", CSrc, []string{"-gdwarf-2", "-gstrict-dwarf"}},
		{"c-zlib", "gcc", CSrc, []string{"-gdwarf-5", "-O2", "-gz=zlib"}},
		{"c-split", "gcc", CSrc, []string{"-gdwarf-5", "-gsplit-dwarf"}},
		{"cxx-dwarf5", "g++", CXXSrc, []string{"-gdwarf-5", "-O1"}},
		{"cxx-dwarf4", "g++", CXXSrc, []string{"-gdwarf-4"}},
		{"cxx-dwarf4-no-sibling", "g++", CXXSrc, []string{"-gdwarf-4", "-O2", "-fno-eliminate-unused-debug-types"}},
		{"cxx-type-units5", "g++", CXXSrc, []string{"-gdwarf-5", "-fdebug-types-section"}},
		{"cxx-type-units4", "g++", CXXSrc, []string{"-gdwarf-4", "-fdebug-types-section"}},
		{"cxx-zlib", "g++", CXXSrc, []string{"-gdwarf-4", "-gz=zlib"}},
	}
}

// BuildUnits compiles the named sources, one compilation unit each, into
// one shared object with g++ -g -O1.
func BuildUnits(tb testing.TB, srcs map[string]string) string {
	tb.Helper()
	return BuildUnitsWith(tb, "g++", srcs)
}

// BuildUnitsWith is BuildUnits with another compiler (gcc or g++); a
// source named *.h is written, for the others to include, not compiled.
func BuildUnitsWith(tb testing.TB, compiler string, srcs map[string]string) string {
	tb.Helper()
	if _, err := exec.LookPath(compiler); err != nil {
		tb.Skipf("%s not installed", compiler)
	}
	dir := tb.TempDir()
	var files []string
	for _, name := range slices.Sorted(maps.Keys(srcs)) {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(srcs[name]), 0o644); err != nil {
			tb.Fatal(err)
		}
		if filepath.Ext(name) != ".h" {
			files = append(files, f)
		}
	}
	so := filepath.Join(dir, "lib.so")
	args := append([]string{"-shared", "-fPIC", "-g", "-O1", "-o", so}, files...)
	if out, err := exec.Command(compiler, args...).CombinedOutput(); err != nil {
		tb.Fatalf("%s: %v\n%s", compiler, err, out)
	}
	return so
}

// BuildLib compiles src with compiler (gcc or g++) and flags into a shared
// object in a temporary directory, skipping the test when the compiler is
// not installed.
func BuildLib(t testing.TB, compiler, src string, flags ...string) string {
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

// LineFiles returns the names of the files of lr, the line table debug/dwarf
// reads, joined to their directories: "" for a missing entry, an empty
// slice when lr is nil.
func LineFiles(lr *dwarf.LineReader) []string {
	names := []string{}
	if lr == nil {
		return names
	}
	for _, f := range lr.Files() {
		name := ""
		if f != nil {
			name = f.Name
		}
		names = append(names, name)
	}
	return names
}

// EntriesByUnit reads every DIE of d with debug/dwarf and returns them by
// compilation unit, in offset order, the unit DIEs included and the null
// entries left out.
func EntriesByUnit(tb testing.TB, d *dwarf.Data) [][]*dwarf.Entry {
	tb.Helper()
	var units [][]*dwarf.Entry
	for r := d.Reader(); ; {
		e, err := r.Next()
		if err != nil {
			tb.Fatal(err)
		}
		switch {
		case e == nil:
			return units
		case e.Tag == dwarf.TagCompileUnit || e.Tag == dwarf.TagPartialUnit || e.Tag == dwarf.TagTypeUnit:
			units = append(units, []*dwarf.Entry{e})
		case e.Tag != 0 && len(units) > 0:
			units[len(units)-1] = append(units[len(units)-1], e)
		}
	}
}
