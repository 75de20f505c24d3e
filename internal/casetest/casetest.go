// Package casetest reads and builds the compatibility test cases of
// testdata/: txtar archives holding two versions of a library's sources and
// the findings a check of the pair must produce.
//
// A case's comment section holds "key: value" lines (other lines are free
// text describing the case):
//
//	exit: 12             the check's exit status (required)
//	cflags: -O2          compiler flags for both versions
//	cflags-v1: -DX       …for one version only (likewise ldflags, ldflags-v1/-v2)
//	soname: libx.so.1    the SONAME of both versions (default libcase.so.1)
//	soname-v2: libx.so.2 …of one version only; "none" for no SONAME
//	compiler: g++        the compiler (default: g++ when a source is .cc/.cpp, else gcc)
//	objcopy: --compress-debug-sections=zstd
//	                     run objcopy with these arguments on the built library (likewise objcopy-v1/-v2)
//	split-debug: yes     move the DWARF into a separate lib….so.debug file next to the
//	                     library, found through .gnu_debuglink (likewise split-debug-v1/-v2)
//	headers: include     the public headers of each version are under v1/include and
//	                     v2/include (the check's --headers-dir1 and --headers-dir2)
//
// Files v1/… and v2/… are the sources of each version: *.c, *.cc and *.cpp
// files are compiled, headers are available to them, and lib.map, when
// present, is passed as the version script. The file "want" lists the
// expected findings, one a line:
//
//	rule severity symbol [type=T] [where=W] [affected=a,b,…] [path=P]
//
// where symbol is "-" for none, and a value with spaces is written as a Go
// quoted string (type="struct point"). Lines starting with # are comments.
// A finding's type and symbol are always compared; where, affected and
// path (how one affected symbol reaches the change) only when the want line
// gives them.
package casetest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"

	"github.com/compatgate/compatgate/compat"
)

// A Case is one test case.
type Case struct {
	Name    string            // file name without .txtar
	Path    string            // the archive's path
	Comment string            // free text of the comment section
	Keys    map[string]string // key: value lines of the comment section
	Exit    int
	Want    []Want
	Files   map[string][]byte // archive files by name
}

// A Want is one expected finding.
type Want struct {
	Rule, Severity, Symbol, Type, Where, Path string
	Affected                                  []string
	HasWhere, HasAffected, HasPath            bool
}

// String returns the want in its file syntax.
func (w Want) String() string {
	sym := w.Symbol
	if sym == "" {
		sym = "-"
	}
	s := w.Rule + " " + w.Severity + " " + sym
	if w.Type != "" {
		s += " type=" + quote(w.Type)
	}
	if w.HasWhere {
		s += " where=" + quote(w.Where)
	}
	if w.HasAffected {
		s += " affected=" + quote(strings.Join(w.Affected, ","))
	}
	if w.HasPath {
		s += " path=" + quote(w.Path)
	}
	return s
}

func quote(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\"") {
		return strconv.Quote(s)
	}
	return s
}

// Load reads and parses the case archive at path.
func Load(path string) (*Case, error) {
	ar, err := txtar.ParseFile(path)
	if err != nil {
		return nil, err
	}
	c := &Case{
		Name:  strings.TrimSuffix(filepath.Base(path), ".txtar"),
		Path:  path,
		Keys:  make(map[string]string),
		Files: make(map[string][]byte),
	}
	var text []string
	for _, line := range strings.Split(string(ar.Comment), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && isKey(k) {
			c.Keys[k] = strings.TrimSpace(v)
		} else if strings.TrimSpace(line) != "" {
			text = append(text, line)
		}
	}
	c.Comment = strings.Join(text, "\n")
	exit, ok := c.Keys["exit"]
	if !ok {
		return nil, fmt.Errorf("%s: no \"exit:\" line", path)
	}
	if c.Exit, err = strconv.Atoi(exit); err != nil {
		return nil, fmt.Errorf("%s: exit: %w", path, err)
	}
	for _, f := range ar.Files {
		c.Files[f.Name] = f.Data
	}
	want, ok := c.Files["want"]
	if !ok {
		return nil, fmt.Errorf("%s: no want file", path)
	}
	if c.Want, err = ParseWant(string(want)); err != nil {
		return nil, fmt.Errorf("%s: want: %w", path, err)
	}
	return c, nil
}

