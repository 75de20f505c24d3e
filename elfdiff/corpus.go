package elfdiff

import (
	"github.com/compatgate/compatgate/elfdiff/pubheaders"

	"github.com/compatgate/compatgate/elfdiff/cxx"

	"github.com/compatgate/compatgate/elfdiff/abi"

	"github.com/compatgate/compatgate/elfdiff/elfsym"

	"debug/elf"
	"fmt"
	"iter"
	"strings"
)

// A Corpus is the binary interface of one shared object.
type Corpus struct {
	Path    string
	Class   elf.Class
	Machine elf.Machine
	SONAME  string
	Needed  []string
	BuildID string // lowercase hex of the NT_GNU_BUILD_ID note; empty when absent

	// symbols are the exported definitions of .dynsym: defined, GLOBAL,
	// WEAK or GNU_UNIQUE binding, default or protected visibility; see
	// Symbols.
	symbols elfsym.SymbolList
	// Undefined are the symbols the library imports from others.
	Undefined []elfsym.Symbol
	// Versions are the version nodes the library defines (.gnu.version_d),
	// excluding the base node that names the file itself.
	Versions []string
	// Hidden names symbols that .symtab (when present) defines with hidden
	// or internal visibility or local binding: they exist but are not
	// exported. Used to explain why a symbol disappeared from .dynsym.
	Hidden map[string]bool
	// ReadOnly holds the contents of small exported data objects in
	// read-only data (.rodata), by symbol key: constants whose values
	// clients may have compiled in. Nil when Debug is: without the
	// declarations, nothing tells constants from other data.
	ReadOnly map[string][]byte
	// CXX holds the exported C++ virtual tables and typeinfo objects, read
	// from the section data and the dynamic relocations; nil when there
	// are none.
	CXX *cxx.Tables

	// Debug is the DWARF-derived interface, nil when the library carries no
	// debug information (neither inline nor in a separate debug file).
	Debug *abi.DebugInfo
	// Headers are the library's public headers, which say what types
	// are its public API; nil when unknown (then types defined in source
	// files are taken as private, all others as public). Load leaves it
	// nil: the caller sets it (see package pubheaders).
	Headers *pubheaders.Set
	// Notes explain what could not be read, such as unreadable DWARF; the
	// report shows them.
	Notes []string
}

// NumSymbols returns the number of exported symbols.
func (c *Corpus) NumSymbols() int { return c.symbols.Len() }

// Symbol returns exported symbol i, 0 ≤ i < NumSymbols, in the order of
// Symbols.
func (c *Corpus) Symbol(i int) Symbol { return c.symbols.At(i) }

// Symbols returns the exported definitions of .dynsym — defined, GLOBAL,
// WEAK or GNU_UNIQUE binding, default or protected visibility — with their
// indices, sorted by name, then version.
func (c *Corpus) Symbols() iter.Seq2[int, Symbol] { return c.symbols.All() }

// Lookup returns the exported symbol with the given key.
func (c *Corpus) Lookup(key string) (Symbol, bool) {
	if i, ok := c.lookup(key); ok {
		return c.symbols.At(i), true
	}
	return Symbol{}, false
}

// lookup returns the index of the symbol with the given key.
func (c *Corpus) lookup(key string) (int, bool) {
	if i, ok := c.symbols.Find(key, ""); ok {
		return i, true
	}
	// Symbol names do not contain '@': the last one starts the version.
	if at := strings.LastIndexByte(key, '@'); at > 0 {
		return c.symbols.Find(key[:at], key[at+1:])
	}
	return 0, false
}

// exports reports whether the library exports a symbol called name, in
// any version.
func (c *Corpus) exports(name string) bool {
	i, j := c.symbols.ByName(name)
	return i < j
}

// A FormatError reports that a file is not a readable ELF shared object.
type FormatError struct {
	Path string
	Msg  string
	Err  error // the underlying error, if any
}

func (e *FormatError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Path, e.Msg, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

func (e *FormatError) Unwrap() error { return e.Err }

// A Symbol is one entry of the dynamic symbol table (see elfsym.Symbol).
type Symbol = elfsym.Symbol

// NewCorpus returns a corpus with the fields of c and the exported symbols
// syms, in any order: a corpus assembled from parts read elsewhere than
// from the library itself, such as an ABI dump (package abidump).
func NewCorpus(c Corpus, syms []Symbol) *Corpus {
	c.symbols = elfsym.SymbolListOf(syms)
	return &c
}
