package elfdiff

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/compatgate/compatgate/elfdiff/elfsym"
)

// fileBuildID returns the build-id of the ELF file at path.
func fileBuildID(t *testing.T, path string) string {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	id := elfsym.BuildID(f)
	if len(id) < 4 {
		t.Fatalf("%s has no build-id", path)
	}
	return id
}

// moveTo moves the file at src to dst, creating dst's directory.
func moveTo(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(src, dst); err != nil {
		t.Fatal(err)
	}
}

// byBuildID returns where a debug root keeps the file of the given build-id.
func byBuildID(root, id string) string {
	return filepath.Join(root, ".build-id", id[:2], id[2:]+".debug")
}

// TestDebugRootLayouts strips dwz'd libraries and puts their debug files
// and the dwz common file where distributions and GDB put them; each
// layout gives exactly the changes of the unstripped pair without dwz.
// The two versions have their own debug roots (--debug-info-dir1/2).
func TestDebugRootLayouts(t *testing.T) {
	for _, tool := range []string{"dwz", "objcopy"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	buildDistroLibs(t, distroLibs["c"], plain, "-gdwarf-5")
	want := diffLines(t, filepath.Join(plain, "v1", "libA.so"), filepath.Join(plain, "v2", "libA.so"))
	const dwzPath = "/usr/lib/debug/.dwz/compatgate-test/common.debug"
	for _, tc := range []struct {
		name     string
		absolute bool // the altlink names dwzPath, else the common file relative to the debug file
		// place moves the debug file dbg and the common file of the
		// library in libDir, and returns the debug roots to search.
		place func(t *testing.T, libDir, dbg, common string) []string
	}{
		{"build-id, altlink under the root's .dwz", true, func(t *testing.T, libDir, dbg, common string) []string {
			root := filepath.Join(libDir, "root")
			moveTo(t, dbg, byBuildID(root, fileBuildID(t, dbg)))
			moveTo(t, common, filepath.Join(root, ".dwz", "compatgate-test", "common.debug"))
			return []string{root}
		}},
		{"build-id, common file by build-id", true, func(t *testing.T, libDir, dbg, common string) []string {
			root := filepath.Join(libDir, "root")
			moveTo(t, dbg, byBuildID(root, fileBuildID(t, dbg)))
			moveTo(t, common, byBuildID(root, fileBuildID(t, common)))
			return []string{root}
		}},
		{"debuglink in the library's directory", false, func(t *testing.T, libDir, dbg, common string) []string {
			return nil
		}},
		{"debuglink in the library's .debug", false, func(t *testing.T, libDir, dbg, common string) []string {
			moveTo(t, dbg, filepath.Join(libDir, ".debug", filepath.Base(dbg)))
			moveTo(t, common, filepath.Join(libDir, ".debug", filepath.Base(common)))
			return nil
		}},
		{"debuglink under root/<library's directory>", true, func(t *testing.T, libDir, dbg, common string) []string {
			root := filepath.Join(libDir, "root")
			moveTo(t, dbg, filepath.Join(root, libDir, filepath.Base(dbg)))
			moveTo(t, common, filepath.Join(root, ".dwz", "compatgate-test", "common.debug"))
			return []string{root}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			var opts [2]LoadOptions
			var libs [2]string
			for i, v := range []string{"v1", "v2"} {
				libDir := filepath.Join(base, v)
				if err := os.MkdirAll(libDir, 0o755); err != nil {
					t.Fatal(err)
				}
				copyTree(t, filepath.Join(plain, v), libDir)
				args := []string{"-m", "common.debug", "-r"}
				if tc.absolute {
					args = []string{"-m", "common.debug", "-M", dwzPath}
				}
				cmd := exec.Command("dwz", append(args, "libA.so", "libB.so")...)
				cmd.Dir = libDir
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("dwz: %v\n%s", err, out)
				}
				lib := filepath.Join(libDir, "libA.so")
				dbg := lib + ".debug"
				run(t, "objcopy", "--only-keep-debug", lib, dbg)
				cmd = exec.Command("objcopy", "--strip-debug", "--add-gnu-debuglink=libA.so.debug", "libA.so")
				cmd.Dir = libDir
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("objcopy: %v\n%s", err, out)
				}
				opts[i].DebugDirs = tc.place(t, libDir, dbg, filepath.Join(libDir, "common.debug"))
				libs[i] = lib
			}
			got := diffLines(t, libs[0], libs[1], opts[0], opts[1])
			wantSameChanges(t, tc.name, got, want)
		})
	}
}
