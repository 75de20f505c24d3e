package gate

import (
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
	"syscall"

	"github.com/compatgate/compatgate/internal/trust"
)

// Intake admits releases from a release directory into the state
// directory. It is a security boundary: a release file NAME is taken only
//
//   - when NAME.sha256 (sha256sum format) is beside it and the SHA-256 of
//     the copy taken matches;
//   - when a public key is configured, with NAME.sig, an ed25519 signature
//     (raw 64 bytes, or base64) by that key — of NAME.manifest when there
//     is one, else of the file;
//   - when NAME.manifest, if there is one (or it is required), names this
//     subscription's library and the file's SHA-256 (see Manifest);
//   - when every file is a regular file (never a symbolic link, a FIFO or
//     a device), not over MaxSize, owned by root or the trusted owner and
//     not writable by group or others, in a release directory that passes
//     the same checks, as does every directory above it (package
//     internal/trust).
//
// Files are opened beneath the release directory's descriptor, without
// following symbolic links and without blocking (openat2 with
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS where the kernel has it), then
// checked through the open descriptor: a file swapped meanwhile is never
// read. Errors never quote a file's content.
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
	// Library is the subscription's name, which a manifest must name.
	Library string
	// RequireManifest makes NAME.manifest mandatory.
	RequireManifest bool
	// Trust says who may own release files and directories besides root.
	Trust trust.Policy
}

// Release is an admitted release.
type Release struct {
	Name    string `json:"name"`   // file name in the release directory
	Source  string `json:"source"` // its path there
	Staged  string `json:"staged"` // the verified copy
	SHA256  string `json:"sha256"`
	Signed  bool   `json:"signed"`
	Version string `json:"version,omitempty"` // from its manifest
}

// ErrNotReady is returned by Take while a release is incomplete: its
// file, its checksum file, or (when required) its signature or manifest
// has not appeared yet, or a checksum, signature or manifest file is
// still empty.
var ErrNotReady = errors.New("release not complete yet")

// RefusedError is a release Take refused; Reason says why, for the audit log.
type RefusedError struct {
	Name   string
	Reason string
}

// Error returns the refusal as one line.
func (e *RefusedError) Error() string { return fmt.Sprintf("release %s refused: %s", e.Name, e.Reason) }

// sideSuffixes are the files that go with a release NAME.
func sideSuffixes() []string { return []string{".sha256", ".sig", ".manifest"} }

