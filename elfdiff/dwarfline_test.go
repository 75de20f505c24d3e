package elfdiff

import (
	"path"
	"testing"
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
// of every unit of libraries built with each DWARF version, unjoined, and
// compares them with those of debug/dwarf's LineReader.
func TestLineFileNamesMatchDebugDWARF(t *testing.T) {
	cases := append(dwarfBuilds(),
		dwarfBuild{"cxx-odd-file-dwarf5", "g++", oddFileSrc, []string{"-gdwarf-5"}},
		dwarfBuild{"cxx-odd-file-dwarf4", "g++", oddFileSrc, []string{"-gdwarf-4"}})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			df := openScanLib(t, buildScanLib(t, tc.compiler, tc.src, tc.flags...))
			dr := newDWARFReader(df)
			units, files := 0, 0
			for r := df.data.Reader(); ; {
				cu, err := r.Next()
				if err != nil {
					t.Fatal(err)
				}
				if cu == nil {
					break
				}
				r.SkipChildren()
				u := &unitInfo{off: cu.Offset}
				raw, joined := dr.lineFiles(u), dr.joinedFiles(u)
				if len(raw) != len(joined) {
					t.Fatalf("unit at %#x: %d files, debug/dwarf reads %d", cu.Offset, len(raw), len(joined))
				}
				for i, name := range raw {
					if name == nil {
						if joined[i] != "" {
							t.Errorf("unit at %#x: file %d missing, debug/dwarf reads %q", cu.Offset, i, joined[i])
						}
						continue
					}
					if !extensionKnown(name) {
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
	so := buildScanLib(t, "g++", oddFileSrc, "-gdwarf-5")
	c, err := Load(so)
	if err != nil {
		t.Fatal(err)
	}
	if c.Debug == nil {
		t.Fatalf("no debug information read: %v", c.Notes)
	}
	f := c.Debug.FuncsByName["_ZN2ns3useEPNS_5_ImplE"]
	for _, g := range c.Debug.Funcs {
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
	if extensionKnown([]byte(".")) || isSourceFile(".") {
		t.Errorf(`the extension of "." is taken as known`)
	}
}

func TestExtensionKnown(t *testing.T) {
	for name, want := range map[string]bool{
		"a.cc": true, "dir/a.h": true, "a/../b.c": true, "vector": true, "": true, `c:\x\y.cc`: true,
		".": false, "..": false, "dir/.": false, "x.cc/..": false, "dir/": false,
	} {
		if got := extensionKnown([]byte(name)); got != want {
			t.Errorf("extensionKnown(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestLineFileNamesMalformed cuts and corrupts a line table header: the
// reader must fail, or agree with debug/dwarf, never panic.
func TestLineFileNamesMalformed(t *testing.T) {
	df := openScanLib(t, buildScanLib(t, "g++", scanCXXSrc, "-gdwarf-5"))
	cu, err := df.data.Reader().Next()
	if err != nil || cu == nil {
		t.Fatal(err)
	}
	line := df.sec.line
	for _, n := range []int{0, 3, 10, 30, len(line) / 2, len(line)} {
		for _, corrupt := range []bool{false, true} {
			cut := append([]byte(nil), line[:n]...)
			if corrupt {
				for i := 4; i < n; i += 5 {
					cut[i] ^= 0x81
				}
			}
			sec := *df.sec
			sec.line = cut
			d, err := sec.data()
			if err != nil {
				t.Fatal(err)
			}
			raw, rawErr := lineFileNames(sec.line, sec.str, sec.lineStr, sec.order, 0)
			lr, err := d.LineReader(cu)
			if (rawErr == nil) != (err == nil && lr != nil) {
				t.Errorf("cut at %d (corrupt %v): error %v, debug/dwarf's %v", n, corrupt, rawErr, err)
				continue
			}
			if rawErr == nil && len(raw) != len(lr.Files()) {
				t.Errorf("cut at %d (corrupt %v): %d files, debug/dwarf reads %d", n, corrupt, len(raw), len(lr.Files()))
			}
		}
	}
}
