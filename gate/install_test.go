package gate

import (
	"os"
	"path/filepath"
	"testing"
)

func TestInstallKeepsPrevious(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "libx.so")
	write := func(path, s string, mode os.FileMode) {
		if err := os.WriteFile(path, []byte(s), mode); err != nil {
			t.Fatal(err)
		}
	}
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	write(lib, "one", 0o755)
	src := filepath.Join(t.TempDir(), "new")
	for i, content := range []string{"two", "three"} {
		write(src, content, 0o600)
		before := read(lib)
		if err := Install(src, lib); err != nil {
			t.Fatal(err)
		}
		if got := read(lib); got != content {
			t.Errorf("install %d: library holds %q, want %q", i, got, content)
		}
		if got := read(PrevPath(lib)); got != before {
			t.Errorf("install %d: previous holds %q, want %q", i, got, before)
		}
		st, _ := os.Stat(lib)
		if st.Mode().Perm() != 0o755 {
			t.Errorf("install %d: mode %v, want the installed file's 0755", i, st.Mode().Perm())
		}
	}
	// Nothing but the library and its previous build is left behind.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v", names)
	}
	// A missing source changes nothing.
	if err := Install(filepath.Join(dir, "missing"), lib); err == nil {
		t.Error("missing source: no error")
	}
	if got := read(lib); got != "three" {
		t.Errorf("after failed install: %q", got)
	}
}
