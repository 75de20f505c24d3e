package elfdiff

import (
	"encoding/binary"
	"fmt"
	"slices"
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
func parseTypeinfo(ti *Typeinfo, base uint64, words []uint64, relocs relocs, names map[uint64]string, classes classNames, bo binary.ByteOrder) {
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
		case names[r.addr] != "":
			return classes.of(names[r.addr])
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

// diffTypeinfo compares the bases recorded in the typeinfo objects both
// versions export for a class, matched by symbol name. Each change names
// its class in Type; cxxPass fills in the affected members.
func diffTypeinfo(old, new *Corpus) []Change {
	if old.CXX == nil || new.CXX == nil {
		return nil
	}
	var keys []string
	for k := range old.CXX.Typeinfo {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []Change
	for _, k := range keys {
		o, n := old.CXX.Typeinfo[k], new.CXX.Typeinfo[k]
		if n == nil || o.Err != "" || n.Err != "" || !classKind(o.Kind) || !classKind(n.Kind) {
			continue
		}
		cs := diffBases(o, n)
		if len(cs) == 0 {
			continue
		}
		for i := range cs {
			cs[i].Type = o.Class
		}
		out = append(out, cs...)
	}
	return out
}

func classKind(k string) bool { return k == "class" || k == "si" || k == "vmi" }

// baseKey identifies a base within its list: by name, or by position
// when no symbol names it.
func baseKey(b BaseClass, i int) string {
	if b.Name == "" {
		return fmt.Sprintf("#%d", i+1)
	}
	return b.Name
}

// baseName spells a base for a report.
func baseName(b BaseClass, i int) string {
	if b.Name == "" {
		return fmt.Sprintf("unnamed base %d", i+1)
	}
	return b.Name
}

// diffBases compares two lists of direct bases by base name (by position
// for unnamed ones). A base removed and another added in the same position
// with the same offset and flags is one replacement.
func diffBases(o, n *Typeinfo) []Change {
	var out []Change
	inNew := make(map[string]BaseClass, len(n.Bases))
	for i, b := range n.Bases {
		inNew[baseKey(b, i)] = b
	}
	inOld := make(map[string]bool, len(o.Bases))
	for i, b := range o.Bases {
		inOld[baseKey(b, i)] = true
	}
	replaced := make(map[int]bool)
	for i, ob := range o.Bases {
		where := "base " + baseName(ob, i)
		nb, ok := inNew[baseKey(ob, i)]
		if !ok && i < len(n.Bases) && !inOld[baseKey(n.Bases[i], i)] {
			if rb := n.Bases[i]; rb.Virtual == ob.Virtual && rb.Offset == ob.Offset && rb.Public == ob.Public {
				replaced[i] = true
				out = append(out, Change{Kind: TypeinfoBaseReplaced, Where: where, Old: baseName(ob, i), New: baseName(rb, i),
					Detail: fmt.Sprintf("base %s of %s is now %s, at the same offset", baseName(ob, i), o.Class, baseName(rb, i))})
				continue
			}
		}
		switch {
		case !ok:
			out = append(out, Change{Kind: TypeinfoBaseRemoved, Where: where, Old: baseName(ob, i),
				Detail: fmt.Sprintf("%s no longer derives from %s", o.Class, baseName(ob, i))})
			continue
		case ob.Virtual != nb.Virtual:
			out = append(out, Change{Kind: TypeinfoBaseVirtual, Where: where, Old: virtualWord(ob.Virtual), New: virtualWord(nb.Virtual),
				Detail: fmt.Sprintf("base %s of %s became %s", baseName(ob, i), o.Class, virtualWord(nb.Virtual))})
			continue
		case ob.Offset != nb.Offset && ob.Virtual:
			out = append(out, Change{Kind: TypeinfoBaseMoved, Where: where, Old: fmt.Sprint(ob.Offset), New: fmt.Sprint(nb.Offset),
				Detail: fmt.Sprintf("the virtual-base offset of %s in %s's vtable moved from %d to %d", baseName(ob, i), o.Class, ob.Offset, nb.Offset)})
		case ob.Offset != nb.Offset:
			out = append(out, Change{Kind: TypeinfoBaseMoved, Where: where, Old: fmt.Sprint(ob.Offset), New: fmt.Sprint(nb.Offset),
				Detail: fmt.Sprintf("base %s of %s moved from offset %d to %d", baseName(ob, i), o.Class, ob.Offset, nb.Offset)})
		}
		if ob.Public != nb.Public {
			out = append(out, Change{Kind: TypeinfoBaseAccess, Where: where, Old: publicWord(ob.Public), New: publicWord(nb.Public),
				Detail: fmt.Sprintf("base %s of %s became %s", baseName(ob, i), o.Class, publicWord(nb.Public))})
		}
	}
	for i, nb := range n.Bases {
		if !inOld[baseKey(nb, i)] && !replaced[i] {
			out = append(out, Change{Kind: TypeinfoBaseAdded, Where: "base " + baseName(nb, i), New: baseName(nb, i),
				Detail: fmt.Sprintf("%s now derives from %s", o.Class, baseName(nb, i))})
		}
	}
	return out
}

func virtualWord(v bool) string {
	if v {
		return "virtual"
	}
	return "non-virtual"
}

func publicWord(p bool) string {
	if p {
		return "public"
	}
	return "non-public"
}
