package dwarfdec

// This file names the attributes a DIE keeps (its slots) and maps DWARF
// attributes to them.

import "debug/dwarf"

// Slot names an attribute a DIE keeps.
type Slot uint8

// The attributes a DIE keeps.
const (
	SlotName Slot = iota
	SlotLinkageName
	SlotType
	SlotAbstractOrigin
	SlotSpecification
	slotSibling
	SlotInline
	SlotArtificial
	SlotExternal
	slotDeclaration
	SlotAccessibility
	SlotVirtuality
	SlotDataMemberLoc
	SlotVtableElemLoc
	SlotDeleted
	SlotDefaulted
	SlotCallingConvention
	SlotByteSize
	SlotAlignment
	SlotEncoding
	SlotBitSize
	SlotDataBitOffset
	SlotBitOffset
	SlotConstValue
	SlotCount
	SlotUpperBound
	SlotLowerBound
	SlotGNUVector
	SlotDeclFile
	SlotDeclLine
	slotSignature
	slotStmtList
	slotCompDir
	numSlots
	noSlot = numSlots // an attribute no decoder reads
)

// attrGNUVector is DW_AT_GNU_vector, set on the array type of a GCC
// vector (vector_size).
const attrGNUVector = dwarf.Attr(0x2107)

// DWARF attributes and operations debug/dwarf does not name.
const (
	attrCallingConvention = dwarf.Attr(0x36) // DW_AT_calling_convention
	attrDeleted           = dwarf.Attr(0x8a) // DW_AT_deleted
	attrDefaulted         = dwarf.Attr(0x8b) // DW_AT_defaulted
	OpConstu              = 0x10             // DW_OP_constu
)

// slotOf returns the slot of attribute a, or noSlot.
func slotOf(a dwarf.Attr) Slot {
	switch a {
	case dwarf.AttrName:
		return SlotName
	case dwarf.AttrLinkageName:
		return SlotLinkageName
	case dwarf.AttrType:
		return SlotType
	case dwarf.AttrAbstractOrigin:
		return SlotAbstractOrigin
	case dwarf.AttrSpecification:
		return SlotSpecification
	case dwarf.AttrSibling:
		return slotSibling
	case dwarf.AttrInline:
		return SlotInline
	case dwarf.AttrArtificial:
		return SlotArtificial
	case dwarf.AttrExternal:
		return SlotExternal
	case dwarf.AttrDeclaration:
		return slotDeclaration
	case dwarf.AttrAccessibility:
		return SlotAccessibility
	case dwarf.AttrVirtuality:
		return SlotVirtuality
	case dwarf.AttrDataMemberLoc:
		return SlotDataMemberLoc
	case dwarf.AttrVtableElemLoc:
		return SlotVtableElemLoc
	case attrDeleted:
		return SlotDeleted
	case attrDefaulted:
		return SlotDefaulted
	case attrCallingConvention:
		return SlotCallingConvention
	case dwarf.AttrByteSize:
		return SlotByteSize
	case dwarf.AttrAlignment:
		return SlotAlignment
	case dwarf.AttrEncoding:
		return SlotEncoding
	case dwarf.AttrBitSize:
		return SlotBitSize
	case dwarf.AttrDataBitOffset:
		return SlotDataBitOffset
	case dwarf.AttrBitOffset:
		return SlotBitOffset
	case dwarf.AttrConstValue:
		return SlotConstValue
	case dwarf.AttrCount:
		return SlotCount
	case dwarf.AttrUpperBound:
		return SlotUpperBound
	case dwarf.AttrLowerBound:
		return SlotLowerBound
	case attrGNUVector:
		return SlotGNUVector
	case dwarf.AttrDeclFile:
		return SlotDeclFile
	case dwarf.AttrDeclLine:
		return SlotDeclLine
	case dwarf.AttrSignature:
		return slotSignature
	case dwarf.AttrStmtList:
		return slotStmtList
	case dwarf.AttrCompDir:
		return slotCompDir
	}
	return noSlot
}
