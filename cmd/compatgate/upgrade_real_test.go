//go:build linux && amd64

package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/compatgate/compatgate/internal/debian"
)

// realLib is a real library, built from Debian's bookworm (OLD) and
// trixie (NEW) source packages with its upstream build system, with debug
// information (as bench/realworld/run.sh builds them).
type realLib struct {
	src    string   // source package
	file   string   // the library under PREFIX/lib, by its SONAME
	steps  []string // build steps (see debian.BuildUpstream)
	client string   // C client: calls the library in a loop, printing "ok N VERSION" lines
	link   []string // the client's further link flags
}

var (
	realPNG = realLib{src: "libpng1.6", file: "libpng16.so.16",
		steps: []string{
			"test -x configure || autoreconf -fi",
			`./configure --prefix="$PREFIX" --libdir="$PREFIX/lib" --disable-static`,
			"make -j2", "make install"},
		client: pngClient, link: []string{"-lz"}}
	realZlib = realLib{src: "zlib", file: "libz.so.1",
		steps: []string{
			`./configure --prefix="$PREFIX" --libdir="$PREFIX/lib"`,
			"make -j2 shared", "make install"},
		client: zlibClient}
)

// pngClient writes and reads back a small PNG through memory callbacks,
// over and over, and prints the version of the libpng it runs.
const pngClient = `#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
struct mem { unsigned char buf[8192]; size_t n, pos; };
static void put(png_structp p, png_bytep d, size_t n) { struct mem *m = png_get_io_ptr(p); if (m->n + n > sizeof m->buf) png_error(p, "full"); memcpy(m->buf + m->n, d, n); m->n += n; }
static void get(png_structp p, png_bytep d, size_t n) { struct mem *m = png_get_io_ptr(p); if (m->pos + n > m->n) png_error(p, "short"); memcpy(d, m->buf + m->pos, n); m->pos += n; }
static void flush(png_structp p) { (void)p; }
static int once(void) {
	static struct mem m;
	unsigned char row[16 * 3], back[16 * 3];
	for (int i = 0; i < (int)sizeof row; i++) row[i] = (unsigned char)(i * 7);
	m.n = m.pos = 0;
	png_structp w = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop wi = png_create_info_struct(w);
	if (setjmp(png_jmpbuf(w))) return 0;
	png_set_write_fn(w, &m, put, flush);
	png_set_IHDR(w, wi, 16, 4, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(w, wi);
	for (int y = 0; y < 4; y++) png_write_row(w, row);
	png_write_end(w, wi);
	png_destroy_write_struct(&w, &wi);
	png_structp r = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop ri = png_create_info_struct(r);
	if (setjmp(png_jmpbuf(r))) return 0;
	png_set_read_fn(r, &m, get);
	png_read_info(r, ri);
	int ok = png_get_image_width(r, ri) == 16 && png_get_image_height(r, ri) == 4;
	for (int y = 0; y < 4; y++) { png_read_row(r, back, NULL); ok = ok && !memcmp(row, back, sizeof row); }
	png_destroy_read_struct(&r, &ri, NULL);
	return ok;
}
int main(void) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (long n = 1;; n++) {
		printf("%s %ld %s\n", once() ? "ok" : "FAIL", n, png_get_libpng_ver(NULL));
		usleep(20000);
	}
}
`

// zlibClient keeps a deflate stream open across iterations (its state was
// allocated by the zlib that ran first), and prints the version it runs.
const zlibClient = `#include <zlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	z_stream s;
	memset(&s, 0, sizeof s);
	if (deflateInit(&s, 6) != Z_OK) return 1;
	static unsigned char in[4096], out[8192], back[4096];
	for (long n = 1;; n++) {
		for (int i = 0; i < (int)sizeof in; i++) in[i] = (unsigned char)(i * n);
		s.next_in = in; s.avail_in = sizeof in; s.next_out = out; s.avail_out = sizeof out;
		int ok = deflate(&s, Z_SYNC_FLUSH) == Z_OK;
		uLongf m = sizeof out, k = sizeof back;
		ok = ok && compress(out, &m, in, sizeof in) == Z_OK && uncompress(back, &k, out, m) == Z_OK && k == sizeof in && !memcmp(in, back, k);
		printf("%s %ld %s\n", ok ? "ok" : "FAIL", n, zlibVersion());
		usleep(20000);
	}
}
`

// buildReal builds lib from suite and returns its installation prefix.
func buildReal(t *testing.T, lib realLib, suite string) string {
	t.Helper()
	a := debian.ForTest(t)
	for _, tool := range []string{"gcc", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is needed to build %s", tool, lib.src)
		}
	}
	prefix, err := a.BuildUpstream(context.Background(), lib.src+"/"+suite, lib.steps...)
	if err != nil {
		t.Fatal(err)
	}
	return prefix
}

// realClient is a running client of a real library.
type realClient struct {
	pid int
	out string // its standard output
}

// startRealClient installs OLD's library in a directory of its own,
// builds lib's client against it, starts it and waits for its first line.
func startRealClient(t *testing.T, lib realLib, old string) (*realClient, string) {
	t.Helper()
	dir := t.TempDir()
	installed := filepath.Join(dir, lib.file)
	b, err := os.ReadFile(filepath.Join(old, "lib", lib.file))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(installed, b, 0o755); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "client.c")
	if err := os.WriteFile(src, []byte(lib.client), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "client")
	args := append([]string{"-O1", "-I" + filepath.Join(old, "include"), "-o", bin, src, installed, "-Wl,-rpath," + dir}, lib.link...)
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	c := &realClient{out: filepath.Join(dir, "client.out")}
	f, err := os.Create(c.out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(bin)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.pid = cmd.Process.Pid
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	c.waitLine(t, "its first line", func(string) bool { return true })
	return c, installed
}

