package abi

// This file finds the DIEs that declare exported symbols, in one pass over
// the compilation units, split among goroutines.

import (
	"github.com/compatgate/compatgate/elfdiff/dwarfdec"

	"github.com/compatgate/compatgate/elfdiff/elfsym"

	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"maps"
	"runtime"
	"runtime/debug"
	"sync"
)

// declIndex locates the DIEs that declare exported symbols.
type declIndex struct {
	funcAt, varAt       map[uint64]dwarf.Offset
	funcNamed, varNamed map[string]dwarf.Offset
	// privateAt are the library-private variables wanted, by address.
	privateAt map[uint64]dwarf.Offset
	// privateIn are the functions that declare the private variables
	// of function scope (static locals), by the variables' DIEs.
	privateIn map[dwarf.Offset]dwarf.Offset
}

// wanted are the exported symbols the index looks for.
type wanted struct {
	funcAddr, varAddr map[uint64]bool
	names             map[string]symClass
	// private selects, by address, the variables not exported that are
	// wanted too; nil for none.
	private func(addr uint64) bool
}

// minChunkBytes is the least .debug_info a worker of the index is given:
// below it, one goroutine is faster than several.
const minChunkBytes = 4 << 20

// index scans every compilation unit once for subprograms and variables
// that define exported symbols, and for the library's private variables
// when they are wanted, reading of function bodies only their static
// variables and skipping type definitions. The units are split into runs
// of about equal size, at least minBytes each, scanned in parallel up to
// workers at a time (GOMAXPROCS when 0), and the results merged in unit
// order, so that they are those of one scan in order.
func (dr *dwarfReader) index(syms *elfsym.SymbolList, workers int, minBytes uint64) (*declIndex, error) {
	n := syms.Len()
	w := wanted{funcAddr: make(map[uint64]bool, n), varAddr: make(map[uint64]bool), names: make(map[string]symClass, n), private: dr.privateData}
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
		wg.Go(func() {
			// A mapped file cut while it is read faults: an error, as
			// for malformed DWARF (Read recovers the other panics).
			defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
			defer func() {
				if v := recover(); v != nil {
					errs[i] = fmt.Errorf("malformed DWARF (%v)", v)
				}
			}()
			parts[i], errs[i] = dr.indexChunk(&w, c[0], c[1])
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	idx := &declIndex{
		funcAt: make(map[uint64]dwarf.Offset, len(w.funcAddr)), varAt: make(map[uint64]dwarf.Offset),
		funcNamed: make(map[string]dwarf.Offset), varNamed: make(map[string]dwarf.Offset),
		privateAt: make(map[uint64]dwarf.Offset), privateIn: make(map[dwarf.Offset]dwarf.Offset),
	}
	named := [2]namedDIEs{make(namedDIEs), make(namedDIEs)}
	var fixups []scopeFixup
	var headers []dwarfdec.ScanUnit
	for _, p := range parts {
		firstWins(idx.funcAt, p.funcAt)
		firstWins(idx.varAt, p.varAt)
		firstWins(idx.privateAt, p.privateAt)
		maps.Copy(idx.privateIn, p.privateIn)
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
	dr.dies = dwarfdec.NewDecoder(dr.sec, headers)
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
func splitUnits(sec *dwarfdec.Sections, n int, minBytes uint64) [][2]uint64 {
	size := uint64(len(sec.Info))
	target := max(size/uint64(max(n, 1)), minBytes)
	var out [][2]uint64
	start := uint64(0)
	var hdr [12]byte
	for off := uint64(0); off < size; {
		b := dwarfdec.ScanBuf{Data: sec.InfoAt(hdr[:], off), Order: sec.Order}
		length := uint64(b.U32())
		if length == 0xffffffff {
			length = b.U64()
		}
		if b.Err != nil || length > size-off-b.Pos {
			break
		}
		off += b.Pos + length
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
	privateAt           map[uint64]dwarf.Offset
	privateIn           map[dwarf.Offset]dwarf.Offset // see declIndex
	funcNamed, varNamed namedDIEs
	defs                map[defKey]dwarf.Offset
	scope               offsetStrings
	methods             []dwarf.Offset
	units               []*unitInfo
	fixups              []scopeFixup
	headers             []dwarfdec.ScanUnit // of every unit scanned, for the DIE decoder
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
	// The exported functions are spread over the units: a run holds
	// about its share of them.
	share := int(uint64(len(w.funcAddr)) * min(end-start, uint64(len(dr.sec.Info))) / uint64(max(len(dr.sec.Info), 1)))
	part := &indexPart{
		funcAt: make(map[uint64]dwarf.Offset, share), varAt: make(map[uint64]dwarf.Offset),
		privateAt: make(map[uint64]dwarf.Offset), privateIn: make(map[dwarf.Offset]dwarf.Offset),
		funcNamed: make(namedDIEs), varNamed: make(namedDIEs),
		defs: make(map[defKey]dwarf.Offset),
	}
	// Each worker reads the DIEs the scanner cannot decode alone with
	// its own debug/dwarf reader.
	r := dwarfdec.NewEntryReader(dr.sec)
	// namedDecl records DIEs found only by name.
	namedDecl := func(m namedDIEs, e *dwarfdec.ScannedDIE, class symClass) {
		name := e.Linkage
		if len(name) == 0 {
			name = e.Name
		}
		if len(name) == 0 || w.names[string(name)]&class == 0 {
			return
		}
		m.add(string(name), namedDIE{e.Off, e.Declaration})
	}
	s := dwarfdec.NewScanner(dr.sec)
	s.Pos, s.Limit = start, end
	// The index reads each unit once: its pages are given back as the
	// scan leaves it.
	ev := evictor{sec: dr.sec, mark: start}
	defer ev.advance(end)
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
	// fn is the function whose body is being read, 0 outside one.
	fn := func() dwarf.Offset {
		if len(scopes) == 0 {
			return 0
		}
		return scopes[len(scopes)-1].fn
	}
	unitCXX := func() bool { return len(part.units) > 0 && part.units[len(part.units)-1].cxx }
	for {
		e, err := s.Next()
		if err != nil {
			return nil, fmt.Errorf("reading DWARF: %w", err)
		}
		if e == nil {
			break
		}
		if e.Indirect {
			// A value the scanner cannot resolve alone: let debug/dwarf
			// decode this DIE.
			if err := rescan(r, s.Unit(), e); err != nil {
				return nil, err
			}
		}
		if f := fn(); f != 0 && e.Tag != 0 {
			// A function's body: only its static variables are wanted.
			if err := part.bodyDIE(s, w, e, f, &scopes); err != nil {
				return nil, err
			}
			continue
		}
		skip := e.Children
		switch e.Tag {
		case 0:
			if len(scopes) > 0 {
				scopes = scopes[:len(scopes)-1]
			}
			continue
		case dwarf.TagCompileUnit, dwarf.TagPartialUnit, dwarf.TagTypeUnit:
			ev.advance(uint64(e.Off))
			part.units = append(part.units, newUnitInfo(e.Off, e.Language))
			if e.Children {
				scopes = append(scopes[:0], scopeLevel{})
			}
			continue
		case dwarf.TagNamespace, dwarf.TagModule:
			if e.Children {
				name := string(e.Name)
				if name == "" {
					name = "(anonymous namespace)"
				}
				scopes = append(scopes, scopeLevel{prefix: prefix() + name + "::"})
			}
			continue
		case dwarf.TagSubprogram:
			if inClass() {
				part.methods = append(part.methods, e.Off)
			}
			matched := false
			addrs, err := entryAddrs(r, s.Unit(), e)
			if err != nil {
				return nil, err
			}
			for _, a := range addrs {
				if w.funcAddr[a] {
					if _, ok := part.funcAt[a]; !ok {
						part.funcAt[a] = e.Off
					}
					matched = true
				}
			}
			if !matched {
				namedDecl(part.funcNamed, e, funcClass)
			}
			if e.Children && !e.Declaration {
				// Its body may declare static variables: exported ones
				// (C++ inline functions), or the library's state (see
				// bodyDIE).
				scopes = append(scopes, scopeLevel{fn: e.Off})
				continue
			}
		case dwarf.TagVariable:
			if !part.addVariable(w, e, 0) {
				namedDecl(part.varNamed, e, varClass)
			}
		case dwarf.TagStructType, dwarf.TagUnionType, dwarf.TagClassType, dwarf.TagEnumerationType, dwarf.TagTypedef:
			p := prefix()
			if p == "" && e.HasSpec {
				// An out-of-class definition (struct A::B {…}) takes the
				// scope of its declaration.
				if uint64(e.Spec) < start {
					part.fixups = append(part.fixups, scopeFixup{e.Off, e.Spec, e.Tag, string(e.Name), e.Declaration})
				} else {
					p = part.scope.get(e.Spec)
				}
			}
			if p != "" {
				part.scope.add(e.Off, p)
			}
			if len(e.Name) > 0 && !e.Declaration && e.Tag != dwarf.TagTypedef {
				k := defKey{e.Tag, p + string(e.Name)}
				if _, ok := part.defs[k]; !ok {
					part.defs[k] = e.Off
				}
			}
			// Nested types and method declarations of C++ classes are
			// read for their scope; C types have no scope.
			if e.Children && e.Tag != dwarf.TagEnumerationType && e.Tag != dwarf.TagTypedef && unitCXX() {
				if len(e.Name) > 0 {
					p += string(e.Name) + "::"
				}
				scopes = append(scopes, scopeLevel{prefix: p, class: true})
				skip = false
			}
		}
		if skip {
			if err := s.SkipChildren(); err != nil {
				return nil, fmt.Errorf("reading DWARF: %w", err)
			}
		}
	}
	part.headers = s.Headers
	return part, nil
}

// rescan decodes with debug/dwarf, through r, the attributes of e, of
// unit u, that the scanner could not resolve itself.
func rescan(r *dwarfdec.EntryReader, u *dwarfdec.ScanUnit, e *dwarfdec.ScannedDIE) error {
	full, err := r.Entry(u, e.Off)
	if err != nil {
		return err
	}
	str := func(a dwarf.Attr) []byte {
		v, _ := full.Val(a).(string)
		return []byte(v)
	}
	e.Name, e.Linkage = str(dwarf.AttrName), str(dwarf.AttrLinkageName)
	e.LowPC, e.HasLowPC = full.Val(dwarf.AttrLowpc).(uint64)
	return nil
}

// scopeLevel is one enclosing namespace, class or function of the DIEs
// being indexed.
type scopeLevel struct {
	prefix string       // qualifies names declared in it: "ns::S::"
	class  bool         // a struct, class or union
	fn     dwarf.Offset // the function whose body (or a block of it) this is
}

// bodyDIE indexes e, a DIE in the body of function f: a static variable
// of the function is an exported variable when its address is one (C++
// exports the statics of inline functions), else a private variable when
// it lies in the library's writable storage; a lexical block is read for
// its own; anything else is skipped with its children. Nothing else of a
// body is indexed: its types are local, its other variables automatic.
func (part *indexPart) bodyDIE(s *dwarfdec.Scanner, w *wanted, e *dwarfdec.ScannedDIE, f dwarf.Offset, scopes *[]scopeLevel) error {
	switch e.Tag {
	case dwarf.TagVariable:
		part.addVariable(w, e, f)
	case dwarf.TagLexDwarfBlock:
		if e.Children {
			*scopes = append(*scopes, scopeLevel{fn: f})
			return nil
		}
	}
	if err := s.SkipChildren(); err != nil {
		return fmt.Errorf("reading DWARF: %w", err)
	}
	return nil
}

// addVariable indexes variable e, declared in function f (0 for none), by
// its address: as the definition of an exported variable, and it reports
// true, or as a private one when private variables are wanted and it lies
// in the library's writable storage. The first DIE of an address wins.
func (part *indexPart) addVariable(w *wanted, e *dwarfdec.ScannedDIE, f dwarf.Offset) bool {
	a, ok := varAddress(e.Location)
	switch {
	case !ok:
	case w.varAddr[a]:
		if _, ok := part.varAt[a]; !ok {
			part.varAt[a] = e.Off
		}
		return true
	case w.private != nil && w.private(a):
		if _, ok := part.privateAt[a]; !ok {
			part.privateAt[a] = e.Off
			if f != 0 {
				part.privateIn[e.Off] = f
			}
		}
	}
	return false
}

// symClass says whether a name is exported as a function, a variable,
// or both (in different versions).
type symClass uint8

const (
	funcClass symClass = 1 << iota
	varClass
)

// entryAddrs returns the entry addresses of a subprogram: DW_AT_low_pc, or
// the starts of its DW_AT_ranges, read through debug/dwarf with r (e is
// of unit u).
func entryAddrs(r *dwarfdec.EntryReader, u *dwarfdec.ScanUnit, e *dwarfdec.ScannedDIE) ([]uint64, error) {
	if e.HasLowPC {
		return []uint64{e.LowPC}, nil
	}
	if !e.HasRanges {
		return nil, nil
	}
	full, err := r.Entry(u, e.Off)
	if err != nil {
		return nil, err
	}
	rs, err := r.Ranges(full)
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
