package abidump

import (
	"fmt"

	"github.com/compatgate/compatgate/elfdiff/abi"
	"github.com/compatgate/compatgate/elfdiff/cxx"
)

// or returns *v, or absent when v is nil (see unless).
func or(v *int64, absent int64) int64 {
	if v == nil {
		return absent
	}
	return *v
}

func decodeCXX(in *cxxTables) *cxx.Tables {
	t := &cxx.Tables{VTables: make(map[string]*cxx.VTable, len(in.VTables)), Typeinfo: make(map[string]*cxx.Typeinfo, len(in.Typeinfo))}
	for k, v := range in.VTables {
		vt := &cxx.VTable{Symbol: v.Symbol, Class: v.Class, Size: v.Size, Err: v.Err}
		for _, st := range v.Tables {
			s := cxx.SubTable{Offsets: st.Offsets, OffsetToTop: st.OffsetToTop, RTTI: st.RTTI}
			for _, sl := range st.Slots {
				s.Slots = append(s.Slots, cxx.Slot(sl))
			}
			vt.Tables = append(vt.Tables, s)
		}
		t.VTables[k] = vt
	}
	for k, v := range in.Typeinfo {
		ti := &cxx.Typeinfo{Symbol: v.Symbol, Class: v.Class, Kind: v.Kind, Flags: v.Flags, Err: v.Err}
		for _, b := range v.Bases {
			ti.Bases = append(ti.Bases, cxx.BaseClass(b))
		}
		t.Typeinfo[k] = ti
	}
	return t
}

// typeDecoder resolves type references into a table allocated at once.
type typeDecoder struct {
	types []abi.Type
	files int   // the number of files declarations may refer to
	err   error // the first bad reference
}

// ref returns the type r refers to, nil for none; a reference out of the
// table records an error.
func (td *typeDecoder) ref(r ref, where string) *abi.Type {
	if r == nil {
		return nil
	}
	if *r < 0 || *r >= len(td.types) {
		if td.err == nil {
			td.err = fmt.Errorf("%s: type reference %d out of the table of %d types", where, *r, len(td.types))
		}
		return nil
	}
	return &td.types[*r]
}

func (td *typeDecoder) refs(rs []ref, where string) []*abi.Type {
	if rs == nil {
		return nil
	}
	out := make([]*abi.Type, len(rs))
	for i, r := range rs {
		out[i] = td.ref(r, where)
	}
	return out
}

func decodeDebug(in *debugInfo) (*abi.DebugInfo, error) {
	td := &typeDecoder{types: make([]abi.Type, len(in.Types)), files: len(in.Files)}
	kinds := make(map[string]abi.TypeKind)
	for k := abi.TypeKind(0); k < 255; k++ {
		kinds[k.String()] = k
	}
	for i, t := range in.Types {
		where := fmt.Sprintf("types[%d]", i)
		k, ok := kinds[t.Kind]
		if !ok {
			return nil, fmt.Errorf("%s: unknown kind %q", where, t.Kind)
		}
		out := &td.types[i]
		*out = abi.Type{Kind: k, Name: t.Name, Size: -1, Count: -1, Align: t.Align, Encoding: t.Encoding,
			Elem: td.ref(t.Elem, where), Params: td.refs(t.Params, where), Variadic: t.Variadic,
			Declaration: t.Declaration, Vector: t.Vector, CXX: t.CXX, File: td.file(t.File, where), Line: t.Line,
			Members: td.members(t.Members, where)}
		if t.Size != nil {
			out.Size = *t.Size
		}
		if t.Count != nil {
			out.Count = *t.Count
		}
		for _, e := range t.Enumerators {
			out.Enumerators = append(out.Enumerators, abi.Enumerator(e))
		}
		if c := t.Class; c != nil {
			out.Class = td.class(c, where)
		}
	}
	if td.err != nil {
		return nil, td.err
	}
	if aliasCycles(in.Types, kinds) {
		return nil, fmt.Errorf("a typedef, qualifier or array type refers to itself")
	}
	d := &abi.DebugInfo{
		Source: in.Source, Types: in.TypeCount, TypeUnitRefs: in.TypeUnitRefs, Files: in.Files,
		Funcs: make(map[uint64]*abi.Func, len(in.Funcs)), Vars: make(map[uint64]*abi.Var, len(in.Vars)),
		FuncsByName: make(map[string]*abi.Func, len(in.FuncsByName)), VarsByName: make(map[string]*abi.Var, len(in.VarsByName)),
		PrivateVars: make(map[uint64]*abi.Var, len(in.PrivateVars)),
	}
	for _, f := range in.Funcs {
		d.Funcs[f.Addr] = td.function(f.function)
	}
	for _, v := range in.Vars {
		d.Vars[v.Addr] = td.variable(v.variable)
	}
	for _, f := range in.FuncsByName {
		d.FuncsByName[f.Key] = td.function(f.function)
	}
	for _, v := range in.VarsByName {
		d.VarsByName[v.Key] = td.variable(v.variable)
	}
	for _, v := range in.PrivateVars {
		d.PrivateVars[v.Addr] = td.variable(v.variable)
	}
	return d, td.err
}

