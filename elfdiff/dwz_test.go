package elfdiff

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// distroLib is a pair of libraries, A and B, sharing the types of a
// header, in two versions: v2 changes the shared types.
type distroLib struct {
	compiler, ext string
	header        [2]string // v1, v2
	a, b          string
}

var distroLibs = map[string]distroLib{
	"c": {
		compiler: "gcc", ext: ".c",
		header: [2]string{
			"struct shared { int a; long b; };\nstruct other { struct shared s; double d; char name[16]; };\ntypedef struct other other_t;\nenum mode { M_A, M_B };\n",
			"struct shared { int a; long b; int c; };\nstruct other { struct shared s; double d; char name[16]; };\ntypedef struct other other_t;\nenum mode { M_A, M_B, M_C = 9 };\n",
		},
		a: "#include \"common.h\"\nint fa(struct shared *s, other_t o, enum mode m) { return s->a + o.s.a + m; }\nstruct shared a_var;\n",
		b: "#include \"common.h\"\nlong fb(struct other *o) { return o->s.b; }\nint fb2(struct shared s) { return s.a; }\n",
	},
	"cxx": {
		compiler: "g++", ext: ".cc",
		header: [2]string{
			"#define PRIV_T int\nnamespace ns {\nstruct Shared { int a; long b; int get() const; };\nclass Holder { public: virtual ~Holder(); virtual int f(int); Shared s; };\n}\n",
			"#define PRIV_T long\nnamespace ns {\nstruct Shared { int a; long b; short c; int get() const; };\nclass Holder { public: virtual ~Holder(); virtual int g(); virtual int f(int); Shared s; };\n}\n",
		},
		a: "#include \"common.h\"\nnamespace ns {\nint Shared::get() const { return a; }\nHolder::~Holder() {}\nint Holder::f(int x) { return x + s.a; }\n}\nint fa(ns::Shared s, ns::Holder &h) { return s.get() + h.f(1); }\n" +
			"namespace ns { struct _Priv { PRIV_T p; int q; int get() const { return q; } }; }\nint fpriv(ns::_Priv *p) { return p->get(); }\n",
		b: "#include \"common.h\"\nint fb(const ns::Shared *s, ns::Holder *h) { return s->a + (h ? 1 : 0); }\n",
	},
}

// versionedDistroLib has v2's extra method defined.
const cxxExtra = "namespace ns { int Holder::g() { return 2; } }\n"

// buildDistroLibs compiles both versions of lib into dir/v1 and dir/v2,
// libA.so and libB.so each, with -g and the given flags.
func buildDistroLibs(t *testing.T, lib distroLib, dir string, flags ...string) {
	t.Helper()
	if _, err := exec.LookPath(lib.compiler); err != nil {
		t.Skipf("%s not installed", lib.compiler)
	}
	for v := range 2 {
		vd := filepath.Join(dir, fmt.Sprintf("v%d", v+1))
		if err := os.MkdirAll(vd, 0o755); err != nil {
			t.Fatal(err)
		}
		a := lib.a
		if v == 1 && lib.compiler == "g++" {
			a += cxxExtra
		}
		for name, src := range map[string]string{"common.h": lib.header[v], "a" + lib.ext: a, "b" + lib.ext: lib.b} {
			if err := os.WriteFile(filepath.Join(vd, name), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for _, l := range []string{"A", "B"} {
			args := append([]string{"-shared", "-fPIC", "-g", "-O2", "-Wl,--build-id", "-o", "lib" + l + ".so",
				strings.ToLower(l) + lib.ext}, flags...)
			cmd := exec.Command(lib.compiler, args...)
			cmd.Dir = vd
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", lib.compiler, err, out)
			}
		}
	}
}

// copyTree copies the regular files of src into dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	run(t, "cp", "-a", src+"/.", dst)
}

// diffLines loads OLD and NEW with opts and returns every change, one
// line each, sorted.
func diffLines(t *testing.T, oldSO, newSO string, opts ...LoadOptions) []string {
	t.Helper()
	var cs [2]*Corpus
	for i, p := range []string{oldSO, newSO} {
		var o LoadOptions
		if len(opts) > 0 {
			o = opts[min(i, len(opts)-1)]
		}
		c, err := LoadWith(p, o)
		if err != nil {
			t.Fatal(err)
		}
		if c.Debug == nil {
			t.Fatalf("%s: no debug information read; notes: %v", p, c.Notes)
		}
		for _, n := range c.Notes {
			if strings.Contains(n, "type units") || strings.Contains(n, "not checked") {
				t.Errorf("%s: %s", p, n)
			}
		}
		cs[i] = c
	}
	changes, err := Diff(cs[0], cs[1])
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for c := range changes.All() {
		// The builds compared lie in other directories, and a type
		// unit's or a dwz common file's line table names files without
		// their directory: the file's name and the line must agree.
		if c.Decl.File != "" {
			c.Decl.File = filepath.Base(c.Decl.File)
		}
		out = append(out, fmt.Sprintf("%+v", c))
	}
	slices.Sort(out)
	return out
}

