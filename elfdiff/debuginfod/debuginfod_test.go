package debuginfod

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/compatgate/compatgate/elfdiff/debuginfod/debuginfodtest"
)

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// buildSplit compiles a small library with gcc -g and moves its DWARF into
// DIR/NAME.debug; it returns the library's path and build-id.
func buildSplit(t *testing.T, dir, name, body string) (lib, id string) {
	t.Helper()
	src := filepath.Join(t.TempDir(), name+".c")
	if err := os.WriteFile(src, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	lib = filepath.Join(t.TempDir(), name+".so")
	run(t, "gcc", "-g", "-O2", "-shared", "-fPIC", "-Wl,--build-id", "-o", lib, src)
	run(t, "objcopy", "--only-keep-debug", lib, filepath.Join(dir, name+".debug"))
	run(t, "objcopy", "--strip-debug", lib)
	id, err := fileBuildID(lib)
	if err != nil {
		t.Fatal(err)
	}
	return lib, id
}

func TestRealServer(t *testing.T) {
	debuginfodtest.Need(t, "gcc", "objcopy", "debuginfod")
	srv := t.TempDir()
	_, idA := buildSplit(t, srv, "liba", "int a(int x) { return x + 1; }\n")
	_, idB := buildSplit(t, srv, "libb", "struct s { int x; long y; };\nlong b(struct s *p) { return p->x + p->y; }\n")
	url, stop := debuginfodtest.Start(t, srv)
	c := &Client{URLs: []string{url}, CacheDir: t.TempDir(), Timeout: 10 * time.Second}
	ctx := context.Background()

	for name, id := range map[string]string{"liba": idA, "libb": idB} {
		// The server indexes its directory after it starts answering: wait
		// for the scan to reach the file rather than assume when it does.
		var path string
		var err error
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			path, err = c.DebugInfo(ctx, id)
			if !errors.Is(err, ErrNotFound) || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := filepath.Join(c.CacheDir, id, "debuginfo"); path != want {
			t.Errorf("%s: cached at %s, want %s", name, path, want)
		}
		got, _ := os.ReadFile(path)
		want, _ := os.ReadFile(filepath.Join(srv, name+".debug"))
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the fetched file differs from the server's (%d bytes, want %d)", name, len(got), len(want))
		}
	}

	// The second run reads the cache: it works with the server gone.
	stop()
	path, err := c.DebugInfo(ctx, idA)
	if err != nil {
		t.Fatalf("from the cache: %v", err)
	}
	if path != filepath.Join(c.CacheDir, idA, "debuginfo") {
		t.Errorf("from the cache: %s", path)
	}
	// An unknown build-id, with the server gone, is an error, not a file.
	if _, err := c.DebugInfo(ctx, "00112233445566778899aabbccddeeff00112233"); err == nil {
		t.Error("an unknown build-id with no server: no error")
	}
}

func TestNotFound(t *testing.T) {
	debuginfodtest.Need(t, "gcc", "objcopy", "debuginfod")
	url, _ := debuginfodtest.Start(t, t.TempDir())
	c := &Client{URLs: []string{url}, CacheDir: t.TempDir()}
	_, err := c.DebugInfo(context.Background(), "00112233445566778899aabbccddeeff00112233")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown build-id: %v, want ErrNotFound", err)
	}
}

// A server that answers with another build's file is not believed.
func TestWrongBuildID(t *testing.T) {
	debuginfodtest.Need(t, "gcc", "objcopy")
	dir := t.TempDir()
	_, idA := buildSplit(t, dir, "liba", "int a(int x) { return x + 1; }\n")
	_, idB := buildSplit(t, dir, "libb", "int b(int x) { return x + 2; }\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(dir, "libb.debug"))
	}))
	defer srv.Close()
	c := &Client{URLs: []string{srv.URL}, CacheDir: t.TempDir()}
	if _, err := c.DebugInfo(context.Background(), idA); err == nil {
		t.Fatal("a file with another build-id was admitted")
	}
	if _, err := os.Stat(filepath.Join(c.CacheDir, idA, "debuginfo")); err == nil {
		t.Error("a file with another build-id was cached")
	}
	if _, err := c.DebugInfo(context.Background(), idB); err != nil {
		t.Errorf("the right build-id: %v", err)
	}
}

func TestBadBuildID(t *testing.T) {
	c := &Client{URLs: []string{"http://127.0.0.1:1"}, CacheDir: t.TempDir()}
	for _, id := range []string{"", "../../etc/passwd", "xyz", "ab/cd"} {
		if _, err := c.DebugInfo(context.Background(), id); err == nil {
			t.Errorf("DebugInfo(%q): no error", id)
		}
	}
}

func TestFromEnv(t *testing.T) {
	tests := []struct {
		env     map[string]string
		ok      bool
		urls    []string
		cache   string
		timeout time.Duration
	}{
		{env: map[string]string{"DEBUGINFOD_URLS": ""}, ok: false},
		{env: map[string]string{"DEBUGINFOD_URLS": "http://a http://b/", "DEBUGINFOD_CACHE_PATH": "/c", "DEBUGINFOD_TIMEOUT": "5"},
			ok: true, urls: []string{"http://a", "http://b/"}, cache: "/c", timeout: 5 * time.Second},
		{env: map[string]string{"DEBUGINFOD_URLS": "http://a", "DEBUGINFOD_CACHE_PATH": "", "XDG_CACHE_HOME": "/x", "DEBUGINFOD_TIMEOUT": "junk"},
			ok: true, urls: []string{"http://a"}, cache: "/x/debuginfod_client", timeout: DefaultTimeout},
		{env: map[string]string{"DEBUGINFOD_URLS": "http://a", "DEBUGINFOD_CACHE_PATH": "", "XDG_CACHE_HOME": "", "HOME": "/h", "DEBUGINFOD_TIMEOUT": ""},
			ok: true, urls: []string{"http://a"}, cache: "/h/.cache/debuginfod_client", timeout: DefaultTimeout},
	}
	for _, tt := range tests {
		for k, v := range tt.env {
			t.Setenv(k, v)
		}
		c, ok := FromEnv()
		if ok != tt.ok {
			t.Errorf("%v: ok %v, want %v", tt.env, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		if fmt.Sprint(c.URLs) != fmt.Sprint(tt.urls) || c.CacheDir != tt.cache || c.Timeout != tt.timeout {
			t.Errorf("%v: got %+v", tt.env, *c)
		}
	}
}

// TestDebugInfoRefusesNonBuildIDs asks for names that are not build-ids:
// no server is asked, and the error names the value.
func TestDebugInfoRefusesNonBuildIDs(t *testing.T) {
	c := &Client{CacheDir: t.TempDir()}
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"ab", true}, {"0123456789abcdef", true}, {"ABCDEF", true}, {strings.Repeat("a", 128), true},
		{"", false}, {"a", false}, {"abg0", false}, {"../etc", false}, {"ab cd", false},
		{strings.Repeat("a", 129), false},
	} {
		if got := isBuildID(strings.ToLower(tc.id)); got != tc.ok {
			t.Errorf("isBuildID(%q) = %v, want %v", tc.id, got, tc.ok)
		}
		if tc.ok {
			continue
		}
		if _, err := c.DebugInfo(context.Background(), tc.id); err == nil || !strings.Contains(err.Error(), "not a build-id") {
			t.Errorf("DebugInfo(%q): error %v, want not a build-id", tc.id, err)
		}
	}
}
