package gate

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Manifest is a release's NAME.manifest: which library the release is
// for, its version and its SHA-256. Signing the manifest (NAME.sig) binds
// the signature to one subscription and one version:
//
//	library = "libshapes"
//	version = "1.4.2"
//	sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
type Manifest struct {
	Library string
	Version string
	SHA256  string
}

// ParseManifest reads a manifest: lines key = "value" (TOML strings), with
// blank lines and # comments. Errors name the line, never its content.
func ParseManifest(b []byte) (Manifest, error) {
	var m Manifest
	fields := map[string]*string{"library": &m.Library, "version": &m.Version, "sha256": &m.SHA256}
	seen := map[string]bool{}
	for i, line := range bytes.Split(b, []byte("\n")) {
		text := strings.TrimSpace(string(line))
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		key, val, ok := strings.Cut(text, "=")
		key = strings.TrimSpace(key)
		dst, known := fields[key]
		if !ok || !known {
			return Manifest{}, fmt.Errorf("line %d: want library, version or sha256 = \"value\"", i+1)
		}
		if seen[key] {
			return Manifest{}, fmt.Errorf("line %d: %s given twice", i+1, key)
		}
		seen[key] = true
		v, err := strconv.Unquote(strings.TrimSpace(val))
		if err != nil || strings.ContainsAny(v, "\n\r\x00") {
			return Manifest{}, fmt.Errorf("line %d: the value of %s is not a quoted string", i+1, key)
		}
		*dst = v
	}
	for _, k := range []string{"library", "version", "sha256"} {
		if *fields[k] == "" {
			return Manifest{}, fmt.Errorf("no %s", k)
		}
	}
	m.SHA256 = strings.ToLower(m.SHA256)
	if d, err := hex.DecodeString(m.SHA256); err != nil || len(d) != sha256.Size {
		return Manifest{}, fmt.Errorf("sha256 is not a SHA-256 in hex")
	}
	return m, nil
}

// String writes the manifest in the form ParseManifest reads.
func (m Manifest) String() string {
	return fmt.Sprintf("library = %s\nversion = %s\nsha256 = %s\n", strconv.Quote(m.Library), strconv.Quote(m.Version), strconv.Quote(m.SHA256))
}
