package dwarfdec

import (
	"bytes"
	"debug/dwarf"
	"debug/elf"
	"os"
	"testing"

	"github.com/compatgate/compatgate/internal/testlib"
)

// TestDIEScannerMatchesDebugDWARF walks every DIE of libraries built with
// each DWARF version, compression, split DWARF and type units, with the
// scanner and with debug/dwarf, and compares what both decode.
func TestDIEScannerMatchesDebugDWARF(t *testing.T) {
	cases := testlib.Builds()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			so := testlib.BuildLib(t, tc.Compiler, tc.Src, tc.Flags...)
			df := openScanLib(t, so)
			min := 20
			if tc.Name == "c-split" {
				min = 1 // the skeleton unit: the rest is in the .dwo file
			}
			if n := compareWalk(t, df, false); n < min {
				t.Fatalf("only %d DIEs read", n)
			}
			compareWalk(t, df, true)
		})
	}
}

func openScanLib(t *testing.T, so string) *File {
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
	df, err := NewFile(ef, f, so)
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
	for r := mustDWARF(t, df).Reader(); ; m++ {
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
func compareWalk(t *testing.T, df *File, skip bool) int {
	t.Helper()
	s := NewScanner(df.Sec)
	s.Limit = df.Sec.segs[0].end // debug/dwarf reads .debug_info only
	r := mustDWARF(t, df).Reader()
	dies := 0
	for {
		want, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Next()
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
		if want.Tag != got.Tag || (want.Tag != 0 && want.Offset != got.Off) {
			t.Fatalf("DIE %d: debug/dwarf at %#x tag %v, scanner at %#x tag %v", dies, want.Offset, want.Tag, got.Off, got.Tag)
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
			if err := s.SkipChildren(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func compareDIE(t *testing.T, want *dwarf.Entry, got *ScannedDIE) {
	t.Helper()
	at := want.Offset
	if got.Off != at || got.Children != want.Children {
		t.Fatalf("DIE at %#x: scanner read offset %#x children %v, want children %v", at, got.Off, got.Children, want.Children)
	}
	if got.Indirect {
		return // the index re-reads such DIEs with debug/dwarf
	}
	str := func(a dwarf.Attr) string { v, _ := want.Val(a).(string); return v }
	if string(got.Name) != str(dwarf.AttrName) || string(got.Linkage) != str(dwarf.AttrLinkageName) {
		t.Errorf("DIE at %#x: names %q %q, want %q %q", at, got.Name, got.Linkage, str(dwarf.AttrName), str(dwarf.AttrLinkageName))
	}
	pc, hasPC := want.Val(dwarf.AttrLowpc).(uint64)
	if got.HasLowPC != hasPC || got.LowPC != pc {
		t.Errorf("DIE at %#x: low_pc %#x %v, want %#x %v", at, got.LowPC, got.HasLowPC, pc, hasPC)
	}
	if got.HasRanges != (want.AttrField(dwarf.AttrRanges) != nil) {
		t.Errorf("DIE at %#x: ranges %v", at, got.HasRanges)
	}
	loc, _ := want.Val(dwarf.AttrLocation).([]byte)
	if !bytes.Equal(got.Location, loc) {
		t.Errorf("DIE at %#x: location %x, want %x", at, got.Location, loc)
	}
	decl, _ := want.Val(dwarf.AttrDeclaration).(bool)
	if got.Declaration != decl {
		t.Errorf("DIE at %#x: declaration %v, want %v", at, got.Declaration, decl)
	}
	spec, hasSpec := want.Val(dwarf.AttrSpecification).(dwarf.Offset)
	if got.HasSpec != hasSpec || got.Spec != spec {
		t.Errorf("DIE at %#x: specification %#x %v, want %#x %v", at, got.Spec, got.HasSpec, spec, hasSpec)
	}
	if lang, ok := want.Val(dwarf.AttrLanguage).(int64); ok && got.Language != lang {
		t.Errorf("DIE at %#x: language %d, want %d", at, got.Language, lang)
	}
}

// TestDIEScannerMalformed cuts and corrupts .debug_info and checks the
// scanner fails with an error, never a panic or an endless loop.
func TestDIEScannerMalformed(t *testing.T) {
	so := testlib.BuildLib(t, "gcc", testlib.CSrc, "-gdwarf-5", "-O2")
	df := openScanLib(t, so)
	info := df.Sec.Info
	for _, n := range []int{0, 1, 5, 11, 12, 13, len(info) / 3, len(info) / 2, len(info) - 1} {
		for _, corrupt := range []bool{false, true} {
			sec := *df.Sec
			sec.Info = append([]byte(nil), info[:n]...)
			if corrupt && n > 12 {
				for i := 12; i < n; i += 7 {
					sec.Info[i] ^= 0xa5
				}
			}
			s := NewScanner(&sec)
			for steps := 0; ; steps++ {
				if steps > len(info) {
					t.Fatalf("cut at %d (corrupt %v): the scanner does not end", n, corrupt)
				}
				d, err := s.Next()
				if err != nil || d == nil {
					break
				}
				if d.Children && steps%2 == 0 {
					if err := s.SkipChildren(); err != nil {
						break
					}
				}
			}
		}
	}
}

// mustDWARF returns debug/dwarf's view of df.
func mustDWARF(t testing.TB, df *File) *dwarf.Data {
	t.Helper()
	d, err := df.DWARF()
	if err != nil {
		t.Fatal(err)
	}
	return d
}