// wantSameChanges fails unless got and want list the same changes, and
// want has some.
func wantSameChanges(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: the plain build shows no change: the test cannot fail", what)
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: changes differ from the plain build's\ngot:\n  %s\nwant:\n  %s", what,
			strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestDWZMatchesPlain checks libraries whose shared types dwz -m moved into
// a common supplementary file (partial units, DW_FORM_GNU_ref_alt and
// DW_FORM_GNU_strp_alt; DWARF 5 with --dwarf-5: .debug_sup,
// DW_FORM_ref_sup4 and DW_FORM_strp_sup): the changes are exactly those of
// the same pair without dwz.
func TestDWZMatchesPlain(t *testing.T) {
	if _, err := exec.LookPath("dwz"); err != nil {
		t.Skip("dwz not installed")
	}
	for _, tc := range []struct {
		name, lib string
		flags     []string
		dwzFlags  []string
	}{
		{"c-dwarf5", "c", []string{"-gdwarf-5"}, nil},
		{"c-dwarf4", "c", []string{"-gdwarf-4"}, nil},
		{"cxx-dwarf5", "cxx", []string{"-gdwarf-5"}, nil},
		{"cxx-dwarf4", "cxx", []string{"-gdwarf-4"}, nil},
		{"c-debug-sup", "c", []string{"-gdwarf-5"}, []string{"--dwarf-5"}},
		{"cxx-debug-sup", "cxx", []string{"-gdwarf-5"}, []string{"--dwarf-5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			plain, dwz := filepath.Join(dir, "plain"), filepath.Join(dir, "dwz")
			buildDistroLibs(t, distroLibs[tc.lib], plain, tc.flags...)
			if err := os.MkdirAll(dwz, 0o755); err != nil {
				t.Fatal(err)
			}
			copyTree(t, plain, dwz)
			for _, v := range []string{"v1", "v2"} {
				args := append([]string{"-m", "common.debug", "-r"}, tc.dwzFlags...)
				cmd := exec.Command("dwz", append(args, "libA.so", "libB.so")...)
				cmd.Dir = filepath.Join(dwz, v)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("dwz: %v\n%s", err, out)
				}
			}
			for _, l := range []string{"libA.so", "libB.so"} {
				want := diffLines(t, filepath.Join(plain, "v1", l), filepath.Join(plain, "v2", l))
				got := diffLines(t, filepath.Join(dwz, "v1", l), filepath.Join(dwz, "v2", l))
				wantSameChanges(t, l, got, want)
			}
		})
	}
}

// TestDebugTypesMatchesPlain checks libraries built with DWARF 4 type
// units (.debug_types, DW_FORM_ref_sig8): the changes are exactly those of
// the same pair without them.
func TestDebugTypesMatchesPlain(t *testing.T) {
	for _, lib := range []string{"c", "cxx"} {
		t.Run(lib, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			plain, types := filepath.Join(dir, "plain"), filepath.Join(dir, "types")
			buildDistroLibs(t, distroLibs[lib], plain, "-gdwarf-4")
			buildDistroLibs(t, distroLibs[lib], types, "-gdwarf-4", "-fdebug-types-section")
			for _, l := range []string{"libA.so", "libB.so"} {
				want := diffLines(t, filepath.Join(plain, "v1", l), filepath.Join(plain, "v2", l))
				got := diffLines(t, filepath.Join(types, "v1", l), filepath.Join(types, "v2", l))
				wantSameChanges(t, l, got, want)
			}
		})
	}
}

// TestDWZCommonFileMissingOrCorrupt checks a dwz'd library whose common
// file is gone, or cut short: the types are not checked, and a note says
// why, never a panic or a half-read type.
func TestDWZCommonFileMissingOrCorrupt(t *testing.T) {
	if _, err := exec.LookPath("dwz"); err != nil {
		t.Skip("dwz not installed")
	}
	dir := t.TempDir()
	buildDistroLibs(t, distroLibs["c"], dir, "-gdwarf-5")
	v1 := filepath.Join(dir, "v1")
	cmd := exec.Command("dwz", "-m", "common.debug", "-r", "libA.so", "libB.so")
	cmd.Dir = v1
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dwz: %v\n%s", err, out)
	}
	common := filepath.Join(v1, "common.debug")
	data, err := os.ReadFile(common)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, note string
		content    []byte // nil: no common file
	}{
		{"missing", "supplementary debug file common.debug (build-id", nil},
		{"cut", "debug information unreadable", data[:len(data)*2/3]},
		{"cut-header", "debug information unreadable", data[:100]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(common)
			if tc.content != nil {
				if err := os.WriteFile(common, tc.content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			c, err := Load(filepath.Join(v1, "libA.so"))
			if err != nil {
				t.Fatal(err)
			}
			if c.Debug != nil {
				t.Fatalf("types read without the common file: notes %q", c.Notes)
			}
			if notes := strings.Join(c.Notes, "\n"); !strings.Contains(notes, tc.note) {
				t.Errorf("notes %q, want one saying %q", notes, tc.note)
			}
		})
	}
}
