package compat

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/compatgate/compatgate/elfdiff"
	"github.com/compatgate/compatgate/elfdiff/abidump"
	"github.com/compatgate/compatgate/elfdiff/debuginfod"
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
	// OldDebugDirs and NewDebugDirs are searched for one side only,
	// before DebugDirs (abidiff's --debug-info-dir1 and 2).
	OldDebugDirs, NewDebugDirs []string
	// Suppressions silence the findings they match (libabigail's
	// suppression specifications, see rules.ParseSuppressions).
	Suppressions []*rules.Suppression
	// SymbolsOnly compares the symbol tables only, reading no debug
	// information: the explicit choice, which a verdict may pass as
	// compatible.
	SymbolsOnly bool
	// Debuginfod, when set, fetches by build-id the debug files found in
	// no directory (see debuginfod.FromEnv).
	Debuginfod *debuginfod.Client
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
	olo := elfdiff.LoadOptions{DebugDirs: append(slices.Clip(opts.OldDebugDirs), opts.DebugDirs...), NoDebugInfo: opts.SymbolsOnly, Debuginfod: opts.Debuginfod}
	nlo := elfdiff.LoadOptions{DebugDirs: append(slices.Clip(opts.NewDebugDirs), opts.DebugDirs...), NoDebugInfo: opts.SymbolsOnly, Debuginfod: opts.Debuginfod}
	var (
		old, new         *elfdiff.Corpus
		oldDump, newDump bool
		oldErr, newErr   error
	)
	if concurrentLoad(oldPath, newPath) {
		var wg sync.WaitGroup
		wg.Go(func() { old, oldDump, oldErr = abidump.Load(oldPath, olo) })
		new, newDump, newErr = abidump.Load(newPath, nlo)
		wg.Wait()
	} else {
		old, oldDump, oldErr = abidump.Load(oldPath, olo)
		if oldErr == nil {
			nlo.ShareNames = old
			new, newDump, newErr = abidump.Load(newPath, nlo)
		}
	}
	err := cmp.Or(oldErr, newErr)
	if err != nil {
		return nil, err
	}
	if old.Headers, err = PublicHeaders(oldPath, old.Headers, opts.HeaderDirs1, opts.HeaderFiles1, "1"); err != nil {
		return nil, err
	}
	if new.Headers, err = PublicHeaders(newPath, new.Headers, opts.HeaderDirs2, opts.HeaderFiles2, "2"); err != nil {
		return nil, err
	}
	if err := sameArchitecture(oldPath, newPath, old, new, oldDump || newDump); err != nil {
		return nil, err
	}
	// The corpora are this function's own: the diff may drop what it is
	// done with.
	changes, err := elfdiff.DiffWith(old, new, elfdiff.DiffOptions{Consume: true})
	if err != nil {
		return nil, err
	}
	return JudgeWith(old, new, changes, JudgeOptions{Rules: rs, Suppressions: opts.Suppressions, SymbolsOnly: opts.SymbolsOnly}), nil
}

// sameArchitecture refuses to compare an ABI dump with a library or dump
// of another architecture: a baseline made on another machine is a
// mistake of the pipeline, not a change of the library. Two libraries
// are compared whatever they are (machine-changed): anyDump tells
// whether either side was read from a dump.
func sameArchitecture(oldPath, newPath string, old, new *elfdiff.Corpus, anyDump bool) error {
	if !anyDump || old.Machine == new.Machine && old.Class == new.Class {
		return nil
	}
	return fmt.Errorf("cannot compare %s (%s, %s) with %s (%s, %s): an ABI dump must be of the same architecture",
		oldPath, old.Class, old.Machine, newPath, new.Class, new.Machine)
}

// PublicHeaders returns the public headers of the library at path: those
// given by the flags of its side (side "1", "2" or "" for a single
// library), else those an ABI dump recorded (recorded; nil for a library),
// else those found beside the library.
func PublicHeaders(path string, recorded *pubheaders.Set, dirs, files []string, side string) (*pubheaders.Set, error) {
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
	if recorded != nil {
		return recorded, nil
	}
	return pubheaders.Discover(path), nil
}

// concurrentLoadLimit is the combined size of two library files up to which
// CheckWith reads them at the same time. Reading is most of a check, and the
// two reads are independent; but each may hold its library's DWARF in
// memory while it runs (compressed sections are inflated into memory), so
// bigger libraries are read one after the other, to keep the peak at one
// library's DWARF. Uncompressed sections are mapped from the files and
// their pages given back unit by unit (elfdiff/dwarfdec), which makes the
// difference small for them: a pair of 48 MB libraries (bench/gen -shape
// header, 2,000 structs, 200 units) peaks at 38 MiB read together and
// 36 MiB in turn (119 and 70 MiB when the sections were read into memory).
const concurrentLoadLimit = 64 << 20

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
