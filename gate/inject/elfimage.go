//go:build linux && amd64

package inject

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"syscall"
)

// symbol is one defined dynamic symbol of a library.
type symbol struct {
	name    string
	version string // "" when unversioned
	value   uint64 // link-time address
	size    uint64
	typ     elf.SymType
	vis     elf.SymVis
	index   int    // index in .dynsym (0 is the null symbol)
	k       string // key(), computed once
}

// key names the symbol as the dynamic linker matches it.
func (s symbol) key() string {
	if s.k != "" {
		return s.k
	}
	if s.version == "" {
		return s.name
	}
	return s.name + "@" + s.version
}

// image is a shared object read from disk: what the engine needs of it.
type image struct {
	path    string
	buildID string // hex; "" when the file has none
	dev     uint64
	ino     uint64
	file    *elf.File
	ra      io.ReaderAt
	closer  io.Closer
	loads   []elf.ProgHeader
	relro   [2]uint64 // [start, end) of PT_GNU_RELRO, link-time
	funcs   []symbol  // exported functions, sorted by name
	objects []symbol  // exported data objects (incl. TLS), sorted by name
	ifuncs  []symbol  // exported STT_GNU_IFUNC symbols
	dynsyms []elf.Symbol
	// Read on first use (an image serves one operation, one goroutine):
	// the executable sections, and the targets of their branches.
	code    []codeSection
	targets map[uint64]bool
}

// codeSection is the contents of an executable section, at its link-time
// address.
type codeSection struct {
	addr uint64
	code []byte
}

// text returns the image's executable sections, read once.
func (img *image) text() ([]codeSection, error) {
	if img.code != nil {
		return img.code, nil
	}
	out := []codeSection{}
	for _, s := range img.file.Sections {
		if s.Type != elf.SHT_PROGBITS || s.Flags&elf.SHF_EXECINSTR == 0 {
			continue
		}
		code, err := s.Data()
		if err != nil {
			return nil, fmt.Errorf("reading %s of %s: %w", s.Name, img.path, err)
		}
		out = append(out, codeSection{s.Addr, code})
	}
	img.code = out
	return out, nil
}

// openImage reads the shared object at path.
func openImage(path string) (*image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	img, err := newImage(path, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	if st, err := f.Stat(); err == nil {
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			img.dev, img.ino = sys.Dev, sys.Ino
		}
	}
	img.closer = f
	return img, nil
}

// openELF reads the ELF headers of an x86-64 shared object.
func openELF(path string, ra io.ReaderAt) (*elf.File, error) {
	ef, err := elf.NewFile(ra)
	if err != nil {
		return nil, fmt.Errorf("reading ELF %s: %w", path, err)
	}
	if ef.Class != elf.ELFCLASS64 || ef.Machine != elf.EM_X86_64 || ef.Type != elf.ET_DYN {
		return nil, fmt.Errorf("%s is not an x86-64 shared object", path)
	}
	return ef, nil
}

// segments returns the loadable segments of ef (PT_LOAD), in order, and
// the address range of its PT_GNU_RELRO segment (zero when none).
func segments(ef *elf.File) (loads []elf.ProgHeader, relro [2]uint64) {
	for _, p := range ef.Progs {
		switch p.Type {
		case elf.PT_LOAD:
			loads = append(loads, p.ProgHeader)
		case elf.PT_GNU_RELRO:
			relro = [2]uint64{p.Vaddr, p.Vaddr + p.Memsz}
		}
	}
	return loads, relro
}

