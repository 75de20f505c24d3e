package compat_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compatgate/compatgate/compat"
	"github.com/compatgate/compatgate/elfdiff"
)

// lib describes one library file of a test package.
type lib struct {
	path, soname, src string
	splitDebug        bool // strip it and put its DWARF under usr/lib/debug/.build-id
}

// buildTree compiles libraries into a package tree under root.
func buildTree(t *testing.T, root string, libs []lib) {
	t.Helper()
	for _, tool := range []string{"gcc", "objcopy"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	for _, l := range libs {
		so := filepath.Join(root, l.path)
		if err := os.MkdirAll(filepath.Dir(so), 0o755); err != nil {
			t.Fatal(err)
		}
		c := so + ".c"
		if err := os.WriteFile(c, []byte(l.src), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"-g", "-shared", "-fPIC", "-Wl,--build-id", "-o", so, c}
		if l.soname != "" {
			args = append(args, "-Wl,-soname,"+l.soname)
		}
		if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
			t.Fatalf("gcc: %v\n%s", err, out)
		}
		os.Remove(c)
		if l.splitDebug {
			splitDebug(t, so, filepath.Join(root, "usr/lib/debug"))
		}
	}
}

// splitDebug moves the DWARF of the library so into a separate debug
// file under debugDir/.build-id, as distributions ship it.
func splitDebug(t *testing.T, so, debugDir string) {
	t.Helper()
	corpus, err := elfdiff.LoadWith(so, elfdiff.LoadOptions{NoDebugInfo: true})
	if err != nil {
		t.Fatal(err)
	}
	id := corpus.BuildID
	dbg := filepath.Join(debugDir, ".build-id", id[:2], id[2:]+".debug")
	if err := os.MkdirAll(filepath.Dir(dbg), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--only-keep-debug", so, dbg}, {"--strip-debug", so}} {
		if out, err := exec.Command("objcopy", args...).CombinedOutput(); err != nil {
			t.Fatalf("objcopy: %v\n%s", err, out)
		}
	}
}

// packagePair builds two package trees: libA changes (a parameter type,
// seen only through the split debug info), libB disappears, libC appears,
// and a plugin without SONAME is paired by file name.
func packagePair(t *testing.T) (oldDir, newDir string) {
	dir := t.TempDir()
	oldDir, newDir = filepath.Join(dir, "old"), filepath.Join(dir, "new")
	buildTree(t, oldDir, []lib{
		{"usr/lib/libA.so.1.0", "libA.so.1", "int a_api(int x) { return x; }\n", true},
		{"usr/lib/libB.so.1", "libB.so.1", "int b_api(void) { return 1; }\n", false},
		{"usr/lib/plugins/plug.so", "", "int plug(void) { return 1; }\n", false},
	})
	buildTree(t, newDir, []lib{
		{"usr/lib/libA.so.1.1", "libA.so.1", "int a_api(double x) { return x; }\n", true},
		{"usr/lib/libC.so.1", "libC.so.1", "int c_api(void) { return 1; }\n", false},
		{"usr/lib/plugins/plug.so", "", "int plug(void) { return 1; }\nint plug2(void) { return 2; }\n", false},
	})
	return oldDir, newDir
}

