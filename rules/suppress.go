package rules

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/compatgate/compatgate/elfdiff"
	"github.com/compatgate/compatgate/elfdiff/abi"
)

// A Target is the library a suppression is tried on.
type Target struct {
	Path   string // the library file, as given (file_name_regexp is tried on it and on its base name)
	SONAME string
}

// A TypeInfo is what a type suppression needs to know of a type beyond
// its changes: its kind and layout, from the corpora. Fields are zero
// when unknown.
type TypeInfo struct {
	// Kind is "struct", "union", "class", "enum", "typedef", "array" or
	// "builtin".
	Kind string
	// OldSize is the old type's size in bits; -1 when unknown.
	OldSize int64
	// Member returns a data member's bit offset and size in bits, in the
	// old layout when it has the member, else in the new one.
	Member func(name string) (offset, size int64, ok bool)
	// NewMember returns a data member's bit offset in the new layout.
	NewMember func(name string) (offset int64, ok bool)
}

// appliesTo reports whether the section's library conditions hold for t.
func (s *Suppression) appliesTo(t Target) bool {
	matchFile := func(r *regexp.Regexp) bool { return r.MatchString(t.Path) || r.MatchString(filepath.Base(t.Path)) }
	if s.fileName != nil && !matchFile(s.fileName) || s.fileNameNot != nil && matchFile(s.fileNameNot) {
		return false
	}
	if s.soname != nil && !s.soname.MatchString(t.SONAME) || s.sonameNot != nil && s.sonameNot.MatchString(t.SONAME) {
		return false
	}
	return true
}

// SuppressesFile reports whether s is a [suppress_file] section that
// matches t: every finding of the library is silenced.
func (s *Suppression) SuppressesFile(t Target) bool {
	return s.Kind == SuppressFile && s.selectsLibrary() && s.appliesTo(t)
}

// selectsLibrary reports whether the section names libraries. As in
// libabigail, a [suppress_file] or [suppress_type] section that selects
// nothing (a label alone) is ignored; a [suppress_function] or
// [suppress_variable] one silences every function or variable.
func (s *Suppression) selectsLibrary() bool {
	return s.fileName != nil || s.fileNameNot != nil || s.soname != nil || s.sonameNot != nil
}

// selectsTypes reports whether a [suppress_type] section selects types.
func (s *Suppression) selectsTypes() bool {
	return s.selectsLibrary() || s.hasName || s.nameRE != nil || s.nameNotRE != nil || s.typeKind != "" ||
		s.accessedThrough != "" || s.NeedsSourceLocation() || s.hasInsertionCondition
}

// matchName applies name, name_regexp and name_not_regexp to the names an
// entity goes by (any one may match).
func (s *Suppression) matchName(names ...string) bool {
	anyOf := func(f func(string) bool) bool { return slices.ContainsFunc(names, f) }
	if s.hasName && !anyOf(func(n string) bool { return n == s.name }) {
		return false
	}
	if s.nameRE != nil && !anyOf(s.nameRE.MatchString) {
		return false
	}
	if s.nameNotRE != nil && anyOf(s.nameNotRE.MatchString) {
		return false
	}
	return true
}

// SuppressesSymbol reports whether s, a [suppress_function] or
// [suppress_variable] section, silences the finding c about an exported
// symbol (c.Symbol set) of library t. name is the symbol's source name:
// the C name, or the demangled C++ name without its parameter list.
func (s *Suppression) SuppressesSymbol(t Target, c elfdiff.Change, name string) bool {
	want := map[string]string{"FUNC": SuppressFunction, "IFUNC": SuppressFunction, "OBJECT": SuppressVariable,
		"TLS": SuppressVariable, "COMMON": SuppressVariable}[c.SymbolType]
	if s.Kind != want || !s.appliesTo(t) || !s.matchesKind(c.Kind) {
		return false
	}
	return s.matchesSymbol(c.Symbol, name)
}

// matchesSymbol applies the name and symbol properties to an ELF symbol
// (name@VERSION) whose source name is name.
func (s *Suppression) matchesSymbol(symbol, name string) bool {
	sym, version, _ := strings.Cut(symbol, "@")
	version = strings.TrimPrefix(version, "@")
	if !s.matchName(name, sym) {
		return false
	}
	if s.symbolName != "" && sym != s.symbolName ||
		s.symbolNameRE != nil && !s.symbolNameRE.MatchString(sym) ||
		s.symbolNameNotRE != nil && s.symbolNameNotRE.MatchString(sym) {
		return false
	}
	if s.symbolVersion != "" && version != s.symbolVersion ||
		s.symbolVersionRE != nil && !s.symbolVersionRE.MatchString(version) {
		return false
	}
	return true
}

// matchesKind applies change_kind: added, deleted or sub-type changes.
func (s *Suppression) matchesKind(k elfdiff.Kind) bool {
	if s.changeKind == "" || s.changeKind == "all" {
		return true
	}
	switch k {
	case elfdiff.SymbolAdded:
		return strings.HasPrefix(s.changeKind, "added-")
	case elfdiff.SymbolRemoved, elfdiff.SymbolHidden:
		return strings.HasPrefix(s.changeKind, "deleted-")
	}
	return strings.HasSuffix(s.changeKind, "-subtype-change")
}

