package abidump_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/compatgate/compatgate/compat"
	"github.com/compatgate/compatgate/elfdiff"
	"github.com/compatgate/compatgate/elfdiff/abidump"
)

func golden(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return z.Bytes()
}

// TestReadBad feeds damaged dumps to Read: each gives a one-line error
// saying what is wrong, never a panic.
func TestReadBad(t *testing.T) {
	c := string(golden(t, "golden-v1.abi.json"))
	z := gzipped(t, []byte(c))
	tests := []struct {
		name, data, want string
	}{
		{"empty", "", "not an ABI dump"},
		{"other JSON", `{"schema": 1, "verdict": "compatible"}`, "not an ABI dump"},
		{"ELF", "\x7fELF\x02\x01\x01", "not an ABI dump"},
		{"truncated", c[:len(c)/2], "corrupt or truncated dump: unexpected end of JSON input"},
		{"truncated gzip", string(z[:len(z)/2]), "corrupt or truncated gzip: unexpected EOF"},
		{"corrupt gzip header", "\x1f\x8b\x00garbage", "corrupt gzip"},
		{"newer version", strings.Replace(c, `"version":1,`, `"version":2,`, 1), "schema version 2 is newer than this compatgate reads (1 to 1): upgrade compatgate"},
		{"version 0", strings.Replace(c, `"version":1,`, `"version":0,`, 1), "invalid schema version 0"},
		{"version string", strings.Replace(c, `"version":1,`, `"version":"1",`, 1), `invalid schema version "1"`},
		{"no version", strings.Replace(c, `"version":1,`, ``, 1), "invalid schema version"},
		{"wrong field type", strings.Replace(c, `"size":4,`, `"size":"four",`, 1), "corrupt or truncated dump: json: cannot unmarshal string"},
		{"unknown machine", strings.Replace(c, `"EM_X86_64"`, `"EM_NOPE"`, 1), `library: unknown machine "EM_NOPE"`},
		{"unknown class", strings.Replace(c, `"ELFCLASS64"`, `"ELFCLASS128"`, 1), `library: unknown ELF class "ELFCLASS128"`},
		{"unknown symbol type", strings.Replace(c, `"STT_FUNC"`, `"STT_SPELL"`, 1), "unknown type, binding or visibility"},
		{"unknown kind", strings.Replace(c, `{"kind":"struct"`, `{"kind":"structure"`, 1), `debug: types[`},
		{"type reference out of the table", strings.Replace(c, `"type":0`, `"type":100000`, 1), "type reference 100000 out of the table"},
		{"negative type reference", strings.Replace(c, `"type":0`, `"type":-1`, 1), "type reference -1 out of the table"},
		{"bad hex", strings.Replace(c, `"2a000000"`, `"2x"`, 1), "read_only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.data == c {
				t.Fatal("the replacement did not apply: the golden dump changed")
			}
			_, err := abidump.Read(strings.NewReader(tt.data))
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q, want one line containing %q", err, tt.want)
			}
		})
	}
}

// TestAliasCycle: a typedef that is its own target cannot come from
// DWARF (the reader breaks such cycles); from a hand-made dump it is an
// error, not an endless diff.
func TestAliasCycle(t *testing.T) {
	c := string(golden(t, "golden-v1.abi.json"))
	i := strings.Index(c, `{"kind":"typedef"`)
	if i < 0 {
		t.Fatal("no typedef in the golden dump")
	}
	// The typedef's own index: the lines of the types table before it.
	types := strings.Index(c, `"types":[`)
	self := strings.Count(c[types:i], "\n") - 1
	line := c[i : i+strings.IndexByte(c[i:], '\n')]
	elem := line[strings.Index(line, `"elem":`):]
	elem = elem[:strings.IndexAny(elem, ",}")]
	bad := strings.Replace(c, line, strings.Replace(line, elem, `"elem":`+strconv.Itoa(self), 1), 1)
	_, err := abidump.Read(strings.NewReader(bad))
	if err == nil || !strings.Contains(err.Error(), "refers to itself") {
		t.Fatalf("error %v, want a type that refers to itself", err)
	}
}

// TestIsDump tells dumps from other files by their contents.
func TestIsDump(t *testing.T) {
	c := golden(t, "golden-v1.abi.json")
	dir := t.TempDir()
	tests := []struct {
		name string
		data []byte
		want bool
	}{
		{"plain.so", c, true},
		{"compressed", gzipped(t, c), true},
		{"pretty.json", []byte("{\n  \"format\": \"compatgate-abi-dump\",\n  \"version\": 1\n}"), true},
		{"report.json", []byte(`{"schema":1}`), false},
		{"lib.abi.json", []byte("\x7fELF\x02\x01\x01\x00"), false},
		{"other.gz", gzipped(t, []byte("hello")), false},
		{"broken.gz", []byte("\x1f\x8bxx"), false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		path := filepath.Join(dir, tt.name)
		if err := os.WriteFile(path, tt.data, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := abidump.IsDump(path)
		if err != nil || got != tt.want {
			t.Errorf("IsDump(%s) = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
	if _, err := abidump.IsDump(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("IsDump of a missing file: no error")
	}
}

// FuzzRead feeds mutated dumps to Read and the corpora it returns to
// Diff: errors, never a panic.
func FuzzRead(f *testing.F) {
	for _, name := range []string{"golden-v1.abi.json", "golden-cxx-v1.abi.json"} {
		b := golden(f, name)
		f.Add(b)
		f.Add(gzipped(f, b))
	}
	base, err := abidump.Read(bytes.NewReader(golden(f, "golden-cxx-v1.abi.json")))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := abidump.Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		if _, err := elfdiff.Diff(c, c); err != nil {
			t.Fatalf("Diff of a dump with itself: %v", err)
		}
		// Against a real library's dump, judged and reported: a
		// corrupt side gives findings, never a panic.
		for _, pair := range [][2]*elfdiff.Corpus{{base, c}, {c, base}} {
			if cs, err := elfdiff.Diff(pair[0], pair[1]); err == nil {
				compat.Judge(pair[0], pair[1], cs, nil).WriteJSON(io.Discard)
			}
		}
		var b bytes.Buffer
		if err := abidump.Write(&b, c); err != nil {
			t.Fatalf("Write of a dump read: %v", err)
		}
	})
}
