package elfdiff

// This file finds the DIEs that declare exported symbols, in one pass over
// the compilation units, split among goroutines.

import (
	"github.com/compatgate/compatgate/elfdiff/elfsym"

	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
)

// declIndex locates the DIEs that declare exported symbols.
type declIndex struct {
	funcAt, varAt       map[uint64]dwarf.Offset
	funcNamed, varNamed map[string]dwarf.Offset
}

// wanted are the exported symbols the index looks for.
type wanted struct {
	funcAddr, varAddr map[uint64]bool
	names             map[string]symClass
}

// minChunkBytes is the least .debug_info a worker of the index is given:
// below it, one goroutine is faster than several.
const minChunkBytes = 4 << 20

// index scans every compilation unit once for subprograms and variables
// that define exported symbols, skipping function bodies and type
// definitions. The units are split into runs of about equal size, at least
// minBytes each, scanned in parallel up to workers at a time (GOMAXPROCS
// when 0), and the results merged in unit order, so that they are those of
// one scan in order.
func (dr *dwarfReader) index(syms *elfsym.SymbolList, workers int, minBytes uint64) (*declIndex, error) {
	w := wanted{funcAddr: make(map[uint64]bool), varAddr: make(map[uint64]bool), names: make(map[string]symClass)}
	for _, s := range syms.All() {
		switch s.Type {
		case elf.STT_FUNC, elf.STT_GNU_IFUNC:
			w.funcAddr[s.Value] = true
			w.names[s.Name] |= funcClass
		case elf.STT_OBJECT, elf.STT_TLS, elf.STT_COMMON:
			w.varAddr[s.Value] = true
			w.names[s.Name] |= varClass
		}
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	chunks := splitUnits(dr.sec, workers, minBytes)
	parts := make([]*indexPart, len(chunks))
	errs := make([]error, len(chunks))
	var wg sync.WaitGroup
	for i, c := range chunks {
		wg.Go(func() { parts[i], errs[i] = dr.indexChunk(&w, c[0], c[1]) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	idx := &declIndex{
		funcAt: make(map[uint64]dwarf.Offset), varAt: make(map[uint64]dwarf.Offset),
		funcNamed: make(map[string]dwarf.Offset), varNamed: make(map[string]dwarf.Offset),
	}
	named := [2]namedDIEs{make(namedDIEs), make(namedDIEs)}
	var fixups []scopeFixup
	var headers []scanUnit
	for _, p := range parts {
		firstWins(idx.funcAt, p.funcAt)
		firstWins(idx.varAt, p.varAt)
		firstWins(dr.defs, p.defs)
		for i, m := range [2]namedDIEs{p.funcNamed, p.varNamed} {
			for name, n := range m {
				named[i].add(name, n)
			}
		}
		dr.scope.offs = append(dr.scope.offs, p.scope.offs...)
		dr.scope.vals = append(dr.scope.vals, p.scope.vals...)
		dr.methods = append(dr.methods, p.methods...)
		dr.units = append(dr.units, p.units...)
		fixups = append(fixups, p.fixups...)
		headers = append(headers, p.headers...)
	}
	dr.dies = newDIEDecoder(dr.sec, headers)
	for name, n := range named[0] {
		idx.funcNamed[name] = n.off
	}
	for name, n := range named[1] {
		idx.varNamed[name] = n.off
	}
	dr.fixScopes(fixups)
	return idx, nil
}

// splitUnits divides the units of .debug_info into at most n runs of
// consecutive units, of about equal size and at least minBytes each (but
// for the last): [start, end) offsets. A malformed unit header ends the
// last run at the end of the section, for the scanner to report.
func splitUnits(sec *dwarfSections, n int, minBytes uint64) [][2]uint64 {
	size := uint64(len(sec.info))
	target := max(size/uint64(max(n, 1)), minBytes)
	var out [][2]uint64
	start := uint64(0)
	for off := uint64(0); off < size; {
		b := scanBuf{data: sec.info, pos: off, order: sec.order}
		length := uint64(b.u32())
		if length == 0xffffffff {
			length = b.u64()
		}
		if b.err != nil || length > size-b.pos {
			break
		}
		off = b.pos + length
		if off-start >= target && off < size {
			out = append(out, [2]uint64{start, off})
			start = off
		}
	}
	return append(out, [2]uint64{start, size})
}

// indexPart is what the index finds in one run of units.
type indexPart struct {
	funcAt, varAt       map[uint64]dwarf.Offset
	funcNamed, varNamed namedDIEs
	defs                map[defKey]dwarf.Offset
	scope               offsetStrings
	methods             []dwarf.Offset
	units               []*unitInfo
	fixups              []scopeFixup
	headers             []scanUnit // of every unit scanned, for the DIE decoder
}

// namedDIE is a DIE found by its symbol's name only.
type namedDIE struct {
	off         dwarf.Offset
	declaration bool
}

// namedDIEs are DIEs found by name, by symbol name.
type namedDIEs map[string]namedDIE

// add records n for name: the first declaration, unless a definition
// comes, and then the last definition.
func (m namedDIEs) add(name string, n namedDIE) {
	if _, ok := m[name]; !ok || !n.declaration {
		m[name] = n
	}
}

// firstWins copies into dst the entries of src whose keys dst lacks.
func firstWins[K comparable, V any](dst, src map[K]V) {
	for k, v := range src {
		if _, ok := dst[k]; !ok {
			dst[k] = v
		}
	}
}

// scopeFixup is a type DIE defined out of its class (struct A::B {…})
// whose declaration lies in an earlier run of units: its scope is known
// once every run is merged.
type scopeFixup struct {
	off, spec   dwarf.Offset
	tag         dwarf.Tag
	name        string
	declaration bool
}

// fixScopes gives the fixups the scopes of their declarations.
func (dr *dwarfReader) fixScopes(fixups []scopeFixup) {
	added := false
	for _, f := range fixups {
		p := dr.scope.get(f.spec)
		if p == "" {
			continue
		}
		dr.scope.offs = append(dr.scope.offs, f.off)
		dr.scope.vals = append(dr.scope.vals, p)
		added = true
		if f.name != "" && !f.declaration && f.tag != dwarf.TagTypedef {
			k := defKey{f.tag, p + f.name}
			if _, ok := dr.defs[k]; !ok {
				dr.defs[k] = f.off
			}
		}
	}
	if added {
		dr.scope.sort()
	}
}

// indexChunk indexes the units in [start, end) of .debug_info.
func (dr *dwarfReader) indexChunk(w *wanted, start, end uint64) (*indexPart, error) {
	part := &indexPart{
		funcAt: make(map[uint64]dwarf.Offset), varAt: make(map[uint64]dwarf.Offset),
		funcNamed: make(namedDIEs), varNamed: make(namedDIEs),
		defs: make(map[defKey]dwarf.Offset),
	}
	// Each worker reads the DIEs the scanner cannot decode alone with
	// its own debug/dwarf reader.
	r := dr.d.Reader()
	// namedDecl records DIEs found only by name.
	namedDecl := func(m namedDIEs, e *scannedDIE, class symClass) {
		name := e.linkage
		if len(name) == 0 {
			name = e.name
		}
		if len(name) == 0 || w.names[string(name)]&class == 0 {
			return
		}
		m.add(string(name), namedDIE{e.off, e.declaration})
	}
	s := newDIEScanner(dr.sec)
	s.pos, s.limit = start, end
	// scopes is the stack of enclosing scope prefixes ("ns::S::") of the
	// DIEs being read, one per DIE whose children are being read.
	var scopes []scopeLevel
	prefix := func() string {
		if len(scopes) == 0 {
			return ""
		}
		return scopes[len(scopes)-1].prefix
	}
	inClass := func() bool { return len(scopes) > 0 && scopes[len(scopes)-1].class }
	unitCXX := func() bool { return len(part.units) > 0 && part.units[len(part.units)-1].cxx }
	for {
		e, err := s.next()
		if err != nil {
			return nil, fmt.Errorf("reading DWARF: %w", err)
		}
		if e == nil {
			break
		}
		if e.indirect {
			// A value the scanner cannot resolve alone: let debug/dwarf
			// decode this DIE.
			if err := rescan(r, e); err != nil {
				return nil, err
			}
		}
		skip := e.children
		switch e.tag {
		case 0:
			if len(scopes) > 0 {
				scopes = scopes[:len(scopes)-1]
			}
			continue
		case dwarf.TagCompileUnit, dwarf.TagPartialUnit:
			part.units = append(part.units, newUnitInfo(e.off, e.language))
			if e.children {
				scopes = append(scopes[:0], scopeLevel{})
			}
			continue
		case dwarf.TagNamespace, dwarf.TagModule:
			if e.children {
				name := string(e.name)
				if name == "" {
					name = "(anonymous namespace)"
				}
				scopes = append(scopes, scopeLevel{prefix: prefix() + name + "::"})
			}
			continue
		case dwarf.TagSubprogram:
			if inClass() {
				part.methods = append(part.methods, e.off)
			}
			matched := false
			addrs, err := dr.entryAddrs(r, e)
			if err != nil {
				return nil, err
			}
			for _, a := range addrs {
				if w.funcAddr[a] {
					if _, ok := part.funcAt[a]; !ok {
						part.funcAt[a] = e.off
					}
					matched = true
				}
			}
			if !matched {
				namedDecl(part.funcNamed, e, funcClass)
			}
		case dwarf.TagVariable:
			if a, ok := varAddress(e.location); ok && w.varAddr[a] {
				if _, ok := part.varAt[a]; !ok {
					part.varAt[a] = e.off
				}
				break
			}
			namedDecl(part.varNamed, e, varClass)
		case dwarf.TagStructType, dwarf.TagUnionType, dwarf.TagClassType, dwarf.TagEnumerationType, dwarf.TagTypedef:
			p := prefix()
			if p == "" && e.hasSpec {
				// An out-of-class definition (struct A::B {…}) takes the
				// scope of its declaration.
				if uint64(e.spec) < start {
					part.fixups = append(part.fixups, scopeFixup{e.off, e.spec, e.tag, string(e.name), e.declaration})
				} else {
					p = part.scope.get(e.spec)
				}
			}
			if p != "" {
				part.scope.add(e.off, p)
			}
			if len(e.name) > 0 && !e.declaration && e.tag != dwarf.TagTypedef {
				k := defKey{e.tag, p + string(e.name)}
				if _, ok := part.defs[k]; !ok {
					part.defs[k] = e.off
				}
			}
			// Nested types and method declarations of C++ classes are
			// read for their scope; C types have no scope.
			if e.children && e.tag != dwarf.TagEnumerationType && e.tag != dwarf.TagTypedef && unitCXX() {
				if len(e.name) > 0 {
					p += string(e.name) + "::"
				}
				scopes = append(scopes, scopeLevel{prefix: p, class: true})
				skip = false
			}
		}
		if skip {
			if err := s.skipChildren(); err != nil {
				return nil, fmt.Errorf("reading DWARF: %w", err)
			}
		}
	}
	part.headers = s.headers
	return part, nil
}

// rescan decodes with debug/dwarf, through r, the attributes of e that the
// scanner could not resolve itself.
func rescan(r *dwarf.Reader, e *scannedDIE) error {
	full, err := readEntry(r, e.off)
	if err != nil {
		return err
	}
	str := func(a dwarf.Attr) []byte {
		v, _ := full.Val(a).(string)
		return []byte(v)
	}
	e.name, e.linkage = str(dwarf.AttrName), str(dwarf.AttrLinkageName)
	e.lowPC, e.hasLowPC = full.Val(dwarf.AttrLowpc).(uint64)
	return nil
}

// scopeLevel is one enclosing namespace or class of the DIEs being
// indexed.
type scopeLevel struct {
	prefix string // qualifies names declared in it: "ns::S::"
	class  bool   // a struct, class or union
}

// symClass says whether a name is exported as a function, a variable,
// or both (in different versions).
type symClass uint8

const (
	funcClass symClass = 1 << iota
	varClass
)

// entryAddrs returns the entry addresses of a subprogram: DW_AT_low_pc, or
// the starts of its DW_AT_ranges, read through debug/dwarf with r.
func (dr *dwarfReader) entryAddrs(r *dwarf.Reader, e *scannedDIE) ([]uint64, error) {
	if e.hasLowPC {
		return []uint64{e.lowPC}, nil
	}
	if !e.hasRanges {
		return nil, nil
	}
	full, err := readEntry(r, e.off)
	if err != nil {
		return nil, err
	}
	rs, err := dr.d.Ranges(full)
	if err != nil {
		return nil, nil
	}
	out := make([]uint64, 0, len(rs))
	for _, r := range rs {
		out = append(out, r[0])
	}
	return out, nil
}

// varAddress returns the static address of a variable whose location
// expression, loc, is a single DW_OP_addr.
func varAddress(loc []byte) (uint64, bool) {
	const opAddr = 0x03
	if len(loc) != 9 || loc[0] != opAddr {
		return 0, false
	}
	return binary.LittleEndian.Uint64(loc[1:]), true
}
