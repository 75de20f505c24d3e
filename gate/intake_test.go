package gate

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/compatgate/compatgate/internal/testuser"
	"github.com/compatgate/compatgate/internal/trust"
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
		// A side file created and not written yet (os.WriteFile, cp) is
		// waited for, as a missing one.
		{"checksum being written", func(t *testing.T, d string) {
			put(t, d, content, "")
			writeFile(t, filepath.Join(d, "lib.so.sha256"), "", 0o644)
		}, false, 0, "not ready"},
		{"signature being written", func(t *testing.T, d string) {
			put(t, d, content, sumOf(content))
			writeFile(t, filepath.Join(d, "lib.so.sig"), "", 0o644)
		}, true, 0, "not ready"},
		{"manifest being written", func(t *testing.T, d string) {
			put(t, d, content, sumOf(content))
			writeFile(t, filepath.Join(d, "lib.so.manifest"), "", 0o644)
		}, false, 0, "not ready"},
		{"no file yet", func(t *testing.T, d string) {
			writeFile(t, filepath.Join(d, "lib.so.sha256"), sumOf(content), 0o644)
		}, false, 0, "not ready"},
		{"bad checksum", func(t *testing.T, d string) { put(t, d, content, sumOf([]byte("other"))) }, false, 0, "checksum mismatch"},
		{"garbled checksum", func(t *testing.T, d string) { put(t, d, content, "xyz  lib.so\n") }, false, 0, "holds no SHA-256"},
		{"checksum of another file", func(t *testing.T, d string) {
			put(t, d, content, strings.Replace(sumOf(content), "lib.so", "other.so", 1))
		}, false, 0, "no checksum for lib.so"},
		{"world-writable", func(t *testing.T, d string) {
			put(t, d, content, sumOf(content))
			os.Chmod(filepath.Join(d, "lib.so"), 0o666)
		}, false, 0, "writable by group or others (mode 0666)"},
		{"group-writable", func(t *testing.T, d string) {
			put(t, d, content, sumOf(content))
			os.Chmod(filepath.Join(d, "lib.so"), 0o664)
		}, false, 0, "writable by group or others (mode 0664)"},
		{"group-writable directory", func(t *testing.T, d string) {
			put(t, d, content, sumOf(content))
			os.Chmod(d, 0o775)
		}, false, 0, "writable by group or others (mode 0775)"},
		{"symlink out", func(t *testing.T, d string) {
			os.Symlink(outside, filepath.Join(d, "lib.so"))
			writeFile(t, filepath.Join(d, "lib.so.sha256"), sumOf(content), 0o644)
		}, false, 0, "lib.so is a symbolic link"},
		{"symlink inside", func(t *testing.T, d string) {
			writeFile(t, filepath.Join(d, "real.so.data"), string(content), 0o644)
			os.Symlink("real.so.data", filepath.Join(d, "lib.so"))
			writeFile(t, filepath.Join(d, "lib.so.sha256"), sumOf(content), 0o644)
		}, false, 0, "lib.so is a symbolic link"},
		{"checksum a symlink to a secret", func(t *testing.T, d string) {
			put(t, d, content, "")
			writeFile(t, filepath.Join(d, "secret"), "SECRET-CONTENT  lib.so\n", 0o600)
			os.Symlink(filepath.Join(d, "secret"), filepath.Join(d, "lib.so.sha256"))
		}, false, 0, "lib.so.sha256 is a symbolic link"},
		{"checksum garbled with a secret", func(t *testing.T, d string) {
			put(t, d, content, "SECRET-CONTENT  lib.so\n")
		}, false, 0, "holds no SHA-256"},
		{"FIFO", func(t *testing.T, d string) {
			writeFile(t, filepath.Join(d, "lib.so.sha256"), sumOf(content), 0o644)
			if err := syscall.Mkfifo(filepath.Join(d, "lib.so"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, false, 0, "not a regular file"},
		{"FIFO checksum", func(t *testing.T, d string) {
			put(t, d, content, "")
			if err := syscall.Mkfifo(filepath.Join(d, "lib.so.sha256"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, false, 0, "not a regular file"},
		{"too big", func(t *testing.T, d string) { put(t, d, content, sumOf(content)) }, false, 4, "over the limit"},
		{"signed", func(t *testing.T, d string) {
			put(t, d, content, sumOf(content))
			writeFile(t, filepath.Join(d, "lib.so.sig"), base64.StdEncoding.EncodeToString(ed25519.Sign(priv, content)), 0o644)
		}, true, 0, ""},
		// A signature may arrive after the checksum: no refusal meanwhile.
		{"signature not yet there", func(t *testing.T, d string) { put(t, d, content, sumOf(content)) }, true, 0, "not ready"},
		{"manifest", func(t *testing.T, d string) { putManifest(t, d, content, "libtest", content, nil, false) }, false, 0, ""},
		{"signed manifest", func(t *testing.T, d string) { putManifest(t, d, content, "libtest", content, priv, false) }, true, 0, ""},
		{"signature of the file, not the manifest", func(t *testing.T, d string) {
			putManifest(t, d, content, "libtest", content, priv, true)
		}, true, 0, "does not verify lib.so.manifest"},
		{"manifest of another library", func(t *testing.T, d string) {
			putManifest(t, d, content, "libother", content, priv, false)
		}, true, 0, `for library "libother", not this subscription's "libtest"`},
		{"manifest of another file", func(t *testing.T, d string) {
			putManifest(t, d, content, "libtest", []byte("other"), nil, false)
		}, false, 0, "lib.so.manifest names SHA-256"},
		{"bad signature", func(t *testing.T, d string) {
			put(t, d, content, sumOf(content))
			writeFile(t, filepath.Join(d, "lib.so.sig"), string(ed25519.Sign(priv, []byte("other"))), 0o644)
		}, true, 0, "bad signature"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			in := Intake{Dir: dir, StageDir: filepath.Join(t.TempDir(), "stage"), MaxSize: tc.maxSize, Library: "libtest"}
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
				if strings.Contains(tc.name, "manifest") && r.Version != "1.2" {
					t.Errorf("version %q, want the manifest's 1.2", r.Version)
				}
			case tc.want == "not ready":
				if !errors.Is(err, ErrNotReady) {
					t.Errorf("got %v, want ErrNotReady", err)
				}
			default:
				if !errors.As(err, &refused) || !strings.Contains(refused.Reason, tc.want) {
					t.Errorf("got %v, want a refusal containing %q", err, tc.want)
				}
				if err != nil && strings.Contains(err.Error(), "SECRET") {
					t.Errorf("the refusal quotes a file's content: %v", err)
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
		{"libfoo.so.1.2.manifest", "libfoo.so.1.2", true},
	}
	for _, tc := range tests {
		got, ok := ReleaseName(tc.file)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ReleaseName(%q) = %q, %v; want %q, %v", tc.file, got, ok, tc.want, tc.ok)
		}
	}
}

// putManifest writes lib.so holding content, its checksum, and a manifest
// of version 1.2 naming lib and the SHA-256 of of; with priv, lib.so.sig
// signs the manifest, or with signFile the file.
func putManifest(t *testing.T, d string, content []byte, lib string, of []byte, priv ed25519.PrivateKey, signFile bool) {
	t.Helper()
	put(t, d, content, sumOf(content))
	m := Manifest{Library: lib, Version: "1.2", SHA256: sha256Hex(of)}.String()
	writeFile(t, filepath.Join(d, "lib.so.manifest"), m, 0o644)
	if priv != nil {
		signed := []byte(m)
		if signFile {
			signed = content
		}
		writeFile(t, filepath.Join(d, "lib.so.sig"), string(ed25519.Sign(priv, signed)), 0o644)
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

// Files and directories an ordinary user owns are refused, unless the
// subscription names the user as the owner it trusts; a FIFO the user
// planted never blocks the intake.
func TestIntakeOwnership(t *testing.T) {
	u := testuser.New(t)
	content := []byte("\x7fELF pretend library")
	for _, tc := range []struct {
		name    string
		setup   func(t *testing.T, d string)
		trusted bool
		want    string
	}{
		{"file of a user", func(t *testing.T, d string) { u.Chown(t, filepath.Join(d, "lib.so")) }, false, "owned by user " + u.Name},
		{"checksum of a user", func(t *testing.T, d string) { u.Chown(t, filepath.Join(d, "lib.so.sha256")) }, false, "owned by user " + u.Name},
		{"directory of a user", func(t *testing.T, d string) { u.Chown(t, d) }, false, "owned by user " + u.Name},
		{"the trusted owner's", func(t *testing.T, d string) {
			u.Chown(t, d)
			u.Chown(t, filepath.Join(d, "lib.so"))
		}, true, ""},
		{"a FIFO the trusted owner made", func(t *testing.T, d string) {
			u.Chown(t, d)
			os.Remove(filepath.Join(d, "lib.so"))
			u.Run(t, "mkfifo "+filepath.Join(d, "lib.so"))
		}, true, "not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			os.Chmod(parent, 0o755)
			os.Chmod(filepath.Dir(parent), 0o755)
			d := filepath.Join(parent, "releases")
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
			put(t, d, content, sumOf(content))
			tc.setup(t, d)
			in := Intake{Dir: d, StageDir: filepath.Join(t.TempDir(), "stage")}
			if tc.trusted {
				p, err := trust.ParseOwner(u.Name)
				if err != nil {
					t.Fatal(err)
				}
				in.Trust = p
			}
			done := make(chan error, 1)
			go func() { _, err := in.Take("lib.so"); done <- err }()
			var err error
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Take blocked")
			}
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Take: %v, want %q", err, tc.want)
			}
		})
	}
}

// Checksum files as sha256sum writes them are read right for names with
// runs of spaces, a leading '*' mode, a newline or a backslash (which GNU
// sha256sum escapes), and for a list of several files.
func TestParseChecksumOfSha256sum(t *testing.T) {
	if _, err := exec.LookPath("sha256sum"); err != nil {
		t.Skip("sha256sum not found")
	}
	dir := t.TempDir()
	names := []string{"lib.so", "lib  two spaces.so", "lib\nnewline.so", `lib\backslash.so`, " lead.so", "trail.so "}
	var all []byte
	for i, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte{byte(i)}, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{}, {"-b"}} {
		cmd := exec.Command("sha256sum", append(args, names...)...)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, out...)
		for i, n := range names {
			got, err := parseChecksum(out, n)
			if want := sha256Hex([]byte{byte(i)}); err != nil || got != want {
				t.Errorf("sha256sum %v: %q: %s %v, want %s", args, n, got, err, want)
			}
		}
	}
	if _, err := parseChecksum(all, "missing.so"); err == nil {
		t.Error("found a checksum for a file not listed")
	}
}

// A publisher (the trusted owner, an ordinary user) who races renames of a
// symbolic link to a root-only file and of a regular file over the checksum
// file never gets that file read: no take succeeds through the link and no
// error quotes its content.
func TestIntakeSymlinkRace(t *testing.T) {
	u := testuser.New(t)
	parent := t.TempDir()
	os.Chmod(parent, 0o755)
	os.Chmod(filepath.Dir(parent), 0o755)
	d := filepath.Join(parent, "releases")
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	u.Chown(t, d)
	secret := filepath.Join(t.TempDir(), "secret")
	writeFile(t, secret, "SECRET-LINE  lib.so\n", 0o600)
	content := []byte("\x7fELF pretend library")
	writeFile(t, filepath.Join(d, "lib.so"), string(content), 0o644)
	u.Chown(t, filepath.Join(d, "lib.so"))
	sum := sumOf(content)
	script := fmt.Sprintf(`cd %s; i=0; while [ $i -lt 300 ]; do ln -sf %s s.tmp; mv -T s.tmp lib.so.sha256; printf '%%s' '%s' > f.tmp; mv -T f.tmp lib.so.sha256; i=$((i+1)); done`,
		d, secret, sum)
	race := u.Command("/bin/sh", "-c", script)
	if err := race.Start(); err != nil {
		t.Fatal(err)
	}
	raceDone := make(chan error, 1)
	go func() { raceDone <- race.Wait() }()
	p, err := trust.ParseOwner(u.Name)
	if err != nil {
		t.Fatal(err)
	}
	in := Intake{Dir: d, StageDir: filepath.Join(t.TempDir(), "stage"), Trust: p}
	takes, links := 0, 0
	for running := true; running; {
		select {
		case err := <-raceDone:
			if err != nil {
				t.Fatalf("the racing publisher failed: %v", err)
			}
			running = false
		default:
		}
		r, err := in.Take("lib.so")
		switch {
		case err == nil:
			takes++
			if r.SHA256 != sha256Hex(content) {
				t.Fatalf("took %s", r.SHA256)
			}
			os.Remove(r.Staged)
		case strings.Contains(err.Error(), "SECRET"):
			t.Fatalf("an error quotes the root-only file: %v", err)
		case strings.Contains(err.Error(), "symbolic link"):
			links++
		}
	}
	t.Logf("%d takes of the real release, %d refusals of the link", takes, links)
}
