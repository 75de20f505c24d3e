package elfdiff

// A Kind names what changed between two versions of a library, neutrally:
// whether the change breaks clients is for package rules to say.
type Kind string

// Library-level and symbol-level kinds of change.
const (
	MachineChanged        Kind = "machine-changed"         // e_machine differs
	SonameChanged         Kind = "soname-changed"          // DT_SONAME differs (Old or New may be empty)
	NeededAdded           Kind = "needed-added"            // a DT_NEEDED entry appeared
	NeededRemoved         Kind = "needed-removed"          // a DT_NEEDED entry disappeared
	VersionNodeAdded      Kind = "version-node-added"      // a version definition appeared
	VersionNodeRemoved    Kind = "version-node-removed"    // a version definition disappeared
	SymbolAdded           Kind = "symbol-added"            // an exported symbol appeared
	SymbolRemoved         Kind = "symbol-removed"          // an exported symbol disappeared
	SymbolHidden          Kind = "symbol-hidden"           // still defined, no longer exported
	SymbolVersionChanged  Kind = "symbol-version-changed"  // same name, the old version binding is gone
	SymbolVersioned       Kind = "symbol-versioned"        // an unversioned symbol got a version
	SymbolDefaultVersion  Kind = "symbol-default-version"  // name@@V became name@V (another default took over)
	SymbolTypeChanged     Kind = "symbol-type-changed"     // FUNC, OBJECT, TLS, GNU_IFUNC…
	SymbolSizeChanged     Kind = "symbol-size-changed"     // size of a data (OBJECT, TLS) symbol
	SymbolBindingChanged  Kind = "symbol-binding-changed"  // GLOBAL, WEAK, GNU_UNIQUE
	SymbolVisibilityMoved Kind = "symbol-visibility-moved" // default ↔ protected
)

// A Change is one difference between two corpora.
type Change struct {
	Kind Kind
	// Symbol is the exported symbol the change is about, spelled as in
	// .dynsym with its version (see Symbol.String); empty for changes to
	// the library as a whole or to a type.
	Symbol string
	// SymbolType is the ELF type of Symbol (FUNC, OBJECT…), when there is one.
	SymbolType string
	// Type names the type a type-level change is in.
	Type string
	// Where locates the change inside Symbol or Type: "parameter 2 (n)",
	// "member opts".
	Where string
	// Old and New are the two sides of the change, as text.
	Old, New string
	// Affected lists the exported symbols whose ABI the change reaches.
	Affected []string
	// Detail is a neutral, one-line description of the change.
	Detail string
}
