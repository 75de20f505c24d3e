//go:build linux

package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestDumpInPlace: -o to a device, a pipe or a symbolic link writes to it,
// never renames a file over it (dump -o /dev/null once replaced the
// device with a regular file).
func TestDumpInPlace(t *testing.T) {
	oldSO, _ := buildCase(t, "sym/function-removed")
	dir := t.TempDir()
	want := filepath.Join(dir, "want.json")
	if code, _, stderr := runCLI("dump", "-o", want, oldSO); code != 0 {
		t.Fatalf("dump: exit %d: %s", code, stderr)
	}
	wantBytes, _ := os.ReadFile(want)

	// A symbolic link: the file it names gets the dump.
	real, link := filepath.Join(dir, "real.json"), filepath.Join(dir, "link.json")
	os.WriteFile(real, []byte("old"), 0o644)
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI("dump", "-o", link, oldSO); code != 0 {
		t.Fatalf("dump -o link: exit %d: %s", code, stderr)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v %v", fi.Mode(), err)
	}
	if b, _ := os.ReadFile(real); !bytes.Equal(b, wantBytes) {
		t.Errorf("the file the link names does not hold the dump")
	}

	// A named pipe: a reader gets the dump, the pipe stays a pipe.
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- nil
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		got <- b
	}()
	if code, _, stderr := runCLI("dump", "-o", fifo, oldSO); code != 0 {
		t.Fatalf("dump -o fifo: exit %d: %s", code, stderr)
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		// Its reader waits for a writer that never comes: end here.
		t.Fatalf("the pipe was replaced: %v %v", fi.Mode(), err)
	}
	if b := <-got; !bytes.Equal(b, wantBytes) {
		t.Errorf("the pipe's reader got %d bytes, want the dump's %d", len(b), len(wantBytes))
	}
}
