package elfsym

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestSymbolTableMatchesDebugELF reads the symbol tables of libraries
// built by gcc — versioned, importing versioned symbols from the C
// library, C++, 32-bit, with and without .symtab — and checks every entry
// against debug/elf's decoding.
func TestSymbolTableMatchesDebugELF(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "lib.c")
	script := filepath.Join(dir, "lib.map")
	if err := os.WriteFile(src, []byte("#include <stdlib.h>\nint api(int x) { return abs(x); }\n"+
		"void *mem(unsigned long n) { return malloc(n); }\nint lib_v = 1;\n__thread int lib_t;\n"+
		"static int local_f(void) { return 2; }\nint (*keep)(void) = local_f;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte("V_1 { global: api; local: *; };\nV_2 { global: lib_v; lib_t; mem; } V_1;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bare := filepath.Join(dir, "bare.c") // no headers: built without a C library
	if err := os.WriteFile(bare, []byte("int api(int x) { return x; }\nint lib_v = 1;\nint mem;\n__thread int lib_t;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cxx := filepath.Join(dir, "lib.cc")
	if err := os.WriteFile(cxx, []byte("#include <string>\nstruct W { virtual ~W(); virtual std::string f(); };\n"+
		"W::~W() {}\nstd::string W::f() { return \"w\"; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	builds := []struct {
		name, compiler string
		args           []string
	}{
		{"plain", "gcc", []string{"-shared", "-fPIC", src}},
		{"versioned", "gcc", []string{"-shared", "-fPIC", "-Wl,--version-script," + script, src}},
		{"stripped", "gcc", []string{"-shared", "-fPIC", "-s", "-Wl,--version-script," + script, src}},
		{"c++", "g++", []string{"-shared", "-fPIC", cxx}},
		{"32-bit", "gcc", []string{"-shared", "-fPIC", "-m32", "-nostdlib", "-Wl,--version-script," + script, bare}},
	}
	for _, b := range builds {
		t.Run(b.name, func(t *testing.T) {
			so := filepath.Join(dir, b.name+".so")
			if out, err := exec.Command(b.compiler, append(b.args, "-o", so)...).CombinedOutput(); err != nil {
				if b.name == "32-bit" {
					t.Skipf("no 32-bit toolchain: %v\n%s", err, out)
				}
				t.Fatalf("%s: %v\n%s", b.compiler, err, out)
			}
			ef, err := elf.Open(so)
			if err != nil {
				t.Fatal(err)
			}
			defer ef.Close()
			for _, typ := range []elf.SectionType{elf.SHT_DYNSYM, elf.SHT_SYMTAB} {
				want, err := ef.DynamicSymbols()
				if typ == elf.SHT_SYMTAB {
					want, err = ef.Symbols()
				}
				got, gerr := ReadSymbolTable(ef, typ)
				if errors.Is(err, elf.ErrNoSymbols) {
					if got != nil || gerr != nil {
						t.Errorf("%s: no table, but read %d entries (%v)", typ, got.Len(), gerr)
					}
					continue
				}
				if err != nil || gerr != nil {
					t.Fatalf("%s: debug/elf: %v; readSymbolTable: %v", typ, err, gerr)
				}
				if got.Len() != len(want)+1 {
					t.Fatalf("%s: %d entries, want %d", typ, got.Len(), len(want)+1)
				}
				versioned := 0
				for i, w := range want {
					g := got.At(i + 1)
					if g.Name != w.Name || g.Info != w.Info || g.Other != w.Other || g.Section != w.Section ||
						g.Value != w.Value || g.Size != w.Size {
						t.Errorf("%s[%d]: %+v, want %+v", typ, i+1, g, w)
					}
					vi, version, ok := got.Version(i + 1)
					if ok != w.HasVersion || vi != w.VersionIndex || version != w.Version {
						t.Errorf("%s[%d] %s: version %v %#x %q, want %v %#x %q", typ, i+1, w.Name,
							ok, vi, version, w.HasVersion, w.VersionIndex, w.Version)
					}
					if version != "" {
						versioned++
					}
				}
				if typ == elf.SHT_DYNSYM && b.name != "plain" && b.name != "c++" && versioned == 0 {
					t.Errorf("%s: no versioned symbol: the test does not exercise versions", typ)
				}
			}
		})
	}
}

// TestSymbolTableMalformed checks that truncated or inconsistent tables
// give errors, and that a name without its NUL reads as empty.
func TestSymbolTableMalformed(t *testing.T) {
	tab := &SymbolTable{entries: make([]byte, 2*elf.Sym64Size), size: elf.Sym64Size, Strings: "\x00abc",
		bo: binary.LittleEndian, class: elf.ELFCLASS64}
	tab.entries[elf.Sym64Size] = 1 // name offset 1: "abc" without a NUL
	if s := tab.At(1); s.Name != "" {
		t.Errorf("name without NUL read as %q", s.Name)
	}
	tab.Strings = "\x00abc\x00"
	if s := tab.At(1); s.Name != "abc" {
		t.Errorf("name read as %q, want abc", s.Name)
	}
	tab.entries[elf.Sym64Size] = 200 // past the string table
	if s := tab.At(1); s.Name != "" {
		t.Errorf("name past the table read as %q", s.Name)
	}
	if _, _, ok := tab.Version(1); ok {
		t.Error("version of an unversioned table")
	}
}
