package gate

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/compatgate/compatgate/elfdiff"
)

// Facts are what the hot-applicability rules need to know about one build
// of a library, read from its ELF file.
type Facts struct {
	Path    string `json:"path"`
	BuildID string `json:"build_id"`
	SHA256  string `json:"sha256"`
	// Soname is the library's DT_SONAME; "" when it has none.
	Soname string `json:"soname,omitempty"`
	// Data maps each exported data object (name, with @VERSION when
	// versioned) to its symbol type and size.
	Data map[string]DataObject `json:"-"`
	// Private maps each library-private object in writable memory (local
	// or hidden symbols of the full symbol table) to its size.
	Private map[string]uint64 `json:"-"`
	// Symtab is false for a stripped file: Private is then empty and
	// Writable is all that is known.
	Symtab bool `json:"-"`
	// Writable is the size of the writable sections that hold library
	// state (not the loader's bookkeeping, not RELRO).
	Writable uint64 `json:"-"`
	// TLS reports thread-local storage.
	TLS bool `json:"-"`
}

// DataObject is an exported variable.
type DataObject struct {
	Type elf.SymType
	Size uint64
}

// crtObject reports whether a local object is one the C runtime start files
// put in every shared object.
func crtObject(name string) bool {
	return name == "__dso_handle" || name == "__TMC_END__" || strings.HasPrefix(name, "completed.")
}

// ReadFacts reads the facts about the library at path.
func ReadFacts(path string) (*Facts, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	fa := &Facts{Path: path, SHA256: hex.EncodeToString(h.Sum(nil)), BuildID: buildID(ef),
		Data: map[string]DataObject{}, Private: map[string]uint64{}}
	if so, err := ef.DynString(elf.DT_SONAME); err == nil && len(so) > 0 {
		fa.Soname = so[0]
	}
	writable := map[elf.SectionIndex]bool{}
	for i, s := range ef.Sections {
		if s.Flags&elf.SHF_ALLOC != 0 && s.Flags&elf.SHF_TLS != 0 {
			fa.TLS = true
		}
		if !elfdiff.StateSection(s) {
			continue
		}
		writable[elf.SectionIndex(i)] = true
		fa.Writable += s.Size
	}
	dyn, err := ef.DynamicSymbols()
	if err != nil && err != elf.ErrNoSymbols {
		return nil, fmt.Errorf("reading %s: dynamic symbols: %w", path, err)
	}
	for _, s := range dyn {
		typ, bind, vis := elf.ST_TYPE(s.Info), elf.ST_BIND(s.Info), elf.ST_VISIBILITY(s.Other)
		if (typ != elf.STT_OBJECT && typ != elf.STT_TLS) || s.Section == elf.SHN_UNDEF ||
			bind == elf.STB_LOCAL || vis == elf.STV_HIDDEN || vis == elf.STV_INTERNAL {
			continue
		}
		name := s.Name
		if s.Version != "" {
			name += "@" + s.Version
		}
		fa.Data[name] = DataObject{Type: typ, Size: s.Size}
	}
	syms, err := ef.Symbols()
	if err == nil {
		fa.Symtab = true
		for _, s := range syms {
			typ, bind, vis := elf.ST_TYPE(s.Info), elf.ST_BIND(s.Info), elf.ST_VISIBILITY(s.Other)
			if typ != elf.STT_OBJECT || !writable[s.Section] || crtObject(s.Name) {
				continue
			}
			if bind == elf.STB_LOCAL || vis == elf.STV_HIDDEN || vis == elf.STV_INTERNAL {
				fa.Private[s.Name] = s.Size
			}
		}
	}
	return fa, nil
}

// buildID returns the GNU build-id of f in hex, or "".
func buildID(f *elf.File) string {
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err != nil {
			continue
		}
		if id := noteBuildID(b, f.ByteOrder); id != "" {
			return id
		}
	}
	if s := f.Section(".note.gnu.build-id"); s != nil {
		if b, err := s.Data(); err == nil {
			return noteBuildID(b, f.ByteOrder)
		}
	}
	return ""
}

// noteBuildID finds the NT_GNU_BUILD_ID note in a note segment.
func noteBuildID(b []byte, bo interface{ Uint32([]byte) uint32 }) string {
	for len(b) >= 12 {
		namesz, descsz, typ := bo.Uint32(b), bo.Uint32(b[4:]), bo.Uint32(b[8:])
		name := (uint64(namesz) + 3) &^ 3
		desc := (uint64(descsz) + 3) &^ 3
		if uint64(len(b)) < 12+name+desc {
			return ""
		}
		if typ == 3 && namesz == 4 && string(b[12:15]) == "GNU" {
			return hex.EncodeToString(b[12+name : 12+name+uint64(descsz)])
		}
		b = b[12+name+desc:]
	}
	return ""
}

// FileBuildID returns the GNU build-id of the ELF file at path, or "".
func FileBuildID(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", fmt.Errorf("reading build-id of %s: %w", path, err)
	}
	defer f.Close()
	return buildID(f), nil
}
