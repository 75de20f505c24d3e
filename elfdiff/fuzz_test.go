package elfdiff

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds mutated shared objects to the loader and to Diff: they
// must return an error or a corpus, never panic. The seeds are small
// libraries compiled by gcc: plain, versioned, 32-bit, with DWARF, and
// with DWARF of units that repeat a header's types.
func FuzzLoad(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := loadReader("fuzz.so", bytes.NewReader(data))
		if err != nil {
			return
		}
		self, err := Diff(c, c)
		if err != nil {
			t.Fatalf("Diff of a corpus with itself: %v", err)
		}
		// The same bytes loaded again sharing the first corpus's names,
		// as check loads big pairs: they load, and compare as the first.
		shared, err := loadReaderWith("fuzz.so", bytes.NewReader(data), LoadOptions{ShareNames: c}, false)
		if err != nil {
			t.Fatalf("loaded alone, but not sharing names: %v", err)
		}
		cs, err := Diff(c, shared)
		if err != nil {
			t.Fatalf("Diff with the corpus sharing its names: %v", err)
		}
		if cs.Len() != self.Len() {
			t.Fatalf("%d changes against the corpus sharing its names, %d against itself", cs.Len(), self.Len())
		}
	})
}

func fuzzSeeds(f *testing.F) [][]byte {
	f.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		f.Log("gcc not installed: fuzzing from a minimal seed only")
		return [][]byte{[]byte("\x7fELF\x02\x01\x01")}
	}
	dir := f.TempDir()
	src := filepath.Join(dir, "lib.c")
	script := filepath.Join(dir, "lib.map")
	must(f, os.WriteFile(src, []byte("struct pt { int x; char tag[4]; struct pt *next; };\n"+
		"int api(int x) { return x; }\nint walk(const struct pt *p) { return p ? p->x : 0; }\n"+
		"int lib_v = 1;\n__thread int lib_t;\n"), 0o644))
	must(f, os.WriteFile(script, []byte("V_1 { global: api; local: *; };\nV_2 { global: lib_v; lib_t; } V_1;\n"), 0o644))
	// Two more units including one header: each repeats its types, which
	// the loader merges by comparing the copies' encodings in step.
	hdr := "enum kind { K0, K1 = 4 };\nstruct node { struct node *next; enum kind k; unsigned lo : 3, hi : 5; union { long l; double d; } u; };\n" +
		"typedef struct node node_t;\nstruct list { node_t *head; int (*cmp)(const node_t *, const node_t *); char name[8]; };\n"
	must(f, os.WriteFile(filepath.Join(dir, "types.h"), []byte(hdr), 0o644))
	var units []string
	for _, u := range []string{"a", "b"} {
		file := filepath.Join(dir, u+".c")
		must(f, os.WriteFile(file, []byte("#include \"types.h\"\nint "+u+"_len(struct list *l) { int n = 0; for (node_t *p = l->head; p; p = p->next) n += p->hi; return n; }\n"), 0o644))
		units = append(units, file)
	}
	builds := [][]string{
		{"-shared", "-fPIC", "-Wl,-soname,libfuzz.so.1"},
		{"-shared", "-fPIC", "-g0", "-Wl,--version-script," + script},
		{"-shared", "-fPIC", "-m32", "-nostdlib"},
		{"-shared", "-fPIC", "-g", "-O1"},
		append([]string{"-shared", "-fPIC", "-g", "-O1"}, units...),
	}
	var seeds [][]byte
	for i, args := range builds {
		out := filepath.Join(dir, "seed"+string(rune('0'+i))+".so")
		if b, err := exec.Command("gcc", append(args, "-o", out, src)...).CombinedOutput(); err != nil {
			f.Logf("seed %d not built: %v\n%s", i, err, b)
			continue
		}
		data, err := os.ReadFile(out)
		must(f, err)
		seeds = append(seeds, data)
	}
	// A C++ library: vtables, typeinfo and their relocations.
	if _, err := exec.LookPath("g++"); err == nil {
		cc := filepath.Join(dir, "lib.cc")
		must(f, os.WriteFile(cc, []byte("struct B { virtual ~B(); virtual int f(int); };\nB::~B() {}\nint B::f(int x) { return x; }\n"+
			"struct D : B { int f(int) override; virtual long g(); };\nint D::f(int x) { return 2 * x; }\nlong D::g() { return 1; }\n"+
			"namespace { struct L : D { long g() override { return 3; } }; }\nB *make() { return new L; }\n"), 0o644))
		out := filepath.Join(dir, "seedcc.so")
		if b, err := exec.Command("g++", "-shared", "-fPIC", "-O1", "-o", out, cc).CombinedOutput(); err != nil {
			f.Logf("C++ seed not built: %v\n%s", err, b)
		} else {
			data, err := os.ReadFile(out)
			must(f, err)
			seeds = append(seeds, data)
		}
	}
	return seeds
}

func must(f *testing.F, err error) {
	f.Helper()
	if err != nil {
		f.Fatal(err)
	}
}
