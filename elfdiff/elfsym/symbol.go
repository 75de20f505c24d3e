package elfsym

import "debug/elf"

// A Symbol is one entry of the dynamic symbol table.
type Symbol struct {
	Name       string
	Version    string // GNU symbol version; empty when unversioned
	Default    bool   // the version is the default one (name@@VERSION)
	Type       elf.SymType
	Bind       elf.SymBind
	Visibility elf.SymVis
	Size       uint64
	Value      uint64
}

// Key identifies a symbol across versions of a library: its name and, when
// versioned, its version node. A default and a non-default definition of the
// same version are the same symbol to a client that bound to it.
func (s Symbol) Key() string {
	if s.Version == "" {
		return s.Name
	}
	return s.Name + "@" + s.Version
}

// String returns the symbol as readelf and abidiff spell it:
// name, name@VERSION or name@@VERSION.
func (s Symbol) String() string {
	switch {
	case s.Version == "":
		return s.Name
	case s.Default:
		return s.Name + "@@" + s.Version
	default:
		return s.Name + "@" + s.Version
	}
}
