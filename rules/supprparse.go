package rules

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Section kinds of libabigail's suppression specifications.
const (
	SuppressType     = "suppress_type"
	SuppressFunction = "suppress_function"
	SuppressVariable = "suppress_variable"
	SuppressFile     = "suppress_file"
)

// A Suppression is one section of a suppression file in libabigail's
// format (the files abidiff reads with --suppressions; see "Suppression
// specifications" in libabigail's manual). It silences the findings it
// matches: they are counted apart and do not weigh on the verdict.
type Suppression struct {
	Kind  string // SuppressType, SuppressFunction, SuppressVariable or SuppressFile
	Label string // the label property; "" when absent
	File  string // the suppression file
	Line  int    // the line of the section header

	// The library the section applies to (every section kind).
	fileName, fileNameNot, soname, sonameNot *regexp.Regexp
	// Names: of the type, function or variable.
	name                  string
	hasName               bool
	nameRE, nameNotRE     *regexp.Regexp
	symbolName            string
	symbolNameRE          *regexp.Regexp
	symbolNameNotRE       *regexp.Regexp
	symbolVersion         string
	symbolVersionRE       *regexp.Regexp
	changeKind            string // suppress_function/variable: "", "all", "…-subtype-change", "added-…", "deleted-…"
	typeKind              string // suppress_type: class, struct, union, enum, array, typedef, builtin
	accessedThrough       string // suppress_type: direct, pointer, reference, reference-or-pointer
	sourceLocationNotIn   []string
	sourceLocationNotRE   *regexp.Regexp
	insertions            []insertionRange // has_data_member_inserted_*
	hasInsertionCondition bool
}

// An insertionRange is an inclusive range of bit offsets at which data
// members may have been inserted; an offset expression each end.
type insertionRange struct{ from, to offsetExpr }

// An offsetExpr is one end of an insertion range: a bit offset, "end",
// offset_of(member) or offset_after(member).
type offsetExpr struct {
	bits   int64
	end    bool
	member string
	after  bool // offset_after: the member's offset plus its size
}

// declKeys are the properties of function and variable suppressions.
var declKeys = []string{"label", "file_name_regexp", "file_name_not_regexp", "soname_regexp", "soname_not_regexp",
	"name", "name_regexp", "name_not_regexp", "symbol_name", "symbol_name_regexp", "symbol_name_not_regexp",
	"symbol_version", "symbol_version_regexp", "change_kind", "drop"}

// sectionKeys lists the properties each section kind accepts.
var sectionKeys = map[string][]string{
	SuppressType: {"label", "file_name_regexp", "file_name_not_regexp", "soname_regexp", "soname_not_regexp",
		"name", "name_regexp", "name_not_regexp", "type_kind", "accessed_through", "source_location_not_in",
		"source_location_not_regexp", "has_data_member_inserted_at", "has_data_member_inserted_between",
		"has_data_members_inserted_between", "drop"},
	SuppressFunction: declKeys,
	SuppressVariable: declKeys,
	SuppressFile:     {"label", "file_name_regexp", "file_name_not_regexp", "soname_regexp", "soname_not_regexp"},
}

// changeKinds are the change_kind values of function and variable
// suppressions.
var changeKinds = map[string][]string{
	SuppressFunction: {"all", "function-subtype-change", "added-function", "deleted-function"},
	SuppressVariable: {"all", "variable-subtype-change", "added-variable", "deleted-variable"},
}

// LoadSuppressions reads the suppression file at path.
func LoadSuppressions(path string) ([]*Suppression, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading suppressions: %w", err)
	}
	defer f.Close()
	return ParseSuppressions(path, f)
}

