package elfdiff

// This file decodes type DIEs into Types.

import (
	"debug/dwarf"
	"errors"
)

// typeOf decodes the type a DW_AT_type value refers to; void when absent.
func (dr *dwarfReader) typeOf(v any) (*Type, error) {
	switch off := v.(type) {
	case nil:
		return dr.void, nil
	case dwarf.Offset:
		return dr.typeAt(off)
	}
	// DW_FORM_ref_sig8 into a type unit (-fdebug-types-section). DWARF 5
	// type units are in .debug_info, where the reader can seek; DWARF 4's
	// .debug_types is not exposed by debug/dwarf.
	if sig, ok := v.(uint64); ok {
		if dr.sigs == nil && dr.typeUnits != nil {
			dr.sigs = dr.typeUnits()
			if dr.sigs == nil {
				dr.sigs = map[uint64]dwarf.Offset{}
			}
		}
		if off, ok := dr.sigs[sig]; ok {
			return dr.typeAt(off)
		}
	}
	dr.typeUnitRefs++
	return &Type{Kind: VoidType, Name: "<type unit>", Size: -1, Count: -1}, nil
}

// typeAt decodes the type DIE at off, once.
func (dr *dwarfReader) typeAt(off dwarf.Offset) (*Type, error) {
	if t, ok := dr.types[off]; ok {
		return t, nil
	}
	if dr.depth > maxTypeDepth {
		return nil, errors.New("type graph too deep")
	}
	dr.depth++
	defer func() { dr.depth-- }()
	e, err := dr.entry(off)
	if err != nil {
		return nil, err
	}
	if isDeclaration(e) {
		// struct S; here, struct S { … } in another compilation unit.
		if name, ok := e.Val(dwarf.AttrName).(string); ok {
			if def, ok := dr.defs[defKey{e.Tag, dr.scope.get(off) + name}]; ok && def != off {
				t, err := dr.typeAt(def)
				if err == nil {
					dr.types[off] = t
				}
				return t, err
			}
		}
	}
	t := &Type{Size: -1, Count: -1}
	dr.types[off] = t // before recursing: recursive types terminate here
	t.Name, _ = e.Val(dwarf.AttrName).(string)
	if s, ok := e.Val(dwarf.AttrByteSize).(int64); ok {
		t.Size = s
	}
	if a, ok := e.Val(dwarf.AttrAlignment).(int64); ok {
		t.Align = a
	}
	t.Declaration = isDeclaration(e)
	switch e.Tag {
	case dwarf.TagStructType, dwarf.TagClassType, dwarf.TagUnionType, dwarf.TagEnumerationType, dwarf.TagTypedef:
		if u := dr.unitOf(off); u != nil && u.cxx {
			t.CXX = true
			if t.Name != "" {
				t.Name = dr.scope.get(off) + t.Name
			}
		}
	}
	elem := func() error {
		t.Elem, err = dr.typeOf(e.Val(dwarf.AttrType))
		return err
	}
	switch e.Tag {
	case dwarf.TagBaseType:
		t.Kind = BaseType
		t.Encoding, _ = e.Val(dwarf.AttrEncoding).(int64)
	case dwarf.TagUnspecifiedType:
		t.Kind = VoidType
	case dwarf.TagPointerType, dwarf.TagReferenceType, dwarf.TagRvalueReferenceType:
		t.Kind = map[dwarf.Tag]TypeKind{dwarf.TagPointerType: PointerType,
			dwarf.TagReferenceType: ReferenceType, dwarf.TagRvalueReferenceType: RvalueRefType}[e.Tag]
		if t.Size < 0 {
			t.Size = int64(dr.addrSize())
		}
		err = elem()
	case dwarf.TagConstType, dwarf.TagVolatileType, dwarf.TagRestrictType, dwarf.TagAtomicType:
		t.Kind = map[dwarf.Tag]TypeKind{dwarf.TagConstType: ConstType, dwarf.TagVolatileType: VolatileType,
			dwarf.TagRestrictType: RestrictType, dwarf.TagAtomicType: AtomicType}[e.Tag]
		err = elem()
	case dwarf.TagTypedef:
		t.Kind = TypedefType
		err = elem()
	case dwarf.TagStructType, dwarf.TagUnionType, dwarf.TagClassType:
		t.Kind = map[dwarf.Tag]TypeKind{dwarf.TagStructType: StructType, dwarf.TagUnionType: UnionType,
			dwarf.TagClassType: ClassType}[e.Tag]
		if t.CXX {
			t.Class = &ClassInfo{}
		}
		if err = dr.members(t, e); err == nil && t.Class != nil {
			dr.finishClass(t, e)
		}
	case dwarf.TagEnumerationType:
		t.Kind = EnumType
		if err = elem(); err == nil {
			err = dr.enumerators(t, e)
		}
		if t.Elem == dr.void {
			t.Elem = nil
		}
	case dwarf.TagArrayType:
		err = dr.array(t, e)
	case dwarf.TagSubroutineType:
		t.Kind = FuncType
		if err = elem(); err == nil {
			err = dr.params(t, e)
		}
	case dwarf.TagPtrToMemberType:
		t.Kind = PtrToMemberType
		if t.Size < 0 {
			t.Size = int64(dr.addrSize())
		}
		err = elem()
	default:
		t.Kind = VoidType
		t.Name = "<" + e.Tag.String() + ">"
	}
	if err != nil {
		return nil, err
	}
	if aliasCycle(t) {
		t.Elem = dr.void // malformed: a typedef or qualifier of itself
	}
	return t, nil
}

