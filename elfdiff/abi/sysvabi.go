package abi

import "strings"

// An eightbyte class of the x86-64 System V ABI (§3.2.3).
type abiClass uint8

const (
	clsNone abiClass = iota
	clsInteger
	clsSSE
	clsSSEUp
	clsX87
	clsX87Up
	clsComplexX87
	clsMemory
)

var abiClassNames = [...]string{"NO_CLASS", "INTEGER", "SSE", "SSEUP", "X87", "X87UP", "COMPLEX_X87", "MEMORY"}

// DWARF base type encodings used by the classification.
const (
	AteBoolean      = 0x02
	AteComplexFloat = 0x03
	AteFloat        = 0x04
	AteSigned       = 0x05
	AteSignedChar   = 0x06
	AteUnsigned     = 0x07
	AteUnsignedChar = 0x08
	AteUTF          = 0x10
)

// Classification returns how the x86-64 System V ABI passes a value of
// type t: its eightbyte classes joined by "+", "MEMORY" when it is passed
// in memory, "" for void. For a return value, a MEMORY result means the
// caller passes a hidden pointer.
func Classification(t *Type, isReturn bool) string {
	cls := classify(t)
	if len(cls) == 0 {
		return ""
	}
	if cls[0] == clsMemory || (!isReturn && (cls[0] == clsX87 || cls[0] == clsComplexX87)) {
		return "MEMORY"
	}
	names := make([]string, len(cls))
	for i, c := range cls {
		names[i] = abiClassNames[c]
	}
	return strings.Join(names, "+")
}

// inMemory reports whether a value of type t is passed (or returned) in
// memory.
func inMemory(t *Type, isReturn bool) bool { return Classification(t, isReturn) == "MEMORY" }

// classify returns the classes of the eightbytes of t.
func classify(t *Type) []abiClass {
	t = t.Strip()
	if t == nil || t.Kind == VoidType {
		return nil
	}
	if t.Class != nil && t.Class.PassByRef {
		return []abiClass{clsMemory} // not trivially copyable: by invisible reference
	}
	size := t.Sizeof()
	if size < 0 {
		return []abiClass{clsMemory}
	}
	if size == 0 {
		return nil
	}
	switch t.Kind {
	case BaseType, EnumType, PointerType, ReferenceType, RvalueRefType, PtrToMemberType:
		return scalarClasses(t, size)
	case ArrayType:
		if t.Vector {
			return vectorClasses(size)
		}
		fallthrough
	case StructType, UnionType, ClassType:
		if size > 16 {
			return []abiClass{clsMemory}
		}
		cls := make([]abiClass, (size+7)/8)
		if !mergeInto(cls, t, 0, 0) {
			return []abiClass{clsMemory}
		}
		return postMerge(cls)
	}
	return []abiClass{clsMemory}
}

// vectorClasses classifies a GCC vector (__m64, __m128, __m256…): in SSE
// registers up to 16 bytes; larger ones need AVX, which the classification
// cannot assume, and go in memory.
func vectorClasses(size int64) []abiClass {
	switch {
	case size <= 8:
		return []abiClass{clsSSE}
	case size <= 16:
		return []abiClass{clsSSE, clsSSEUp}
	}
	return []abiClass{clsMemory}
}

// scalarClasses classifies a scalar of the given size.
func scalarClasses(t *Type, size int64) []abiClass {
	if t.Kind == BaseType {
		switch t.Encoding {
		case AteFloat:
			switch {
			case size <= 8:
				return []abiClass{clsSSE}
			case strings.Contains(t.Name, "long double"):
				return []abiClass{clsX87, clsX87Up}
			default: // __float128, _Float128
				return []abiClass{clsSSE, clsSSEUp}
			}
		case AteComplexFloat:
			switch size {
			case 8:
				return []abiClass{clsSSE}
			case 16:
				return []abiClass{clsSSE, clsSSE}
			default:
				return []abiClass{clsComplexX87}
			}
		}
	}
	if size > 8 {
		return []abiClass{clsInteger, clsInteger}
	}
	return []abiClass{clsInteger}
}

// mergeInto merges the classes of the fields of t, placed at byte offset
// off, into cls. It returns false when t must go in memory (an unaligned
// field).
func mergeInto(cls []abiClass, t *Type, off int64, depth int) bool {
	t = t.Strip()
	if t == nil || depth > 32 {
		return true
	}
	switch t.Kind {
	case StructType, UnionType, ClassType:
		for _, m := range t.Members {
			if m.BitSize > 0 {
				i := (off*8 + m.BitOffset) / 64
				if i >= 0 && i < int64(len(cls)) {
					cls[i] = mergeClass(cls[i], clsInteger)
				}
				continue
			}
			if a := m.Type.Alignof(); a > 0 && (off+m.Offset)%a != 0 {
				return false
			}
			if !mergeInto(cls, m.Type, off+m.Offset, depth+1) {
				return false
			}
		}
		return true
	case ArrayType:
		if t.Vector {
			for j, c := range vectorClasses(t.Sizeof()) {
				if i := off/8 + int64(j); i >= 0 && i < int64(len(cls)) {
					cls[i] = mergeClass(cls[i], c)
				}
			}
			return true
		}
		es := t.Elem.Sizeof()
		if es <= 0 || t.Count < 0 {
			return true
		}
		for i := int64(0); i < t.Count && (off+i*es)/8 < int64(len(cls)); i++ {
			if !mergeInto(cls, t.Elem, off+i*es, depth+1) {
				return false
			}
		}
		return true
	}
	sc := scalarClasses(t, t.Sizeof())
	for j, c := range sc {
		i := off/8 + int64(j)
		if i >= 0 && i < int64(len(cls)) {
			cls[i] = mergeClass(cls[i], c)
		}
	}
	return true
}

// mergeClass merges two classes of one eightbyte (§3.2.3, step 4).
func mergeClass(a, b abiClass) abiClass {
	switch {
	case a == b:
		return a
	case a == clsNone:
		return b
	case b == clsNone:
		return a
	case a == clsMemory || b == clsMemory:
		return clsMemory
	case a == clsInteger || b == clsInteger:
		return clsInteger
	case a == clsX87 || a == clsX87Up || a == clsComplexX87 || b == clsX87 || b == clsX87Up || b == clsComplexX87:
		return clsMemory
	}
	return clsSSE
}

// postMerge applies the final cleanup of the classification (step 5).
func postMerge(cls []abiClass) []abiClass {
	for i, c := range cls {
		if c == clsMemory {
			return []abiClass{clsMemory}
		}
		if c == clsX87Up && (i == 0 || cls[i-1] != clsX87) {
			return []abiClass{clsMemory}
		}
		if c == clsSSEUp && (i == 0 || (cls[i-1] != clsSSE && cls[i-1] != clsSSEUp)) {
			cls[i] = clsSSE
		}
		if c == clsNone {
			cls[i] = clsSSE // padding eightbytes classify as SSE (never observable)
		}
	}
	return cls
}
