//go:build linux

package debian

import (
	"context"
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExtractBothSuites(t *testing.T) {
	a := ForTest(t)
	ctx := context.Background()
	for _, suite := range Suites {
		t.Run(suite, func(t *testing.T) {
			dir, err := a.Extract(ctx, "zlib1g/"+suite)
			if err != nil {
				t.Fatal(err)
			}
			// bookworm's zlib1g is not usr-merged: /lib, not /usr/lib.
			libs, _ := filepath.Glob(filepath.Join(dir, "*/x86_64-linux-gnu/libz.so.1.*"))
			more, _ := filepath.Glob(filepath.Join(dir, "usr/lib/x86_64-linux-gnu/libz.so.1.*"))
			libs = append(libs, more...)
			if len(libs) != 1 {
				t.Fatalf("%s: found %v, want one libz.so.1.*", dir, libs)
			}
			f, err := elf.Open(libs[0])
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if soname, _ := f.DynString(elf.DT_SONAME); len(soname) != 1 || soname[0] != "libz.so.1" {
				t.Errorf("%s: SONAME %v, want libz.so.1", libs[0], soname)
			}
			again, err := a.Extract(ctx, "zlib1g/"+suite)
			if err != nil || again != dir {
				t.Errorf("second Extract = %q, %v; want the cached %q", again, err, dir)
			}
		})
	}
}

func TestSource(t *testing.T) {
	a := ForTest(t)
	tree, err := a.Source(context.Background(), "zlib/bookworm")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(tree, "zlib.h"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "#define ZLIB_VERSION \"1.2.13") {
		t.Errorf("%s/zlib.h is not zlib 1.2.13", tree)
	}
}

func TestBadSpec(t *testing.T) {
	a := &Archive{Dir: t.TempDir()}
	for _, spec := range []string{"", "-o Foo", "zlib1g; rm", "a b"} {
		if _, err := a.Download(context.Background(), spec); err == nil {
			t.Errorf("Download(%q) succeeded", spec)
		}
	}
}

// TestFillOnce: a finished fill is kept, a fill that failed is started
// again from an empty directory.
func TestFillOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	calls := 0
	fill := func(fail bool) func() error {
		return func() error {
			calls++
			if _, err := os.Stat(filepath.Join(dir, "partial")); err == nil {
				t.Errorf("fill %d found the failed fill's file", calls)
			}
			if err := os.WriteFile(filepath.Join(dir, "partial"), nil, 0o644); err != nil {
				return err
			}
			if fail {
				return os.ErrDeadlineExceeded
			}
			return nil
		}
	}
	if err := fillOnce(dir, fill(true)); err == nil {
		t.Fatal("the failing fill gave no error")
	}
	if err := fillOnce(dir, fill(false)); err != nil {
		t.Fatal(err)
	}
	if err := fillOnce(dir, fill(false)); err != nil {
		t.Fatal(err)
	}
	if calls != 2 {
		t.Errorf("fill ran %d times, want 2 (failed, then done once)", calls)
	}
}
