package elfdiff

import (
	"debug/dwarf"
	"fmt"
)

// maxTypeDepth bounds the recursion of the type decoder: a well-formed
// type graph is far shallower (cycles go through the cache, not the stack).
const maxTypeDepth = 512

// readDebugInfo decodes the declarations of the exported symbols syms, and
// the types reachable from them, from d. Only what is reachable from an
// exported symbol is decoded. A malformed DWARF section yields an error,
// never a panic.
//
// The DWARF 5 type units are indexed at the first reference into one.
func readDebugInfo(df *dwarfFile, syms *symbolList, source string) (info *DebugInfo, err error) {
	defer func() {
		if v := recover(); v != nil {
			info, err = nil, fmt.Errorf("malformed DWARF (%v)", v)
		}
	}()
	dr := newDWARFReader(df)
	idx, err := dr.index(syms, 0, minChunkBytes)
	if err != nil {
		return nil, err
	}
	info = &DebugInfo{
		Source:      source,
		Funcs:       make(map[uint64]*Func, len(idx.funcAt)),
		Vars:        make(map[uint64]*Var, len(idx.varAt)),
		FuncsByName: make(map[string]*Func),
		VarsByName:  make(map[string]*Var),
	}
	// One declaration may be reached both by address and by name; decode
	// it once.
	funcs := make(map[dwarf.Offset]*Func)
	vars := make(map[dwarf.Offset]*Var)
	fn := func(off dwarf.Offset) (*Func, error) {
		if f, ok := funcs[off]; ok {
			return f, nil
		}
		f, err := dr.function(off)
		funcs[off] = f
		return f, err
	}
	vr := func(off dwarf.Offset) (*Var, error) {
		if v, ok := vars[off]; ok {
			return v, nil
		}
		v, err := dr.variable(off)
		vars[off] = v
		return v, err
	}
	for addr, off := range idx.funcAt {
		if info.Funcs[addr], err = fn(off); err != nil {
			return nil, err
		}
	}
	for name, off := range idx.funcNamed {
		if info.FuncsByName[name], err = fn(off); err != nil {
			return nil, err
		}
	}
	for addr, off := range idx.varAt {
		if info.Vars[addr], err = vr(off); err != nil {
			return nil, err
		}
	}
	for name, off := range idx.varNamed {
		if info.VarsByName[name], err = vr(off); err != nil {
			return nil, err
		}
	}
	markInternal(dr.types)
	info.Types = len(dr.types)
	info.TypeUnitRefs = dr.typeUnitRefs
	return info, nil
}

// dwarfReader decodes DIEs into Funcs, Vars and Types, caching types by
// offset so shared and recursive types are decoded once.
type dwarfReader struct {
	d     *dwarf.Data
	r     *dwarf.Reader
	sec   *dwarfSections // the raw sections of d, for the index pass
	types map[dwarf.Offset]*Type
	void  *Type
	depth int
	// typeUnits finds DWARF 5 type units by signature; sigs caches it.
	typeUnits func() map[uint64]dwarf.Offset
	sigs      map[uint64]dwarf.Offset
	// typeUnitRefs counts references into type units that could not be
	// followed (DWARF 4 .debug_types).
	typeUnitRefs int
	// defs locates the first complete definition of each named struct,
	// union, class and enum, so that a declaration (struct S;) in one
	// compilation unit resolves to the definition in another.
	defs map[defKey]dwarf.Offset
	// scope qualifies the C++ types declared in namespaces and classes:
	// "ns::Outer::" by the type DIE's offset.
	scope offsetStrings
	// methods holds the subprogram DIEs declared inside a class, in
	// increasing offset order.
	methods []dwarf.Offset
	// units are the compilation units, in offset order.
	units []*unitInfo
}

// newDWARFReader returns a reader of the DWARF of df.
func newDWARFReader(df *dwarfFile) *dwarfReader {
	return &dwarfReader{d: df.data, r: df.data.Reader(), sec: df.sec, types: make(map[dwarf.Offset]*Type),
		defs: make(map[defKey]dwarf.Offset), typeUnits: df.typeUnits,
		void: &Type{Kind: VoidType, Size: -1, Count: -1}}
}

// defKey names a tagged type: its DWARF tag and name.
type defKey struct {
	tag  dwarf.Tag
	name string
}

// entry reads the DIE at off.
func (dr *dwarfReader) entry(off dwarf.Offset) (*dwarf.Entry, error) {
	return readEntry(dr.r, off)
}

// readEntry reads the DIE at off with r.
func readEntry(r *dwarf.Reader, off dwarf.Offset) (*dwarf.Entry, error) {
	r.Seek(off)
	e, err := r.Next()
	if err != nil {
		return nil, fmt.Errorf("reading DIE at %#x: %w", off, err)
	}
	if e == nil || e.Offset != off {
		return nil, fmt.Errorf("no DIE at %#x", off)
	}
	return e, nil
}

// children reads the direct children of the DIE at off.
func (dr *dwarfReader) children(off dwarf.Offset) ([]*dwarf.Entry, error) {
	e, err := dr.entry(off)
	if err != nil || !e.Children {
		return nil, err
	}
	var out []*dwarf.Entry
	for {
		c, err := dr.r.Next()
		if err != nil {
			return nil, fmt.Errorf("reading children of DIE %#x: %w", off, err)
		}
		if c == nil || c.Tag == 0 {
			return out, nil
		}
		out = append(out, c)
		if c.Children {
			dr.r.SkipChildren()
		}
	}
}