// ReleaseName reports whether file is a release's name (not a checksum,
// signature, manifest, hidden or temporary file), and returns the release
// a file belongs to: NAME for NAME, NAME.sha256, NAME.sig and NAME.manifest.
func ReleaseName(file string) (string, bool) {
	if file == "" || strings.HasPrefix(file, ".") || strings.ContainsAny(file, "/\x00") {
		return "", false
	}
	for _, suf := range sideSuffixes() {
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

// maxSideFile bounds checksum, signature and manifest files.
const maxSideFile = 64 << 10

// Take admits the release NAME: see Intake. It returns ErrNotReady (wrapped,
// saying what is missing), a *RefusedError, or another error for a failure
// of the state directory.
func (in Intake) Take(name string) (Release, error) {
	if n, ok := ReleaseName(name); !ok || n != name {
		return Release{}, &RefusedError{name, "not a release file name"}
	}
	refuse := func(format string, args ...any) (Release, error) {
		return Release{}, &RefusedError{name, fmt.Sprintf(format, args...)}
	}
	notReady := func(what string) (Release, error) {
		return Release{}, fmt.Errorf("%w: waiting for %s", ErrNotReady, what)
	}
	maxSize := in.MaxSize
	if maxSize == 0 {
		maxSize = DefaultMaxSize
	}
	dir, err := in.openDir()
	if err != nil {
		return refuse("release directory: %v", err)
	}
	defer dir.Close()
	sumData, err := in.readSide(dir, name+".sha256")
	if errors.Is(err, os.ErrNotExist) {
		return notReady(name + ".sha256")
	}
	if errors.Is(err, errEmptySide) {
		return notReady(name + ".sha256 (empty: still being written)")
	}
	if err != nil {
		return refuse("%v", err)
	}
	want, err := parseChecksum(sumData, name)
	if err != nil {
		return refuse("%s.sha256: %v", name, err)
	}
	manifest, err := in.readSide(dir, name+".manifest")
	switch {
	case errors.Is(err, os.ErrNotExist) && in.RequireManifest:
		return notReady(name + ".manifest (the subscription requires one)")
	case errors.Is(err, os.ErrNotExist):
		manifest = nil
	case errors.Is(err, errEmptySide):
		return notReady(name + ".manifest (empty: still being written)")
	case err != nil:
		return refuse("%v", err)
	}
	var sigData []byte
	if in.PublicKey != nil {
		sigData, err = in.readSide(dir, name+".sig")
		if errors.Is(err, os.ErrNotExist) {
			return notReady(name + ".sig (a public key is configured)")
		}
		if errors.Is(err, errEmptySide) {
			return notReady(name + ".sig (empty: still being written)")
		}
		if err != nil {
			return refuse("%v", err)
		}
	}
	f, err := in.openFile(dir, name)
	if errors.Is(err, os.ErrNotExist) {
		return notReady(name)
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
	if manifest != nil {
		m, err := ParseManifest(manifest)
		if err != nil {
			return refuse("%s.manifest: %v", name, err)
		}
		if m.Library != in.Library {
			return refuse("%s.manifest is for library %q, not this subscription's %q", name, m.Library, in.Library)
		}
		if m.SHA256 != got {
			return refuse("%s.manifest names SHA-256 %s, the file's is %s", name, m.SHA256, got)
		}
		r.Version = m.Version
	}
	if in.PublicKey != nil {
		signed, what := data, "the file"
		if manifest != nil {
			signed, what = manifest, name+".manifest"
		}
		sig := sigData
		if len(sig) != ed25519.SignatureSize {
			if sig, err = base64.StdEncoding.DecodeString(strings.TrimSpace(string(sigData))); err != nil || len(sig) != ed25519.SignatureSize {
				return refuse("%s.sig: not an ed25519 signature (raw 64 bytes or base64)", name)
			}
		}
		if !ed25519.Verify(in.PublicKey, signed, sig) {
			return refuse("bad signature: %s.sig does not verify %s against the configured public key", name, what)
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

// openDir opens the release directory, after checking it and every
// directory above it; the directory opened is checked again through its
// descriptor.
func (in Intake) openDir() (*os.File, error) {
	if err := in.Trust.CheckPath(in.Dir); err != nil {
		return nil, err
	}
	d, err := os.Open(in.Dir)
	if err != nil {
		return nil, err
	}
	st, err := d.Stat()
	if err == nil && !st.IsDir() {
		err = fmt.Errorf("%s is not a directory", in.Dir)
	}
	if err == nil {
		err = in.Trust.CheckInfo(in.Dir, st)
	}
	if err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// openFile opens the file name of the release directory dir for reading,
// never following a symbolic link and never blocking (a FIFO), and checks
// what it opened: a regular file that others cannot have planted or changed.
func (in Intake) openFile(dir *os.File, name string) (*os.File, error) {
	f, err := openBeneath(dir, name)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EXDEV) {
			return nil, fmt.Errorf("%s is a symbolic link: release files must be regular files", name)
		}
		return nil, err
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file (%s)", name, fileKind(st.Mode()))
	}
	if err == nil {
		err = in.Trust.CheckInfo(name, st)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// fileKind names the type of a file that is not a regular one.
func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.Type().String()
}

// errEmptySide is readSide's error for an empty file: what a publisher's
// write looks like between creating the file and writing it, so Take
// waits for it, as for a missing one, instead of refusing the release.
var errEmptySide = errors.New("empty")

// readSide reads a checksum, signature or manifest file, with the same
// checks; an empty one is errEmptySide.
func (in Intake) readSide(dir *os.File, name string) ([]byte, error) {
	f, err := in.openFile(dir, name)
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
	if len(b) == 0 {
		return nil, fmt.Errorf("%s: %w", name, errEmptySide)
	}
	return b, nil
}

// parseChecksum finds the SHA-256 of name in sha256sum output: lines
// "HEX  NAME" or "HEX *NAME" (a line for another file is skipped; NAME is
// taken exactly, spaces included), lines GNU sha256sum escapes for a name
// holding a newline or a backslash ("\HEX  NA\nME"), or a lone "HEX".
func parseChecksum(b []byte, name string) (string, error) {
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		escaped := strings.HasPrefix(line, "\\")
		if escaped {
			line = line[1:]
		}
		h, rest, hasName := strings.Cut(strings.TrimLeft(line, " "), " ")
		if hasName && strings.TrimSpace(rest) != "" {
			file := rest
			if strings.HasPrefix(file, " ") || strings.HasPrefix(file, "*") {
				file = file[1:]
			}
			if escaped {
				file = strings.NewReplacer("\\\\", "\\", "\\n", "\n", "\\r", "\r").Replace(file)
			}
			if filepath.Base(file) != name {
				continue
			}
		}
		h = strings.ToLower(strings.TrimSpace(h))
		if d, err := hex.DecodeString(h); err != nil || len(d) != sha256.Size {
			return "", errors.New("the line for it holds no SHA-256 in hex")
		}
		return h, nil
	}
	return "", fmt.Errorf("no checksum for %s", name)
}
