package abidump_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/compatgate/compatgate/compat"
	"github.com/compatgate/compatgate/elfdiff"
	"github.com/compatgate/compatgate/elfdiff/abi"
	"github.com/compatgate/compatgate/elfdiff/abidump"
)

// The golden dumps were written once, by compatgate dump of the libraries
// built from testdata/golden.c (with golden.map) and golden.cc, and are
// never regenerated: they are what schema version 1 looks like to a user
// who committed one. A change of the reader that breaks them breaks every
// baseline in every repository; a new schema version adds a golden file.
var goldens = []struct {
	dump, src string
	args      []string // compiler and flags, before -o
	check     func(t *testing.T, c *elfdiff.Corpus)
}{
	{"golden-v1.abi.json", "golden.c",
		[]string{"gcc", "-g", "-O0", "-shared", "-fPIC", "-Wl,--version-script=testdata/golden.map", "-Wl,-soname,libgolden.so.1"},
		checkGoldenC},
	{"golden-cxx-v1.abi.json", "golden.cc",
		[]string{"g++", "-g", "-O0", "-shared", "-fPIC", "-Wl,-soname,libgoldencxx.so.1"},
		checkGoldenCXX},
}

func TestGoldenDumps(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.dump, func(t *testing.T) {
			path := filepath.Join("testdata", g.dump)
			c, err := abidump.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			g.check(t, c)
			if abidump.Version == 1 {
				// Written again, the same bytes: the writer is
				// deterministic and still writes version 1.
				var b bytes.Buffer
				if err := abidump.Write(&b, c); err != nil {
					t.Fatal(err)
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(b.Bytes(), want) {
					t.Errorf("%s written again differs from the file", path)
				}
			}
			// Against the library built now from the same source: the
			// same ABI.
			if _, err := exec.LookPath(g.args[0]); err != nil {
				t.Skipf("%s not installed", g.args[0])
			}
			so := filepath.Join(t.TempDir(), "lib.so")
			cmd := exec.Command(g.args[0], append(g.args[1:], "-o", so, filepath.Join("testdata", g.src))...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
			}
			r, err := compat.Check(path, so, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.Verdict != compat.Compatible {
				t.Errorf("golden dump against the library built now: %s, want compatible", r.Verdict)
				for f := range r.Findings() {
					t.Log(f.Message)
				}
			}
		})
	}
}

func checkGoldenC(t *testing.T, c *elfdiff.Corpus) {
	if c.SONAME != "libgolden.so.1" || c.Path != "libgolden.so" || len(c.BuildID) != 40 || c.Debug == nil {
		t.Fatalf("library facts: SONAME %q path %q build-id %q debug %v", c.SONAME, c.Path, c.BuildID, c.Debug != nil)
	}
	if !slices.Equal(c.Versions, []string{"GOLDEN_1", "GOLDEN_2"}) {
		t.Errorf("versions %q", c.Versions)
	}
	s, ok := c.Lookup("scale@GOLDEN_2")
	if !ok || !s.Default {
		t.Errorf("scale@@GOLDEN_2: %v %v", s, ok)
	}
	if _, ok := c.Lookup("scale@GOLDEN_1"); !ok {
		t.Errorf("no scale@GOLDEN_1")
	}
	if v, ok := c.Lookup("answer@GOLDEN_1"); !ok || !bytes.Equal(c.ReadOnly[v.Key()], []byte{42, 0, 0, 0}) {
		t.Errorf("answer: %v, read-only bytes %v", ok, c.ReadOnly)
	}
	f := c.Debug.Func(mustLookup(t, c, "point_sum@GOLDEN_1"))
	if f == nil || len(f.Params) != 1 {
		t.Fatalf("point_sum: %+v", f)
	}
	point := f.Params[0].Type.Elem.Elem // const struct point *
	if point.Kind != abi.StructType || point.Name != "point" || point.Size != 48 {
		t.Fatalf("point: %v %q %d", point.Kind, point.Name, point.Size)
	}
	byName := map[string]abi.Member{}
	for _, m := range point.Members {
		byName[m.Name] = m
	}
	if m := byName["mode"]; m.BitSize != 5 || m.BitOffset != 67 {
		t.Errorf("mode: %+v", m)
	}
	if m := byName["tail"]; m.Type.Kind != abi.ArrayType || m.Type.Count != -1 {
		t.Errorf("tail: %+v", m.Type)
	}
	if m := byName["next"]; m.Type.Elem != point {
		t.Errorf("next does not point to the same struct point")
	}
	if m := byName["c"]; len(m.Type.Strip().Enumerators) != 3 || m.Type.Strip().Enumerators[2].Value != 6 {
		t.Errorf("c: %+v", m.Type.Strip())
	}
	if m := byName["cb"]; !m.Type.Elem.Variadic || m.Type.Elem.Kind != abi.FuncType {
		t.Errorf("cb: %+v", m.Type.Elem)
	}
}

func checkGoldenCXX(t *testing.T, c *elfdiff.Corpus) {
	if c.SONAME != "libgoldencxx.so.1" || c.Debug == nil || c.CXX == nil {
		t.Fatalf("library facts: SONAME %q debug %v C++ tables %v", c.SONAME, c.Debug != nil, c.CXX != nil)
	}
	ti := c.CXX.Typeinfo["_ZTIN6shapes6SquareE"]
	if ti == nil || ti.Kind != "vmi" || len(ti.Bases) != 2 || !ti.Bases[1].Virtual || ti.Bases[1].Name != "shapes::Named" {
		t.Errorf("typeinfo of Square: %+v", ti)
	}
	vt := c.CXX.VTables["_ZTVN6shapes6SquareE"]
	if vt == nil || len(vt.Tables) < 2 || vt.Tables[0].RTTI != "_ZTIN6shapes6SquareE" {
		t.Fatalf("vtable of Square: %+v", vt)
	}
	f := c.Debug.Func(mustLookup(t, c, "_ZN6shapes5totalERKNS_6SquareE"))
	if f == nil || len(f.Params) != 1 {
		t.Fatalf("total: %+v", f)
	}
	sq := f.Params[0].Type.Strip().Elem.Strip() // const Square &
	if sq.Name != "shapes::Square" || sq.Class == nil || len(sq.Class.Bases) != 2 || !sq.Class.Bases[1].Virtual ||
		!sq.Class.PassByRef || sq.Class.Access["member side_"] != abi.AccessPrivate {
		t.Fatalf("Square: %+v %+v", sq, sq.Class)
	}
	virtual := 0
	for _, m := range sq.Class.Methods {
		if m.Virtuality != 0 {
			virtual++
		}
	}
	if virtual < 2 {
		t.Errorf("Square has %d virtual methods, want at least 2", virtual)
	}
}

func mustLookup(t *testing.T, c *elfdiff.Corpus, key string) elfdiff.Symbol {
	t.Helper()
	s, ok := c.Lookup(key)
	if !ok {
		t.Fatalf("no symbol %s", key)
	}
	return s
}