// SuppressesReach reports whether s, a [suppress_function] or
// [suppress_variable] section, silences the sub-type changes of the
// exported symbol (name@VERSION, of ELF type symType) in library t: a
// type finding is silenced when every symbol it affects is.
func (s *Suppression) SuppressesReach(t Target, symbol, symType, name string) bool {
	c := elfdiff.Change{Kind: elfdiff.MemberTypeChanged, Symbol: symbol, SymbolType: symType}
	return s.SuppressesSymbol(t, c, name)
}

// A Decision is the outcome of trying a type suppression on a type.
type Decision int

// Decisions.
const (
	NotSuppressed Decision = iota
	Suppressed
	// Undecided: the section's other conditions hold, but it asks for
	// a source location, which the report does not carry (elfdiff keeps
	// no DW_AT_decl_file): the changes are kept.
	Undecided
)

// SuppressesType decides whether s, a [suppress_type] section, silences
// the findings changes, all about the type named typeName (as reports
// spell it: "struct point", "ns::Widget") in library t.
func (s *Suppression) SuppressesType(t Target, typeName string, changes []elfdiff.Change, info TypeInfo) Decision {
	if s.Kind != SuppressType || !s.selectsTypes() || !s.appliesTo(t) || len(changes) == 0 {
		return NotSuppressed
	}
	kind, bare := splitTypeName(typeName)
	if kind == "" {
		kind = info.Kind
	}
	if !s.matchName(bare, typeName) {
		return NotSuppressed
	}
	// As libabigail's, "class" is any class type, declared with struct or
	// class; "struct" only one declared with struct.
	if s.typeKind != "" && s.typeKind != kind && !(s.typeKind == "class" && kind == "struct") {
		return NotSuppressed
	}
	if s.accessedThrough != "" {
		reach := elfdiff.ReachNone
		for _, c := range changes {
			reach = max(reach, c.Reach)
		}
		if (s.accessedThrough == "direct") != (reach == elfdiff.ReachValue) {
			return NotSuppressed
		}
	}
	if s.hasInsertionCondition && !s.onlyInsertions(changes, info) {
		return NotSuppressed
	}
	if len(s.sourceLocationNotIn) > 0 || s.sourceLocationNotRE != nil {
		// Only one thing is known of a type's location: a class internal
		// to the library is defined in one of its source files, so in
		// none of the listed headers.
		internal := slices.ContainsFunc(changes, func(c elfdiff.Change) bool { return c.Facts.Has(elfdiff.FactInternal) })
		if internal && s.sourceLocationNotRE == nil && !slices.ContainsFunc(s.sourceLocationNotIn, abi.IsSourceFile) {
			return Suppressed
		}
		return Undecided
	}
	return Suppressed
}

// onlyInsertions applies has_data_member(s)_inserted_*: as libabigail,
// the type's changes are silenced only when data members were inserted,
// each inside one of the ranges, and none was removed and the type did
// not shrink.
func (s *Suppression) onlyInsertions(changes []elfdiff.Change, info TypeInfo) bool {
	inserted := 0
	for _, c := range changes {
		switch {
		case c.Kind == elfdiff.MemberRemoved, c.Kind == elfdiff.TypeSizeChanged && c.Facts.Has(elfdiff.FactShrank):
			return false
		case c.Kind == elfdiff.MemberAdded:
			if info.NewMember == nil {
				return false
			}
			off, ok := info.NewMember(strings.TrimPrefix(c.Where, "member "))
			if !ok || !slices.ContainsFunc(s.insertions, func(r insertionRange) bool { return r.contains(off, info) }) {
				return false
			}
			inserted++
		}
	}
	return inserted > 0
}

// contains reports whether a member inserted at bit offset off is in the
// range.
func (r insertionRange) contains(off int64, info TypeInfo) bool {
	from, ok1 := r.from.eval(info, false)
	to, ok2 := r.to.eval(info, true)
	return ok1 && ok2 && from <= off && off <= to
}

// eval returns the bit offset an expression stands for; "end" is the old
// type's end as a lower bound, and unbounded as an upper bound.
func (e offsetExpr) eval(info TypeInfo, upper bool) (int64, bool) {
	switch {
	case e.end && upper:
		return 1<<62 - 1, true
	case e.end:
		return info.OldSize, info.OldSize >= 0
	case e.member != "":
		if info.Member == nil {
			return 0, false
		}
		off, size, ok := info.Member(e.member)
		if e.after {
			off += size
		}
		return off, ok
	}
	return e.bits, true
}

// splitTypeName splits "struct point" into its kind and bare name; C++
// and typedef names have no keyword, and return kind "".
func splitTypeName(name string) (kind, bare string) {
	for _, k := range []string{"struct", "union", "enum", "class"} {
		if rest, ok := strings.CutPrefix(name, k+" "); ok {
			return k, rest
		}
	}
	return "", name
}

// NeedsSourceLocation reports whether the section asks for a source
// location, which compatgate's report does not carry.
func (s *Suppression) NeedsSourceLocation() bool {
	return len(s.sourceLocationNotIn) > 0 || s.sourceLocationNotRE != nil
}