// lines returns the client's output lines.
func (c *realClient) lines() []string {
	f, err := os.Open(c.out)
	if err != nil {
		return nil
	}
	defer f.Close()
	var ls []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		ls = append(ls, sc.Text())
	}
	return ls
}

// waitLine waits for a line printed after those there now for which ok
// holds, and fails the test on a FAIL line.
func (c *realClient) waitLine(t *testing.T, what string, ok func(string) bool) string {
	t.Helper()
	from := len(c.lines())
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		ls := c.lines()
		for _, l := range ls[min(from, len(ls)):] {
			if strings.HasPrefix(l, "FAIL") {
				t.Fatalf("the client failed: %s", l)
			}
			if ok(l) {
				return l
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; client output ends:\n%s", what, strings.Join(c.lines()[max(0, len(c.lines())-5):], "\n"))
	return ""
}

// requireRoot skips a test that traces processes when not root.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("hot-apply traces processes: run as root")
	}
}

// hotApplyConfig writes a subscription of lib that allows hot-apply.
func hotApplyConfig(t *testing.T, lib string) string {
	t.Helper()
	config := filepath.Join(t.TempDir(), "subscriptions.toml")
	text := "[[library]]\npath = \"" + lib + "\"\nreleases = \"" + t.TempDir() + "\"\nhot_apply = true\n" +
		"[library.followers]\nall = true\n[library.restart]\ncommand = \"true\"\n"
	if err := os.WriteFile(config, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return config
}

// The acceptance of issue 20: libpng 1.6.39 (bookworm) → 1.6.48 (trixie)
// is compatible for clients, but png_struct_def and png_info_def, private
// behind the opaque png_structp and png_infop, changed layout: a process
// running OLD is not hot-applied but queued for a restart, with the rule
// and the types in the reason.
func TestUpgradeRealPrivateLayoutChanged(t *testing.T) {
	requireRoot(t)
	old, new := buildReal(t, realPNG, "bookworm"), buildReal(t, realPNG, "trixie")
	c, lib := startRealClient(t, realPNG, old)
	config := hotApplyConfig(t, lib)
	newLib := filepath.Join(new, "lib", realPNG.file)
	state := "--state-dir=" + t.TempDir()

	code, out, stderr := queueCLI("upgrade", "--dry-run", "--config", config, state, lib, newLib)
	if code != exitOK {
		t.Fatalf("dry run: exit %d: %s\n%s", code, stderr, out)
	}
	for _, want := range []string{"verdict     compatible", "decision    restart",
		"rule        private-layouts-unchanged  fails", "rule        verdict-compatible         holds",
		"private-layouts-unchanged: private type struct png_info_def changed", "private type struct png_struct_def changed (private-type-size-changed)"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run: output lacks %q:\n%s", want, out)
		}
	}

	code, out, stderr = queueCLI("upgrade", "--config", config, state, lib, newLib)
	if code != exitOK {
		t.Fatalf("upgrade: exit %d: %s\n%s", code, stderr, out)
	}
	for _, want := range []string{"decision    restart", "status      queued", "queue entry 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("upgrade: output lacks %q:\n%s", want, out)
		}
	}
	code, out, stderr = queueCLI("queue", "show", state, "1")
	if code != exitOK {
		t.Fatalf("queue show: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"private-layouts-unchanged", "struct png_struct_def", "size of struct png_struct_def changed"} {
		if !strings.Contains(out, want) {
			t.Errorf("the queue entry's reason lacks %q:\n%s", want, out)
		}
	}
	// Not hot-applied: the process still runs 1.6.39, correctly.
	l := c.waitLine(t, "a line after the upgrade", func(string) bool { return true })
	if !strings.HasSuffix(l, " 1.6.39") {
		t.Errorf("after the upgrade the client prints %q, want it still on 1.6.39", l)
	}
}

// zlib 1.2.13 (bookworm) → 1.3.1 (trixie), built with debug information,
// keeps every private layout (struct internal_state behind z_stream.state
// included): the gate hot-applies it into the running client, whose
// stream, created by 1.2.13, keeps working under 1.3.1.
func TestUpgradeRealHotApply(t *testing.T) {
	requireRoot(t)
	old, new := buildReal(t, realZlib, "bookworm"), buildReal(t, realZlib, "trixie")
	c, lib := startRealClient(t, realZlib, old)
	config := hotApplyConfig(t, lib)
	state := "--state-dir=" + t.TempDir()
	code, out, stderr := queueCLI("upgrade", "--config", config, state, lib, filepath.Join(new, "lib", realZlib.file))
	if code != exitOK {
		t.Fatalf("upgrade: exit %d: %s\n%s", code, stderr, out)
	}
	for _, want := range []string{"verdict     compatible", "decision    hot-apply", "rule        private-layouts-unchanged  holds", "status      ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("upgrade: output lacks %q:\n%s", want, out)
		}
	}
	c.waitLine(t, "the client to run zlib 1.3.1", func(l string) bool { return strings.HasSuffix(l, " 1.3.1") })
	c.waitLine(t, "a further good line", func(l string) bool { return strings.HasPrefix(l, "ok ") })
}
