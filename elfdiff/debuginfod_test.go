package elfdiff

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/compatgate/compatgate/elfdiff/debuginfod"
	"github.com/compatgate/compatgate/elfdiff/debuginfod/debuginfodtest"
)

// TestDebuginfod checks a stripped, dwz'd pair whose debug files and dwz
// common files only a real debuginfod server has: the changes are exactly
// those of the unstripped pair without dwz, fetched, and then read from
// the cache with the server stopped.
func TestDebuginfod(t *testing.T) {
	debuginfodtest.Need(t, "gcc", "dwz", "objcopy", "debuginfod")
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	buildDistroLibs(t, distroLibs["c"], plain, "-gdwarf-5")
	want := diffLines(t, filepath.Join(plain, "v1", "libA.so"), filepath.Join(plain, "v2", "libA.so"))

	srv := filepath.Join(dir, "server")
	var libs [2]string
	var ids []string
	for i, v := range []string{"v1", "v2"} {
		libDir := filepath.Join(dir, "stripped", v)
		if err := os.MkdirAll(libDir, 0o755); err != nil {
			t.Fatal(err)
		}
		copyTree(t, filepath.Join(plain, v), libDir)
		cmd := exec.Command("dwz", "-m", "common.debug", "-M", "/usr/lib/debug/.dwz/compatgate-test/"+v+".debug", "libA.so", "libB.so")
		cmd.Dir = libDir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("dwz: %v\n%s", err, out)
		}
		lib := filepath.Join(libDir, "libA.so")
		dbg := filepath.Join(srv, v, "libA.so.debug")
		if err := os.MkdirAll(filepath.Dir(dbg), 0o755); err != nil {
			t.Fatal(err)
		}
		run(t, "objcopy", "--only-keep-debug", lib, dbg)
		run(t, "objcopy", "--strip-debug", lib)
		moveTo(t, filepath.Join(libDir, "common.debug"), filepath.Join(srv, v, "common.debug"))
		libs[i] = lib
		ids = append(ids, fileBuildID(t, dbg), fileBuildID(t, filepath.Join(srv, v, "common.debug")))
	}
	url, stop := debuginfodtest.Start(t, srv)

	// The server indexes its directory after it starts answering: wait
	// until it has every file, through a client with a cache of its own.
	probe := &debuginfod.Client{URLs: []string{url}, CacheDir: t.TempDir(), Timeout: 10 * time.Second}
	for _, id := range ids {
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			_, err := probe.DebugInfo(context.Background(), id)
			if err == nil {
				break
			}
			if !errors.Is(err, debuginfod.ErrNotFound) || time.Now().After(deadline) {
				t.Fatalf("build-id %s: %v", id, err)
			}
		}
	}

	cache := t.TempDir()
	opts := LoadOptions{Debuginfod: &debuginfod.Client{URLs: []string{url}, CacheDir: cache, Timeout: 10 * time.Second}}
	wantSameChanges(t, "fetched", diffLines(t, libs[0], libs[1], opts), want)
	for _, id := range ids {
		if _, err := os.Stat(filepath.Join(cache, id, "debuginfo")); err != nil {
			t.Errorf("build-id %s not cached: %v", id, err)
		}
	}
	c, err := LoadWith(libs[0], opts)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(c.Notes, "\n"), "debug information fetched from debuginfod") {
		t.Errorf("no note says where the debug information came from: %q", c.Notes)
	}

	stop()
	wantSameChanges(t, "from the cache, server stopped", diffLines(t, libs[0], libs[1], opts), want)
	// Without the server or the cache, there is no debug information.
	opts.Debuginfod.CacheDir = t.TempDir()
	if c, err := LoadWith(libs[0], opts); err != nil || c.Debug != nil {
		t.Errorf("no server, empty cache: debug %v, err %v", c.Debug != nil, err)
	}
}