// classChildren reads the direct children of the class DIE at off and,
// for each member function among them, its own children (parameters), in
// one pass: methods[i] holds the children of out[i].
func (dr *dwarfReader) classChildren(off dwarf.Offset) (out []*dwarf.Entry, methods map[int][]*dwarf.Entry, err error) {
	e, err := dr.entry(off)
	if err != nil || !e.Children {
		return nil, nil, err
	}
	methods = make(map[int][]*dwarf.Entry)
	for {
		c, err := dr.r.Next()
		if err != nil {
			return nil, nil, fmt.Errorf("reading children of DIE %#x: %w", off, err)
		}
		if c == nil || c.Tag == 0 {
			return out, methods, nil
		}
		out = append(out, c)
		if !c.Children {
			continue
		}
		if c.Tag != dwarf.TagSubprogram {
			dr.r.SkipChildren()
			continue
		}
		var kids []*dwarf.Entry
		for {
			g, err := dr.r.Next()
			if err != nil {
				return nil, nil, fmt.Errorf("reading children of DIE %#x: %w", c.Offset, err)
			}
			if g == nil || g.Tag == 0 {
				break
			}
			kids = append(kids, g)
			if g.Children {
				dr.r.SkipChildren()
			}
		}
		methods[len(out)-1] = kids
	}
}

// origin returns the DIE a DIE completes: its abstract origin (inlined or
// out-of-line instance) or its specification (out-of-class definition).
func (dr *dwarfReader) origin(e *dwarf.Entry) (*dwarf.Entry, error) {
	for _, a := range []dwarf.Attr{dwarf.AttrAbstractOrigin, dwarf.AttrSpecification} {
		if off, ok := e.Val(a).(dwarf.Offset); ok {
			return dr.entry(off)
		}
	}
	return nil, nil
}

// declChain returns a DIE and the DIEs it completes, most concrete first.
func (dr *dwarfReader) declChain(off dwarf.Offset) ([]*dwarf.Entry, error) {
	e, err := dr.entry(off)
	if err != nil {
		return nil, err
	}
	chain := []*dwarf.Entry{e}
	for len(chain) < 8 {
		o, err := dr.origin(chain[len(chain)-1])
		if err != nil {
			return nil, err
		}
		if o == nil {
			break
		}
		chain = append(chain, o)
	}
	return chain, nil
}

// attr returns the first value of a along chain.
func attr(chain []*dwarf.Entry, a dwarf.Attr) any {
	for _, e := range chain {
		if v := e.Val(a); v != nil {
			return v
		}
	}
	return nil
}

// DW_AT_inline values for functions declared inline.
const (
	dwInlDeclaredNotInlined = 2
	dwInlDeclaredInlined    = 3
)

// function decodes the subprogram at off.
func (dr *dwarfReader) function(off dwarf.Offset) (*Func, error) {
	chain, err := dr.declChain(off)
	if err != nil {
		return nil, err
	}
	f := &Func{}
	f.Name, _ = attr(chain, dwarf.AttrName).(string)
	f.Linkage, _ = attr(chain, dwarf.AttrLinkageName).(string)
	if f.Return, err = dr.typeOf(attr(chain, dwarf.AttrType)); err != nil {
		return nil, err
	}
	for _, e := range chain {
		if dr.isMethod(e.Offset) {
			f.Method = true
		}
		if in, _ := e.Val(dwarf.AttrInline).(int64); in == dwInlDeclaredNotInlined || in == dwInlDeclaredInlined {
			f.Inline = true
		}
	}
	// The parameters: of the most concrete DIE that lists any, resolving
	// each one's own abstract origin for its name and type.
	for _, e := range chain {
		kids, err := dr.children(e.Offset)
		if err != nil {
			return nil, err
		}
		found := false
		for _, k := range kids {
			switch k.Tag {
			case dwarf.TagFormalParameter:
				found = true
				pc := []*dwarf.Entry{k}
				if o, err := dr.origin(k); err != nil {
					return nil, err
				} else if o != nil {
					pc = append(pc, o)
				}
				if art, _ := attr(pc, dwarf.AttrArtificial).(bool); art {
					// this, or __vtt_parm and __in_chrg of constructors
					// and destructors of classes with virtual bases.
					if len(f.Params) == 0 && f.This == nil {
						if f.This, err = dr.typeOf(attr(pc, dwarf.AttrType)); err != nil {
							return nil, err
						}
					}
					continue
				}
				p := Param{}
				p.Name, _ = attr(pc, dwarf.AttrName).(string)
				if p.Type, err = dr.typeOf(attr(pc, dwarf.AttrType)); err != nil {
					return nil, err
				}
				f.Params = append(f.Params, p)
			case dwarf.TagUnspecifiedParameters:
				found = true
				f.Variadic = true
			}
		}
		if found {
			break
		}
	}
	return f, nil
}

// variable decodes the variable at off.
func (dr *dwarfReader) variable(off dwarf.Offset) (*Var, error) {
	chain, err := dr.declChain(off)
	if err != nil {
		return nil, err
	}
	v := &Var{}
	v.Name, _ = attr(chain, dwarf.AttrName).(string)
	v.Linkage, _ = attr(chain, dwarf.AttrLinkageName).(string)
	v.Type, err = dr.typeOf(attr(chain, dwarf.AttrType))
	return v, err
}
