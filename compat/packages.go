package compat

import (
	"bytes"
	"cmp"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compatgate/compatgate/elfdiff"
	"github.com/compatgate/compatgate/internal/debfile"
	"github.com/compatgate/compatgate/rules"
)

// PackageOptions tune CheckPackages.
type PackageOptions struct {
	Options
	// OldDebugPackages and NewDebugPackages are debug packages (-dbgsym,
	// -dbg: .deb files or directories) whose usr/lib/debug is searched
	// for the libraries of one side.
	OldDebugPackages, NewDebugPackages []string
	// OldDevelPackages and NewDevelPackages are development packages
	// (-dev: .deb files or directories) whose usr/include holds the public
	// headers of one side's libraries, as abipkgdiff's --devel-pkg1/2.
	OldDevelPackages, NewDevelPackages []string
}

// IsPackage reports whether path names a package or a directory to
// compare library by library, rather than one library file.
func IsPackage(path string) bool {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return true
	}
	return debfile.IsDeb(path)
}

// A side is one side of a package comparison, unpacked.
type side struct {
	display string // the path given
	// roots are the directories holding the side's files: the directory
	// given or the package unpacked, the packages found in the directory,
	// then the debug packages. roots[:libRoots] hold its libraries.
	roots     []string
	libRoots  int
	debugDirs []string          // usr/lib/debug trees of the side
	libs      map[string]string // library key (SONAME, else "file:" + base name) → path
	// headerDirs are the usr/include trees of the side's development
	// packages: its libraries' public headers; develOrigins the
	// strings.NewReplacer pairs that name them by their package in a
	// report's headers origin.
	headerDirs   []string
	develOrigins []string
	notes        []string // what the result should say about the side
}

// CheckPackages compares every ELF shared library of two packages (.deb
// files) or directories: the libraries are paired by SONAME, else by file
// name, and each pair is checked as CheckWith does. A library of one side
// only gets a report with a library-removed (break) or library-added
// (info) finding. Debug files come from usr/lib/debug in the packages or
// directories and from the debug packages of opts; public headers from
// usr/include in the development packages of opts or of the directories
// (-dev), besides those of opts.Options. Library paths in the reports are
// relative to the package.
func CheckPackages(oldPath, newPath string, opts PackageOptions) (*Result, error) {
	tmp, err := os.MkdirTemp("", "compatgate-pkg-")
	if err != nil {
		return nil, fmt.Errorf("unpacking packages: %w", err)
	}
	defer os.RemoveAll(tmp)
	old, err := openSide(oldPath, "1", opts.OldDebugPackages, opts.OldDevelPackages, filepath.Join(tmp, "old"))
	if err != nil {
		return nil, err
	}
	new, err := openSide(newPath, "2", opts.NewDebugPackages, opts.NewDevelPackages, filepath.Join(tmp, "new"))
	if err != nil {
		return nil, err
	}
	rs := cmp.Or(opts.Rules, rules.Default())
	res := &Result{Old: oldPath, New: newPath, packaged: true, Notes: slices.Concat(old.notes, new.notes)}
	keys := pairKeys(old.libs, new.libs)
	if len(keys) == 0 {
		return nil, fmt.Errorf("no ELF shared library in %s or %s", oldPath, newPath)
	}
	unroot := strings.NewReplacer(slices.Concat(old.develOrigins, new.develOrigins, old.unrooting(), new.unrooting())...)
	for _, k := range keys {
		o, n := old.libs[k], new.libs[k]
		var r *Report
		switch {
		case o == "":
			r = oneSided(rules.LibraryAdded, Library{}, libraryOf(n, new), rs)
		case n == "":
			r = oneSided(rules.LibraryRemoved, libraryOf(o, old), Library{}, rs)
		default:
			lo := opts.Options
			lo.Rules = rs
			lo.OldDebugDirs = append(slices.Clip(lo.OldDebugDirs), old.debugDirs...)
			lo.NewDebugDirs = append(slices.Clip(lo.NewDebugDirs), new.debugDirs...)
			lo.HeaderDirs1 = append(slices.Clip(lo.HeaderDirs1), old.headerDirs...)
			lo.HeaderDirs2 = append(slices.Clip(lo.HeaderDirs2), new.headerDirs...)
			r, err = CheckWith(o, n, lo)
			if err != nil {
				return nil, err
			}
			old.relabel(&r.Old)
			new.relabel(&r.New)
			r.Old.Headers, r.New.Headers = unroot.Replace(r.Old.Headers), unroot.Replace(r.New.Headers)
			for i, n := range r.Notes {
				r.Notes[i] = unroot.Replace(n)
			}
		}
		res.Libraries = append(res.Libraries, r)
	}
	return res, nil
}