func isKey(k string) bool {
	return k != "" && strings.Trim(k, "abcdefghijklmnopqrstuvwxyz0123456789-+") == ""
}

// ParseWant parses the lines of a want file.
func ParseWant(text string) ([]Want, error) {
	var out []Want
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields, err := split(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		if len(fields) < 3 {
			return nil, fmt.Errorf("line %d: want \"rule severity symbol [key=value…]\"", n+1)
		}
		w := Want{Rule: fields[0], Severity: fields[1], Symbol: fields[2]}
		if w.Symbol == "-" {
			w.Symbol = ""
		}
		for _, f := range fields[3:] {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				return nil, fmt.Errorf("line %d: %q is not key=value", n+1, f)
			}
			switch k {
			case "type":
				w.Type = v
			case "where":
				w.Where, w.HasWhere = v, true
			case "path":
				w.Path, w.HasPath = v, true
			case "affected":
				w.HasAffected = true
				if v != "" {
					w.Affected = strings.Split(v, ",")
				}
				slices.Sort(w.Affected)
			default:
				return nil, fmt.Errorf("line %d: unknown key %q", n+1, k)
			}
		}
		out = append(out, w)
	}
	return out, nil
}

// split splits a want line into fields; a value after "key=" may be a Go
// quoted string.
func split(line string) ([]string, error) {
	var fields []string
	for line = strings.TrimSpace(line); line != ""; line = strings.TrimSpace(line) {
		end := strings.IndexAny(line, " \t")
		if end < 0 {
			end = len(line)
		}
		if eq := strings.IndexByte(line, '='); eq >= 0 && eq < end && eq+1 < len(line) && line[eq+1] == '"' {
			q, err := strconv.QuotedPrefix(line[eq+1:])
			if err != nil {
				return nil, fmt.Errorf("bad quoted value in %q", line)
			}
			v, _ := strconv.Unquote(q)
			fields = append(fields, line[:eq+1]+v)
			line = line[eq+1+len(q):]
			continue
		}
		fields = append(fields, line[:end])
		line = line[end:]
	}
	return fields, nil
}

// Build compiles both versions into dir and returns the paths of the two
// shared objects.
func (c *Case) Build(dir string) (oldSO, newSO string, err error) {
	if oldSO, err = c.buildVersion(dir, "v1"); err != nil {
		return "", "", err
	}
	if newSO, err = c.buildVersion(dir, "v2"); err != nil {
		return "", "", err
	}
	return oldSO, newSO, nil
}

// HeaderDirs returns the public header directories of the two versions
// built into dir, as the "headers" key names them; nil when it is absent.
func (c *Case) HeaderDirs(dir string) (old, new []string) {
	h := c.Keys["headers"]
	if h == "" {
		return nil, nil
	}
	return []string{filepath.Join(dir, "v1", h)}, []string{filepath.Join(dir, "v2", h)}
}

// key returns the value of a per-version key (name-v1) or else the shared one.
func (c *Case) key(name, version string) string {
	if v, ok := c.Keys[name+"-"+version]; ok {
		return v
	}
	return c.Keys[name]
}

