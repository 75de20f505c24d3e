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
	namedDecl := func(m map[string]dwarf.Offset, e *dwarf.Entry, class symClass) {
		name := linkageName(e)
		if name == "" || names[name]&class == 0 {
			return
		}
		if _, ok := m[name]; !ok || !isDeclaration(e) {
			m[name] = e.Offset
		}
	}
	r := dr.d.Reader()
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
		e, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("reading DWARF: %w", err)
		}
		if e == nil {
			break
		}
		switch e.Tag {
		case 0:
			if len(scopes) > 0 {
				scopes = scopes[:len(scopes)-1]
			}
			continue
		case dwarf.TagCompileUnit, dwarf.TagPartialUnit:
			dr.addUnit(e)
			if e.Children {
				scopes = append(scopes[:0], scopeLevel{})
			}
			continue
		case dwarf.TagNamespace, dwarf.TagModule:
			if e.Children {
				name, _ := e.Val(dwarf.AttrName).(string)
				if name == "" {
					name = "(anonymous namespace)"
				}
				scopes = append(scopes, scopeLevel{prefix: prefix() + name + "::"})
			}
			continue
		case dwarf.TagSubprogram:
			if e.Children {
				r.SkipChildren()
			}
			if inClass() {
				dr.methods[e.Offset] = true
			}
			matched := false
			for _, a := range dr.entryAddrs(e) {
				if funcAddr[a] {
					if _, ok := idx.funcAt[a]; !ok {
						idx.funcAt[a] = e.Offset
					}
					matched = true
				}
			}
			if !matched {
				namedDecl(idx.funcNamed, e, funcClass)
			}
		case dwarf.TagVariable:
			if e.Children {
				r.SkipChildren()
			}
			if a, ok := varAddress(e); ok && varAddr[a] {
				if _, ok := idx.varAt[a]; !ok {
					idx.varAt[a] = e.Offset
				}
				continue
			}
			namedDecl(idx.varNamed, e, varClass)
		case dwarf.TagStructType, dwarf.TagUnionType, dwarf.TagClassType, dwarf.TagEnumerationType, dwarf.TagTypedef:
			name, _ := e.Val(dwarf.AttrName).(string)
			p := prefix()
			if p == "" {
				// An out-of-class definition (struct A::B {…}) takes the
				// scope of its declaration.
				if spec, ok := e.Val(dwarf.AttrSpecification).(dwarf.Offset); ok {
					p = dr.scope[spec]
				}
			}
			if p != "" {
				dr.scope[e.Offset] = p
			}
			if name != "" && !isDeclaration(e) && e.Tag != dwarf.TagTypedef {
				k := defKey{e.Tag, p + name}
				if _, ok := dr.defs[k]; !ok {
					dr.defs[k] = e.Offset
				}
			}
			if !e.Children {
				continue
			}
			// Nested types and method declarations of C++ classes are
			// read for their scope; C types have no scope.
			if e.Tag != dwarf.TagEnumerationType && e.Tag != dwarf.TagTypedef && dr.lastUnitCXX() {
				if name != "" {
					p += name + "::"
				}
				scopes = append(scopes, scopeLevel{prefix: p, class: true})
				continue
			}
			r.SkipChildren()
		default:
			if e.Children {
				r.SkipChildren()
			}
		}
	}
	return idx, nil
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
// the starts of its DW_AT_ranges.
func (dr *dwarfReader) entryAddrs(e *dwarf.Entry) []uint64 {
	if pc, ok := e.Val(dwarf.AttrLowpc).(uint64); ok {
		return []uint64{pc}
	}
	if e.AttrField(dwarf.AttrRanges) == nil {
		return nil
	}
	rs, err := dr.d.Ranges(e)
	if err != nil {
		return nil
	}
	out := make([]uint64, 0, len(rs))
	for _, r := range rs {
		out = append(out, r[0])
	}
	return out
}

// varAddress returns the static address of a variable located by a single
// DW_OP_addr.
func varAddress(e *dwarf.Entry) (uint64, bool) {
	loc, ok := e.Val(dwarf.AttrLocation).([]byte)
	const opAddr = 0x03
	if !ok || len(loc) != 9 || loc[0] != opAddr {
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
