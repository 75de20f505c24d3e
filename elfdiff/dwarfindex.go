package elfdiff

// This file finds the DIEs that declare exported symbols, in one pass over
// the compilation units.

import (
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"fmt"
)

// declIndex locates the DIEs that declare exported symbols.
type declIndex struct {
	funcAt, varAt       map[uint64]dwarf.Offset
	funcNamed, varNamed map[string]dwarf.Offset
}

// index scans every compilation unit once for subprograms and variables
// that define exported symbols, skipping function bodies and type
// definitions.
func (dr *dwarfReader) index(syms []Symbol) (*declIndex, error) {
	funcAddr := make(map[uint64]bool)
	varAddr := make(map[uint64]bool)
	names := make(map[string]symClass)
	for _, s := range syms {
		switch s.Type {
		case elf.STT_FUNC, elf.STT_GNU_IFUNC:
			funcAddr[s.Value] = true
			names[s.Name] |= funcClass
		case elf.STT_OBJECT, elf.STT_TLS, elf.STT_COMMON:
			varAddr[s.Value] = true
			names[s.Name] |= varClass
		}
	}
	idx := &declIndex{
		funcAt: make(map[uint64]dwarf.Offset), varAt: make(map[uint64]dwarf.Offset),
		funcNamed: make(map[string]dwarf.Offset), varNamed: make(map[string]dwarf.Offset),
	}
	// namedDecl records DIEs found only by name; a definition beats a
	// declaration.
	namedDecl := func(m map[string]dwarf.Offset, e *scannedDIE, class symClass) {
		name := e.linkage
		if len(name) == 0 {
			name = e.name
		}
		if len(name) == 0 || names[string(name)]&class == 0 {
			return
		}
		if _, ok := m[string(name)]; !ok || !e.declaration {
			m[string(name)] = e.off
		}
	}
	s := newDIEScanner(dr.sec)
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
			if err := dr.rescan(e); err != nil {
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
			dr.addUnit(e.off, e.language)
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
				dr.methods = append(dr.methods, e.off)
			}
			matched := false
			addrs, err := dr.entryAddrs(e)
			if err != nil {
				return nil, err
			}
			for _, a := range addrs {
				if funcAddr[a] {
					if _, ok := idx.funcAt[a]; !ok {
						idx.funcAt[a] = e.off
					}
					matched = true
				}
			}
			if !matched {
				namedDecl(idx.funcNamed, e, funcClass)
			}
		case dwarf.TagVariable:
			if a, ok := varAddress(e.location); ok && varAddr[a] {
				if _, ok := idx.varAt[a]; !ok {
					idx.varAt[a] = e.off
				}
				break
			}
			namedDecl(idx.varNamed, e, varClass)
		case dwarf.TagStructType, dwarf.TagUnionType, dwarf.TagClassType, dwarf.TagEnumerationType, dwarf.TagTypedef:
			p := prefix()
			if p == "" && e.hasSpec {
				// An out-of-class definition (struct A::B {…}) takes the
				// scope of its declaration.
				p = dr.scope.get(e.spec)
			}
			if p != "" {
				dr.scope.add(e.off, p)
			}
			if len(e.name) > 0 && !e.declaration && e.tag != dwarf.TagTypedef {
				k := defKey{e.tag, p + string(e.name)}
				if _, ok := dr.defs[k]; !ok {
					dr.defs[k] = e.off
				}
			}
			// Nested types and method declarations of C++ classes are
			// read for their scope; C types have no scope.
			if e.children && e.tag != dwarf.TagEnumerationType && e.tag != dwarf.TagTypedef && dr.lastUnitCXX() {
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
	return idx, nil
}

// rescan decodes with debug/dwarf the attributes of e that the scanner
// could not resolve itself.
func (dr *dwarfReader) rescan(e *scannedDIE) error {
	full, err := dr.entry(e.off)
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
// the starts of its DW_AT_ranges, read through debug/dwarf.
func (dr *dwarfReader) entryAddrs(e *scannedDIE) ([]uint64, error) {
	if e.hasLowPC {
		return []uint64{e.lowPC}, nil
	}
	if !e.hasRanges {
		return nil, nil
	}
	full, err := dr.entry(e.off)
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

// linkageName returns the name a DIE gives its symbol: the linkage name
// when there is one (C++), else the source name.
func linkageName(e *dwarf.Entry) string {
	for _, a := range []dwarf.Attr{dwarf.AttrLinkageName, dwarf.AttrName} {
		if s, ok := e.Val(a).(string); ok && s != "" {
			return s
		}
	}
	return ""
}

func isDeclaration(e *dwarf.Entry) bool {
	b, _ := e.Val(dwarf.AttrDeclaration).(bool)
	return b
}
