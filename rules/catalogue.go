package rules

import (
	"github.com/compatgate/compatgate/elfdiff"
)

// Kinds of change between packages, which compat finds itself: elfdiff
// compares two libraries, never a library with nothing.
const (
	LibraryRemoved elfdiff.Kind = "library-removed" // a shared library of OLD has no counterpart in NEW
	LibraryAdded   elfdiff.Kind = "library-added"   // a shared library of NEW has no counterpart in OLD
)

// Catalogue returns the built-in rules, in matching order.
func Catalogue() []Rule {
	return append(append(symbolRules(), typeRules()...), cxxRules()...)
}

// symbolRules are the rules for the library as a whole and its symbol
// tables.
func symbolRules() []Rule {
	return []Rule{
		// Packages.
		{ID: "library-removed", Kind: LibraryRemoved, Severity: Break,
			Rationale: "clients that need the library (by its SONAME) fail to load once the new package replaces the old one"},
		{ID: "library-added", Kind: LibraryAdded, Severity: Info,
			Rationale: "a new library does not affect existing clients"},

		// The library as a whole.
		{ID: "machine-changed", Kind: elfdiff.MachineChanged, Severity: Break,
			Rationale: "code built for one architecture cannot load a library built for another"},
		{ID: "soname-changed", Kind: elfdiff.SonameChanged, Severity: Break, When: bothSet,
			Rationale: "clients record the SONAME in DT_NEEDED and look the library up by that name"},
		{ID: "soname-added", Kind: elfdiff.SonameChanged, Severity: Warn, When: oldEmpty,
			Rationale: "clients linked against the old file recorded its file name, not this SONAME; check how it is installed"},
		{ID: "soname-removed", Kind: elfdiff.SonameChanged, Severity: Warn,
			Rationale: "clients look the library up by the old SONAME; the new file no longer declares it"},
		{ID: "needed-added", Kind: elfdiff.NeededAdded, Severity: Info,
			Rationale: "the library pulls in one more dependency at load time"},
		{ID: "needed-removed", Kind: elfdiff.NeededRemoved, Severity: Info,
			Rationale: "clients that relied on it being loaded indirectly must link it themselves"},
		{ID: "version-node-removed", Kind: elfdiff.VersionNodeRemoved, Severity: Break,
			Rationale: "clients that require this version fail to load (version not found)"},
		{ID: "version-node-added", Kind: elfdiff.VersionNodeAdded, Severity: Info,
			Rationale: "a new version node does not affect existing clients"},

		// Symbols.
		{ID: "private-symbol-removed", Kind: elfdiff.SymbolRemoved, Severity: Info, When: func(c elfdiff.Change) bool { return c.Facts.Has(elfdiff.FactPrivate) },
			Rationale: "a C++ function or variable the public headers never mention: clients of the public API cannot have called it"},
		{ID: "symbol-removed", Kind: elfdiff.SymbolRemoved, Severity: Break,
			Rationale: "clients that use it fail to load or abort at first use (undefined symbol)"},
		{ID: "symbol-hidden", Kind: elfdiff.SymbolHidden, Severity: Break,
			Rationale: "clients that use it fail to load or abort at first use (undefined symbol)"},
		{ID: "symbol-added", Kind: elfdiff.SymbolAdded, Severity: Info,
			Rationale: "new symbols do not affect existing clients"},
		{ID: "symbol-version-changed", Kind: elfdiff.SymbolVersionChanged, Severity: Break,
			Rationale: "clients bound to the old version fail to resolve it (symbol not defined in the version)"},
		{ID: "symbol-versioned", Kind: elfdiff.SymbolVersioned, Severity: Info,
			Rationale: "unversioned references still bind to the symbol's default version"},
		{ID: "symbol-default-version-changed", Kind: elfdiff.SymbolDefaultVersion, Severity: Info,
			Rationale: "clients bound to the old version keep it; only new links pick the new default"},
		{ID: "symbol-became-ifunc", Kind: elfdiff.SymbolTypeChanged, Severity: Warn, When: funcIFUNC,
			Rationale: "calls still resolve to an implementation; only code that compares function addresses across objects can tell"},
		{ID: "symbol-type-changed", Kind: elfdiff.SymbolTypeChanged, Severity: Break,
			Rationale: "clients use it as the old kind of symbol: calling data, reading code, or the wrong TLS relocation"},
		{ID: "symbol-size-changed", Kind: elfdiff.SymbolSizeChanged, Severity: Break,
			Rationale: "executables copy data objects at load time with the size they were linked against (copy relocation)"},
		{ID: "symbol-binding-weakened", Kind: elfdiff.SymbolBindingChanged, Severity: Warn, When: newIs("WEAK"),
			Rationale: "run-time binding is unchanged, but another object's strong definition now wins at static link time; check it is intended"},
		{ID: "symbol-binding-unique", Kind: elfdiff.SymbolBindingChanged, Severity: Warn, When: eitherIs("UNIQUE"),
			Rationale: "GNU_UNIQUE binds one definition process-wide and keeps the library from being unloaded"},
		{ID: "symbol-binding-changed", Kind: elfdiff.SymbolBindingChanged, Severity: Info,
			Rationale: "a stronger binding does not change how existing clients resolve the symbol"},
		{ID: "symbol-became-protected-data", Kind: elfdiff.SymbolVisibilityMoved, Severity: Break, When: protectedData,
			Rationale: "an executable's copy-relocated copy and the library's own references diverge; recent glibc refuses to load it"},
		{ID: "symbol-became-protected", Kind: elfdiff.SymbolVisibilityMoved, Severity: Warn, When: newIs("PROTECTED"),
			Rationale: "the library's own calls can no longer be interposed, and its function address may differ from the executable's"},
		{ID: "symbol-became-default-visibility", Kind: elfdiff.SymbolVisibilityMoved, Severity: Info,
			Rationale: "default visibility only allows interposition; existing clients are unaffected"},
	}
}

func bothSet(c elfdiff.Change) bool  { return c.Old != "" && c.New != "" }
func oldEmpty(c elfdiff.Change) bool { return c.Old == "" }

func newIs(v string) func(elfdiff.Change) bool {
	return func(c elfdiff.Change) bool { return c.New == v }
}

func eitherIs(v string) func(elfdiff.Change) bool {
	return func(c elfdiff.Change) bool { return c.Old == v || c.New == v }
}

// funcIFUNC holds for FUNC → IFUNC and back: both are called the same way.
func funcIFUNC(c elfdiff.Change) bool {
	return (c.Old == "FUNC" && c.New == "IFUNC") || (c.Old == "IFUNC" && c.New == "FUNC")
}

func protectedData(c elfdiff.Change) bool {
	return c.New == "PROTECTED" && (c.SymbolType == "OBJECT" || c.SymbolType == "TLS")
}