func (td *typeDecoder) class(c *classInfo, where string) *abi.ClassInfo {
	out := &abi.ClassInfo{VPtr: c.VPtr, Statics: td.members(c.Statics, where), PassByRef: c.PassByRef,
		Internal: c.Internal, NoPublicCtor: c.NoPublicCtor}
	for _, b := range c.Bases {
		out.Bases = append(out.Bases, abi.Base{Type: td.ref(b.Type, where), Offset: b.Offset, Virtual: b.Virtual,
			Access: abi.Access(or(b.Access, int64(abi.AccessPublic)))})
	}
	for _, m := range c.Methods {
		out.Methods = append(out.Methods, abi.Method{Name: m.Name, Linkage: m.Linkage, Virtuality: m.Virtuality,
			Slot: or(m.Slot, -1), Static: m.Static, Access: abi.Access(or(m.Access, int64(abi.AccessPublic))), Params: td.refs(m.Params, where),
			Inline: m.Inline, Deleted: m.Deleted, Artificial: m.Artificial})
	}
	if c.Access != nil {
		out.Access = make(map[string]abi.Access, len(c.Access))
		for k, a := range c.Access {
			out.Access[k] = abi.Access(a)
		}
	}
	return out
}

func (td *typeDecoder) members(ms []member, where string) []abi.Member {
	var out []abi.Member
	for i, m := range ms {
		if m.Type == nil && td.err == nil {
			// A member's type is never absent: DWARF's void is a type.
			td.err = fmt.Errorf("%s: member %d (%q) has no type", where, i, m.Name)
		}
		out = append(out, abi.Member{Name: m.Name, Type: td.ref(m.Type, where), Offset: m.Offset,
			BitOffset: or(m.BitOffset, 8*m.Offset), BitSize: m.BitSize})
	}
	return out
}

func (td *typeDecoder) function(f function) *abi.Func {
	out := &abi.Func{Name: f.Name, Linkage: f.Linkage, Return: td.ref(f.Return, f.Name), Variadic: f.Variadic,
		This: td.ref(f.This, f.Name), Method: f.Method, Inline: f.Inline, InHeader: f.InHeader,
		File: td.file(f.File, f.Name), Line: f.Line}
	for _, p := range f.Params {
		out.Params = append(out.Params, abi.Param{Name: p.Name, Type: td.ref(p.Type, f.Name)})
	}
	return out
}

func (td *typeDecoder) variable(v variable) *abi.Var {
	return &abi.Var{Name: v.Name, Linkage: v.Linkage, Type: td.ref(v.Type, v.Name),
		File: td.file(v.File, v.Name), Line: v.Line}
}

// file returns the file number n of a declaration; a number past the
// dump's files records an error.
func (td *typeDecoder) file(n uint32, where string) uint32 {
	if n > uint32(td.files) {
		if td.err == nil {
			td.err = fmt.Errorf("%s: file %d is not in the dump's %d files", where, n, td.files)
		}
		return 0
	}
	return n
}

// aliasCycles reports whether a typedef, qualifier or array leads back
// to itself through such types only: the DWARF reader breaks those
// cycles, so only a hand-made dump has one, and the diff would not end.
// References are in the table (decodeDebug checked them).
func aliasCycles(types []typ, kinds map[string]abi.TypeKind) bool {
	alias := func(i int) bool {
		switch kinds[types[i].Kind] {
		case abi.TypedefType, abi.ConstType, abi.VolatileType, abi.RestrictType, abi.AtomicType, abi.ArrayType:
			return true
		}
		return false
	}
	const onChain, done = 1, 2
	state := make([]uint8, len(types))
	for i := range types {
		var chain []int
		for j := i; state[j] != done && alias(j); {
			if state[j] == onChain {
				return true
			}
			state[j] = onChain
			chain = append(chain, j)
			if types[j].Elem == nil {
				break
			}
			j = *types[j].Elem
		}
		for _, j := range chain {
			state[j] = done
		}
	}
	return false
}
