package elfdiff

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildLib compiles src into a shared object in dir with extra gcc flags.
func buildLib(t *testing.T, dir, src string, flags ...string) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	c := filepath.Join(dir, "lib.c")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	so := filepath.Join(dir, "lib.so")
	args := append([]string{"-shared", "-fPIC", "-g", "-Wl,--build-id", "-o", so, c}, flags...)
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return so
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

const debugSrc = "struct point { int x, y; };\nint norm(struct point p) { return p.x + p.y; }\nint counter;\n"

func checkDecls(t *testing.T, c *Corpus) {
	t.Helper()
	if c.Debug == nil {
		t.Fatalf("no debug info read; notes: %v", c.Notes)
	}
	s, ok := c.Lookup("norm")
	if !ok {
		t.Fatal("norm not exported")
	}
	f := c.Debug.Func(s)
	if f == nil || len(f.Params) != 1 || f.Params[0].Type.String() != "struct point" || f.Return.String() != "int" {
		t.Fatalf("norm decoded as %+v", f)
	}
	v, _ := c.Lookup("counter")
	if dv := c.Debug.Var(v); dv == nil || dv.Type.String() != "int" {
		t.Fatalf("counter decoded as %+v", dv)
	}
}

// TestSeparateDebugByBuildID finds the DWARF of a stripped library under
// a --debug-dir by build-id, and not without it.
func TestSeparateDebugByBuildID(t *testing.T) {
	dir := t.TempDir()
	so := buildLib(t, dir, debugSrc)
	c, err := Load(so)
	if err != nil {
		t.Fatal(err)
	}
	id := c.BuildID
	if len(id) < 4 {
		t.Fatalf("no build-id in %s", so)
	}
	debugDir := filepath.Join(dir, "debug")
	dbg := filepath.Join(debugDir, ".build-id", id[:2], id[2:]+".debug")
	if err := os.MkdirAll(filepath.Dir(dbg), 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "objcopy", "--only-keep-debug", so, dbg)
	run(t, "objcopy", "--strip-debug", so)

	if c, err := Load(so); err != nil || c.Debug != nil {
		t.Fatalf("Load without the debug dir: debug=%v err=%v; want no debug info", c.Debug, err)
	}
	c, err = LoadWith(so, LoadOptions{DebugDirs: []string{debugDir}})
	if err != nil {
		t.Fatal(err)
	}
	checkDecls(t, c)
	if c.Debug.Source != dbg {
		t.Errorf("Source = %q, want %q", c.Debug.Source, dbg)
	}
}

// TestSeparateDebugByLink finds the DWARF through .gnu_debuglink, next to
// the library and in .debug/, and ignores a file whose CRC does not match.
func TestSeparateDebugByLink(t *testing.T) {
	for _, sub := range []string{"", ".debug"} {
		dir := t.TempDir()
		so := buildLib(t, dir, debugSrc, "-Wl,--build-id=none")
		dbg := filepath.Join(dir, "lib.so.dbg")
		run(t, "objcopy", "--only-keep-debug", so, dbg)
		run(t, "objcopy", "--strip-debug", "--add-gnu-debuglink="+dbg, so)
		if sub != "" {
			if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
				t.Fatal(err)
			}
			moved := filepath.Join(dir, sub, "lib.so.dbg")
			if err := os.Rename(dbg, moved); err != nil {
				t.Fatal(err)
			}
			dbg = moved
		}
		c, err := Load(so)
		if err != nil {
			t.Fatal(err)
		}
		checkDecls(t, c)
		// A debug file of another build is not used.
		other := buildLib(t, t.TempDir(), "int other(int x) { return x; }\n", "-Wl,--build-id=none")
		data, err := os.ReadFile(other)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dbg, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if c, err := Load(so); err != nil || c.Debug != nil {
			t.Errorf("%s: mismatched debug file used (err %v)", sub, err)
		}
	}
}

// TestCompressedDebugSections reads zlib- and zstd-compressed DWARF.
func TestCompressedDebugSections(t *testing.T) {
	for _, method := range []string{"zlib", "zstd"} {
		dir := t.TempDir()
		so := buildLib(t, dir, debugSrc)
		if out, err := exec.Command("objcopy", "--compress-debug-sections="+method, so).CombinedOutput(); err != nil {
			t.Skipf("objcopy cannot compress with %s: %v\n%s", method, err, out)
		}
		f, err := elf.Open(so)
		if err != nil {
			t.Fatal(err)
		}
		if s := f.Section(".debug_info"); s == nil || s.Flags&elf.SHF_COMPRESSED == 0 {
			t.Fatalf("%s: .debug_info not compressed", method)
		}
		f.Close()
		c, err := Load(so)
		if err != nil {
			t.Fatal(err)
		}
		checkDecls(t, c)
	}
}

// TestMalformedDWARF corrupts .debug_info and .debug_abbrev: loading must
// not panic, and either decode or degrade to the symbol tables with a note.
func TestMalformedDWARF(t *testing.T) {
	dir := t.TempDir()
	so := buildLib(t, dir, debugSrc)
	data, err := os.ReadFile(so)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var spans [][2]uint64
	for _, name := range []string{".debug_info", ".debug_abbrev", ".debug_str", ".debug_line"} {
		if s := f.Section(name); s != nil {
			spans = append(spans, [2]uint64{s.Offset, s.Size})
		}
	}
	f.Close()
	for _, sp := range spans {
		for _, pattern := range []byte{0x00, 0xff, 0x7f} {
			for _, at := range []uint64{0, 4, 11, sp[1] / 2} {
				bad := bytes.Clone(data)
				for i := uint64(0); i < 16 && at+i < sp[1]; i++ {
					bad[sp[0]+at+i] = pattern ^ byte(i)
				}
				c, err := LoadReader("bad.so", bytes.NewReader(bad))
				if err != nil {
					continue // the ELF layer refused it: fine
				}
				if c.Debug == nil && len(c.Notes) == 0 {
					// DWARF without the CU is "no debug info"; anything
					// else unreadable must be explained.
					continue
				}
				if c.Debug != nil {
					_, _ = Diff(c, c) // comparing whatever was decoded must not panic
				}
			}
		}
	}
}
