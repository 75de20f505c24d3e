package abidump

// This file declares the document: the JSON schema of an ABI dump,
// version 1 (docs/abi-dump.md describes it for users).

// Format is the value of a dump's "format" field, its first: what tells a
// dump from any other JSON document.
const Format = "compatgate-abi-dump"

// Version is the schema version this package writes. It reads every
// version from 1 to Version.
const Version = 1

// A document is a whole dump.
type document struct {
	Format  string  `json:"format"`
	Version int     `json:"version"`
	Library library `json:"library"`
	// Symbols are the exported definitions, sorted by name and version.
	Symbols   []symbol `json:"symbols"`
	Undefined []symbol `json:"undefined"`
	// Hidden is null when the library has no .symtab, else the sorted
	// names .symtab defines without exporting.
	Hidden []string `json:"hidden"`
	// ReadOnly is null when the library has no debug information, else
	// the small read-only exported objects' bytes, in hex, by symbol key.
	ReadOnly map[string]string `json:"read_only"`
	CXX      *cxxTables        `json:"cxx"`
	// Headers are the public headers the dump was made with; absent when
	// none were given or found.
	Headers *headers   `json:"headers,omitempty"`
	Debug   *debugInfo `json:"debug"`
}

// headers is pubheaders.Set: what a check needs of the public headers —
// their names, the identifiers they use and the types they define.
type headers struct {
	Origin  string   `json:"origin"`
	Files   []string `json:"files"`
	Idents  []string `json:"idents"`
	Defined []string `json:"defined"`
}

// library holds the library's facts.
type library struct {
	Path     string   `json:"path"`
	Class    string   `json:"class"`   // elf.Class: ELFCLASS64
	Machine  string   `json:"machine"` // elf.Machine: EM_X86_64
	SONAME   string   `json:"soname"`
	Needed   []string `json:"needed"`
	BuildID  string   `json:"build_id"`
	Versions []string `json:"versions"`
	Notes    []string `json:"notes"`
}

// symbol is one dynamic symbol; empty bind and visibility are STB_GLOBAL
// and STV_DEFAULT.
type symbol struct {
	Name       string `json:"name"`
	Version    string `json:"version,omitempty"`
	Default    bool   `json:"default,omitempty"`
	Type       string `json:"type"` // elf.SymType: STT_FUNC
	Bind       string `json:"bind,omitempty"`
	Visibility string `json:"visibility,omitempty"`
	Size       uint64 `json:"size"`
	Value      uint64 `json:"value"`
}

// cxxTables are cxx.Tables: vtables and typeinfo by symbol name.
type cxxTables struct {
	VTables  map[string]vtable   `json:"vtables"`
	Typeinfo map[string]typeinfo `json:"typeinfo"`
}

type vtable struct {
	Symbol string     `json:"symbol"`
	Class  string     `json:"class"`
	Size   uint64     `json:"size"`
	Tables []subTable `json:"tables"`
	Err    string     `json:"error,omitempty"`
}

type subTable struct {
	Offsets     []int64 `json:"offsets"`
	OffsetToTop int64   `json:"offset_to_top"`
	RTTI        string  `json:"rtti,omitempty"`
	Slots       []slot  `json:"slots"`
}

type slot struct {
	Target string `json:"target,omitempty"`
	Addr   uint64 `json:"addr,omitempty"`
}

type typeinfo struct {
	Symbol string      `json:"symbol"`
	Class  string      `json:"class"`
	Kind   string      `json:"kind"`
	Flags  uint32      `json:"flags,omitempty"`
	Bases  []baseClass `json:"bases"`
	Err    string      `json:"error,omitempty"`
}

type baseClass struct {
	Name    string `json:"name"`
	Virtual bool   `json:"virtual,omitempty"`
	Public  bool   `json:"public,omitempty"`
	Offset  int64  `json:"offset"`
}

// debugInfo is abi.DebugInfo. Types are a table: every reference to a
// type is its index in Types (a *ref; null or absent for none).
type debugInfo struct {
	Source       string `json:"source"`
	TypeCount    int    `json:"type_count"`
	TypeUnitRefs int    `json:"type_unit_refs"`
	// Files are the files types, functions and variables were declared
	// in; absent when none is known.
	Files       []string    `json:"files,omitempty"`
	Funcs       []funcAt    `json:"funcs"`
	Vars        []varAt     `json:"vars"`
	FuncsByName []funcNamed `json:"funcs_by_name"`
	VarsByName  []varNamed  `json:"vars_by_name"`
	// PrivateVars are the library's private variables in writable static
	// storage; absent when none.
	PrivateVars []varAt `json:"private_vars,omitempty"`
	Types       []typ   `json:"types"`
}

