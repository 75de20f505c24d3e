//go:build linux

// Package debian fetches Debian binary and source packages for tests and
// benches, through a private apt configuration that never touches the
// system's apt sources, lists or cache.
//
// An Archive is a cache directory holding its own sources file (bookworm and
// trixie, binary and source, from the mirror the system's Debian sources name),
// its own package lists, the downloaded files and what was extracted from
// them. Everything fetched stays there, so a second run on the same machine
// reads the cache; concurrent processes share it under a file lock.
package debian

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Suites are the Debian suites an Archive knows: the OLD and NEW sides of
// the project's real-library corpora.
var Suites = []string{"bookworm", "trixie"}

// DefaultDir is the cache directory used when COMPATGATE_DEB_CACHE is unset.
const DefaultDir = "/var/cache/compatgate-debian"

// listsMaxAge is how old the package lists may be before Open refreshes them.
const listsMaxAge = 7 * 24 * time.Hour

// An Archive fetches packages into a cache directory.
type Archive struct {
	// Dir is the cache directory.
	Dir string
}

// ErrNoApt reports a machine without apt-get or dpkg-deb: not a Debian
// system, so nothing can be fetched.
var ErrNoApt = errors.New("apt-get and dpkg-deb are needed to fetch Debian packages")

// Open returns the archive cached in dir ("" for $COMPATGATE_DEB_CACHE, else
// DefaultDir), writing its apt configuration and refreshing its package lists
// when they are missing or older than a week.
func Open(ctx context.Context, dir string) (*Archive, error) {
	for _, tool := range []string{"apt-get", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, ErrNoApt
		}
	}
	if dir == "" {
		dir = os.Getenv("COMPATGATE_DEB_CACHE")
	}
	if dir == "" {
		dir = DefaultDir
	}
	a := &Archive{Dir: dir}
	for _, d := range []string{a.parts(), a.lists(), a.cache(), a.debs(), a.extracted(), a.sources()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("creating the Debian cache: %w", err)
		}
	}
	err := a.locked(func() error {
		uri, err := mirror()
		if err != nil {
			return err
		}
		src := fmt.Sprintf("Types: deb deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
			uri, strings.Join(Suites, " "))
		path := filepath.Join(a.parts(), "compatgate.sources")
		old, _ := os.ReadFile(path)
		fresh := bytes.Equal(old, []byte(src))
		if !fresh {
			if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
				return fmt.Errorf("writing %s: %w", path, err)
			}
		}
		stamp := filepath.Join(a.Dir, "updated")
		if st, err := os.Stat(stamp); fresh && err == nil && time.Since(st.ModTime()) < listsMaxAge {
			return nil
		}
		if _, err := a.apt(ctx, a.Dir, "update"); err != nil {
			return err
		}
		return os.WriteFile(stamp, nil, 0o644)
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Archive) parts() string     { return filepath.Join(a.Dir, "sources.list.d") }
func (a *Archive) lists() string     { return filepath.Join(a.Dir, "lists") }
func (a *Archive) cache() string     { return filepath.Join(a.Dir, "apt-cache") }
func (a *Archive) debs() string      { return filepath.Join(a.Dir, "debs") }
func (a *Archive) extracted() string { return filepath.Join(a.Dir, "x") }
func (a *Archive) sources() string   { return filepath.Join(a.Dir, "src") }

// mirror returns the Debian mirror named by the system's sources, so that the
// private configuration reaches the same host.
func mirror() (string, error) {
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	files = append(files, "/etc/apt/sources.list")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			switch {
			case len(fields) >= 2 && fields[0] == "URIs:" && isDebianMirror(fields[1]):
				return fields[1], nil
			case len(fields) >= 3 && fields[0] == "deb" && isDebianMirror(fields[1]):
				return fields[1], nil
			}
		}
	}
	return "", errors.New("no Debian mirror in the system's apt sources")
}

func isDebianMirror(uri string) bool {
	return strings.HasSuffix(strings.TrimSuffix(uri, "/"), "/debian")
}

// apt runs apt-get with the archive's private configuration in dir.
func (a *Archive) apt(ctx context.Context, dir string, args ...string) ([]byte, error) {
	full := []string{
		"-q",
		"-o", "Dir::Etc::SourceList=/dev/null",
		"-o", "Dir::Etc::SourceParts=" + a.parts(),
		"-o", "Dir::State::Lists=" + a.lists(),
		"-o", "Dir::Cache=" + a.cache(),
		"-o", "APT::Sandbox::User=root",
		"-o", "Acquire::Retries=3",
	}
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, "apt-get", full...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("apt-get %s: %w: %s", strings.Join(args, " "), err, lastLine(stderr.Bytes()))
	}
	return out, nil
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// locked runs fn holding the archive's lock, so that concurrent test
// processes do not fetch into the same files at once.
func (a *Archive) locked(fn func() error) error { return a.lockedOn("lock", fn) }

