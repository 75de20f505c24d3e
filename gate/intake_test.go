package gate

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIntake(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	content := []byte("\x7fELF pretend library")
	outside := filepath.Join(t.TempDir(), "outside.so")
	if err := os.WriteFile(outside, content, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string) // writes lib.so and friends
		key     bool
		maxSize int64
		want    string // "" ok, "not ready", or a substring of the refusal
	}{
		{"good", func(t *testing.T, d string) { put(t, d, content, sumOf(content)) }, false, 0, ""},
		{"bare checksum", func(t *testing.T, d string) {
			put(t, d, content, strings.Fields(sumOf(content))[0]+"\n")
		}, false, 0, ""},
		{"no checksum yet", func(t *testing.T, d string) { put(t, d, content, "") }, false, 0, "not ready"},
		{"no file yet", func(t *testing.T, d string) {
			writeFile(t, filepath.Join(d, "lib.so.sha256"), sumOf(content), 0o644)
		}, false, 0, "not ready"},
		{"bad checksum", func(t *testing.T, d string) { put(t, d, content, sumOf([]byte("other"))) }, false, 0, "checksum mismatch"},
		{"garbled checksum", func(t *testing.T, d string) { put(t, d, content, "xyz  lib.so\n") }, false, 0, "not a SHA-256"},
		{"checksum of another file", func(t *testing.T, d string) {
			put(t, d, content, strings.Replace(sumOf(content), "lib.so", "other.so", 1))
		}, false, 0, "no checksum for lib.so"},
		{"world-writable", func(t *testing.T, d string) {
			put(t, d, content, sumOf(content))
			os.Chmod(filepath.Join(d, "lib.so"), 0o666)
		}, false, 0, "world-writable"},
		{"symlink out", func(t *testing.T, d string) {
			os.Symlink(outside, filepath.Join(d, "lib.so"))
			writeFile(t, filepath.Join(d, "lib.so.sha256"), sumOf(content), 0o644)
		}, false, 0, "leading out of the release directory"},
		{"symlink inside", func(t *testing.T, d string) {
			writeFile(t, filepath.Join(d, "real.so.data"), string(content), 0o644)
			os.Symlink("real.so.data", filepath.Join(d, "lib.so"))
			writeFile(t, filepath.Join(d, "lib.so.sha256"), sumOf(content), 0o644)
		}, false, 0, ""},
		{"too big", func(t *testing.T, d string) { put(t, d, content, sumOf(content)) }, false, 4, "over the limit"},
		{"signed", func(t *testing.T, d string) {
			put(t, d, content, sumOf(content))
			writeFile(t, filepath.Join(d, "lib.so.sig"), base64.StdEncoding.EncodeToString(ed25519.Sign(priv, content)), 0o644)
		}, true, 0, ""},
		{"unsigned", func(t *testing.T, d string) { put(t, d, content, sumOf(content)) }, true, 0, "unsigned"},
		{"bad signature", func(t *testing.T, d string) {
			put(t, d, content, sumOf(content))
			writeFile(t, filepath.Join(d, "lib.so.sig"), string(ed25519.Sign(priv, []byte("other"))), 0o644)
		}, true, 0, "bad signature"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			in := Intake{Dir: dir, StageDir: filepath.Join(t.TempDir(), "stage"), MaxSize: tc.maxSize}
			if tc.key {
				in.PublicKey = pub
			}
			r, err := in.Take("lib.so")
			var refused *RefusedError
			switch {
			case tc.want == "":
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				b, err := os.ReadFile(r.Staged)
				if err != nil || string(b) != string(content) {
					t.Errorf("staged copy %s: %q, %v", r.Staged, b, err)
				}
				if r.Signed != tc.key {
					t.Errorf("signed = %v", r.Signed)
				}
			case tc.want == "not ready":
				if !errors.Is(err, ErrNotReady) {
					t.Errorf("got %v, want ErrNotReady", err)
				}
			default:
				if !errors.As(err, &refused) || !strings.Contains(refused.Reason, tc.want) {
					t.Errorf("got %v, want a refusal containing %q", err, tc.want)
				}
			}
			if tc.want != "" {
				// Nothing is left staged by a refusal.
				ents, _ := os.ReadDir(in.StageDir)
				if len(ents) != 0 {
					t.Errorf("stage directory holds %d file(s) after a refusal", len(ents))
				}
			}
		})
	}
}

func TestReleaseName(t *testing.T) {
	tests := []struct {
		file string
		want string
		ok   bool
	}{
		{"libfoo.so.1.2", "libfoo.so.1.2", true},
		{"libfoo.so.1.2.sha256", "libfoo.so.1.2", true},
		{"libfoo.so.1.2.sig", "libfoo.so.1.2", true},
		{".libfoo.so.swp", "", false},
		{"libfoo.so.part", "", false},
		{".sha256", "", false},
	}
	for _, tc := range tests {
		got, ok := ReleaseName(tc.file)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ReleaseName(%q) = %q, %v; want %q, %v", tc.file, got, ok, tc.want, tc.ok)
		}
	}
}

func sumOf(b []byte) string {
	h := sha256Hex(b)
	return h + "  lib.so\n"
}

// put writes lib.so and, unless sum is empty, lib.so.sha256.
func put(t *testing.T, dir string, content []byte, sum string) {
	writeFile(t, filepath.Join(dir, "lib.so"), string(content), 0o644)
	if sum != "" {
		writeFile(t, filepath.Join(dir, "lib.so.sha256"), sum, 0o644)
	}
}

func writeFile(t *testing.T, path, s string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
