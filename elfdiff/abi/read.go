package abi

import (
	"github.com/compatgate/compatgate/elfdiff/dwarfdec"

	"github.com/compatgate/compatgate/elfdiff/elfsym"

	"debug/dwarf"
	"fmt"
	"math"
	"runtime/debug"
	"slices"

	"github.com/ianlancetaylor/demangle"
)

// maxTypeDepth bounds the recursion of the type decoder: a well-formed
// type graph is far shallower (cycles go through the cache, not the stack).
const maxTypeDepth = 512

// Read decodes the declarations of the exported symbols syms, and
// the types reachable from them, from d. Only what is reachable from an
// exported symbol is decoded. A malformed DWARF section yields an error,
// never a panic; so does a file cut while its mapped sections are read
// (the fault is recovered).
//
// The DWARF 5 type units are indexed at the first reference into one.
func Read(df *dwarfdec.File, syms *elfsym.SymbolList, source string) (*DebugInfo, error) {
	return ReadWith(df, syms, source, ReadOptions{})
}

// ReadOptions tune ReadWith.
type ReadOptions struct {
	// PrivateData, when set, selects by address the variables in static
	// storage that the library defines but does not export whose
	// declarations are read too (DebugInfo.PrivateVars): the variables at
	// file scope whose location is one fixed address.
	PrivateData func(addr uint64) bool
	// Pace, when set, is called before the DIEs are indexed and each
	// time the reader moves on to another unit's declarations; it may
	// block.
	Pace func()
}

// ReadWith is Read with options.
func ReadWith(df *dwarfdec.File, syms *elfsym.SymbolList, source string, opts ReadOptions) (info *DebugInfo, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if v := recover(); v != nil {
			info, err = nil, fmt.Errorf("malformed DWARF (%v)", v)
		}
	}()
	dr := newDWARFReader(df)
	dr.privateData = opts.PrivateData
	dr.pace = opts.Pace
	if dr.pace != nil {
		dr.pace()
	}
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
		PrivateVars: make(map[uint64]*Var, len(idx.privateAt)),
	}
	// One declaration may be reached both by address and by name; decode
	// it once.
	funcs := make(map[dwarf.Offset]*Func, len(idx.funcAt))
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
	// Decoded in offset order, so that the copy of a type that others
	// merge into is the same from run to run; the pages of the units
	// left are given back (the DIEs of another unit that a merge
	// compares with are read again from the file).
	ev := evictor{sec: dr.sec}
	for _, off := range sortedOffsets(idx.funcAt, idx.funcNamed) {
		dr.enterUnit(off, &ev)
		if _, err := fn(off); err != nil {
			return nil, err
		}
	}
	for _, off := range sortedOffsets(idx.varAt, idx.varNamed) {
		dr.enterUnit(off, &ev)
		if _, err := vr(off); err != nil {
			return nil, err
		}
	}
	// The private variables come last, so that they change nothing of
	// how the exported declarations decode.
	for _, off := range sortedOffsets(idx.privateAt, map[string]dwarf.Offset(nil)) {
		dr.enterUnit(off, &ev)
		v, err := vr(off)
		if err != nil {
			return nil, err
		}
		if f, ok := idx.privateIn[off]; ok && v.Name != "" {
			// A function's static: named as C++ names it, in its function.
			name, err := dr.functionName(f)
			if err != nil {
				return nil, err
			}
			if name != "" {
				v.Name = name + "::" + v.Name
			}
		}
	}
	for addr, off := range idx.privateAt {
		if info.PrivateVars[addr], err = vr(off); err != nil {
			return nil, err
		}
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
	info.Files = dr.files
	info.Types = dr.merge.distinct
	info.TypeUnitRefs = dr.typeUnitRefs
	return info, nil
}