// ref is an index in debugInfo.Types.
type ref = *int

type funcAt struct {
	Addr uint64 `json:"addr"`
	function
}

type funcNamed struct {
	Key string `json:"key"`
	function
}

type varAt struct {
	Addr uint64 `json:"addr"`
	variable
}

type varNamed struct {
	Key string `json:"key"`
	variable
}

type function struct {
	Name     string  `json:"name"`
	Linkage  string  `json:"linkage,omitempty"`
	Return   ref     `json:"return,omitempty"`
	Params   []param `json:"params,omitempty"`
	Variadic bool    `json:"variadic,omitempty"`
	This     ref     `json:"this,omitempty"`
	Method   bool    `json:"method,omitempty"`
	Inline   bool    `json:"inline,omitempty"`
	InHeader bool    `json:"in_header,omitempty"`
	declPos
}

// declPos is where a function, variable or type was declared: a file's
// number in debugInfo.Files counted from 1 and a line; absent when
// unknown, and in the dumps written before these fields were added (no
// lines at all, no files for functions and variables).
type declPos struct {
	File uint32 `json:"file,omitempty"`
	Line uint32 `json:"line,omitempty"`
}

type param struct {
	Name string `json:"name,omitempty"`
	Type ref    `json:"type"`
}

type variable struct {
	Name    string `json:"name"`
	Linkage string `json:"linkage,omitempty"`
	Type    ref    `json:"type"`
	declPos
}

// typ is abi.Type. Size and Count are -1 when absent.
type typ struct {
	Kind        string       `json:"kind"`
	Name        string       `json:"name,omitempty"`
	Size        *int64       `json:"size,omitempty"`
	Align       int64        `json:"align,omitempty"`
	Encoding    int64        `json:"encoding,omitempty"`
	Elem        ref          `json:"elem,omitempty"`
	Count       *int64       `json:"count,omitempty"`
	Members     []member     `json:"members,omitempty"`
	Enumerators []enumerator `json:"enumerators,omitempty"`
	Params      []ref        `json:"params,omitempty"`
	Variadic    bool         `json:"variadic,omitempty"`
	Declaration bool         `json:"declaration,omitempty"`
	Vector      bool         `json:"vector,omitempty"`
	Class       *classInfo   `json:"class,omitempty"`
	CXX         bool         `json:"cxx,omitempty"`
	// File and Line are where a struct, union, class or enum was defined.
	declPos
}

// member is abi.Member; BitOffset is absent when it is 8 × Offset.
type member struct {
	Name      string `json:"name,omitempty"`
	Type      ref    `json:"type"`
	Offset    int64  `json:"offset"`
	BitOffset *int64 `json:"bit_offset,omitempty"`
	BitSize   int64  `json:"bit_size,omitempty"`
}

type enumerator struct {
	Name  string `json:"name"`
	Value int64  `json:"value"`
}

type classInfo struct {
	Bases        []base           `json:"bases,omitempty"`
	VPtr         bool             `json:"vptr,omitempty"`
	Methods      []method         `json:"methods,omitempty"`
	Statics      []member         `json:"statics,omitempty"`
	Access       map[string]int64 `json:"access,omitempty"`
	PassByRef    bool             `json:"pass_by_ref,omitempty"`
	Internal     bool             `json:"internal,omitempty"`
	NoPublicCtor bool             `json:"no_public_ctor,omitempty"`
}

// base is abi.Base; an absent access is public (1).
type base struct {
	Type    ref    `json:"type"`
	Offset  int64  `json:"offset"`
	Virtual bool   `json:"virtual,omitempty"`
	Access  *int64 `json:"access,omitempty"`
}

// method is abi.Method; an absent slot is -1, an absent access public (1).
type method struct {
	Name       string `json:"name"`
	Linkage    string `json:"linkage,omitempty"`
	Virtuality int64  `json:"virtuality,omitempty"`
	Slot       *int64 `json:"slot,omitempty"`
	Static     bool   `json:"static,omitempty"`
	Access     *int64 `json:"access,omitempty"`
	Params     []ref  `json:"params,omitempty"`
	Inline     bool   `json:"inline,omitempty"`
	Deleted    bool   `json:"deleted,omitempty"`
	Artificial bool   `json:"artificial,omitempty"`
}
