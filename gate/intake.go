package gate

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Intake admits releases from a release directory into the state
// directory. It is a security boundary: a release file NAME is taken only
//
//   - when NAME.sha256 (sha256sum format) is beside it and the SHA-256 of
//     the copy taken matches;
//   - when a public key is configured, with NAME.sig, an ed25519 signature
//     (raw 64 bytes, or base64) of the file by that key;
//   - when it is a regular file, not world-writable, not over MaxSize,
//     and, if NAME is a symbolic link, its target is inside the directory.
//
// The file is copied into StageDir, fsync'd, and the copy is hashed and
// verified: what is installed is exactly what was verified, however the
// file in the release directory changes meanwhile, and nothing half-copied
// is ever used.
type Intake struct {
	Dir       string            // the release directory
	StageDir  string            // where verified copies go
	MaxSize   int64             // DefaultMaxSize when zero
	PublicKey ed25519.PublicKey // nil: no signature required
}

// Release is an admitted release.
type Release struct {
	Name   string `json:"name"`   // file name in the release directory
	Source string `json:"source"` // its path there
	Staged string `json:"staged"` // the verified copy
	SHA256 string `json:"sha256"`
	Signed bool   `json:"signed"`
}

// ErrNotReady is returned by Take while a release is incomplete: its
// file or its checksum file has not appeared yet.
var ErrNotReady = errors.New("release not complete yet")

// RefusedError is a release Take refused; Reason says why, for the audit log.
type RefusedError struct {
	Name   string
	Reason string
}

// Error returns the refusal as one line.
func (e *RefusedError) Error() string { return fmt.Sprintf("release %s refused: %s", e.Name, e.Reason) }

// ReleaseName reports whether file is a release's name (not a checksum,
// signature, hidden or temporary file), and returns the release a file
// belongs to: NAME for NAME, NAME.sha256 and NAME.sig.
func ReleaseName(file string) (string, bool) {
	if file == "" || strings.HasPrefix(file, ".") || strings.ContainsRune(file, '/') {
		return "", false
	}
	for _, suf := range []string{".sha256", ".sig"} {
		if n, ok := strings.CutSuffix(file, suf); ok {
			return n, n != ""
		}
	}
	for _, suf := range []string{".tmp", ".part", "~", ".swp"} {
		if strings.HasSuffix(file, suf) {
			return "", false
		}
	}
	return file, true
}

// maxSideFile bounds checksum and signature files.
const maxSideFile = 64 << 10