// dwarfReader decodes DIEs into Funcs, Vars and Types, caching types by
// offset so shared and recursive types are decoded once.
type dwarfReader struct {
	sec   *dwarfdec.Sections // the raw sections
	dies  *dwarfdec.Decoder  // the decoder of the DIEs, set by the index pass
	types map[dwarf.Offset]*Type
	void  *Type
	depth int
	// typeUnitRefs counts references into type units that could not be
	// followed (no type unit of that signature).
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
	// units are the compilation units, in offset order; recentUnits holds
	// the indices in units, plus one, of the last two unitOf found (it
	// runs after the index pass, on one goroutine).
	units       []*unitInfo
	recentUnits [2]int
	// methodStack and paramStack hold the methods of the classes, and
	// the parameters of the methods, being read: each class or method
	// pushes its own above those of the ones that are reading it.
	methodStack []Method
	paramStack  []*Type
	// privateData selects the private variables to read (see
	// ReadOptions.PrivateData).
	privateData func(addr uint64) bool
	// pace is ReadOptions.Pace.
	pace func()
	// merge shares one Type among the copies of a type (merge.go).
	merge merger
	// files are the paths of the files types are declared in, numbered
	// by fileIDs from 1 (Type.File).
	files   []string
	fileIDs map[string]uint32
}

// newDWARFReader returns a reader of the DWARF of df.
func newDWARFReader(df *dwarfdec.File) *dwarfReader {
	return &dwarfReader{sec: df.Sec, types: make(map[dwarf.Offset]*Type),
		defs: make(map[defKey]dwarf.Offset), fileIDs: make(map[string]uint32),
		void:  &Type{Kind: VoidType, Size: -1, Count: -1},
		merge: merger{buckets: make(map[mergeKey][]dwarf.Offset)}}
}

// defKey names a tagged type: its DWARF tag and name.
type defKey struct {
	tag  dwarf.Tag
	name string
}

// entry reads the DIE at off into d.
func (dr *dwarfReader) entry(off dwarf.Offset, d *dwarfdec.DIE) error {
	return dr.dies.Read(off, d)
}

// origin reads into o the DIE that e completes: its abstract origin
// (inlined or out-of-line instance) or its specification (out-of-class
// definition). It reports whether e has one.
func (dr *dwarfReader) origin(e, o *dwarfdec.DIE) (bool, error) {
	for _, s := range [...]dwarfdec.Slot{dwarfdec.SlotAbstractOrigin, dwarfdec.SlotSpecification} {
		if off, ok := e.Ref(s); ok {
			return true, dr.entry(off, o)
		}
	}
	return false, nil
}

// maxDeclChain bounds the chains of DIEs completing one another.
const maxDeclChain = 8

// declChain reads the DIE at off and the DIEs it completes, most concrete
// first, into chain, and returns how many it read.
func (dr *dwarfReader) declChain(off dwarf.Offset, chain *[maxDeclChain]dwarfdec.DIE) (int, error) {
	if err := dr.entry(off, &chain[0]); err != nil {
		return 0, err
	}
	n := 1
	for n < maxDeclChain {
		ok, err := dr.origin(&chain[n-1], &chain[n])
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		n++
	}
	return n, nil
}

// first returns the first DIE of chain that has the attribute of slot s,
// or nil.
func first(chain []dwarfdec.DIE, s dwarfdec.Slot) *dwarfdec.DIE {
	for i := range chain {
		if chain[i].Has(s) {
			return &chain[i]
		}
	}
	return nil
}

// chainStr returns the first value of the attribute of slot s along
// chain, when it is a string.
func chainStr(chain []dwarfdec.DIE, s dwarfdec.Slot) string {
	if d := first(chain, s); d != nil {
		v, _ := d.Str(s)
		return v
	}
	return ""
}

// DW_AT_inline values for functions declared inline.
const (
	dwInlDeclaredNotInlined = 2
	dwInlDeclaredInlined    = 3
)

