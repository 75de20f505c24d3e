//go:build linux

package debian

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BuildUpstream builds the source package spec (as Source spells it) with
// its upstream build system, as someone building the library by hand
// would: each of steps is a shell command line run in a copy of the tree
// with $PREFIX the installation prefix and CFLAGS and CXXFLAGS "-g -O2"
// (debug information, no Debian hardening flags), e.g.
//
//	./configure --prefix="$PREFIX" --libdir="$PREFIX/lib"
//	make -j2
//	make install
//
// It returns the prefix. When the mirror lacks part of the source package
// (its .dsc or Debian tarball), the upstream tarball apt fetched before
// failing is built instead, without Debian's patches. The build is kept in
// the cache, keyed by spec and steps: a later call, in any process,
// rebuilds nothing.
func (a *Archive) BuildUpstream(ctx context.Context, spec string, steps ...string) (string, error) {
	base := filepath.Join(a.Dir, "upstream", escape(spec))
	prefix := filepath.Join(base, "prefix")
	stamp := strings.Join(steps, "\n")
	err := a.lockedOn("build.lock", func() error {
		if done, err := os.ReadFile(filepath.Join(base, ".done")); err == nil && string(done) == stamp {
			return nil
		}
		tree, err := a.upstreamTree(ctx, spec)
		if err != nil {
			return err
		}
		if err := os.RemoveAll(base); err != nil {
			return err
		}
		if err := os.MkdirAll(base, 0o755); err != nil {
			return err
		}
		work := filepath.Join(base, "tree")
		if out, err := exec.CommandContext(ctx, "cp", "-a", tree, work).CombinedOutput(); err != nil {
			return fmt.Errorf("copying the source tree: %w: %s", err, lastLine(out))
		}
		env := append(os.Environ(), "PREFIX="+prefix, "CFLAGS=-g -O2", "CXXFLAGS=-g -O2", "LDFLAGS=", "CPPFLAGS=")
		for _, step := range steps {
			cmd := exec.CommandContext(ctx, "/bin/sh", "-c", step)
			cmd.Dir, cmd.Env = work, env
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("%s: %w: %s", step, err, lastLine(out))
			}
		}
		return os.WriteFile(filepath.Join(base, ".done"), []byte(stamp), 0o644)
	})
	if err != nil {
		return "", fmt.Errorf("building %s upstream: %w", spec, err)
	}
	return prefix, nil
}

// upstreamTree returns the unpacked source tree of spec (see Source), or,
// when the mirror lacks the rest of the source package, its upstream
// tarball unpacked.
func (a *Archive) upstreamTree(ctx context.Context, spec string) (string, error) {
	tree, err := a.Source(ctx, spec)
	if err == nil {
		return tree, nil
	}
	origs, _ := filepath.Glob(filepath.Join(a.sources(), escape(spec), "*.orig.tar.*"))
	var orig string
	for _, o := range origs {
		if !strings.HasSuffix(o, ".asc") {
			orig = o
		}
	}
	if orig == "" {
		return "", err
	}
	tree = filepath.Join(a.sources(), escape(spec), "orig-tree")
	if lockErr := a.locked(func() error {
		return fillOnce(tree, func() error {
			if out, err := exec.CommandContext(ctx, "tar", "-xf", orig, "-C", tree, "--strip-components=1").CombinedOutput(); err != nil {
				return fmt.Errorf("unpacking %s: %w: %s", filepath.Base(orig), err, lastLine(out))
			}
			return nil
		})
	}); lockErr != nil {
		return "", lockErr
	}
	return tree, nil
}
