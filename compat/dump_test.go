package compat_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/compatgate/compatgate/compat"
	"github.com/compatgate/compatgate/elfdiff"
	"github.com/compatgate/compatgate/elfdiff/abidump"
)

// checkDumps dumps both libraries of a case (OLD's gzip-compressed) and
// checks that
//   - each dump reads back into a corpus equal, field by field, to the
//     library's: a field the dump forgets is named;
//   - dump against dump, dump against library and library against dump
//     give the same JSON report and exit code as want, the libraries'.
func checkDumps(t *testing.T, oldSO, newSO string, h1, h2 []string, want *compat.Report) {
	t.Helper()
	dir := t.TempDir()
	oldDump := writeDump(t, oldSO, filepath.Join(dir, "old.abi.json.gz"), h1, "1")
	newDump := writeDump(t, newSO, filepath.Join(dir, "new.abi.json"), h2, "2")
	wantJSON := reportJSON(t, want)
	for _, pair := range [][2]string{{oldDump, newDump}, {oldDump, newSO}, {oldSO, newDump}} {
		// A dump carries the headers it was made with; a library side is
		// given its headers as the check of the libraries was.
		var opts compat.Options
		if pair[0] == oldSO {
			opts.HeaderDirs1 = h1
		}
		if pair[1] == newSO {
			opts.HeaderDirs2 = h2
		}
		r, err := compat.CheckWith(pair[0], pair[1], opts)
		if err != nil {
			t.Errorf("check %s %s: %v", filepath.Base(pair[0]), filepath.Base(pair[1]), err)
			continue
		}
		if got := reportJSON(t, r); got != wantJSON {
			t.Errorf("check %s %s: the report differs from the libraries' at %s", filepath.Base(pair[0]), filepath.Base(pair[1]), firstDiff(wantJSON, got))
		}
		if got, w := r.Verdict.ExitCode(), want.Verdict.ExitCode(); got != w {
			t.Errorf("check %s %s: exit %d, the libraries' %d", filepath.Base(pair[0]), filepath.Base(pair[1]), got, w)
		}
	}
}

// writeDump dumps the library at so into path, gzip-compressed when path
// ends in .gz, with the public headers under headerDirs (given as the
// check's flags of side), as compatgate dump writes it, and checks the dump
// reads back as the library.
func writeDump(t *testing.T, so, path string, headerDirs []string, side string) string {
	t.Helper()
	c, err := elfdiff.Load(so)
	if err != nil {
		t.Fatal(err)
	}
	if c.Headers, err = compat.PublicHeaders(so, nil, headerDirs, nil, side); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := abidump.Write(&buf, c); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	if strings.HasSuffix(path, ".gz") {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(data)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		data = z.Bytes()
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := abidump.ReadFile(path)
	if err != nil {
		t.Fatalf("dump of %s: %v", so, err)
	}
	if d := corpusDiff(c, back); d != "" {
		t.Errorf("dump of %s reads back different: %s", filepath.Base(so), d)
	}
	return path
}

func reportJSON(t *testing.T, r *compat.Report) string {
	t.Helper()
	var b strings.Builder
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// firstDiff returns the first line where got differs from want, with both.
func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(wl), len(gl)) {
		w, g := "", ""
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d: want %q, got %q", i+1, strings.TrimSpace(w), strings.TrimSpace(g))
		}
	}
	return "(equal)"
}

// corpusDiff compares two corpora, the exported symbols through the API
// and every other field, exported or not, by reflection, and names the
// first field that differs; "" when they are equal. A field added to the
// corpus or its types later and not written by the dump shows here.
func corpusDiff(a, b *elfdiff.Corpus) string {
	as, bs := slices.Collect(symbolsOf(a)), slices.Collect(symbolsOf(b))
	if !slices.Equal(as, bs) {
		return fmt.Sprintf("Symbols: %v, read back %v", as, bs)
	}
	seen := make(map[[2]uintptr]bool)
	return valueDiff(reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem(), "Corpus", seen)
}

func symbolsOf(c *elfdiff.Corpus) func(func(elfdiff.Symbol) bool) {
	return func(yield func(elfdiff.Symbol) bool) {
		for _, s := range c.Symbols() {
			if !yield(s) {
				return
			}
		}
	}
}

// valueDiff compares a and b, of one type, following pointers (each pair
// once, so cyclic graphs end); nil and empty slices and maps are equal.
func valueDiff(a, b reflect.Value, path string, seen map[[2]uintptr]bool) string {
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				return fmt.Sprintf("%s: nil in one only", path)
			}
			return ""
		}
		key := [2]uintptr{a.Pointer(), b.Pointer()}
		if seen[key] {
			return ""
		}
		seen[key] = true
		return valueDiff(a.Elem(), b.Elem(), path, seen)
	case reflect.Struct:
		for i := range a.NumField() {
			f := a.Type().Field(i)
			if path == "Corpus" && f.Name == "symbols" {
				continue // compared through Symbols
			}
			if d := valueDiff(a.Field(i), b.Field(i), path+"."+f.Name, seen); d != "" {
				return d
			}
		}
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			return fmt.Sprintf("%s: length %d, read back %d", path, a.Len(), b.Len())
		}
		for i := range a.Len() {
			if d := valueDiff(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i), seen); d != "" {
				return d
			}
		}
	case reflect.Map:
		if a.Len() != b.Len() {
			return fmt.Sprintf("%s: %d entries, read back %d", path, a.Len(), b.Len())
		}
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(k)
			if !bv.IsValid() {
				return fmt.Sprintf("%s[%v]: missing when read back", path, k)
			}
			if d := valueDiff(a.MapIndex(k), bv, fmt.Sprintf("%s[%v]", path, k), seen); d != "" {
				return d
			}
		}
	case reflect.String:
		if a.String() != b.String() {
			return fmt.Sprintf("%s: %q, read back %q", path, a.String(), b.String())
		}
	case reflect.Bool:
		if a.Bool() != b.Bool() {
			return fmt.Sprintf("%s: %v, read back %v", path, a.Bool(), b.Bool())
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if a.Int() != b.Int() {
			return fmt.Sprintf("%s: %d, read back %d", path, a.Int(), b.Int())
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if a.Uint() != b.Uint() {
			return fmt.Sprintf("%s: %d, read back %d", path, a.Uint(), b.Uint())
		}
	case reflect.Float32, reflect.Float64:
		if a.Float() != b.Float() {
			return fmt.Sprintf("%s: %v, read back %v", path, a.Float(), b.Float())
		}
	default:
		return fmt.Sprintf("%s: cannot compare a %s: teach corpusDiff", path, a.Kind())
	}
	return ""
}
