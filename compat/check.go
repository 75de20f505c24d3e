package compat

import (
	"cmp"
	"os"
	"slices"
	"sync"

	"github.com/compatgate/compatgate/elfdiff"
	"github.com/compatgate/compatgate/elfdiff/debuginfod"
	"github.com/compatgate/compatgate/rules"
)

// Options tune a check.
type Options struct {
	// Rules judge the changes; rules.Default() when nil.
	Rules *rules.Set
	// DebugDirs are searched for separate debug files, before
	// /usr/lib/debug (see elfdiff.LoadOptions).
	DebugDirs []string
	// OldDebugDirs and NewDebugDirs are searched for the debug files of
	// OLD and NEW only, before DebugDirs (abidiff's --debug-info-dir1
	// and --debug-info-dir2).
	OldDebugDirs, NewDebugDirs []string
	// Debuginfod, when set, fetches by build-id the debug files found in
	// no directory (see debuginfod.FromEnv).
	Debuginfod *debuginfod.Client
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
	oldLO := elfdiff.LoadOptions{DebugDirs: append(slices.Clip(opts.OldDebugDirs), opts.DebugDirs...), Debuginfod: opts.Debuginfod}
	newLO := elfdiff.LoadOptions{DebugDirs: append(slices.Clip(opts.NewDebugDirs), opts.DebugDirs...), Debuginfod: opts.Debuginfod}
	var (
		old, new       *elfdiff.Corpus
		oldErr, newErr error
	)
	if concurrentLoad(oldPath, newPath) {
		var wg sync.WaitGroup
		wg.Go(func() { old, oldErr = elfdiff.LoadWith(oldPath, oldLO) })
		new, newErr = elfdiff.LoadWith(newPath, newLO)
		wg.Wait()
	} else {
		old, oldErr = elfdiff.LoadWith(oldPath, oldLO)
		if oldErr == nil {
			newLO.ShareNames = old
			new, newErr = elfdiff.LoadWith(newPath, newLO)
		}
	}
	if err := cmp.Or(oldErr, newErr); err != nil {
		return nil, err
	}
	changes, err := elfdiff.Diff(old, new)
	if err != nil {
		return nil, err
	}
	return Judge(old, new, changes, rs), nil
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
