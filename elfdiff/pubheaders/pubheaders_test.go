package pubheaders

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// layout writes files (path → content) under dir.
func layout(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDiscover(t *testing.T) {
	for _, tc := range []struct {
		name   string
		files  map[string]string
		lib    string
		want   []string // base names of the headers found; nil for none
		origin string   // a part of the origin
	}{
		{
			name: "pkg-config Cflags directory",
			files: map[string]string{
				"lib/pkgconfig/libpng16.pc": "prefix=${pcfiledir}/../..\nincludedir=${prefix}/include\n" +
					"Name: libpng\nLibs: -L${prefix}/lib -lpng16\nCflags: -I${includedir}/libpng16\n",
				"lib/libpng16.so.16.39.0":    "",
				"include/libpng16/png.h":     "",
				"include/libpng16/pngconf.h": "",
				"include/other/unrelated.h":  "",
				"lib/pkgconfig/unrelated.pc": "Libs: -lother\nCflags: -I${pcfiledir}/../../include/other\n",
			},
			lib:    "lib/libpng16.so.16.39.0",
			want:   []string{"png.h", "pngconf.h"},
			origin: "libpng16.pc",
		},
		{
			name: "pkg-config includedir",
			files: map[string]string{
				"lib/pkgconfig/libzstd.pc": "prefix=" + "@DIR@" + "\nincludedir=${prefix}/include\nLibs: -L${prefix}/lib -lzstd\nCflags: -I${includedir}\n",
				"lib/libzstd.so.1.5.4":     "",
				"include/zstd.h":           "",
			},
			lib:    "lib/libzstd.so.1.5.4",
			want:   []string{"zstd.h"},
			origin: "libzstd.pc",
		},
		{
			name: "PREFIX/include beside PREFIX/lib",
			files: map[string]string{
				"lib/libz.so.1.2.13": "",
				"include/zlib.h":     "",
				"include/zconf.h":    "",
			},
			lib:    "lib/libz.so.1.2.13",
			want:   []string{"zconf.h", "zlib.h"},
			origin: "PREFIX/include",
		},
		{
			name:  "nothing beside the library",
			files: map[string]string{"lib/libz.so.1.2.13": ""},
			lib:   "lib/libz.so.1.2.13",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for k, v := range tc.files {
				tc.files[k] = strings.ReplaceAll(v, "@DIR@", dir)
			}
			layout(t, dir, tc.files)
			s := Discover(filepath.Join(dir, tc.lib))
			if tc.want == nil {
				if s != nil {
					t.Fatalf("found %v from %s, want none", s.Files, s.Origin)
				}
				return
			}
			if s == nil {
				t.Fatal("found no headers")
			}
			var got []string
			for _, f := range s.Files {
				got = append(got, filepath.Base(f))
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("found %v, want %v", got, tc.want)
			}
			if !strings.Contains(s.Origin, tc.origin) {
				t.Errorf("origin %q does not name %q", s.Origin, tc.origin)
			}
			for _, w := range tc.want {
				if !s.Has("/build/src/" + w) {
					t.Errorf("Has(/build/src/%s) = false", w)
				}
			}
			if s.Has("/build/src/private.h") {
				t.Errorf("Has(private.h) = true")
			}
		})
	}
}

func TestFromFlags(t *testing.T) {
	dir := t.TempDir()
	layout(t, dir, map[string]string{"inc/a.h": "int compress(const char *in);", "inc/sub/b.h": "#define F(x) x##_8", "c.h": ""})
	s, err := FromFlags([]string{filepath.Join(dir, "inc")}, []string{filepath.Join(dir, "c.h")}, "flags")
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 3 || !s.Has("x/a.h") || !s.Has("b.h") || !s.Has("c.h") {
		t.Errorf("got %v", s.Files)
	}
	for name, want := range map[string]bool{"compress": true, "in": true, "F": true, "MemCopy": false, "compres": false} {
		if got := s.Mentions(name); got != want {
			t.Errorf("Mentions(%q) = %v, want %v", name, got, want)
		}
	}
	if s, err := FromFlags(nil, nil, "none"); s != nil || err != nil {
		t.Errorf("no flags: got %v, %v; want nil, nil", s, err)
	}
	for _, bad := range [][2][]string{
		{{filepath.Join(dir, "missing")}, nil},
		{nil, {filepath.Join(dir, "missing.h")}},
		{nil, {filepath.Join(dir, "inc")}},
	} {
		if _, err := FromFlags(bad[0], bad[1], "bad"); err == nil {
			t.Errorf("FromFlags(%v, %v) succeeded", bad[0], bad[1])
		}
	}
}

func TestDefines(t *testing.T) {
	dir := t.TempDir()
	layout(t, dir, map[string]string{"inc/a.h": `
typedef struct png_struct_def png_struct;
struct sqlite3_module {
	int iVersion;
};
typedef struct { int x; } point_t;
namespace ns { class Widget : public Base { int w; }; }
enum mode : int { A };
struct fwd;
int f(struct fwd *p);
`})
	s, err := FromFlags([]string{filepath.Join(dir, "inc")}, nil, "flags")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{
		"sqlite3_module": true, "point_t": true, "Widget": true, "mode": true,
		"png_struct_def": false, "png_struct": false, "fwd": false,
	} {
		if got := s.Defines(name); got != want {
			t.Errorf("Defines(%q) = %v, want %v", name, got, want)
		}
	}
}
