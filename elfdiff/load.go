package elfdiff

import (
	"github.com/compatgate/compatgate/elfdiff/cxx"

	"github.com/compatgate/compatgate/elfdiff/abi"

	"github.com/compatgate/compatgate/elfdiff/debuginfod"
	"github.com/compatgate/compatgate/elfdiff/dwarfdec"

	"github.com/compatgate/compatgate/elfdiff/elfsym"

	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
)

// LoadOptions tune how Load finds debug information.
type LoadOptions struct {
	// DebugDirs are searched for separate debug files before
	// DefaultDebugDir, by build-id (DIR/.build-id/xx/yyyy.debug) and by
	// .gnu_debuglink name (DIR/NAME and DIR/<library's directory>/NAME).
	DebugDirs []string
	// Debuginfod, when set, fetches the debug files (and dwz's
	// supplementary files) not found in DebugDirs, by build-id.
	Debuginfod *debuginfod.Client
	// NoDebugInfo skips DWARF: only the symbol tables are read.
	NoDebugInfo bool
	// ShareNames is a corpus already loaded, of another version of the
	// library, whose memory the new corpus uses for the symbol names
	// both export and for the names of the C++ classes both have vtables
	// or typeinfo for. A check that holds both then keeps one copy of
	// each such name: on a big C++ library, most of its string table.
	ShareNames *Corpus
	// Pace, when set, is called before the DWARF is indexed and each
	// time the reading moves on to another compilation unit's
	// declarations. It may block: a caller reading two libraries at the
	// same time paces one against the other (see abi.ReadOptions).
	Pace func()
}

// Load reads the shared object at path into a Corpus, with the DWARF of
// the library or of its separate debug file found in the default places.
// It returns a *FormatError when the file is not a well-formed ELF shared
// object.
func Load(path string) (*Corpus, error) { return LoadWith(path, LoadOptions{}) }

// LoadWith is Load with options: where else to look for debug files, or
// not to read DWARF at all.
func LoadWith(path string, opts LoadOptions) (*Corpus, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *fs.PathError already names the file
	}
	defer f.Close()
	return load(path, f, opts, true)
}

// LoadReader reads a shared object from r; path is used in errors and in
// the Corpus only. Only DWARF inside the object is read: no separate debug
// file is looked for. Malformed input yields a *FormatError, never a panic.
func LoadReader(path string, r io.ReaderAt) (*Corpus, error) {
	return load(path, r, LoadOptions{}, false)
}

func load(path string, r io.ReaderAt, opts LoadOptions, searchFiles bool) (c *Corpus, err error) {
	// debug/elf is hardened against most malformed input but not all of it;
	// a corrupt file must give an error, never bring down the tool.
	// FuzzLoad calls loadReader directly, so that such panics are found.
	defer func() {
		if v := recover(); v != nil {
			c, err = nil, &FormatError{Path: path, Msg: fmt.Sprintf("malformed ELF file (%v)", v)}
		}
	}()
	return loadReaderWith(path, r, opts, searchFiles)
}

// loadReader reads a shared object and the DWARF inside it, without the
// recover of load.
func loadReader(path string, r io.ReaderAt) (*Corpus, error) {
	return loadReaderWith(path, r, LoadOptions{}, false)
}

