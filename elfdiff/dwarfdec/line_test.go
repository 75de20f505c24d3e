package dwarfdec

import (
	"bytes"
	"debug/dwarf"
	"slices"
	"testing"

	"github.com/compatgate/compatgate/internal/testlib"
)

func TestExtensionKnown(t *testing.T) {
	for name, want := range map[string]bool{
		"a.cc": true, "dir/a.h": true, "a/../b.c": true, "vector": true, "": true, `c:\x\y.cc`: true,
		".": false, "..": false, "dir/.": false, "x.cc/..": false, "dir/": false,
	} {
		if got := ExtensionKnown([]byte(name)); got != want {
			t.Errorf("extensionKnown(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestLineFileNamesMalformed cuts and corrupts a line table header of
// DWARF 4 and 5: the reader must fail, or agree with debug/dwarf, never
// panic; joined to their directories, the names must be debug/dwarf's.
func TestLineFileNamesMalformed(t *testing.T) {
	for _, version := range []string{"-gdwarf-4", "-gdwarf-5"} {
		df := openScanLib(t, testlib.BuildLib(t, "g++", testlib.CXXSrc, version))
		cu, err := mustDWARF(t, df).Reader().Next()
		if err != nil || cu == nil {
			t.Fatal(err)
		}
		compDir, _ := cu.Val(dwarf.AttrCompDir).(string)
		if compDir == "" {
			t.Fatal("the unit has no DW_AT_comp_dir")
		}
		line := df.Sec.Line
		for _, n := range []int{0, 3, 10, 30, len(line) / 2, len(line)} {
			for _, corrupt := range []bool{false, true} {
				cut := append([]byte(nil), line[:n]...)
				if corrupt {
					for i := 4; i < n; i += 5 {
						cut[i] ^= 0x81
					}
				}
				sec := *df.Sec
				sec.Line = cut
				d := mustDWARF(t, &File{Sec: &sec})
				raw, rawErr := LineFileNames(sec.Line, sec.Str, sec.LineStr, sec.Order, 0)
				lr, err := d.LineReader(cu)
				if (rawErr == nil) != (err == nil && lr != nil) {
					t.Errorf("cut at %d (corrupt %v): error %v, debug/dwarf's %v", n, corrupt, rawErr, err)
					continue
				}
				if rawErr == nil && len(raw) != len(lr.Files()) {
					t.Errorf("cut at %d (corrupt %v): %d files, debug/dwarf reads %d", n, corrupt, len(raw), len(lr.Files()))
				}
				raw2, joined, joinErr := JoinedLineFileNames(sec.Line, sec.Str, sec.LineStr, sec.Order, 0, compDir)
				if (joinErr == nil) != (rawErr == nil) {
					t.Errorf("cut at %d (corrupt %v): joined error %v, unjoined %v", n, corrupt, joinErr, rawErr)
					continue
				}
				if !slices.EqualFunc(raw, raw2, bytes.Equal) {
					t.Errorf("cut at %d (corrupt %v): joining read the names %q, not %q", n, corrupt, raw2, raw)
				}
				if want := testlib.LineFiles(lr); joinErr == nil && !slices.Equal(joined, want) {
					t.Errorf("cut at %d (corrupt %v): joined %q, debug/dwarf reads %q", n, corrupt, joined, want)
				}
			}
		}
	}
}
