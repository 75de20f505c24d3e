//go:build linux

package elfdiff

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compatgate/compatgate/internal/debian"
)

// TestDebianDWZPair builds cjson from bookworm and from trixie with their
// own debian/rules, as the archive does: dh_strip splits the debug
// information into -dbgsym packages and dh_dwz runs dwz on it; trixie's
// libcjson1 holds two libraries (libcjson, libcjson_utils), so there dwz
// -m moves their common DWARF into a .dwz file. Read through its
// /usr/lib/debug tree, each stripped library reads as its unstripped build
// (debian/tmp) does, and the pair gives exactly the changes of the
// unstripped pair. The builds are cached with the Debian archive: a
// second run rebuilds nothing.
func TestDebianDWZPair(t *testing.T) {
	a := debian.ForTest(t)
	ctx := context.Background()
	const libDir = "usr/lib/x86_64-linux-gnu"
	var opts [2]LoadOptions
	var roots, unstripped [2]string
	for i, suite := range []string{"bookworm", "trixie"} {
		b, err := a.Build(ctx, "cjson/"+suite)
		if err != nil {
			t.Fatal(err)
		}
		if roots[i], err = b.Unpack(ctx, "libcjson1*.deb"); err != nil {
			t.Fatal(err)
		}
		unstripped[i] = filepath.Join(b.Tree, "debian/tmp", libDir)
		opts[i].DebugDirs = []string{filepath.Join(roots[i], "usr/lib/debug")}
		dwz, _ := filepath.Glob(filepath.Join(opts[i].DebugDirs[0], ".dwz/*/libcjson1.debug"))
		if len(dwz) != 1 && suite == "trixie" {
			t.Fatalf("%s: dh_dwz wrote no .dwz file for libcjson1", suite)
		}
		libs, _ := filepath.Glob(filepath.Join(roots[i], libDir, "*.so.1"))
		if len(libs) == 0 {
			t.Fatalf("%s: no library in libcjson1", suite)
		}
		for _, lib := range libs {
			c, err := LoadWith(lib, opts[i])
			if err != nil {
				t.Fatal(err)
			}
			if c.Debug == nil || len(c.Debug.Funcs) < 5 || !strings.HasPrefix(c.Debug.Source, opts[i].DebugDirs[0]) {
				t.Fatalf("%s: debug information not read from the -dbgsym package: %+v, notes %q", lib, c.Debug, c.Notes)
			}
			// The same build, unstripped and through its debug packages,
			// reads the same.
			if same := diffLines(t, filepath.Join(unstripped[i], filepath.Base(lib)), lib, LoadOptions{}, opts[i]); len(same) > 0 {
				t.Errorf("%s: unstripped and stripped differ:\n  %s", lib, strings.Join(same, "\n  "))
			}
		}
	}
	// bookworm's libcjson1 has no libcjson_utils.
	lib := "libcjson.so.1"
	want := diffLines(t, filepath.Join(unstripped[0], lib), filepath.Join(unstripped[1], lib))
	got := diffLines(t, filepath.Join(roots[0], libDir, lib), filepath.Join(roots[1], libDir, lib), opts[0], opts[1])
	if !slices.Equal(got, want) {
		t.Errorf("%s: changes differ from the unstripped builds'\ngot:\n  %s\nwant:\n  %s", lib, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