func loadReaderWith(path string, r io.ReaderAt, opts LoadOptions, searchFiles bool) (*Corpus, error) {
	var magic [4]byte
	if n, _ := r.ReadAt(magic[:], 0); n < len(magic) || string(magic[:]) != elf.ELFMAG {
		return nil, &FormatError{Path: path, Msg: "not an ELF file"}
	}
	ef, err := elf.NewFile(r)
	if err != nil {
		return nil, formatError(path, err)
	}
	defer ef.Close()
	if ef.Type != elf.ET_DYN {
		return nil, &FormatError{Path: path, Msg: fmt.Sprintf("not a shared object (ELF type %s)", ef.Type)}
	}
	c := &Corpus{Path: path, Class: ef.Class, Machine: ef.Machine}
	// Each symbol table is read once, here, for all its readers.
	dyn, err := elfsym.ReadSymbolTable(ef, elf.SHT_DYNSYM)
	if err != nil {
		return nil, &FormatError{Path: path, Msg: "reading dynamic symbols", Err: err}
	}
	if err := c.readDynamic(ef, dyn); err != nil {
		return nil, &FormatError{Path: path, Msg: "reading dynamic section", Err: err}
	}
	local, _ := elfsym.ReadSymbolTable(ef, elf.SHT_SYMTAB) // optional: stripped libraries have none
	c.symbols, c.Undefined, c.Versions = elfsym.ReadExports(dyn)
	intern := elfsym.NewInterner(&c.symbols).Intern
	var baseCXX *cxx.Tables
	if base := opts.ShareNames; base != nil {
		c.symbols.Share(&base.symbols)
		dyn.Detach(intern)
		baseCXX = base.CXX
	}
	c.BuildID = elfsym.BuildID(ef)
	c.Hidden = hiddenSymbols(local)
	if t, note := cxx.ReadTables(ef, &c.symbols, dyn, local, baseCXX, intern); note != "" {
		c.Notes = append(c.Notes, path+": "+note)
	} else {
		c.CXX = t
	}
	if !opts.NoDebugInfo {
		c.readDebug(ef, r, path, opts, searchFiles)
	}
	if c.Debug != nil {
		// Only the declarations in the debug information say which
		// objects are constants whose values matter.
		c.ReadOnly = readOnlyData(ef, &c.symbols)
	}
	return c, nil
}

// readDebug fills c.Debug from the DWARF of the library or its separate
// debug file. Unreadable DWARF is not fatal: the check degrades to the
// symbol tables, and a note says why.
func (c *Corpus) readDebug(ef *elf.File, r io.ReaderAt, path string, opts LoadOptions, searchFiles bool) {
	defer func() {
		if v := recover(); v != nil {
			c.Debug = nil
			c.Notes = append(c.Notes, fmt.Sprintf("%s: debug information unreadable, types not checked: malformed DWARF (%v)", path, v))
		}
	}()
	filePath := path
	if !searchFiles {
		filePath = ""
	}
	df, err := dwarfdec.Open(ef, r, filePath, c.BuildID, opts.search())
	if err != nil {
		c.Notes = append(c.Notes, fmt.Sprintf("%s: debug information unreadable, types not checked: %v", path, err))
		return
	}
	if df == nil {
		return
	}
	defer df.Close()
	source := df.Path
	if source == "" {
		source = path
	}
	info, err := abi.ReadWith(df, &c.symbols, source, abi.ReadOptions{PrivateData: stateAddress(ef), Pace: opts.Pace})
	if err != nil {
		c.Notes = append(c.Notes, fmt.Sprintf("%s: debug information unreadable, types not checked: %v", source, err))
		return
	}
	c.Debug = info
	if df.Fetched {
		c.Notes = append(c.Notes, fmt.Sprintf("%s: debug information fetched from debuginfod (build-id %s): %s", path, c.BuildID, df.Path))
	}
	if info.TypeUnitRefs > 0 {
		c.Notes = append(c.Notes, fmt.Sprintf("%s: %d type references lead to type units (DW_FORM_ref_sig8) "+
			"that are not in the debug information: changes inside those types are not detected", source, info.TypeUnitRefs))
	}
}

// search returns where dwarfdec looks for debug files.
func (opts LoadOptions) search() dwarfdec.Search {
	s := dwarfdec.Search{Dirs: opts.DebugDirs}
	if c := opts.Debuginfod; c != nil {
		s.Fetch = func(buildID string) (string, error) {
			p, err := c.DebugInfo(context.Background(), buildID)
			if errors.Is(err, debuginfod.ErrNotFound) {
				return "", nil
			}
			return p, err
		}
	}
	return s
}