// aliasCycle reports whether following t's typedefs, qualifiers and array
// elements leads back to t.
func aliasCycle(t *Type) bool {
	if t.Kind != TypedefType && !t.Kind.isQualifier() && t.Kind != ArrayType {
		return false
	}
	u := t.Elem
	for i := 0; u != nil && i < maxAliasChain; i++ {
		if u == t {
			return true
		}
		if u.Kind != TypedefType && !u.Kind.isQualifier() && u.Kind != ArrayType {
			return false
		}
		u = u.Elem
	}
	return u != nil
}

func (dr *dwarfReader) addrSize() int {
	return 8 // the only class compatgate compares types for is ELFCLASS64 on x86-64
}

// members decodes the data members of a struct, union or class.
func (dr *dwarfReader) members(t *Type, e *dwarf.Entry) error {
	if !e.Children {
		return nil
	}
	var kids []*dwarf.Entry
	var methodKids map[int][]*dwarf.Entry
	var err error
	if t.Class != nil {
		kids, methodKids, err = dr.classChildren(e.Offset)
	} else {
		kids, err = dr.children(e.Offset)
	}
	if err != nil {
		return err
	}
	for i, k := range kids {
		if t.Class != nil {
			done, err := dr.classChild(t, k, methodKids[i])
			if err != nil {
				return err
			}
			if done {
				continue
			}
		}
		if k.Tag != dwarf.TagMember || isDeclaration(k) {
			continue // methods, static members, nested types, bases: classChild
		}
		if ext, _ := k.Val(dwarf.AttrExternal).(bool); ext {
			continue
		}
		m := Member{}
		m.Name, _ = k.Val(dwarf.AttrName).(string)
		switch loc := k.Val(dwarf.AttrDataMemberLoc).(type) {
		case int64:
			m.Offset = loc
		case []byte: // DWARF 2 style: DW_OP_plus_uconst n
			if len(loc) > 1 && loc[0] == 0x23 {
				m.Offset = int64(uleb(loc[1:]))
			}
		}
		m.BitSize, _ = k.Val(dwarf.AttrBitSize).(int64)
		if m.BitSize > 0 {
			if dbo, ok := k.Val(dwarf.AttrDataBitOffset).(int64); ok {
				m.BitOffset = dbo
				m.Offset = dbo / 8
			} else if bo, ok := k.Val(dwarf.AttrBitOffset).(int64); ok {
				// DWARF 2/3: bit_offset counts from the most significant
				// bit of a storage unit of byte_size bytes.
				bs, _ := k.Val(dwarf.AttrByteSize).(int64)
				m.BitOffset = m.Offset*8 + bs*8 - bo - m.BitSize
			} else {
				m.BitOffset = m.Offset * 8
			}
		} else {
			m.BitOffset = m.Offset * 8
		}
		if m.Type, err = dr.typeOf(k.Val(dwarf.AttrType)); err != nil {
			return err
		}
		t.Members = append(t.Members, m)
	}
	return nil
}

// enumerators decodes the constants of an enum.
func (dr *dwarfReader) enumerators(t *Type, e *dwarf.Entry) error {
	if !e.Children {
		return nil
	}
	kids, err := dr.children(e.Offset)
	if err != nil {
		return err
	}
	for _, k := range kids {
		if k.Tag != dwarf.TagEnumerator {
			continue
		}
		en := Enumerator{}
		en.Name, _ = k.Val(dwarf.AttrName).(string)
		switch v := k.Val(dwarf.AttrConstValue).(type) {
		case int64:
			en.Value = v
		case uint64:
			en.Value = int64(v)
		}
		t.Enumerators = append(t.Enumerators, en)
	}
	return nil
}

// array decodes an array type; each DW_TAG_subrange_type is a dimension,
// the first the outermost.
func (dr *dwarfReader) array(t *Type, e *dwarf.Entry) error {
	elem, err := dr.typeOf(e.Val(dwarf.AttrType))
	if err != nil {
		return err
	}
	const attrGNUVector = dwarf.Attr(0x2107)
	t.Vector, _ = e.Val(attrGNUVector).(bool)
	var dims []int64
	if e.Children {
		kids, err := dr.children(e.Offset)
		if err != nil {
			return err
		}
		for _, k := range kids {
			if k.Tag != dwarf.TagSubrangeType {
				continue
			}
			n := int64(-1)
			if c, ok := k.Val(dwarf.AttrCount).(int64); ok {
				n = c
			} else if ub, ok := k.Val(dwarf.AttrUpperBound).(int64); ok {
				lb, _ := k.Val(dwarf.AttrLowerBound).(int64)
				n = ub - lb + 1
			}
			dims = append(dims, n)
		}
	}
	if len(dims) == 0 {
		dims = []int64{-1}
	}
	// Inner dimensions become arrays of their own.
	for i := len(dims) - 1; i > 0; i-- {
		elem = &Type{Kind: ArrayType, Elem: elem, Count: dims[i], Size: -1}
	}
	t.Kind, t.Elem, t.Count = ArrayType, elem, dims[0]
	t.Size = -1 // computed by Sizeof
	return nil
}

// params decodes the parameters of a function type.
func (dr *dwarfReader) params(t *Type, e *dwarf.Entry) error {
	if !e.Children {
		return nil
	}
	kids, err := dr.children(e.Offset)
	if err != nil {
		return err
	}
	for _, k := range kids {
		switch k.Tag {
		case dwarf.TagFormalParameter:
			p, err := dr.typeOf(k.Val(dwarf.AttrType))
			if err != nil {
				return err
			}
			t.Params = append(t.Params, p)
		case dwarf.TagUnspecifiedParameters:
			t.Variadic = true
		}
	}
	return nil
}

// uleb decodes an unsigned LEB128 number.
func uleb(b []byte) uint64 {
	var v uint64
	var shift uint
	for _, c := range b {
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			break
		}
		shift += 7
		if shift > 63 {
			break
		}
	}
	return v
}
