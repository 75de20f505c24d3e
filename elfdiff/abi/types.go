package abi

// This file decodes type DIEs into Types.

import (
	"github.com/compatgate/compatgate/elfdiff/dwarfdec"

	"debug/dwarf"
	"errors"
	"slices"
)

// typeOf decodes the type the DW_AT_type of d refers to; void when d is
// nil or has none.
func (dr *dwarfReader) typeOf(d *dwarfdec.DIE) (*Type, error) {
	if d == nil {
		return dr.void, nil
	}
	switch d.Kinds[dwarfdec.SlotType] {
	case dwarfdec.ValNone:
		return dr.void, nil
	case dwarfdec.ValOffset:
		return dr.typeAt(dwarf.Offset(d.Vals[dwarfdec.SlotType]))
	case dwarfdec.ValUint:
		// DW_FORM_ref_sig8 into a type unit (-fdebug-types-section):
		// DWARF 5's in .debug_info, DWARF 4's in .debug_types.
		if off, ok := dr.dies.TypeOfSignature(d.Vals[dwarfdec.SlotType]); ok {
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
	var die dwarfdec.DIE
	e := &die
	if err := dr.entry(off, e); err != nil {
		return nil, err
	}
	if e.IsDeclaration() {
		// struct S; here, struct S { … } in another compilation unit.
		if name, ok := e.Str(dwarfdec.SlotName); ok {
			if def, ok := dr.defs[defKey{e.Tag, dr.scope.get(off) + name}]; ok && def != off {
				t, err := dr.typeAt(def)
				if err == nil {
					dr.setType(off, t)
				}
				return t, err
			}
		}
	}
	key, mergeable := dr.mergeKeyOf(e)
	if mergeable {
		if t := dr.mergeInto(key, e); t != nil {
			return t, nil
		}
	}
	t := &Type{Size: -1, Count: -1}
	dr.setType(off, t) // before recursing: recursive types terminate here
	dr.merge.distinct++
	if mergeable {
		dr.merge.buckets[key] = append(dr.merge.buckets[key], off)
		if u := dr.unitOf(off); u != nil {
			u.pinned = true
		}
	}
	t.Name, _ = e.Str(dwarfdec.SlotName)
	if s, ok := e.Int(dwarfdec.SlotByteSize); ok {
		t.Size = s
	}
	if a, ok := e.Int(dwarfdec.SlotAlignment); ok {
		t.Align = a
	}
	t.Declaration = e.IsDeclaration()
	if !t.Declaration && (e.Tag == dwarf.TagStructType || e.Tag == dwarf.TagClassType ||
		e.Tag == dwarf.TagUnionType || e.Tag == dwarf.TagEnumerationType || e.Tag == dwarf.TagTypedef) {
		t.File = dr.declFile(e)
		if t.File != 0 {
			t.Line = declLine(e)
		}
	}
	switch e.Tag {
	case dwarf.TagStructType, dwarf.TagClassType, dwarf.TagUnionType, dwarf.TagEnumerationType, dwarf.TagTypedef:
		if u := dr.unitOf(off); u != nil && u.cxx {
			t.CXX = true
			if t.Name != "" {
				t.Name = dr.scope.get(off) + t.Name
			}
		}
	}
	var err error
	elem := func() error {
		t.Elem, err = dr.typeOf(e)
		return err
	}
	switch e.Tag {
	case dwarf.TagBaseType:
		t.Kind = BaseType
		t.Encoding, _ = e.Int(dwarfdec.SlotEncoding)
	case dwarf.TagUnspecifiedType:
		t.Kind = VoidType
	case dwarf.TagPointerType, dwarf.TagReferenceType, dwarf.TagRvalueReferenceType,
		dwarf.TagConstType, dwarf.TagVolatileType, dwarf.TagRestrictType, dwarf.TagAtomicType,
		dwarf.TagTypedef:
		t.Kind = tagKinds[e.Tag]
		if t.Size < 0 && (t.Kind == PointerType || t.Kind == ReferenceType || t.Kind == RvalueRefType) {
			t.Size = int64(dr.addrSize())
		}
		err = elem()
	case dwarf.TagStructType, dwarf.TagUnionType, dwarf.TagClassType:
		t.Kind = tagKinds[e.Tag]
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
	if cur := dr.types[off]; cur != t {
		dr.merge.distinct--
		return cur, nil // merged, while decoding, with a copy decoded before
	}
	if s := dr.shared(t); s != t {
		dr.merge.distinct--
		dr.setType(off, s)
		return s, nil
	}
	return t, nil
}

// tagKinds are the kinds of the types whose tag alone says their kind.
var tagKinds = map[dwarf.Tag]TypeKind{
	dwarf.TagPointerType:         PointerType,
	dwarf.TagReferenceType:       ReferenceType,
	dwarf.TagRvalueReferenceType: RvalueRefType,
	dwarf.TagConstType:           ConstType,
	dwarf.TagVolatileType:        VolatileType,
	dwarf.TagRestrictType:        RestrictType,
	dwarf.TagAtomicType:          AtomicType,
	dwarf.TagTypedef:             TypedefType,
	dwarf.TagStructType:          StructType,
	dwarf.TagUnionType:           UnionType,
	dwarf.TagClassType:           ClassType,
}

// aliasCycle reports whether following t's typedefs, qualifiers and array
// elements leads back to t.
func aliasCycle(t *Type) bool {
	if t.Kind != TypedefType && !t.Kind.isQualifier() && t.Kind != ArrayType {
		return false
	}
	u := t.Elem
	for i := 0; u != nil && i < MaxAliasChain; i++ {
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
func (dr *dwarfReader) members(t *Type, e *dwarfdec.DIE) error {
	// A class's methods go on dr.methodStack, above those of the classes
	// being read further up, and leave it in one slice.
	base := len(dr.methodStack)
	var k dwarfdec.DIE
	for c := dwarfdec.ChildrenOf(e); ; {
		ok, err := dr.dies.Next(&c, &k)
		if err != nil {
			return err
		}
		if !ok {
			if len(dr.methodStack) > base {
				t.Class.Methods = slices.Clone(dr.methodStack[base:])
				dr.methodStack = dr.methodStack[:base]
			}
			return nil
		}
		if t.Class != nil {
			done, err := dr.classChild(t, &k)
			if err != nil {
				return err
			}
			if done {
				continue
			}
		}
		if k.Tag != dwarf.TagMember || k.IsDeclaration() {
			continue // methods, static members, nested types, bases: classChild
		}
		if k.Flag(dwarfdec.SlotExternal) {
			continue
		}
		m := Member{}
		m.Name, _ = k.Str(dwarfdec.SlotName)
		m.Offset = memberOffset(&k)
		m.BitSize, _ = k.Int(dwarfdec.SlotBitSize)
		if m.BitSize > 0 {
			if dbo, ok := k.Int(dwarfdec.SlotDataBitOffset); ok {
				m.BitOffset = dbo
				m.Offset = dbo / 8
			} else if bo, ok := k.Int(dwarfdec.SlotBitOffset); ok {
				// DWARF 2/3: bit_offset counts from the most significant
				// bit of a storage unit of byte_size bytes.
				bs, _ := k.Int(dwarfdec.SlotByteSize)
				m.BitOffset = m.Offset*8 + bs*8 - bo - m.BitSize
			} else {
				m.BitOffset = m.Offset * 8
			}
		} else {
			m.BitOffset = m.Offset * 8
		}
		if m.Type, err = dr.typeOf(&k); err != nil {
			return err
		}
		t.Members = append(t.Members, m)
	}
}

// enumerators decodes the constants of an enum.
func (dr *dwarfReader) enumerators(t *Type, e *dwarfdec.DIE) error {
	var k dwarfdec.DIE
	for c := dwarfdec.ChildrenOf(e); ; {
		ok, err := dr.dies.Next(&c, &k)
		if err != nil || !ok {
			return err
		}
		if k.Tag != dwarf.TagEnumerator {
			continue
		}
		en := Enumerator{}
		en.Name, _ = k.Str(dwarfdec.SlotName)
		if kind := k.Kinds[dwarfdec.SlotConstValue]; kind == dwarfdec.ValInt || kind == dwarfdec.ValUint {
			en.Value = int64(k.Vals[dwarfdec.SlotConstValue])
		}
		t.Enumerators = append(t.Enumerators, en)
	}
}

// array decodes an array type; each DW_TAG_subrange_type is a dimension,
// the first the outermost.
func (dr *dwarfReader) array(t *Type, e *dwarfdec.DIE) error {
	elem, err := dr.typeOf(e)
	if err != nil {
		return err
	}
	t.Vector = e.Flag(dwarfdec.SlotGNUVector)
	var dims []int64
	var k dwarfdec.DIE
	for c := dwarfdec.ChildrenOf(e); ; {
		ok, err := dr.dies.Next(&c, &k)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if k.Tag != dwarf.TagSubrangeType {
			continue
		}
		n := int64(-1)
		if c, ok := k.Int(dwarfdec.SlotCount); ok {
			n = c
		} else if ub, ok := k.Int(dwarfdec.SlotUpperBound); ok {
			lb, _ := k.Int(dwarfdec.SlotLowerBound)
			n = ub - lb + 1
		}
		dims = append(dims, n)
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
func (dr *dwarfReader) params(t *Type, e *dwarfdec.DIE) error {
	var k dwarfdec.DIE
	for c := dwarfdec.ChildrenOf(e); ; {
		ok, err := dr.dies.Next(&c, &k)
		if err != nil || !ok {
			return err
		}
		switch k.Tag {
		case dwarf.TagFormalParameter:
			p, err := dr.typeOf(&k)
			if err != nil {
				return err
			}
			t.Params = append(t.Params, p)
		case dwarf.TagUnspecifiedParameters:
			t.Variadic = true
		}
	}
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