func (c *Case) buildVersion(dir, version string) (string, error) {
	src := filepath.Join(dir, version)
	var sources []string
	cxx := false
	for name, data := range c.Files {
		rel, ok := strings.CutPrefix(name, version+"/")
		if !ok {
			continue
		}
		path := filepath.Join(src, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return "", err
		}
		switch filepath.Ext(rel) {
		case ".c":
			sources = append(sources, path)
		case ".cc", ".cpp", ".cxx":
			sources = append(sources, path)
			cxx = true
		}
	}
	if len(sources) == 0 {
		return "", fmt.Errorf("%s: no sources for %s", c.Path, version)
	}
	slices.Sort(sources)
	compiler := c.Keys["compiler"]
	if compiler == "" {
		compiler = "gcc"
		if cxx {
			compiler = "g++"
		}
	}
	out := filepath.Join(dir, "lib"+version+".so")
	args := []string{"-shared", "-fPIC", "-g", "-o", out}
	args = append(args, strings.Fields(c.key("cflags", version))...)
	soname := c.key("soname", version)
	if soname == "" {
		soname = "libcase.so.1"
	}
	if soname != "none" {
		args = append(args, "-Wl,-soname,"+soname)
	}
	if _, ok := c.Files[version+"/lib.map"]; ok {
		args = append(args, "-Wl,--version-script,"+filepath.Join(src, "lib.map"))
	}
	args = append(args, sources...)
	args = append(args, strings.Fields(c.key("ldflags", version))...)
	cmd := exec.Command(compiler, args...)
	cmd.Dir = src
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: building %s: %s %s: %v\n%s", c.Path, version, compiler,
			strings.Join(args, " "), err, stderr.String())
	}
	var post [][]string
	if a := strings.Fields(c.key("objcopy", version)); len(a) > 0 {
		post = append(post, append(append([]string{"objcopy"}, a...), out))
	}
	if c.key("split-debug", version) == "yes" {
		debug := out + ".debug"
		post = append(post,
			[]string{"objcopy", "--only-keep-debug", out, debug},
			[]string{"objcopy", "--strip-debug", "--add-gnu-debuglink=" + debug, out})
	}
	for _, p := range post {
		cmd := exec.Command(p[0], p[1:]...)
		cmd.Dir = dir
		if msg, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("%s: %s: %s: %v\n%s", c.Path, version, strings.Join(p, " "), err, msg)
		}
	}
	return out, nil
}

// Glob returns the case archives under dir, recursively, sorted.
func Glob(dir string) ([]string, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".txtar") {
			paths = append(paths, path)
		}
		return err
	})
	slices.Sort(paths)
	return paths, err
}

// Compare matches each wanted finding with one of the report's and
// returns a description of what is missing and what is unexpected, in the
// want syntax, or "" when they match exactly.
func Compare(want []Want, got []compat.Finding) string {
	used := make([]bool, len(got))
	var missing, unexpected []string
	for _, w := range want {
		i := 0
		for i < len(got) && (used[i] || !matches(w, got[i])) {
			i++
		}
		if i == len(got) {
			missing = append(missing, w.String())
			continue
		}
		used[i] = true
	}
	for i, f := range got {
		if !used[i] {
			unexpected = append(unexpected, asWant(f).String())
		}
	}
	if len(missing) == 0 && len(unexpected) == 0 {
		return ""
	}
	slices.Sort(missing)
	slices.Sort(unexpected)
	return cmp.Diff(missing, unexpected)
}

func matches(w Want, f compat.Finding) bool {
	g := asWant(f)
	if w.Rule != g.Rule || w.Severity != g.Severity || w.Symbol != g.Symbol || w.Type != g.Type {
		return false
	}
	if w.HasWhere && w.Where != g.Where {
		return false
	}
	if w.HasAffected && !slices.Equal(w.Affected, g.Affected) {
		return false
	}
	if w.HasPath && w.Path != g.Path {
		return false
	}
	return true
}

func asWant(f compat.Finding) Want {
	aff := slices.Clone(f.Affected)
	slices.Sort(aff)
	return Want{Rule: f.Rule, Severity: f.Severity.String(), Symbol: f.Symbol, Type: f.Type,
		Where: f.Where, HasWhere: f.Where != "", Affected: aff, HasAffected: f.Type != "", Path: f.Path}
}