func newImage(path string, ra io.ReaderAt) (*image, error) {
	ef, err := openELF(path, ra)
	if err != nil {
		return nil, err
	}
	img := &image{path: path, file: ef, ra: ra}
	img.loads, img.relro = segments(ef)
	if len(img.loads) == 0 {
		return nil, fmt.Errorf("%s has no loadable segment", path)
	}
	img.buildID = readBuildID(ef)
	syms, err := ef.DynamicSymbols()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return nil, fmt.Errorf("reading dynamic symbols of %s: %w", path, err)
	}
	img.dynsyms = syms
	for i, s := range syms {
		bind := elf.ST_BIND(s.Info)
		if s.Section == elf.SHN_UNDEF || (bind != elf.STB_GLOBAL && bind != elf.STB_WEAK) {
			continue
		}
		if s.Section == elf.SHN_ABS {
			// An absolute symbol names no storage and no code: GNU ld and
			// gold emit one (size 0, STT_OBJECT) for every version node.
			continue
		}
		vis := elf.ST_VISIBILITY(s.Other)
		if vis != elf.STV_DEFAULT && vis != elf.STV_PROTECTED {
			continue
		}
		sym := symbol{name: s.Name, value: s.Value, size: s.Size, typ: elf.ST_TYPE(s.Info), vis: vis, index: i + 1}
		if s.HasVersion {
			sym.version = s.Version
		}
		sym.k = sym.key()
		switch sym.typ {
		case elf.STT_FUNC:
			img.funcs = append(img.funcs, sym)
		case elf.STT_OBJECT, elf.STT_TLS, elf.STT_COMMON:
			img.objects = append(img.objects, sym)
		case elf.STT_GNU_IFUNC:
			img.ifuncs = append(img.ifuncs, sym)
		}
	}
	sort.Slice(img.funcs, func(i, j int) bool { return img.funcs[i].k < img.funcs[j].k })
	sort.Slice(img.objects, func(i, j int) bool { return img.objects[i].k < img.objects[j].k })
	return img, nil
}

func (img *image) close() {
	if img != nil && img.closer != nil {
		img.closer.Close()
	}
}

// readBuildID returns the GNU build-id note of f as hex, or "".
func readBuildID(f *elf.File) string {
	var notes [][]byte
	for _, s := range f.Sections {
		if s.Type == elf.SHT_NOTE {
			if d, err := s.Data(); err == nil {
				notes = append(notes, d)
			}
		}
	}
	if len(notes) == 0 {
		for _, p := range f.Progs {
			if p.Type == elf.PT_NOTE {
				d := make([]byte, p.Filesz)
				if _, err := p.ReadAt(d, 0); err == nil {
					notes = append(notes, d)
				}
			}
		}
	}
	for _, d := range notes {
		if id := buildIDFromNotes(d); id != "" {
			return id
		}
	}
	return ""
}

// buildIDFromNotes scans a note section for NT_GNU_BUILD_ID.
func buildIDFromNotes(d []byte) string {
	align4 := func(n uint64) uint64 { return (n + 3) &^ 3 }
	for len(d) >= 12 {
		namesz := uint64(binary.LittleEndian.Uint32(d[0:]))
		descsz := uint64(binary.LittleEndian.Uint32(d[4:]))
		typ := binary.LittleEndian.Uint32(d[8:])
		off := 12 + align4(namesz)
		end := off + align4(descsz)
		if namesz > uint64(len(d)) || descsz > uint64(len(d)) || off+descsz > uint64(len(d)) {
			return ""
		}
		if typ == 3 && namesz == 4 && string(d[12:15]) == "GNU" {
			return hex.EncodeToString(d[off : off+descsz])
		}
		if end > uint64(len(d)) {
			return ""
		}
		d = d[end:]
	}
	return ""
}

// readVA reads len(buf) bytes at link-time address va from the file image.
func (img *image) readVA(buf []byte, va uint64) error {
	for _, p := range img.loads {
		if va >= p.Vaddr && va+uint64(len(buf)) <= p.Vaddr+p.Filesz {
			_, err := img.ra.ReadAt(buf, int64(p.Off+(va-p.Vaddr)))
			return err
		}
	}
	return fmt.Errorf("address %#x of %s is not in file-backed loadable bytes", va, img.path)
}

// lookup returns the exported symbol with the given key among syms.
func lookup(syms []symbol, key string) (symbol, bool) {
	i := sort.Search(len(syms), func(i int) bool { return syms[i].key() >= key })
	if i < len(syms) && syms[i].key() == key {
		return syms[i], true
	}
	return symbol{}, false
}

// lookupName returns the exported function named name, preferring the
// default version.
func (img *image) lookupFunc(name string) (symbol, bool) {
	var found symbol
	ok := false
	for _, s := range img.funcs {
		if s.name == name {
			if !ok || s.version > found.version {
				found, ok = s, true
			}
		}
	}
	return found, ok
}

// reloc is one dynamic relocation.
type reloc struct {
	off    uint64
	typ    elf.R_X86_64
	sym    int // index in .dynsym
	addend int64
}