// lockedOn runs fn holding the lock file name of the archive.
func (a *Archive) lockedOn(name string, fn func() error) error {
	f, err := os.OpenFile(filepath.Join(a.Dir, name), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("locking the Debian cache: %w", err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("locking the Debian cache: %w", err)
	}
	defer unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return fn()
}

// specRE is a package spec: name, then "=version" or "/suite", or neither.
var specRE = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]*(:[a-z0-9]+)?([=/][A-Za-z0-9.+~:-]+)?$`)

// Download fetches one binary package, spelled as apt-get spells it
// ("zlib1g/trixie", "zlib1g=1:1.3.dfsg+really1.3.1-1", "zlib1g"), and returns
// the path of the .deb. A spec fetched before is read from the cache.
func (a *Archive) Download(ctx context.Context, spec string) (string, error) {
	if !specRE.MatchString(spec) {
		return "", fmt.Errorf("not a package spec: %q", spec)
	}
	var path string
	err := a.locked(func() error {
		memo := filepath.Join(a.debs(), escape(spec)+".path")
		if p, err := os.ReadFile(memo); err == nil {
			if _, err := os.Stat(string(p)); err == nil {
				path = string(p)
				return nil
			}
		}
		tmp, err := os.MkdirTemp(a.debs(), ".download-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		if _, err := a.apt(ctx, tmp, "download", spec); err != nil {
			return err
		}
		got, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
		if len(got) != 1 {
			return fmt.Errorf("apt-get download %s: got %d packages, want 1", spec, len(got))
		}
		path = filepath.Join(a.debs(), filepath.Base(got[0]))
		if err := os.Rename(got[0], path); err != nil {
			return err
		}
		return os.WriteFile(memo, []byte(path), 0o644)
	})
	if err != nil {
		return "", fmt.Errorf("downloading %s: %w", spec, err)
	}
	return path, nil
}

// Extract unpacks the binary packages (as Download spells them) into one
// directory, as dpkg-deb -x does, and returns it. The same set of specs
// is extracted once.
func (a *Archive) Extract(ctx context.Context, specs ...string) (string, error) {
	var debs []string
	for _, s := range specs {
		deb, err := a.Download(ctx, s)
		if err != nil {
			return "", err
		}
		debs = append(debs, deb)
	}
	dir := filepath.Join(a.extracted(), escape(strings.Join(specs, "+")))
	err := a.locked(func() error { return extractDebs(ctx, debs, dir) })
	if err != nil {
		return "", fmt.Errorf("extracting %s: %w", strings.Join(specs, " "), err)
	}
	return dir, nil
}

// extractDebs unpacks debs into dir with dpkg-deb -x, unless a finished
// extraction is there.
func extractDebs(ctx context.Context, debs []string, dir string) error {
	return fillOnce(dir, func() error {
		for _, deb := range debs {
			if out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", deb, dir).CombinedOutput(); err != nil {
				return fmt.Errorf("dpkg-deb -x %s: %w: %s", filepath.Base(deb), err, lastLine(out))
			}
		}
		return nil
	})
}

// fillOnce fills dir with fill unless a finished fill is there (its
// .done marker): a fill cut short (a killed test, a full disk) is
// started again from an empty dir.
func fillOnce(dir string, fill func() error) error {
	if _, err := os.Stat(filepath.Join(dir, ".done")); err == nil {
		return nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := fill(); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ".done"), nil, 0o644)
}

// Source fetches and unpacks a source package ("zlib/trixie",
// "zlib=1:1.2.13.dfsg-1") and returns the directory of its unpacked tree.
// The tree is shared by every caller: copy it before building in it.
func (a *Archive) Source(ctx context.Context, spec string) (string, error) {
	if !specRE.MatchString(spec) {
		return "", fmt.Errorf("not a source package spec: %q", spec)
	}
	if _, err := exec.LookPath("dpkg-source"); err != nil {
		return "", errors.New("dpkg-source (package dpkg-dev) is needed to unpack source packages")
	}
	base := filepath.Join(a.sources(), escape(spec))
	var tree string
	err := a.locked(func() error {
		if p, err := os.ReadFile(filepath.Join(base, ".tree")); err == nil {
			tree = string(p)
			return nil
		}
		if err := os.RemoveAll(base); err != nil {
			return err
		}
		if err := os.MkdirAll(base, 0o755); err != nil {
			return err
		}
		if _, err := a.apt(ctx, base, "source", "--download-only", spec); err != nil {
			return err
		}
		dscs, _ := filepath.Glob(filepath.Join(base, "*.dsc"))
		if len(dscs) != 1 {
			return fmt.Errorf("got %d .dsc files, want 1", len(dscs))
		}
		tree = filepath.Join(base, "tree")
		cmd := exec.CommandContext(ctx, "dpkg-source", "--no-check", "-x", dscs[0], tree)
		cmd.Dir = base
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("dpkg-source -x: %w: %s", err, lastLine(out))
		}
		return os.WriteFile(filepath.Join(base, ".tree"), []byte(tree), 0o644)
	})
	if err != nil {
		return "", fmt.Errorf("fetching source %s: %w", spec, err)
	}
	return tree, nil
}

// escape turns a spec into a file name.
func escape(spec string) string {
	return strings.NewReplacer("/", "_", "=", "_", ":", "_", "~", "_", "+", "_").Replace(spec)
}

// ForTest opens the default archive for a test, skipping the test on a
// machine that is not Debian or under -short, and failing it when the
// archive cannot be reached.
func ForTest(t testing.TB) *Archive {
	t.Helper()
	if testing.Short() {
		t.Skip("fetches Debian packages; skipped under -short")
	}
	a, err := Open(context.Background(), "")
	if errors.Is(err, ErrNoApt) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return a
}