// openSide unpacks a package (or takes a directory, and unpacks the
// packages in it), its debug packages and the headers of its development
// packages, and finds its shared libraries.
// num is the side's number in flags: "1" for OLD, "2" for NEW.
func openSide(path, num string, debugPackages, develPackages []string, tmp string) (*side, error) {
	s := &side{display: path, libs: make(map[string]string)}
	root, err := unpack(path, tmp)
	if err != nil {
		return nil, err
	}
	s.roots = append(s.roots, root)
	var debs []string
	if root == filepath.Clean(path) { // a directory: the packages in it too
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		for _, e := range entries {
			p := filepath.Join(path, e.Name())
			switch {
			case !e.Type().IsRegular() || !debfile.IsDeb(p):
			case isDebugPackage(e.Name()):
				debugPackages = append(slices.Clip(debugPackages), p)
			case isDevelPackage(e.Name()):
				develPackages = append(slices.Clip(develPackages), p)
			default:
				debs = append(debs, p)
			}
		}
	}
	for i, p := range debs {
		r, err := unpack(p, fmt.Sprintf("%s-pkg%d", tmp, i))
		if err != nil {
			return nil, err
		}
		s.roots = append(s.roots, r)
	}
	s.libRoots = len(s.roots)
	for i, p := range debugPackages {
		r, err := unpack(p, fmt.Sprintf("%s-debug%d", tmp, i))
		if err != nil {
			return nil, err
		}
		s.roots = append(s.roots, r)
	}
	for i, p := range develPackages {
		r, err := unpackHeaders(p, fmt.Sprintf("%s-devel%d", tmp, i))
		if err != nil {
			return nil, err
		}
		s.roots = append(s.roots, r)
		include := filepath.Join(r, "usr", "include")
		if fi, err := os.Stat(include); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("%s: no usr/include: not a development package", p)
		}
		s.headerDirs = append(s.headerDirs, include)
		s.develOrigins = append(s.develOrigins, "--headers-dir"+num+" "+include, "--devel-package"+num+" "+filepath.Base(p))
	}
	for _, r := range s.roots {
		if fi, err := os.Stat(filepath.Join(r, "usr", "lib", "debug")); err == nil && fi.IsDir() {
			s.debugDirs = append(s.debugDirs, filepath.Join(r, "usr", "lib", "debug"))
		}
	}
	for _, r := range s.roots[:s.libRoots] {
		if err := s.findLibraries(r); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// isDebugPackage reports whether a package file name is a debug
// package's: Debian's pkg-dbgsym_… and pkg-dbg_…, Ubuntu's .ddeb.
func isDebugPackage(name string) bool {
	pkg, _, _ := strings.Cut(name, "_")
	return strings.HasSuffix(pkg, "-dbgsym") || strings.HasSuffix(pkg, "-dbg") || strings.HasSuffix(name, ".ddeb")
}

// isDevelPackage reports whether a package file name is a development
// package's: Debian's pkg-dev_….
func isDevelPackage(name string) bool {
	pkg, _, _ := strings.Cut(name, "_")
	return strings.HasSuffix(pkg, "-dev") && strings.HasSuffix(name, ".deb")
}

// unpackHeaders returns the directory holding the files of a development
// package: the directory itself, or the headers of a .deb (its files
// under usr/include) unpacked into dir.
func unpackHeaders(path, dir string) (string, error) {
	if !debfile.IsDeb(path) {
		return unpack(path, dir)
	}
	_, err := debfile.Extract(path, dir, func(name string, _ []byte) bool { return strings.HasPrefix(name, "usr/include/") })
	return dir, err
}

// unpack returns the directory holding the files of a package: the
// directory itself, or a .deb unpacked (its ELF files and symlinks) into
// dir.
func unpack(path, dir string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("reading package: %w", err)
	}
	if fi.IsDir() {
		return filepath.Clean(path), nil
	}
	if !debfile.IsDeb(path) {
		return "", fmt.Errorf("%s: neither a directory nor a Debian package (.deb)", path)
	}
	_, err = debfile.Extract(path, dir, func(_ string, head []byte) bool { return bytes.HasPrefix(head, []byte(elf.ELFMAG)) })
	return dir, err
}

