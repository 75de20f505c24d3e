package compat_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compatgate/compatgate/compat"
	"github.com/compatgate/compatgate/rules"
)

// buildPair compiles two versions of a library with debug information,
// with cc (gcc or g++) from sources with extension ext (.c, .cc).
func buildPair(t *testing.T, cc, ext, v1, v2 string) (oldSO, newSO string) {
	t.Helper()
	if _, err := exec.LookPath(cc); err != nil {
		t.Skip(cc + " not installed")
	}
	dir := t.TempDir()
	var out [2]string
	for i, src := range []string{v1, v2} {
		// The source goes in a header that the compiled file includes:
		// its types are then public API, as abidiff takes every type
		// without --headers-dir.
		name := "v" + strconv.Itoa(i+1)
		c := filepath.Join(dir, name+ext)
		out[i] = filepath.Join(dir, "libs"+strconv.Itoa(i+1)+".so")
		if err := os.WriteFile(filepath.Join(dir, name+".h"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(c, []byte("#include \""+name+".h\"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if b, err := exec.Command(cc, "-g", "-shared", "-fPIC", "-Wl,-soname,libs.so.1", "-o", out[i], c).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cc, err, b)
		}
	}
	return out[0], out[1]
}

// TestSuppressionsLikeAbidiff checks suppression files on a real pair:
// compatgate silences exactly the findings each names, and, where abidiff
// is installed, abidiff filters the same changes with the same file.
func TestSuppressionsLikeAbidiff(t *testing.T) {
	cOld, cNew := buildPair(t, "gcc", ".c",
		"struct point { int x, y; };\nint area(struct point *p) { return p->x * p->y; }\nint gone(void) { return 0; }\nint internal_helper(void) { return 1; }\nint counter = 1;\n",
		"struct point { int x, y, z; };\nint area(struct point *p) { return p->x * p->y; }\nlong counter = 1;\n")
	cxxOld, cxxNew := buildPair(t, "g++", ".cc",
		"namespace ns { struct Widget { int a, b; int get() const; }; int Widget::get() const { return a; }\nint gone(int x) { return x; } }\nint use(ns::Widget *w) { return w->get(); }\n",
		"namespace ns { struct Widget { int a, b, c; int get() const; }; int Widget::get() const { return a; } }\nint use(ns::Widget *w) { return w->get(); }\n")
	tests := []struct {
		name, supp string
		cxx        bool
		// suppressed: the rules compatgate silences; typeFiltered,
		// removedFiltered and varFiltered: what abidiff filters out
		// (changed functions, removed functions, changed variables; -1:
		// not compared, -2: changed functions not compared).
		suppressed                                 []string
		typeFiltered, removedFiltered, varFiltered int
	}{
		{"appended member at end", "[suppress_type]\nname = point\nhas_data_member_inserted_at = end\n", false,
			[]string{"member-added", "type-size-grew"}, 1, 0, 0},
		{"inserted in {0, 32}: not there", "[suppress_type]\nname = point\nhas_data_member_inserted_between = {0, 32}\n", false,
			nil, 0, 0, 0},
		{"offset_after(y) to end", "[suppress_type]\nname = point\nhas_data_member_inserted_between = {offset_after(y), end}\n", false,
			[]string{"member-added", "type-size-grew"}, 1, 0, 0},
		{"type_kind union: not a struct", "[suppress_type]\nname = point\ntype_kind = union\n", false, nil, 0, 0, 0},
		{"type_kind class: any class type", "[suppress_type]\nname = point\ntype_kind = class\n", false,
			[]string{"member-added", "type-size-grew"}, 1, 0, 0},
		// abidiff knows point is declared in v2.c, not in shapes.h, and
		// suppresses; compatgate does not know where it is declared,
		// keeps the changes and says so in a note.
		{"source_location_not_in: undecided", "[suppress_type]\nname = point\nsource_location_not_in = shapes.h\n", false,
			nil, -1, 0, 0},
		{"deleted internal functions", "[suppress_function]\nname_regexp = ^internal_\nchange_kind = deleted-function\n", false,
			[]string{"symbol-removed"}, 0, 1, 0},
		// point reaches clients through area only: suppressing area's
		// sub-type changes silences point's findings.
		{"the only function reaching a type", "[suppress_function]\nname = area\nchange_kind = function-subtype-change\n", false,
			[]string{"member-added", "type-size-grew"}, 1, 0, 0},
		{"the function, deletions only", "[suppress_function]\nname = area\nchange_kind = deleted-function\n", false,
			nil, 0, 0, 0},
		{"added only: no match", "[suppress_function]\nname = gone\nchange_kind = added-function\n", false, nil, 0, 0, 0},
		{"a variable", "[suppress_variable]\nname = counter\n", false,
			[]string{"symbol-size-changed", "var-type-changed"}, 0, 0, 1},
		{"a variable, added only", "[suppress_variable]\nname = counter\nchange_kind = added-variable\n", false, nil, 0, 0, 0},
		// Sections that select nothing: as in libabigail, a function one
		// silences every function, type and file ones nothing.
		{"label-only function section", "[suppress_function]\nlabel = all\n", false,
			[]string{"member-added", "symbol-removed", "symbol-removed", "type-size-grew"}, 1, 2, 0},
		{"label-only type section", "[suppress_type]\nlabel = all\n", false, nil, 0, 0, 0},
		{"label-only file section", "[suppress_file]\nlabel = all\n", false, nil, 0, 0, 0},
		{"whole file", "[suppress_file]\nsoname_regexp = ^libs\\.so\n", false,
			[]string{"member-added", "symbol-removed", "symbol-removed", "symbol-size-changed", "type-size-grew", "var-type-changed"}, -1, -1, -1},
		{"C++ class appended at end", "[suppress_type]\nname = ns::Widget\nhas_data_member_inserted_at = end\n", true,
			[]string{"member-added", "type-size-grew"}, 2, 0, 0},
		{"C++ function by qualified name", "[suppress_function]\nname = ns::gone\n", true,
			[]string{"symbol-removed"}, -2, 1, 0},
		{"C++ deleted functions of a namespace", "[suppress_function]\nname_regexp = ^ns::\nchange_kind = deleted-function\n", true,
			[]string{"symbol-removed"}, -2, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.abignore")
			if err := os.WriteFile(path, []byte(tt.supp), 0o644); err != nil {
				t.Fatal(err)
			}
			supps, err := rules.LoadSuppressions(path)
			if err != nil {
				t.Fatal(err)
			}
			oldSO, newSO := cOld, cNew
			if tt.cxx {
				oldSO, newSO = cxxOld, cxxNew
			}
			r, err := compat.CheckWith(oldSO, newSO, compat.Options{Suppressions: supps})
			if err != nil {
				t.Fatal(err)
			}
			r.ListSuppressed()
			var got []string
			for _, f := range r.Suppressed {
				got = append(got, f.Rule)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.suppressed) || r.Summary.Suppressed != len(tt.suppressed) ||
				r.Suppressions[0].Suppressed != len(tt.suppressed) {
				t.Errorf("suppressed %v (summary %d, use %+v), want %v", got, r.Summary.Suppressed, r.Suppressions, tt.suppressed)
			}
			undecided := slices.ContainsFunc(r.Notes, func(n string) bool {
				return strings.Contains(n, "source_location_not_in/source_location_not_regexp need the declaration's source file")
			})
			if undecided != strings.Contains(tt.supp, "source_location") {
				t.Errorf("notes %q: a note on the undecided suppression is expected only for source locations", r.Notes)
			}
			for f := range r.Findings() {
				if slices.Contains(tt.suppressed, f.Rule) && tt.typeFiltered >= 0 && f.Rule != "symbol-removed" {
					t.Errorf("finding %s %s both suppressed and reported", f.Rule, f.Type)
				}
			}
			if tt.typeFiltered < 0 {
				return // abidiff does not apply [suppress_file] to the files given on its command line
			}
			if _, err := exec.LookPath("abidiff"); err != nil {
				t.Log("abidiff not installed: not compared")
				return
			}
			out, _ := exec.Command("abidiff", "--suppressions", path, oldSO, newSO).CombinedOutput()
			m := regexp.MustCompile(`Functions changes summary: \d+ Removed(?: \((\d+) filtered out\))?, \d+ Changed(?: \((\d+) filtered out\))?`).FindSubmatch(out)
			if m == nil {
				t.Fatalf("abidiff output not understood:\n%s", out)
			}
			v := regexp.MustCompile(`Variables changes summary: \d+ Removed(?: \((\d+) filtered out\))?, \d+ Changed(?: \((\d+) filtered out\))?`).FindSubmatch(out)
			if v == nil {
				t.Fatalf("abidiff output not understood:\n%s", out)
			}
			removed, changed, vars := count(m[1]), count(m[2]), count(v[2])
			if tt.typeFiltered == -2 { // abidiff's count of other changed functions is not the point
				changed = -2
			}
			if removed != tt.removedFiltered || changed != tt.typeFiltered || vars != tt.varFiltered {
				t.Errorf("abidiff filtered %d removed, %d changed functions, %d changed variables; the test expects %d, %d, %d:\n%s",
					removed, changed, vars, tt.removedFiltered, tt.typeFiltered, tt.varFiltered, strings.TrimSpace(string(out)))
			}
		})
	}
}

// count returns the number in b, 0 when empty.
func count(b []byte) int {
	n, _ := strconv.Atoi(string(b))
	return n
}
