package elfdiff

import (
	"github.com/compatgate/compatgate/elfdiff/cxx"

	"fmt"
	"slices"
)

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
		if n == nil || o.Err != "" || n.Err != "" || !cxx.ClassKind(o.Kind) || !cxx.ClassKind(n.Kind) {
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

// baseKey identifies a base within its list: by name, or by position
// when no symbol names it.
func baseKey(b cxx.BaseClass, i int) string {
	if b.Name == "" {
		return fmt.Sprintf("#%d", i+1)
	}
	return b.Name
}

// baseName spells a base for a report.
func baseName(b cxx.BaseClass, i int) string {
	if b.Name == "" {
		return fmt.Sprintf("unnamed base %d", i+1)
	}
	return b.Name
}

// diffBases compares two lists of direct bases by base name (by position
// for unnamed ones). A base removed and another added in the same position
// with the same offset and flags is one replacement.
func diffBases(o, n *cxx.Typeinfo) []Change {
	var out []Change
	inNew := make(map[string]cxx.BaseClass, len(n.Bases))
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