// findLibraries walks one tree of the side for ELF shared libraries,
// outside usr/lib/debug.
func (s *side) findLibraries(root string) error {
	debug := filepath.Join(root, "usr", "lib", "debug")
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading %s: %w", s.display, err)
		}
		if d.IsDir() && p == debug {
			return filepath.SkipDir
		}
		if !d.Type().IsRegular() {
			return nil
		}
		soname, ok := sharedLibrary(p)
		if !ok {
			return nil
		}
		key := "file:" + filepath.Base(p)
		if soname != "" {
			key = soname
		}
		prev, dup := s.libs[key]
		if dup {
			s.notes = append(s.notes, fmt.Sprintf("%s: %s and %s are the same library (%s); compared the first",
				s.display, s.rel(min(p, prev)), s.rel(max(p, prev)), strings.TrimPrefix(key, "file:")))
		}
		if !dup || p < prev {
			s.libs[key] = p
		}
		return nil
	})
}

// sharedLibrary reports whether the file at p is an ELF shared library
// (ET_DYN with a SONAME, or named like one: executables built as PIE are
// ET_DYN too) and returns its SONAME.
func sharedLibrary(p string) (soname string, ok bool) {
	f, err := elf.Open(p)
	if err != nil {
		return "", false
	}
	defer f.Close()
	if f.Type != elf.ET_DYN {
		return "", false
	}
	if names, err := f.DynString(elf.DT_SONAME); err == nil && len(names) > 0 {
		return names[0], true
	}
	base := filepath.Base(p)
	return "", strings.HasSuffix(base, ".so") || strings.Contains(base, ".so.")
}

// pairKeys returns the keys of both sides' libraries, after pairing the
// libraries without SONAME, or whose SONAME is on one side only, by file
// name; sorted by the names reports show.
func pairKeys(old, new map[string]string) []string {
	byFile := func(libs map[string]string, k string) string { return "file:" + filepath.Base(libs[k]) }
	for k := range old {
		if _, ok := new[k]; ok {
			continue
		}
		for nk := range new {
			if _, ok := old[nk]; !ok && byFile(new, nk) == byFile(old, k) {
				new[k] = new[nk] // pair under OLD's key
				delete(new, nk)
				break
			}
		}
	}
	var keys []string
	for k := range old {
		keys = append(keys, k)
	}
	for k := range new {
		if _, ok := old[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(strings.TrimPrefix(a, "file:"), strings.TrimPrefix(b, "file:")), cmp.Compare(a, b))
	})
	return keys
}

// libraryOf identifies a library of one side, by its path in the package.
func libraryOf(path string, s *side) Library {
	l := Library{Path: path}
	if c, err := elfdiff.LoadWith(path, elfdiff.LoadOptions{NoDebugInfo: true}); err == nil {
		l.SONAME, l.BuildID = c.SONAME, c.BuildID
	}
	s.relabel(&l)
	return l
}

// relabel shows a library's paths relative to its package.
func (s *side) relabel(l *Library) {
	l.Path, l.DebugInfo = s.rel(l.Path), s.rel(l.DebugInfo)
}

// rel returns p relative to the package or debug package it is in.
func (s *side) rel(p string) string {
	for _, d := range s.roots {
		if rel, ok := strings.CutPrefix(p, d+string(filepath.Separator)); ok {
			return rel
		}
	}
	return p
}

// unrooting returns the strings.NewReplacer pairs that make the side's
// paths relative in text.
func (s *side) unrooting() []string {
	var pairs []string
	for _, r := range s.roots {
		pairs = append(pairs, r+string(filepath.Separator), "")
	}
	return pairs
}

// oneSided returns the report of a library present on one side only.
func oneSided(kind elfdiff.Kind, old, new Library, rs *rules.Set) *Report {
	l, verb := old, "removed: no library of the new package has its SONAME or file name"
	if kind == rules.LibraryAdded {
		l, verb = new, "added"
	}
	name := cmp.Or(l.SONAME, filepath.Base(l.Path))
	r := &Report{Schema: SchemaVersion, Old: old, New: new, TypesChecked: true}
	r.judge(elfdiff.NewChanges([]elfdiff.Change{{Kind: kind, Where: l.Path, New: name,
		Detail: fmt.Sprintf("library %s (%s) %s", name, l.Path, verb)}}), rs)
	return r
}