// function decodes the subprogram at off.
func (dr *dwarfReader) function(off dwarf.Offset) (*Func, error) {
	var buf [maxDeclChain]dwarfdec.DIE
	n, err := dr.declChain(off, &buf)
	if err != nil {
		return nil, err
	}
	chain := buf[:n]
	f := &Func{}
	f.Name = chainStr(chain, dwarfdec.SlotName)
	f.Linkage = chainStr(chain, dwarfdec.SlotLinkageName)
	if f.Return, err = dr.typeOf(first(chain, dwarfdec.SlotType)); err != nil {
		return nil, err
	}
	for i := range chain {
		e := &chain[i]
		if dr.isMethod(e.Off) {
			f.Method = true
		}
		if in, _ := e.Int(dwarfdec.SlotInline); in == dwInlDeclaredNotInlined || in == dwInlDeclaredInlined {
			f.Inline = true
		}
	}
	f.File, f.Line = dr.declPos(chain)
	if f.File > 0 {
		f.InHeader = !isSourceFile(dr.files[f.File-1])
	}
	// The parameters: of the most concrete DIE that lists any, resolving
	// each one's own abstract origin for its name and type.
	var pc [2]dwarfdec.DIE // a parameter and its origin
	for i := range chain {
		found := false
		for c := dwarfdec.ChildrenOf(&chain[i]); ; {
			ok, err := dr.dies.Next(&c, &pc[0])
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			switch pc[0].Tag {
			case dwarf.TagFormalParameter:
				found = true
				hasOrigin, err := dr.origin(&pc[0], &pc[1])
				if err != nil {
					return nil, err
				}
				p := pc[:1]
				if hasOrigin {
					p = pc[:2]
				}
				if d := first(p, dwarfdec.SlotArtificial); d != nil && d.Flag(dwarfdec.SlotArtificial) {
					// this, or __vtt_parm and __in_chrg of constructors
					// and destructors of classes with virtual bases.
					if len(f.Params) == 0 && f.This == nil {
						if f.This, err = dr.typeOf(first(p, dwarfdec.SlotType)); err != nil {
							return nil, err
						}
					}
					continue
				}
				var param Param
				param.Name = chainStr(p, dwarfdec.SlotName)
				if param.Type, err = dr.typeOf(first(p, dwarfdec.SlotType)); err != nil {
					return nil, err
				}
				f.Params = append(f.Params, param)
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
	var buf [maxDeclChain]dwarfdec.DIE
	n, err := dr.declChain(off, &buf)
	if err != nil {
		return nil, err
	}
	chain := buf[:n]
	v := &Var{}
	v.Name = chainStr(chain, dwarfdec.SlotName)
	v.Linkage = chainStr(chain, dwarfdec.SlotLinkageName)
	v.Type, err = dr.typeOf(first(chain, dwarfdec.SlotType))
	v.File, v.Line = dr.declPos(chain)
	return v, err
}

// functionName returns the name of the function whose DIE is at off, as
// reports show it: its demangled linkage name when it has one (C++:
// "ns::S::get()"), else its name.
func (dr *dwarfReader) functionName(off dwarf.Offset) (string, error) {
	var buf [maxDeclChain]dwarfdec.DIE
	n, err := dr.declChain(off, &buf)
	if err != nil {
		return "", err
	}
	if l := chainStr(buf[:n], dwarfdec.SlotLinkageName); l != "" {
		return demangle.Filter(l, demangle.NoClones), nil
	}
	return chainStr(buf[:n], dwarfdec.SlotName), nil
}

// declPos returns where the most concrete DIE of a declaration chain that
// names a file says it was declared: the file's number and the line, or
// zeros.
func (dr *dwarfReader) declPos(chain []dwarfdec.DIE) (file, line uint32) {
	d := first(chain, dwarfdec.SlotDeclFile)
	if d == nil {
		return 0, 0
	}
	if file = dr.declFile(d); file == 0 {
		return 0, 0
	}
	return file, declLine(d)
}

// declLine returns a DIE's DW_AT_decl_line, 0 when absent or out of range.
func declLine(e *dwarfdec.DIE) uint32 {
	if l, ok := e.Int(dwarfdec.SlotDeclLine); ok && l > 0 && l <= math.MaxUint32 {
		return uint32(l)
	}
	return 0
}

// sortedOffsets returns the offsets of a and b, sorted, without repeats.
func sortedOffsets[A, B comparable](a map[A]dwarf.Offset, b map[B]dwarf.Offset) []dwarf.Offset {
	out := make([]dwarf.Offset, 0, len(a)+len(b))
	for _, off := range a {
		out = append(out, off)
	}
	for _, off := range b {
		out = append(out, off)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