// ParseSuppressions reads a suppression file in libabigail's format from
// r; name is used in errors and in the sections' File. A malformed line,
// a section compatgate does not know, or a property it cannot honour is
// an error naming the line: a suppression applied more widely than it
// was written would hide real breaks.
func ParseSuppressions(name string, r io.Reader) ([]*Suppression, error) {
	var (
		out  []*Suppression
		cur  *Suppression
		seen map[string]bool
	)
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		fail := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s", name, line, fmt.Sprintf(format, args...))
		}
		switch {
		case text == "" || text[0] == '#' || text[0] == ';':
			continue
		case text[0] == '[':
			if !strings.HasSuffix(text, "]") {
				return nil, fail("section header %q lacks its closing ]", text)
			}
			kind := strings.TrimSpace(text[1 : len(text)-1])
			if sectionKeys[kind] == nil {
				return nil, fail("unknown section [%s] (compatgate reads [suppress_type], [suppress_function], [suppress_variable] and [suppress_file])", kind)
			}
			cur = &Suppression{Kind: kind, File: name, Line: line}
			seen = make(map[string]bool)
			out = append(out, cur)
			continue
		}
		key, value, ok := strings.Cut(text, "=")
		if !ok {
			return nil, fail("want a [section] or a property (key = value), got %q", text)
		}
		key, value = strings.TrimSpace(key), unquote(strings.TrimSpace(value))
		if cur == nil {
			return nil, fail("property %q before any section", key)
		}
		if !slices.Contains(sectionKeys[cur.Kind], key) {
			return nil, fail("property %q is not supported in [%s]", key, cur.Kind)
		}
		if seen[key] {
			return nil, fail("property %q given twice in one section", key)
		}
		seen[key] = true
		if err := cur.set(key, value); err != nil {
			return nil, fail("%s: %v", key, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return out, nil
}

// set sets one property of a section.
func (s *Suppression) set(key, value string) error {
	regexps := map[string]**regexp.Regexp{
		"file_name_regexp":           &s.fileName,
		"file_name_not_regexp":       &s.fileNameNot,
		"soname_regexp":              &s.soname,
		"soname_not_regexp":          &s.sonameNot,
		"name_regexp":                &s.nameRE,
		"name_not_regexp":            &s.nameNotRE,
		"symbol_name_regexp":         &s.symbolNameRE,
		"symbol_name_not_regexp":     &s.symbolNameNotRE,
		"symbol_version_regexp":      &s.symbolVersionRE,
		"source_location_not_regexp": &s.sourceLocationNotRE,
	}
	if dst, ok := regexps[key]; ok {
		r, err := regexp.Compile(value)
		if err != nil {
			return fmt.Errorf("bad regular expression: %w", err)
		}
		*dst = r
		return nil
	}
	switch key {
	case "label":
		s.Label = value
	case "drop":
		// Dropping the artefact from the representation suppresses
		// its changes too; compatgate only suppresses them.
	case "name":
		s.name, s.hasName = value, true
	case "symbol_name":
		s.symbolName = value
	case "symbol_version":
		s.symbolVersion = value
	case "change_kind":
		if !slices.Contains(changeKinds[s.Kind], value) {
			return fmt.Errorf("want one of %s, got %q", strings.Join(changeKinds[s.Kind], ", "), value)
		}
		s.changeKind = value
	case "type_kind":
		if !slices.Contains([]string{"class", "struct", "union", "enum", "array", "typedef", "builtin"}, value) {
			return fmt.Errorf("want class, struct, union, enum, array, typedef or builtin, got %q", value)
		}
		s.typeKind = value
	case "accessed_through":
		if !slices.Contains([]string{"direct", "pointer", "reference", "reference-or-pointer"}, value) {
			return fmt.Errorf("want direct, pointer, reference or reference-or-pointer, got %q", value)
		}
		s.accessedThrough = value
	case "source_location_not_in":
		s.sourceLocationNotIn = splitList(value)
	case "has_data_member_inserted_at":
		e, err := parseOffset(value)
		if err != nil {
			return err
		}
		s.insertions, s.hasInsertionCondition = append(s.insertions, insertionRange{e, e}), true
	case "has_data_member_inserted_between":
		r, err := parseRange(value)
		if err != nil {
			return err
		}
		s.insertions, s.hasInsertionCondition = append(s.insertions, r), true
	case "has_data_members_inserted_between":
		inner := strings.TrimSpace(value)
		if !strings.HasPrefix(inner, "{") || !strings.HasSuffix(inner, "}") {
			return fmt.Errorf("want {{from, to}, …}, got %q", value)
		}
		inner = strings.TrimSpace(inner[1 : len(inner)-1])
		for inner != "" {
			i := strings.IndexByte(inner, '}')
			if inner[0] != '{' || i < 0 {
				return fmt.Errorf("want {{from, to}, …}, got %q", value)
			}
			r, err := parseRange(inner[:i+1])
			if err != nil {
				return err
			}
			s.insertions = append(s.insertions, r)
			inner = strings.TrimLeft(strings.TrimSpace(inner[i+1:]), ",")
			inner = strings.TrimSpace(inner)
		}
		s.hasInsertionCondition = true
	}
	return nil
}

// parseRange parses "{from, to}".
func parseRange(v string) (insertionRange, error) {
	v = strings.TrimSpace(v)
	if !strings.HasPrefix(v, "{") || !strings.HasSuffix(v, "}") {
		return insertionRange{}, fmt.Errorf("want {from, to}, got %q", v)
	}
	parts := splitList(v)
	if len(parts) != 2 {
		return insertionRange{}, fmt.Errorf("want {from, to}, got %q", v)
	}
	from, err := parseOffset(parts[0])
	if err != nil {
		return insertionRange{}, err
	}
	to, err := parseOffset(parts[1])
	return insertionRange{from, to}, err
}

// parseOffset parses one offset expression.
func parseOffset(v string) (offsetExpr, error) {
	v = strings.TrimSpace(v)
	if v == "end" {
		return offsetExpr{end: true}, nil
	}
	for _, fn := range []string{"offset_of", "offset_after"} {
		if rest, ok := strings.CutPrefix(v, fn+"("); ok && strings.HasSuffix(rest, ")") {
			m := strings.TrimSpace(strings.TrimSuffix(rest, ")"))
			if m == "" {
				return offsetExpr{}, fmt.Errorf("%s() names no member", fn)
			}
			return offsetExpr{member: m, after: fn == "offset_after"}, nil
		}
	}
	n, err := strconv.ParseInt(v, 0, 64)
	if err != nil || n < 0 {
		return offsetExpr{}, fmt.Errorf("want a bit offset, end, offset_of(member) or offset_after(member), got %q", v)
	}
	return offsetExpr{bits: n}, nil
}

// splitList splits "{a, b}" (or "a, b") into its trimmed elements.
func splitList(v string) []string {
	v = strings.TrimSpace(v)
	v = strings.TrimSuffix(strings.TrimPrefix(v, "{"), "}")
	var out []string
	for p := range strings.SplitSeq(v, ",") {
		if p = unquote(strings.TrimSpace(p)); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// String names the section for reports: "FILE:LINE [kind] label".
func (s *Suppression) String() string {
	str := fmt.Sprintf("%s:%d [%s]", s.File, s.Line, s.Kind)
	if s.Label != "" {
		str += " " + s.Label
	}
	return str
}
