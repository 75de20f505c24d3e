//go:build linux

package debian

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// A Build is a source package built with its own debian/rules.
type Build struct {
	// Dir holds the binary packages built (*.deb, -dbgsym ones included).
	Dir string
	// Tree is the built source tree: debian/tmp holds what the build
	// installed, before dh_strip and dh_dwz.
	Tree string
	a    *Archive
}

// Build builds the binary packages of a source package (as Source spells
// it) as the archive does: dpkg-buildpackage -b -uc -us in a copy of its
// tree, with the build dependencies the system lacks (dpkg-checkbuilddeps)
// installed first by the system's apt (apt-get build-dep, which installs
// from the system's own suite). The
// build is kept in the cache: a later call, in any process, rebuilds
// nothing.
func (a *Archive) Build(ctx context.Context, spec string) (*Build, error) {
	for _, tool := range []string{"dpkg-buildpackage", "dh"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, errors.New("dpkg-buildpackage and dh (packages dpkg-dev and debhelper) are needed to build Debian packages")
		}
	}
	tree, err := a.Source(ctx, spec)
	if err != nil {
		return nil, err
	}
	base := filepath.Join(a.Dir, "build", escape(spec))
	b := &Build{Dir: base, Tree: filepath.Join(base, "tree"), a: a}
	err = a.lockedOn("build.lock", func() error {
		return fillOnce(base, func() error {
			if out, err := exec.CommandContext(ctx, "cp", "-a", tree, b.Tree).CombinedOutput(); err != nil {
				return fmt.Errorf("copying the source tree: %w: %s", err, lastLine(out))
			}
			steps := [][]string{{"dpkg-buildpackage", "-b", "-uc", "-us"}}
			check := exec.CommandContext(ctx, "dpkg-checkbuilddeps")
			check.Dir = b.Tree
			if check.Run() != nil {
				steps = append([][]string{{"apt-get", "build-dep", "-y", "-q", "./tree"}}, steps...)
			}
			for _, args := range steps {
				cmd := exec.CommandContext(ctx, args[0], args[1:]...)
				cmd.Dir = base
				if args[0] == "dpkg-buildpackage" {
					cmd.Dir = b.Tree
				}
				cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
				if out, err := cmd.CombinedOutput(); err != nil {
					return fmt.Errorf("%s: %w: %s", args[0], err, lastLine(out))
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("building %s: %w", spec, err)
	}
	return b, nil
}

// Unpack extracts the binary packages of the build matching pattern (a
// file name glob: "libfoo1*.deb") into one directory, as dpkg-deb -x does,
// once, and returns it.
func (b *Build) Unpack(ctx context.Context, pattern string) (string, error) {
	debs, err := filepath.Glob(filepath.Join(b.Dir, pattern))
	if err != nil || len(debs) == 0 {
		return "", fmt.Errorf("no package %s in %s", pattern, b.Dir)
	}
	dir := filepath.Join(b.Dir, "x", strings.ReplaceAll(escape(pattern), "*", "_"))
	err = b.a.lockedOn("build.lock", func() error { return extractDebs(ctx, debs, dir) })
	return dir, err
}
