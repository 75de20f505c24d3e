package compat

import (
	"cmp"
	"debug/elf"
	"fmt"
	"os"
	"runtime/metrics"
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
	switch chooseLoad(oldPath, newPath, concurrentLoadLimit) {
	case loadTogether:
		var wg sync.WaitGroup
		wg.Go(func() { old, oldDump, oldErr = abidump.Load(oldPath, olo) })
		new, newDump, newErr = abidump.Load(newPath, nlo)
		wg.Wait()
	case loadPaced:
		oldDone := make(chan struct{})
		nlo.Pace = heapPacer(oldDone, pacedHeapLimit)
		var wg sync.WaitGroup
		wg.Go(func() {
			defer close(oldDone)
			old, oldDump, oldErr = abidump.Load(oldPath, olo)
		})
		new, newDump, newErr = abidump.Load(newPath, nlo)
		wg.Wait()
	default:
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
// bigger libraries are read together only when their DWARF is mapped from
// the files, paced (loadPaced), else one after the other, to keep the peak
// at one library's DWARF.
const concurrentLoadLimit = 64 << 20

// pacedHeapLimit is the Go heap's live bytes above which a paced read of
// NEW waits for OLD's to end. Below it the two reads run together: a
// library whose units repeat the types of its headers is read mostly
// comparing copies, which takes time and little memory (bench/gen -shape
// header at 2,000 structs and 200 units, two 48 MB files: a live heap of
// 17 MiB, and the check's time 2.1 s in turn, 1.2 s together). A big type
// graph (PETSc, whose heap passes 40 MiB) is soon read in turn again, as it
// gains nothing from the second CPU: its reading is mostly allocation.
const pacedHeapLimit = 24 << 20

// A loadMode says how CheckWith reads the two libraries.
type loadMode int

const (
	loadInTurn   loadMode = iota // OLD, then NEW, sharing OLD's names
	loadTogether                 // both at the same time
	loadPaced                    // both at the same time while the heap is small (heapPacer)
)

// chooseLoad returns how the libraries at the two paths are read: together
// when their files total at most limit bytes, paced when both carry their
// DWARF uncompressed, which is mapped from the files and given back unit
// by unit (elfdiff/dwarfdec), else in turn. A library without DWARF is
// read in turn: its reading is its symbol tables, quick and all memory
// (libLLVM's peaks 25% higher read together, no sooner).
func chooseLoad(oldPath, newPath string, limit int64) loadMode {
	var total int64
	for _, p := range []string{oldPath, newPath} {
		fi, err := os.Stat(p)
		if err != nil {
			return loadInTurn // the read reports it
		}
		total += fi.Size()
	}
	switch {
	case total <= limit:
		return loadTogether
	case mappedDWARF(oldPath) && mappedDWARF(newPath):
		return loadPaced
	}
	return loadInTurn
}

// mappedDWARF reports whether the ELF file at path has a .debug_info
// section stored uncompressed.
func mappedDWARF(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	s := f.Section(".debug_info")
	return s != nil && s.Type != elf.SHT_NOBITS && s.Flags&elf.SHF_COMPRESSED == 0 && s.Size > 0
}

// heapPacer returns an elfdiff.LoadOptions.Pace that holds the read it
// paces while the Go heap's live bytes exceed limit, until done is closed
// (the other read ended).
func heapPacer(done <-chan struct{}, limit uint64) func() {
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	return func() {
		select {
		case <-done:
			return
		default:
		}
		metrics.Read(live)
		if live[0].Value.Kind() == metrics.KindUint64 && live[0].Value.Uint64() > limit {
			<-done
		}
	}
}
