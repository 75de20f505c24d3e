package compat

import (
	"cmp"
	"os"
	"strings"
	"sync"

	"github.com/compatgate/compatgate/elfdiff"
	"github.com/compatgate/compatgate/elfdiff/pubheaders"
	"github.com/compatgate/compatgate/rules"
)

// Options tune a check.
type Options struct {
	// Rules judge the changes; rules.Default() when nil.
	Rules *rules.Set
	// DebugDirs are searched for separate debug files, before
	// /usr/lib/debug (see elfdiff.LoadOptions).
	DebugDirs []string
	// HeaderDirs1 and HeaderFiles1 are the public headers of OLD
	// (directories searched recursively, and single files), HeaderDirs2
	// and HeaderFiles2 those of NEW, as abidiff's --headers-dir1 and
	// --header-file1. A side given none has its headers looked for
	// beside the library (see pubheaders.Discover).
	HeaderDirs1, HeaderFiles1 []string
	HeaderDirs2, HeaderFiles2 []string
}

// Check loads two versions of a library, compares them and judges the
// changes with the rule set rs (rules.Default() when nil).
func Check(oldPath, newPath string, rs *rules.Set) (*Report, error) {
	return CheckWith(oldPath, newPath, Options{Rules: rs})
}

// CheckWith is Check with options.
func CheckWith(oldPath, newPath string, opts Options) (*Report, error) {
	rs := opts.Rules
	if rs == nil {
		rs = rules.Default()
	}
	lo := elfdiff.LoadOptions{DebugDirs: opts.DebugDirs}
	var (
		old, new       *elfdiff.Corpus
		oldErr, newErr error
	)
	if concurrentLoad(oldPath, newPath) {
		var wg sync.WaitGroup
		wg.Go(func() { old, oldErr = elfdiff.LoadWith(oldPath, lo) })
		new, newErr = elfdiff.LoadWith(newPath, lo)
		wg.Wait()
	} else {
		old, oldErr = elfdiff.LoadWith(oldPath, lo)
		if oldErr == nil {
			lo.ShareNames = old
			new, newErr = elfdiff.LoadWith(newPath, lo)
		}
	}
	err := cmp.Or(oldErr, newErr)
	if err != nil {
		return nil, err
	}
	if old.Headers, err = headers(oldPath, opts.HeaderDirs1, opts.HeaderFiles1, "1"); err != nil {
		return nil, err
	}
	if new.Headers, err = headers(newPath, opts.HeaderDirs2, opts.HeaderFiles2, "2"); err != nil {
		return nil, err
	}
	changes, err := elfdiff.Diff(old, new)
	if err != nil {
		return nil, err
	}
	return Judge(old, new, changes, rs), nil
}

// headers returns the public headers of the library at path: those given
// by the flags of its side (side "1" or "2"), else those found beside it.
func headers(path string, dirs, files []string, side string) (*pubheaders.Set, error) {
	var flags []string
	for _, d := range dirs {
		flags = append(flags, "--headers-dir"+side+" "+d)
	}
	for _, f := range files {
		flags = append(flags, "--header-file"+side+" "+f)
	}
	s, err := pubheaders.FromFlags(dirs, files, strings.Join(flags, " "))
	if s != nil || err != nil {
		return s, err
	}
	return pubheaders.Discover(path), nil
}

// concurrentLoadLimit is the combined size of two library files up to which
// CheckWith reads them at the same time. Reading is most of a check, and the
// two reads are independent; but each holds its library's DWARF in memory
// while it runs, so bigger libraries are read one after the other, to keep
// the peak at one library's DWARF.
const concurrentLoadLimit = 128 << 20

// concurrentLoad reports whether the libraries at the two paths are read
// at the same time.
func concurrentLoad(oldPath, newPath string) bool {
	var total int64
	for _, p := range []string{oldPath, newPath} {
		fi, err := os.Stat(p)
		if err != nil {
			return false // the read reports it
		}
		total += fi.Size()
	}
	return total <= concurrentLoadLimit
}