// formatError turns an error of debug/elf into a FormatError with a message
// a user can act on.
func formatError(path string, err error) error {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &FormatError{Path: path, Msg: "truncated or corrupt ELF file"}
	default:
		return &FormatError{Path: path, Msg: "malformed ELF file", Err: err}
	}
}

// readDynamic reads SONAME and NEEDED. Their names are in the string
// table of dyn, the dynamic symbol table, in any library a linker made:
// they are looked up there rather than by debug/elf's DynString, which
// reads the whole table again for each tag.
func (c *Corpus) readDynamic(ef *elf.File, dyn *elfsym.SymbolTable) error {
	if ef.Section(".dynamic") == nil && progType(ef, elf.PT_DYNAMIC) == nil {
		return errors.New("no dynamic section")
	}
	ds := ef.SectionByType(elf.SHT_DYNAMIC)
	inDyn := ds != nil && dyn != nil && ds.Link == dyn.Link
	names := func(tag elf.DynTag) ([]string, error) {
		if !inDyn {
			return ef.DynString(tag)
		}
		offs, err := ef.DynValue(tag)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, off := range offs {
			// An offset out of the table is skipped, as DynString does.
			if s, ok := elfsym.TableString(dyn.Strings, uint32(off)); ok && off <= math.MaxUint32 {
				out = append(out, strings.Clone(s))
			}
		}
		return out, nil
	}
	sonames, err := names(elf.DT_SONAME)
	if err != nil {
		return err
	}
	if len(sonames) > 0 {
		c.SONAME = sonames[0]
	}
	c.Needed, err = names(elf.DT_NEEDED)
	return err
}

func hasSection(ef *elf.File, t elf.SectionType) bool {
	for _, s := range ef.Sections {
		if s.Type == t {
			return true
		}
	}
	return false
}

func progType(ef *elf.File, t elf.ProgType) *elf.Prog {
	for _, p := range ef.Progs {
		if p.Type == t {
			return p
		}
	}
	return nil
}

// hiddenSymbols returns the names .symtab defines without exporting them;
// nil when there is no .symtab.
func hiddenSymbols(local *elfsym.SymbolTable) map[string]bool {
	if local.Len() == 0 {
		return nil
	}
	hidden := make(map[string]bool)
	for i := 1; i < local.Len(); i++ {
		s := local.At(i)
		if s.Section == elf.SHN_UNDEF || s.Name == "" {
			continue
		}
		t := elf.ST_TYPE(s.Info)
		if t != elf.STT_FUNC && t != elf.STT_OBJECT && t != elf.STT_TLS && t != elf.STT_GNU_IFUNC {
			continue
		}
		v := elf.ST_VISIBILITY(s.Other)
		if elf.ST_BIND(s.Info) == elf.STB_LOCAL || v == elf.STV_HIDDEN || v == elf.STV_INTERNAL {
			// A copy, so the map does not keep the whole string table.
			hidden[strings.Clone(s.Name)] = true
		}
	}
	return hidden
}

// maxConstSize bounds the size of the constants whose contents are kept.
const maxConstSize = 64

// readOnlyData returns the contents of the exported data objects of at most
// maxConstSize bytes that live in .rodata: constants. Objects in
// .data.rel.ro are left out, since they hold relocated addresses.
func readOnlyData(ef *elf.File, syms *elfsym.SymbolList) map[string][]byte {
	out := make(map[string][]byte)
	for _, s := range syms.All() {
		if s.Type != elf.STT_OBJECT || s.Size == 0 || s.Size > maxConstSize {
			continue
		}
		for _, sec := range ef.Sections {
			if sec.Flags&elf.SHF_ALLOC == 0 || sec.Flags&elf.SHF_WRITE != 0 || sec.Type != elf.SHT_PROGBITS ||
				!strings.HasPrefix(sec.Name, ".rodata") || s.Value < sec.Addr || s.Value+s.Size > sec.Addr+sec.Size {
				continue
			}
			b := make([]byte, s.Size)
			if _, err := sec.ReadAt(b, int64(s.Value-sec.Addr)); err == nil {
				out[s.Key()] = b
			}
			break
		}
	}
	return out
}
