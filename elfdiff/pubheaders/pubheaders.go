// Package pubheaders finds the public headers of a shared library: the
// header files its clients compile against. A type defined in one of them
// is part of the library's public API; a type defined elsewhere (a private
// header, a source file) is not.
//
// Headers are given (abidiff's --headers-dir and --header-file), or found
// beside the library: from its pkg-config file (LIBDIR/pkgconfig/*.pc, its
// Cflags -I directories and includedir), from PREFIX/include beside
// PREFIX/lib, and, for a library installed by the system's package
// manager, from the files of the package that installs its development
// link (LIBDIR/libNAME.so, in Debian's libNAME-dev).
package pubheaders

import (
	"bufio"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// A Set is the public headers of one library.
type Set struct {
	// Files are the header paths, sorted.
	Files []string
	// Origin says where they were found: "--headers-dir1 DIR",
	// "pkg-config file F", "PREFIX/include beside the library"…
	Origin string
	base   map[string]bool
	// idents holds the identifiers the headers use and defined the tags
	// and typedef names they define, read on first use.
	idents, defined map[string]bool
}

// Has reports whether a file of path's base name is one of the headers.
// Build trees and install trees put headers in other directories, so base
// names are what can be compared.
func (s *Set) Has(path string) bool {
	return s != nil && s.base[filepath.Base(path)]
}

// Mentions reports whether the identifier name appears in any of the
// headers: a function whose name they never mention is not declared there.
// The headers are read on the first call of Mentions or Defines.
func (s *Set) Mentions(name string) bool {
	if s == nil {
		return true
	}
	s.read()
	return s.idents[name]
}

// Defines reports whether the headers define the struct, union, class or
// enum of tag name (struct name { or struct name : base {), or name a
// typedef at the end of a definition (} name;). A library built as one
// source file (an amalgamation, as sqlite3.c) has its public types in
// that file too: the headers are what say they are public.
func (s *Set) Defines(name string) bool {
	if s == nil {
		return true
	}
	s.read()
	return s.defined[name]
}

// read reads the identifiers and the definitions of the headers, once.
func (s *Set) read() {
	if s.idents != nil {
		return
	}
	s.idents, s.defined = make(map[string]bool), make(map[string]bool)
	for _, f := range s.Files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		toks := tokens(string(data))
		for i, t := range toks {
			if isIdent(t) {
				s.idents[t] = true
			}
			switch {
			case (t == "struct" || t == "union" || t == "enum" || t == "class") && i+2 < len(toks) && isIdent(toks[i+1]):
				for j := i + 2; j < len(toks) && j < i+64; j++ {
					if toks[j] == "{" {
						s.defined[toks[i+1]] = true
					}
					if toks[j] == "{" || toks[j] == ";" || toks[j] == "(" || toks[j] == ")" || toks[j] == "," {
						break
					}
				}
			case t == "}" && i+2 < len(toks) && isIdent(toks[i+1]) && toks[i+2] == ";":
				s.defined[toks[i+1]] = true
			}
		}
	}
}

// tokens splits C source into identifiers (and numbers) and single
// punctuation characters, dropping spaces.
func tokens(src string) []string {
	var out []string
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case isIdentByte(c):
			j := i
			for j < len(src) && isIdentByte(src[j]) {
				j++
			}
			out = append(out, src[i:j])
			i = j
		default:
			out = append(out, src[i:i+1])
			i++
		}
	}
	return out
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdent(t string) bool { return t != "" && isIdentByte(t[0]) && !(t[0] >= '0' && t[0] <= '9') }

// Len returns the number of headers.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.Files)
}

func newSet(files []string, origin string) *Set {
	slices.Sort(files)
	files = slices.Compact(files)
	s := &Set{Files: files, Origin: origin, base: make(map[string]bool, len(files))}
	for _, f := range files {
		s.base[filepath.Base(f)] = true
	}
	return s
}

// FromFlags returns the headers under the directories dirs (recursively)
// and the files files, or nil when both are empty. A directory or file
// that cannot be read is an error.
func FromFlags(dirs, files []string, origin string) (*Set, error) {
	if len(dirs) == 0 && len(files) == 0 {
		return nil, nil
	}
	var out []string
	for _, d := range dirs {
		fs, err := walk(d)
		if err != nil {
			return nil, fmt.Errorf("reading headers directory %s: %w", d, err)
		}
		out = append(out, fs...)
	}
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return nil, fmt.Errorf("reading header file: %w", err)
		}
		if fi.IsDir() {
			return nil, fmt.Errorf("header file %s is a directory", f)
		}
		out = append(out, f)
	}
	return newSet(out, origin), nil
}