func TestCheckPackagesDirectories(t *testing.T) {
	oldDir, newDir := packagePair(t)
	// A second copy of libB: one is compared, and the report says so.
	lib, err := os.ReadFile(filepath.Join(oldDir, "usr/lib/libB.so.1"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(oldDir, "usr/lib64"), 0o755)
	if err := os.WriteFile(filepath.Join(oldDir, "usr/lib64/libB.so.1"), lib, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := compat.CheckPackages(oldDir, newDir, compat.PackageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "usr/lib/libB.so.1 and usr/lib64/libB.so.1 are the same library (libB.so.1); compared the first") {
		t.Errorf("notes %q; want one on the two copies of libB", res.Notes)
	}
	type row struct{ name, verdict, rule, path string }
	var got []row
	for _, r := range res.Reports() {
		rule := ""
		if r.Len() > 0 {
			rule = r.Finding(0).Rule
		}
		got = append(got, row{r.Old.SONAME + "|" + r.New.SONAME, string(r.Verdict), rule, r.Old.Path + "|" + r.New.Path})
	}
	want := []row{
		{"libA.so.1|libA.so.1", "incompatible", "param-type-changed", "usr/lib/libA.so.1.0|usr/lib/libA.so.1.1"},
		{"libB.so.1|", "incompatible", "library-removed", "usr/lib/libB.so.1|"},
		{"|libC.so.1", "compatible", "library-added", "|usr/lib/libC.so.1"},
		{"|", "compatible", "symbol-added", "usr/lib/plugins/plug.so|usr/lib/plugins/plug.so"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("reports:\n got %v\nwant %v", got, want)
	}
	if a := res.Reports()[0]; !a.TypesChecked || !strings.HasPrefix(a.New.DebugInfo, "usr/lib/debug/.build-id/") {
		t.Errorf("libA: types_checked %v, debug_info %q; want the DWARF of usr/lib/debug", a.TypesChecked, a.New.DebugInfo)
	}
	if res.Verdict() != compat.Incompatible {
		t.Errorf("overall verdict %s, want incompatible", res.Verdict())
	}

	var b bytes.Buffer
	if err := res.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Schema    int
		Old       struct{ Path string }
		Verdict   string
		Summary   compat.Summary
		Libraries []struct{ Library, Status, Verdict string }
		Changes   []compat.Finding
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	var libs []string
	for _, l := range doc.Libraries {
		libs = append(libs, l.Library+":"+l.Status+":"+l.Verdict)
	}
	wantLibs := []string{"libA.so.1:compared:incompatible", "libB.so.1:removed:incompatible", "libC.so.1:added:compatible", "plug.so:compared:compatible"}
	if doc.Schema != 1 || doc.Old.Path != oldDir || doc.Verdict != "incompatible" || !slices.Equal(libs, wantLibs) {
		t.Errorf("JSON: schema %d old %q verdict %q libraries %v; want 1, %q, incompatible, %v", doc.Schema, doc.Old.Path, doc.Verdict, libs, oldDir, wantLibs)
	}
	if doc.Summary.Break != 2 || len(doc.Changes) != doc.Summary.Break+doc.Summary.Warn+doc.Summary.Info {
		t.Errorf("JSON summary %+v with %d changes", doc.Summary, len(doc.Changes))
	}
	for _, c := range doc.Changes {
		if c.Library == "" {
			t.Errorf("change %s without its library", c.Rule)
		}
	}
}

// TestCheckPackagesDebs builds the two trees into .deb files, compressed
// each way dpkg-deb can (xz, zstd, gzip, none), and checks that they give the report of the
// directories; the debug files come from separate -dbgsym packages.
func TestCheckPackagesDebs(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb not installed: cannot build test packages")
	}
	oldDir, newDir := packagePair(t)
	want, err := compat.CheckPackages(oldDir, newDir, compat.PackageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// deb moves a tree's usr/lib/debug into a -dbgsym package and builds
	// both.
	compression := map[string]string{"libold": "xz", "libold-dbgsym": "zstd", "libnew": "gzip", "libnew-dbgsym": "none"}
	deb := func(tree, name string) (pkg, dbg string) {
		dbgTree := filepath.Join(dir, name+"-dbgsym")
		if err := os.MkdirAll(filepath.Join(dbgTree, "usr/lib"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(tree, "usr/lib/debug"), filepath.Join(dbgTree, "usr/lib/debug")); err != nil {
			t.Fatal(err)
		}
		for _, p := range []struct{ tree, name string }{{tree, name}, {dbgTree, name + "-dbgsym"}} {
			os.MkdirAll(filepath.Join(p.tree, "DEBIAN"), 0o755)
			control := "Package: " + p.name + "\nVersion: 1.0\nArchitecture: amd64\nMaintainer: t <t@example.org>\nDescription: test\n"
			if err := os.WriteFile(filepath.Join(p.tree, "DEBIAN/control"), []byte(control), 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, name, p.name+"_1.0_amd64.deb") // one directory per side
			os.MkdirAll(filepath.Dir(out), 0o755)
			if b, err := exec.Command("dpkg-deb", "--root-owner-group", "-Z"+compression[p.name], "--build", p.tree, out).CombinedOutput(); err != nil {
				t.Fatalf("dpkg-deb: %v\n%s", err, b)
			}
			if p.tree == tree {
				pkg = out
			} else {
				dbg = out
			}
		}
		return pkg, dbg
	}
	oldDeb, oldDbg := deb(oldDir, "libold")
	newDeb, newDbg := deb(newDir, "libnew")
	for _, tt := range []struct {
		name     string
		old, new string
		opts     compat.PackageOptions
		debug    bool
	}{
		{"with debug packages", oldDeb, newDeb, compat.PackageOptions{OldDebugPackages: []string{oldDbg}, NewDebugPackages: []string{newDbg}}, true},
		{"without", oldDeb, newDeb, compat.PackageOptions{}, false},
		// Directories holding the packages: the -dbgsym ones are found.
		{"directories of packages", filepath.Dir(oldDeb), filepath.Dir(newDeb), compat.PackageOptions{}, true},
	} {
		got, err := compat.CheckPackages(tt.old, tt.new, tt.opts)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if len(got.Reports()) != len(want.Reports()) {
			t.Fatalf("%s: %d reports, want %d", tt.name, len(got.Reports()), len(want.Reports()))
		}
		a := got.Reports()[0]
		if !tt.debug {
			if a.TypesChecked || slices.ContainsFunc(slices.Collect(a.Findings()), func(f compat.Finding) bool { return f.Rule == "param-type-changed" }) {
				t.Errorf("%s: libA types checked without the debug packages", tt.name)
			}
			continue
		}
		for i, r := range got.Reports() {
			w := want.Reports()[i]
			if r.Verdict != w.Verdict || r.Len() != w.Len() || r.Old.Path != w.Old.Path || r.New.Path != w.New.Path {
				t.Errorf("%s: library %d: %s %d findings %s→%s; directories gave %s %d %s→%s", tt.name, i,
					r.Verdict, r.Len(), r.Old.Path, r.New.Path, w.Verdict, w.Len(), w.Old.Path, w.New.Path)
			}
		}
	}
}

// develPair builds, for each side, a runtime package tree (the library)
// and a development package tree (its public header) of a library whose
// state struct, declared opaque in the public header and defined in a
// private one, grows: a change no client can see.
func develPair(t *testing.T) (trees map[string]string) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	dir := t.TempDir()
	trees = make(map[string]string)
	pub := "struct state;\nstruct state *p_new(void);\nint p_get(struct state *s);\n"
	for _, side := range []struct{ name, extra string }{{"old", ""}, {"new", "\tlong added;\n"}} {
		src := filepath.Join(dir, side.name+"-src")
		os.MkdirAll(src, 0o755)
		files := map[string]string{
			"pub.h":      pub,
			"internal.h": "struct state {\n\tint a;\n" + side.extra + "};\n",
			"p.c": "#include <stdlib.h>\n#include \"pub.h\"\n#include \"internal.h\"\n" +
				"struct state *p_new(void) { return calloc(1, sizeof(struct state)); }\n" +
				"int p_get(struct state *s) { return s->a; }\n",
		}
		for name, text := range files {
			if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		runtime, devel := filepath.Join(dir, "libp1-"+side.name), filepath.Join(dir, "libp-dev-"+side.name)
		so := filepath.Join(runtime, "usr/lib/libp.so.1")
		os.MkdirAll(filepath.Dir(so), 0o755)
		os.MkdirAll(filepath.Join(devel, "usr/include/p"), 0o755)
		if out, err := exec.Command("gcc", "-g", "-O2", "-shared", "-fPIC", "-Wl,-soname,libp.so.1", "-o", so,
			filepath.Join(src, "p.c")).CombinedOutput(); err != nil {
			t.Fatalf("gcc: %v\n%s", err, out)
		}
		if err := os.WriteFile(filepath.Join(devel, "usr/include/p/pub.h"), []byte(pub), 0o644); err != nil {
			t.Fatal(err)
		}
		trees[side.name], trees[side.name+"-dev"] = runtime, devel
	}
	return trees
}

// TestCheckPackagesDevel checks packages with their development packages,
// as abipkgdiff --devel-pkg1/2 does: the headers in their usr/include say
// which types are public, so a change in a struct the public header only
// declares is private (info, compatible) — and without them it is not.
func TestCheckPackagesDevel(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb not installed: cannot build test packages")
	}
	trees := develPair(t)
	dir := t.TempDir()
	debs := make(map[string]string)
	for _, name := range []string{"old", "old-dev", "new", "new-dev"} {
		pkg := map[string]string{"old": "libp1", "old-dev": "libp-dev", "new": "libp1", "new-dev": "libp-dev"}[name]
		side, _, _ := strings.Cut(name, "-")
		tree := trees[name]
		os.MkdirAll(filepath.Join(tree, "DEBIAN"), 0o755)
		control := "Package: " + pkg + "\nVersion: 1.0\nArchitecture: amd64\nMaintainer: t <t@example.org>\nDescription: test\n"
		if err := os.WriteFile(filepath.Join(tree, "DEBIAN/control"), []byte(control), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, side, pkg+"_1.0_amd64.deb")
		os.MkdirAll(filepath.Dir(out), 0o755)
		if b, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", tree, out).CombinedOutput(); err != nil {
			t.Fatalf("dpkg-deb: %v\n%s", err, b)
		}
		debs[name] = out
	}
	for _, tt := range []struct {
		name     string
		old, new string
		opts     compat.PackageOptions
		public   bool // the headers were found: struct state is private
	}{
		{"devel packages given", debs["old"], debs["new"],
			compat.PackageOptions{OldDevelPackages: []string{debs["old-dev"]}, NewDevelPackages: []string{debs["new-dev"]}}, true},
		{"devel trees given", debs["old"], debs["new"],
			compat.PackageOptions{OldDevelPackages: []string{trees["old-dev"]}, NewDevelPackages: []string{trees["new-dev"]}}, true},
		{"directories holding the -dev packages", filepath.Join(dir, "old"), filepath.Join(dir, "new"), compat.PackageOptions{}, true},
		{"without", debs["old"], debs["new"], compat.PackageOptions{}, false},
	} {
		res, err := compat.CheckPackages(tt.old, tt.new, tt.opts)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if len(res.Reports()) != 1 {
			t.Fatalf("%s: %d reports, want 1 (libp.so.1)", tt.name, len(res.Reports()))
		}
		r := res.Reports()[0]
		t.Logf("%s: verdict %s, headers %q", tt.name, r.Verdict, r.Old.Headers)
		var rules []string
		for f := range r.Findings() {
			if f.Type == "struct state" {
				rules = append(rules, f.Rule)
			}
		}
		if len(rules) == 0 {
			t.Fatalf("%s: no finding on struct state: the test cannot tell", tt.name)
		}
		private := !slices.ContainsFunc(rules, func(r string) bool { return !strings.HasPrefix(r, "private-") })
		switch {
		case tt.public && (!private || r.Verdict != compat.Compatible):
			t.Errorf("%s: struct state findings %v, verdict %s; want private-* only, compatible", tt.name, rules, r.Verdict)
		case tt.public && (!strings.HasPrefix(r.Old.Headers, "--devel-package1 libp-dev") || !strings.HasPrefix(r.New.Headers, "--devel-package2 libp-dev")):
			t.Errorf("%s: headers %q and %q; want them named by their development package", tt.name, r.Old.Headers, r.New.Headers)
		case !tt.public && private:
			t.Errorf("%s: struct state findings %v private without the public headers", tt.name, rules)
		}
	}
}
