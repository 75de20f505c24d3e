package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDump: a dump is the same bytes each time, to a file, compressed or
// not, or to standard output; check gives with it, on either side, the
// report it gives with the library; a dump can be dumped again.
func TestDump(t *testing.T) {
	oldSO, newSO := buildCase(t, "c/struct-member-removed-middle")
	dir := t.TempDir()
	plain, zipped := filepath.Join(dir, "old.abi.json"), filepath.Join(dir, "old.abi.json.gz")
	var first []byte
	for i := range 2 {
		for _, out := range []string{plain, zipped} {
			if code, _, stderr := runCLI("dump", "-o", out, oldSO); code != 0 {
				t.Fatalf("dump -o %s: exit %d: %s", out, code, stderr)
			}
		}
		b, err := os.ReadFile(plain)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = b
		} else if !bytes.Equal(b, first) {
			t.Errorf("the second dump differs from the first")
		}
	}
	code, stdout, _ := runCLI("dump", oldSO)
	if code != 0 || stdout != string(first) {
		t.Errorf("dump to standard output: exit %d, same as -o: %v", code, stdout == string(first))
	}
	if z := readGzip(t, zipped); !bytes.Equal(z, first) {
		t.Errorf("the .gz dump does not hold the plain dump")
	}
	again := filepath.Join(dir, "again.abi.json")
	if code, _, stderr := runCLI("dump", "-o", again, zipped); code != 0 {
		t.Fatalf("dump of a dump: exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(again); !bytes.Equal(b, first) {
		t.Errorf("a dump dumped again differs")
	}

	wantCode, want, _ := runCLI("check", "--format", "json", oldSO, newSO)
	if wantCode != 4 && wantCode != 12 {
		t.Fatalf("check of the libraries: exit %d, the case changed", wantCode)
	}
	newDump := filepath.Join(dir, "new.dump") // any name: told by content
	if code, _, stderr := runCLI("dump", "-o", newDump, newSO); code != 0 {
		t.Fatalf("dump: exit %d: %s", code, stderr)
	}
	symCode, symWant, _ := runCLI("check", "--format", "json", "--symbols-only", oldSO, newSO)
	for _, pair := range [][2]string{{plain, newSO}, {zipped, newDump}, {oldSO, newDump}} {
		code, got, stderr := runCLI("check", "--format", "json", pair[0], pair[1])
		if code != wantCode || got != want {
			t.Errorf("check %s %s: exit %d (want %d), same report: %v; %s", pair[0], pair[1], code, wantCode, got == want, stderr)
		}
		// --symbols-only ignores a dump's types as it does a library's.
		code, got, stderr = runCLI("check", "--format", "json", "--symbols-only", pair[0], pair[1])
		if code != symCode || got != symWant {
			t.Errorf("check --symbols-only %s %s: exit %d (want %d), same report: %v; %s", pair[0], pair[1], code, symCode, got == symWant, stderr)
		}
	}
}

func readGzip(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDumpErrors: bad arguments are usage errors; a bad dump or a dump of
// another architecture, a one-line error and exit 1.
func TestDumpErrors(t *testing.T) {
	oldSO, newSO := buildCase(t, "sym/function-removed")
	dir := t.TempDir()
	good := filepath.Join(dir, "good.abi.json")
	if code, _, stderr := runCLI("dump", "-o", good, oldSO); code != 0 {
		t.Fatalf("dump: exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	dump := string(b)
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		args []string
		exit int
		want string
	}{
		{"no library", []string{"dump"}, exitUsage, "want one library"},
		{"two libraries", []string{"dump", oldSO, newSO}, exitUsage, "want one library"},
		{"missing library", []string{"dump", filepath.Join(dir, "missing.so")}, exitError, "no such file"},
		{"not a library", []string{"dump", write("text.so", "hello")}, exitError, "not an ELF file"},
		{"unwritable output", []string{"dump", "-o", filepath.Join(dir, "no", "such", "dir.json"), oldSO}, exitError, "no such file"},
		{"truncated dump", []string{"check", write("trunc.json", dump[:len(dump)/2]), newSO}, exitError, "corrupt or truncated dump"},
		{"newer schema", []string{"check", write("v9.json", strings.Replace(dump, `"version":1,`, `"version":9,`, 1)), newSO},
			exitError, "schema version 9 is newer than this compatgate reads"},
		{"other architecture", []string{"check", write("arm.json", strings.Replace(dump, `"EM_X86_64"`, `"EM_AARCH64"`, 1)), newSO},
			exitError, "an ABI dump must be of the same architecture"},
		{"32-bit dump", []string{"check", oldSO, write("i386.json", strings.Replace(strings.Replace(dump, `"EM_X86_64"`, `"EM_386"`, 1), "ELFCLASS64", "ELFCLASS32", 1))},
			exitError, "an ABI dump must be of the same architecture"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(tt.args...)
			if code != tt.exit || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tt.exit, tt.want)
			}
			if tt.exit == exitError && strings.Count(stderr, "\n") != 1 {
				t.Errorf("not one line: %q", stderr)
			}
		})
	}
}