// walk returns the regular files under dir.
func walk(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() || d.Type()&fs.ModeSymlink != 0 {
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

// systemIncludeDirs are the compiler's default include directories: a
// directory here holds every library's headers, not one library's.
var systemIncludeDirs = []string{"/usr/include", "/usr/local/include", "/include",
	"/usr/include/x86_64-linux-gnu", "/usr/include/i386-linux-gnu", "/usr/include/aarch64-linux-gnu"}

func isSystemIncludeDir(dir string) bool {
	return slices.Contains(systemIncludeDirs, filepath.Clean(dir))
}

// IsSystemHeader reports whether path lies under a system include
// directory: a header of the C library or of another installed library,
// which the checked library uses but does not define.
func IsSystemHeader(path string) bool {
	for _, d := range []string{"/usr/include/", "/usr/local/include/", "/usr/lib/gcc/"} {
		if strings.HasPrefix(path, d) {
			return true
		}
	}
	return false
}

// Discover finds the public headers of the library at libPath, or returns
// nil when it finds none.
func Discover(libPath string) *Set {
	libDir := filepath.Dir(libPath)
	stem := libStem(filepath.Base(libPath))
	if s := fromPkgConfig(libDir, stem); s != nil {
		return s
	}
	prefix := filepath.Dir(libDir)
	if filepath.Base(filepath.Dir(libDir)) == "lib" { // PREFIX/lib/<multiarch>
		prefix = filepath.Dir(prefix)
	}
	if inc := filepath.Join(prefix, "include"); !isSystemIncludeDir(inc) {
		if files, err := walk(inc); err == nil && len(files) > 0 {
			return newSet(files, inc+" (PREFIX/include beside the library)")
		}
	}
	return fromDpkg(libDir, stem)
}

// libStem returns the name a library is linked by: "png16" for
// libpng16.so.16.39.0.
func libStem(base string) string {
	base = strings.TrimPrefix(base, "lib")
	if i := strings.Index(base, ".so"); i >= 0 {
		base = base[:i]
	}
	return base
}

// fromPkgConfig reads the pkg-config files of libDir that link the
// library (-lSTEM) and returns the headers in their Cflags -I directories
// and includedir, leaving out the system include directories (which hold
// every library's headers).
func fromPkgConfig(libDir, stem string) *Set {
	var pcs []string
	for _, d := range []string{filepath.Join(libDir, "pkgconfig"), filepath.Join(filepath.Dir(libDir), "share", "pkgconfig")} {
		m, _ := filepath.Glob(filepath.Join(d, "*.pc"))
		pcs = append(pcs, m...)
	}
	for _, pc := range pcs {
		vars, fields, err := readPC(pc)
		if err != nil || !slices.Contains(strings.Fields(fields["Libs"]), "-l"+stem) {
			continue
		}
		var dirs []string
		for _, f := range strings.Fields(fields["Cflags"]) {
			if d, ok := strings.CutPrefix(f, "-I"); ok && d != "" {
				dirs = append(dirs, d)
			}
		}
		if inc := vars["includedir"]; inc != "" && len(dirs) == 0 {
			dirs = append(dirs, inc)
		}
		var files []string
		for _, d := range dirs {
			if isSystemIncludeDir(d) {
				continue
			}
			fs, err := walk(d)
			if err == nil {
				files = append(files, fs...)
			}
		}
		if len(files) > 0 {
			return newSet(files, "pkg-config file "+pc+" ("+strings.Join(dirs, ", ")+")")
		}
	}
	return nil
}

// readPC reads a pkg-config file: its variables and its fields, with the
// variables expanded. A relocatable file's ${pcfiledir} is its directory.
func readPC(path string) (vars, fields map[string]string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	vars = map[string]string{"pcfiledir": filepath.Dir(path)}
	fields = make(map[string]string)
	expand := func(s string) string {
		for range 16 {
			i := strings.Index(s, "${")
			if i < 0 {
				break
			}
			j := strings.IndexByte(s[i:], '}')
			if j < 0 {
				break
			}
			s = s[:i] + vars[s[i+2:i+j]] + s[i+j+1:]
		}
		return s
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i <= 0 {
			continue
		}
		k, v := strings.TrimSpace(line[:i]), expand(strings.TrimSpace(line[i+1:]))
		if line[i] == '=' {
			vars[k] = v
		} else {
			fields[k] = v
		}
	}
	return vars, fields, sc.Err()
}

// dpkgInfo is where dpkg lists the files of each installed package.
const dpkgInfo = "/var/lib/dpkg/info"

// fromDpkg returns the headers of the installed package that holds the
// library's development link, libDir/libSTEM.so.
func fromDpkg(libDir, stem string) *Set {
	if !strings.HasPrefix(libDir, "/usr/lib") && !strings.HasPrefix(libDir, "/lib") {
		return nil // not installed by the system
	}
	link := filepath.Join(libDir, "lib"+stem+".so")
	if _, err := os.Lstat(link); err != nil {
		return nil
	}
	lists, _ := filepath.Glob(filepath.Join(dpkgInfo, "*-dev*.list"))
	for _, l := range lists {
		data, err := os.ReadFile(l)
		if err != nil || !slices.Contains(strings.Split(string(data), "\n"), link) {
			continue
		}
		var files []string
		for _, f := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(f, "/usr/include/") {
				if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
					files = append(files, f)
				}
			}
		}
		if len(files) > 0 {
			pkg := strings.TrimSuffix(filepath.Base(l), ".list")
			return newSet(files, "package "+pkg+" (owner of "+link+")")
		}
	}
	return nil
}

// Idents returns the identifiers the headers use, sorted (see Mentions).
func (s *Set) Idents() []string {
	s.read()
	return slices.Sorted(maps.Keys(s.idents))
}

// DefinedNames returns the tags and typedef names the headers define,
// sorted (see Defines).
func (s *Set) DefinedNames() []string {
	s.read()
	return slices.Sorted(maps.Keys(s.defined))
}

// Restore returns the set of headers an ABI dump recorded: their paths,
// the identifiers they use and the names they define, without reading
// any file.
func Restore(origin string, files, idents, defined []string) *Set {
	s := newSet(slices.Clone(files), origin)
	s.idents, s.defined = make(map[string]bool, len(idents)), make(map[string]bool, len(defined))
	for _, id := range idents {
		s.idents[id] = true
	}
	for _, d := range defined {
		s.defined[d] = true
	}
	return s
}