// relocs returns the relocations of .rela.dyn and .rela.plt.
func (img *image) relocs() ([]reloc, error) {
	var out []reloc
	for _, s := range img.file.Sections {
		if s.Type != elf.SHT_RELA || s.Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		d, err := s.Data()
		if err != nil {
			return nil, fmt.Errorf("reading %s of %s: %w", s.Name, img.path, err)
		}
		for i := 0; i+24 <= len(d); i += 24 {
			info := binary.LittleEndian.Uint64(d[i+8:])
			out = append(out, reloc{
				off:    binary.LittleEndian.Uint64(d[i:]),
				typ:    elf.R_X86_64(info & 0xffffffff),
				sym:    int(info >> 32),
				addend: int64(binary.LittleEndian.Uint64(d[i+16:])),
			})
		}
	}
	return out, nil
}

// symbolic reports whether the library binds its own symbols locally
// (-Bsymbolic), which defeats interposition of its exported data.
func (img *image) symbolic() bool {
	ds := img.file.Section(".dynamic")
	if ds == nil {
		return false
	}
	d, err := ds.Data()
	if err != nil {
		return false
	}
	for i := 0; i+16 <= len(d); i += 16 {
		tag := elf.DynTag(binary.LittleEndian.Uint64(d[i:]))
		val := binary.LittleEndian.Uint64(d[i+8:])
		if tag == elf.DT_SYMBOLIC || (tag == elf.DT_FLAGS && val&uint64(elf.DF_SYMBOLIC) != 0) {
			return true
		}
	}
	return false
}

// newLeanImage reads the shared object at path as newImage does, but keeps
// of its dynamic symbols only the defined functions named in want, every
// copy, without versions or other symbols: reading the C library's
// thousands of versioned symbols fully takes milliseconds of CPU for the
// few the engine needs. A copy in the default version has version
// "default", one in a hidden version (a compatibility one) "", so that
// lookupFunc prefers the default one.
func newLeanImage(path string, ra io.ReaderAt, want map[string]bool) (*image, error) {
	ef, err := openELF(path, ra)
	if err != nil {
		return nil, err
	}
	img := &image{path: path, file: ef, ra: ra}
	img.loads, _ = segments(ef)
	if len(img.loads) == 0 {
		return nil, fmt.Errorf("%s has no loadable segment", path)
	}
	ds, ss := ef.Section(".dynsym"), ef.Section(".dynstr")
	if ds == nil || ss == nil {
		return nil, fmt.Errorf("%s has no dynamic symbol table", path)
	}
	syms, err := ds.Data()
	if err != nil {
		return nil, fmt.Errorf("reading .dynsym of %s: %w", path, err)
	}
	strs, err := ss.Data()
	if err != nil {
		return nil, fmt.Errorf("reading .dynstr of %s: %w", path, err)
	}
	var versym []byte
	if vs := ef.Section(".gnu.version"); vs != nil {
		versym, _ = vs.Data()
	}
	le := binary.LittleEndian
	for i := 1; (i+1)*24 <= len(syms); i++ {
		e := syms[i*24 : (i+1)*24]
		info, shndx := e[4], le.Uint16(e[6:])
		if elf.ST_TYPE(info) != elf.STT_FUNC || shndx == uint16(elf.SHN_UNDEF) {
			continue
		}
		if b := elf.ST_BIND(info); b != elf.STB_GLOBAL && b != elf.STB_WEAK {
			continue
		}
		off := int(le.Uint32(e[0:]))
		if off >= len(strs) {
			continue
		}
		end := bytes.IndexByte(strs[off:], 0)
		if end < 0 || !want[string(strs[off:off+end])] {
			continue
		}
		name := string(strs[off : off+end])
		version := "default"
		if 2*i+2 <= len(versym) && le.Uint16(versym[2*i:])&0x8000 != 0 {
			version = ""
		}
		img.funcs = append(img.funcs, symbol{name: name, version: version, value: le.Uint64(e[8:]), size: le.Uint64(e[16:]), typ: elf.STT_FUNC, index: i, k: name})
	}
	sort.SliceStable(img.funcs, func(a, b int) bool { return img.funcs[a].name < img.funcs[b].name })
	return img, nil
}