// Take admits the release NAME: see Intake. It returns ErrNotReady, a
// *RefusedError, or another error for a failure of the state directory.
func (in Intake) Take(name string) (Release, error) {
	if n, ok := ReleaseName(name); !ok || n != name {
		return Release{}, &RefusedError{name, "not a release file name"}
	}
	refuse := func(format string, args ...any) (Release, error) {
		return Release{}, &RefusedError{name, fmt.Sprintf(format, args...)}
	}
	maxSize := in.MaxSize
	if maxSize == 0 {
		maxSize = DefaultMaxSize
	}
	sumData, err := in.readSide(name + ".sha256")
	if errors.Is(err, os.ErrNotExist) {
		return Release{}, ErrNotReady
	}
	if err != nil {
		return refuse("%v", err)
	}
	want, err := parseChecksum(sumData, name)
	if err != nil {
		return refuse("%s.sha256: %v", name, err)
	}
	f, err := in.open(name)
	if errors.Is(err, os.ErrNotExist) {
		return Release{}, ErrNotReady
	}
	if err != nil {
		return refuse("%v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Release{}, fmt.Errorf("release %s: %w", name, err)
	}
	if st.Size() > maxSize {
		return refuse("%d bytes, over the limit of %d", st.Size(), maxSize)
	}

	if err := os.MkdirAll(in.StageDir, 0o700); err != nil {
		return Release{}, fmt.Errorf("staging release %s: %w", name, err)
	}
	// Temporary files left by a Take that was killed.
	if stale, err := filepath.Glob(filepath.Join(in.StageDir, ".take-*")); err == nil {
		for _, f := range stale {
			os.Remove(f)
		}
	}
	tmp, err := os.CreateTemp(in.StageDir, ".take-*")
	if err != nil {
		return Release{}, fmt.Errorf("staging release %s: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, io.LimitReader(f, maxSize+1))
	if err == nil && n > maxSize {
		err = &RefusedError{name, fmt.Sprintf("grew over the limit of %d bytes while being copied", maxSize)}
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		var re *RefusedError
		if errors.As(err, &re) {
			return Release{}, err
		}
		return Release{}, fmt.Errorf("staging release %s: %w", name, err)
	}
	// Verify the copy itself, as it is on disk.
	data, err := os.ReadFile(tmp.Name())
	if err != nil {
		return Release{}, fmt.Errorf("staging release %s: %w", name, err)
	}
	sum := sha256.Sum256(data)
	got := hex.EncodeToString(sum[:])
	if got != want {
		return refuse("checksum mismatch: the file's SHA-256 is %s, %s.sha256 says %s", got, name, want)
	}
	r := Release{Name: name, Source: filepath.Join(in.Dir, name), SHA256: got}
	if in.PublicKey != nil {
		sigData, err := in.readSide(name + ".sig")
		if errors.Is(err, os.ErrNotExist) {
			return refuse("unsigned: %s.sig is missing and a public key is configured", name)
		}
		if err != nil {
			return refuse("%v", err)
		}
		sig := sigData
		if len(sig) != ed25519.SignatureSize {
			if sig, err = base64.StdEncoding.DecodeString(strings.TrimSpace(string(sigData))); err != nil || len(sig) != ed25519.SignatureSize {
				return refuse("%s.sig: not an ed25519 signature (raw 64 bytes or base64)", name)
			}
		}
		if !ed25519.Verify(in.PublicKey, data, sig) {
			return refuse("bad signature: %s.sig does not verify against the configured public key", name)
		}
		r.Signed = true
	}
	r.Staged = filepath.Join(in.StageDir, got+".so")
	if err := os.Rename(tmp.Name(), r.Staged); err != nil {
		return Release{}, fmt.Errorf("staging release %s: %w", name, err)
	}
	if err := syncDir(in.StageDir); err != nil {
		return Release{}, fmt.Errorf("staging release %s: %w", name, err)
	}
	return r, nil
}

// open opens the file name of the release directory for reading, after the
// checks every file taken from there passes: a symbolic link must lead
// inside the directory, and the file must be regular and not world-writable.
func (in Intake) open(name string) (*os.File, error) {
	dir, err := filepath.EvalSymlinks(in.Dir)
	if err != nil {
		return nil, fmt.Errorf("release directory: %w", err)
	}
	p := filepath.Join(dir, name)
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return nil, err
	}
	if rel, err := filepath.Rel(dir, real); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return nil, fmt.Errorf("%s is a symbolic link leading out of the release directory (to %s)", name, real)
	}
	f, err := os.Open(real)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	switch {
	case !st.Mode().IsRegular():
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file", name)
	case st.Mode().Perm()&0o002 != 0:
		f.Close()
		return nil, fmt.Errorf("%s is world-writable (mode %v)", name, st.Mode().Perm())
	}
	return f, nil
}

// readSide reads a checksum or signature file, with the same checks.
func (in Intake) readSide(name string) ([]byte, error) {
	f, err := in.open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSideFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(b) > maxSideFile {
		return nil, fmt.Errorf("%s: over %d bytes", name, maxSideFile)
	}
	return b, nil
}

// parseChecksum finds the SHA-256 of name in sha256sum output: lines
// "HEX  NAME" or "HEX *NAME" (a line for another file is skipped), or a
// lone "HEX".
func parseChecksum(b []byte, name string) (string, error) {
	for _, line := range bytes.Split(b, []byte("\n")) {
		fields := strings.Fields(string(line))
		if len(fields) == 0 {
			continue
		}
		if len(fields) > 1 {
			file := strings.TrimPrefix(strings.Join(fields[1:], " "), "*")
			if filepath.Base(file) != name {
				continue
			}
		}
		h := strings.ToLower(fields[0])
		if d, err := hex.DecodeString(h); err != nil || len(d) != sha256.Size {
			return "", fmt.Errorf("%q is not a SHA-256 in hex", fields[0])
		}
		return h, nil
	}
	return "", fmt.Errorf("no checksum for %s", name)
}
