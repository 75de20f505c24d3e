package cxx

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// A Typeinfo is the contents of an exported std::type_info object (_ZTI…)
// of a class, read without debug information. Its dynamic type says how
// the class derives (Itanium C++ ABI §2.9.5): __class_type_info for a class
// without bases, __si_class_type_info for one public, non-virtual base at
// offset 0, __vmi_class_type_info for anything else, listing every direct
// base with its offset and flags.
type Typeinfo struct {
	Symbol string // the _ZTI symbol's name, without version
	Class  string // the demangled type
	// Kind is "class", "si" or "vmi" for classes; for other types, the
	// vtable the object points to (fundamental, pointer… type_info).
	Kind  string
	Flags uint32 // __vmi_class_type_info flags: 1 non-diamond repeat, 2 diamond-shaped
	Bases []BaseClass
	// Err says why the object could not be read completely.
	Err string
}

// A BaseClass is one direct base class as __si_ or __vmi_class_type_info
// records it.
type BaseClass struct {
	// Name is the demangled base class; empty when no symbol names its
	// typeinfo (a local class in a stripped library).
	Name    string
	Virtual bool
	Public  bool
	// Offset is the base subobject's offset in the class for a
	// non-virtual base; for a virtual base, the (negative) offset in the
	// vtable of the slot holding its virtual-base offset.
	Offset int64
}

// The cxxabiv1 vtables of the class type_info kinds.
const (
	classTypeinfoVT = "_ZTVN10__cxxabiv117__class_type_infoE"
	siTypeinfoVT    = "_ZTVN10__cxxabiv120__si_class_type_infoE"
	vmiTypeinfoVT   = "_ZTVN10__cxxabiv121__vmi_class_type_infoE"
)

// maxBases bounds the base count read from a __vmi_class_type_info.
const maxBases = 4096

// parseTypeinfo fills ti from the words of the object at base.
func parseTypeinfo(ti *Typeinfo, base uint64, words []uint64, relocs relocs, names addrNames, classes classNames, bo binary.ByteOrder) {
	at := func(i int) (reloc, bool) { return relocs.at(base + 8*uint64(i)) }
	vt, ok := at(0)
	if !ok || vt.sym == "" {
		ti.Err = "typeinfo does not point to a type_info vtable"
		return
	}
	baseName := func(i int) string {
		r, ok := at(i)
		switch {
		case !ok:
			return "(null)"
		case r.sym != "":
			return classes.of(r.sym)
		}
		if name := names.at(r.addr); name != "" {
			return classes.of(name)
		}
		return ""
	}
	switch strings.SplitN(vt.sym, "@", 2)[0] {
	case classTypeinfoVT:
		ti.Kind = "class"
	case siTypeinfoVT:
		ti.Kind = "si"
		if len(words) < 3 {
			ti.Err = "__si_class_type_info too short"
			return
		}
		ti.Bases = []BaseClass{{Name: baseName(2), Public: true}}
	case vmiTypeinfoVT:
		ti.Kind = "vmi"
		if len(words) < 3 {
			ti.Err = "__vmi_class_type_info too short"
			return
		}
		var b [8]byte
		bo.PutUint64(b[:], words[2])
		ti.Flags = bo.Uint32(b[:4])
		n := int(bo.Uint32(b[4:]))
		if n > maxBases || 3+2*n > len(words) {
			ti.Err = fmt.Sprintf("__vmi_class_type_info claims %d bases in %d bytes", n, 8*len(words))
			return
		}
		for i := 0; i < n; i++ {
			of := int64(words[4+2*i])
			ti.Bases = append(ti.Bases, BaseClass{Name: baseName(3 + 2*i),
				Virtual: of&1 != 0, Public: of&2 != 0, Offset: of >> 8})
		}
	default:
		ti.Kind = strings.SplitN(vt.sym, "@", 2)[0]
	}
}

// ClassKind reports whether k, a Typeinfo kind, names a class: "class",
// "si" (single inheritance) or "vmi" (virtual or multiple inheritance).
func ClassKind(k string) bool { return k == "class" || k == "si" || k == "vmi" }
