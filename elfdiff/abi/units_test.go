package abi

import (
	"github.com/compatgate/compatgate/elfdiff/dwarfdec"
	"github.com/compatgate/compatgate/elfdiff/elfsym"

	"bytes"
	"debug/dwarf"
	"debug/elf"
	"os"
	"path"
	"slices"
	"testing"

	"github.com/compatgate/compatgate/internal/testlib"
)

// oddFileSrc declares an internal class in a file whose name gcc splits
// into the directory "src/impl.cc" and the name ".": only the joined name
// says it is a source file.
const oddFileSrc = `#line 1 "src/impl.cc/."
namespace ns { struct _Impl { int a; long b; }; }
#line 10 "api.h"
namespace ns { int use(_Impl *x); }
int ns::use(_Impl *x) { return x->a; }
`

// TestLineFileNamesMatchDebugDWARF reads the file names of the line table
// of every unit of libraries built with each DWARF version, unjoined and
// joined to their directories, and compares them with those of
// debug/dwarf's LineReader: the joined names must be the same strings.
func TestLineFileNamesMatchDebugDWARF(t *testing.T) {
	cases := append(testlib.Builds(),
		testlib.Build{Name: "cxx-odd-file-dwarf5", Compiler: "g++", Src: oddFileSrc, Flags: []string{"-gdwarf-5"}},
		testlib.Build{Name: "cxx-odd-file-dwarf4", Compiler: "g++", Src: oddFileSrc, Flags: []string{"-gdwarf-4"}})
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			df := openTestDWARF(t, testlib.BuildLib(t, tc.Compiler, tc.Src, tc.Flags...))
			dr := newDWARFReader(df)
			s := dwarfdec.NewScanner(df.Sec)
			for {
				if d, err := s.Next(); err != nil || d == nil {
					break
				}
			}
			dr.dies = dwarfdec.NewDecoder(df.Sec, s.Headers)
			units, files := 0, 0
			d := mustDWARF(t, df)
			for r := d.Reader(); ; {
				cu, err := r.Next()
				if err != nil {
					t.Fatal(err)
				}
				if cu == nil {
					break
				}
				r.SkipChildren()
				u := &unitInfo{off: cu.Offset}
				joined, raw := dr.unitJoined(u), dr.lineFiles(u)
				if !slices.EqualFunc(dr.unitFiles(u), raw, bytes.Equal) {
					t.Fatalf("unit at %#x: the joining read the names %q, not %q", cu.Offset, dr.unitFiles(u), raw)
				}
				want := []string{}
				if lr, err := d.LineReader(cu); err == nil {
					want = testlib.LineFiles(lr)
				}
				if !slices.Equal(joined, want) {
					t.Fatalf("unit at %#x: joined files %q, debug/dwarf reads %q", cu.Offset, joined, want)
				}
				if len(raw) != len(joined) {
					t.Fatalf("unit at %#x: %d files, joined %d", cu.Offset, len(raw), len(joined))
				}
				for i, name := range raw {
					if name == nil {
						if joined[i] != "" {
							t.Errorf("unit at %#x: file %d missing, debug/dwarf reads %q", cu.Offset, i, joined[i])
						}
						continue
					}
					if !dwarfdec.ExtensionKnown(name) {
						continue
					}
					files++
					if path.Base(string(name)) != path.Base(joined[i]) || isSourceFile(string(name)) != isSourceFile(joined[i]) {
						t.Errorf("unit at %#x: file %d is %q, debug/dwarf reads %q", cu.Offset, i, name, joined[i])
					}
				}
				units++
			}
			if units == 0 || files == 0 {
				t.Fatalf("%d units, %d files compared", units, files)
			}
		})
	}
}

// TestInternalFromJoinedFileName checks that a class declared in a file
// whose name alone does not give its extension is read as declared in a
// source file, as the name joined to its directory says.
func TestInternalFromJoinedFileName(t *testing.T) {
	so := testlib.BuildLib(t, "g++", oddFileSrc, "-gdwarf-5")
	info, err := Read(openTestDWARF(t, so), exportsOf(t, so), so)
	if err != nil {
		t.Fatal(err)
	}
	f := info.FuncsByName["_ZN2ns3useEPNS_5_ImplE"]
	for _, g := range info.Funcs {
		if g.Linkage == "_ZN2ns3useEPNS_5_ImplE" {
			f = g
		}
	}
	if f == nil || len(f.Params) != 1 || f.Params[0].Type.Kind != PointerType {
		t.Fatalf("ns::use not read: %+v", f)
	}
	impl := f.Params[0].Type.Elem
	if impl == nil || impl.Name != "ns::_Impl" || impl.Class == nil {
		t.Fatalf("parameter type %v, want ns::_Impl *", f.Params[0].Type)
	}
	if !impl.Class.Internal {
		t.Errorf("ns::_Impl declared in src/impl.cc is not internal")
	}
	// The name alone, ".", would not say so.
	if dwarfdec.ExtensionKnown([]byte(".")) || isSourceFile(".") {
		t.Errorf(`the extension of "." is taken as known`)
	}
}

// openTestDWARF opens the DWARF of the library so.
func openTestDWARF(t testing.TB, so string) *dwarfdec.File {
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
	df, err := dwarfdec.NewFile(ef, f, so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(df.Close)
	return df
}

// exportsOf reads the exported symbols of the library so.
func exportsOf(tb testing.TB, so string) *elfsym.SymbolList {
	tb.Helper()
	ef, err := elf.Open(so)
	if err != nil {
		tb.Fatal(err)
	}
	defer ef.Close()
	dyn, err := elfsym.ReadSymbolTable(ef, elf.SHT_DYNSYM)
	if err != nil {
		tb.Fatal(err)
	}
	syms, _, _ := elfsym.ReadExports(dyn)
	return &syms
}

// mustDWARF returns debug/dwarf's view of df.
func mustDWARF(t testing.TB, df *dwarfdec.File) *dwarf.Data {
	t.Helper()
	d, err := df.DWARF()
	if err != nil {
		t.Fatal(err)
	}
	return d
}
