package abidump

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/compatgate/compatgate/elfdiff"
	"github.com/compatgate/compatgate/elfdiff/abi"
	"github.com/compatgate/compatgate/elfdiff/cxx"
)

// Write writes c as a dump: JSON, one line per symbol, type and
// declaration, so that two dumps of a library diff line by line. The
// same corpus always gives the same bytes.
func Write(w io.Writer, c *elfdiff.Corpus) error {
	bw := bufio.NewWriter(w)
	if err := writeDocument(bw, encode(c)); err != nil {
		return err
	}
	return bw.Flush()
}

// encode converts a corpus into a document.
func encode(c *elfdiff.Corpus) *document {
	d := &document{
		Format:  Format,
		Version: Version,
		Library: library{
			Path: c.Path, Class: c.Class.String(), Machine: c.Machine.String(), SONAME: c.SONAME,
			Needed: c.Needed, BuildID: c.BuildID, Versions: c.Versions, Notes: c.Notes,
		},
		Symbols:   []symbol{},
		Undefined: []symbol{},
	}
	for _, s := range c.Symbols() {
		d.Symbols = append(d.Symbols, encodeSymbol(s))
	}
	for _, s := range c.Undefined {
		d.Undefined = append(d.Undefined, encodeSymbol(s))
	}
	if c.Hidden != nil {
		d.Hidden = slices.Sorted(maps.Keys(c.Hidden))
	}
	if c.ReadOnly != nil {
		d.ReadOnly = make(map[string]string, len(c.ReadOnly))
		for k, v := range c.ReadOnly {
			d.ReadOnly[k] = hex.EncodeToString(v)
		}
	}
	if c.CXX != nil {
		d.CXX = encodeCXX(c.CXX)
	}
	if c.Debug != nil {
		d.Debug = encodeDebug(c.Debug)
	}
	if h := c.Headers; h != nil {
		d.Headers = &headers{Origin: h.Origin, Files: h.Files, Idents: h.Idents(), Defined: h.DefinedNames()}
	}
	return d
}

func encodeSymbol(s elfdiff.Symbol) symbol {
	out := symbol{Name: s.Name, Version: s.Version, Default: s.Default, Type: s.Type.String(), Size: s.Size, Value: s.Value}
	if s.Bind != defaultBind {
		out.Bind = s.Bind.String()
	}
	if s.Visibility != defaultVisibility {
		out.Visibility = s.Visibility.String()
	}
	return out
}

func encodeCXX(t *cxx.Tables) *cxxTables {
	out := &cxxTables{VTables: map[string]vtable{}, Typeinfo: map[string]typeinfo{}}
	for k, v := range t.VTables {
		vt := vtable{Symbol: v.Symbol, Class: v.Class, Size: v.Size, Tables: []subTable{}, Err: v.Err}
		for _, st := range v.Tables {
			s := subTable{Offsets: nonNil(st.Offsets), OffsetToTop: st.OffsetToTop, RTTI: st.RTTI, Slots: []slot{}}
			for _, sl := range st.Slots {
				s.Slots = append(s.Slots, slot(sl))
			}
			vt.Tables = append(vt.Tables, s)
		}
		out.VTables[k] = vt
	}
	for k, v := range t.Typeinfo {
		ti := typeinfo{Symbol: v.Symbol, Class: v.Class, Kind: v.Kind, Flags: v.Flags, Bases: []baseClass{}, Err: v.Err}
		for _, b := range v.Bases {
			ti.Bases = append(ti.Bases, baseClass(b))
		}
		out.Typeinfo[k] = ti
	}
	return out
}

// unless returns nil when v is the value absent means, else &v.
func unless(v, absent int64) *int64 {
	if v == absent {
		return nil
	}
	return &v
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// typeTable numbers the types of a graph in the order they are first
// reached, breadth first from the declarations in their written order.
type typeTable struct {
	index map[*abi.Type]int
	queue []*abi.Type
}

// ref returns the index of t, numbering it if it is new.
func (tt *typeTable) ref(t *abi.Type) ref {
	if t == nil {
		return nil
	}
	i, ok := tt.index[t]
	if !ok {
		i = len(tt.queue)
		tt.index[t] = i
		tt.queue = append(tt.queue, t)
	}
	return &i
}

func (tt *typeTable) refs(ts []*abi.Type) []ref {
	if ts == nil {
		return nil
	}
	out := make([]ref, len(ts))
	for i, t := range ts {
		out[i] = tt.ref(t)
	}
	return out
}

func encodeDebug(di *abi.DebugInfo) *debugInfo {
	tt := &typeTable{index: make(map[*abi.Type]int)}
	d := &debugInfo{
		Source: di.Source, TypeCount: di.Types, TypeUnitRefs: di.TypeUnitRefs, Files: di.Files,
		Funcs: []funcAt{}, Vars: []varAt{}, FuncsByName: []funcNamed{}, VarsByName: []varNamed{}, Types: []typ{},
	}
	for _, a := range slices.Sorted(maps.Keys(di.Funcs)) {
		d.Funcs = append(d.Funcs, funcAt{Addr: a, function: tt.function(di.Funcs[a])})
	}
	for _, a := range slices.Sorted(maps.Keys(di.Vars)) {
		d.Vars = append(d.Vars, varAt{Addr: a, variable: tt.variable(di.Vars[a])})
	}
	for _, k := range slices.Sorted(maps.Keys(di.FuncsByName)) {
		d.FuncsByName = append(d.FuncsByName, funcNamed{Key: k, function: tt.function(di.FuncsByName[k])})
	}
	for _, k := range slices.Sorted(maps.Keys(di.VarsByName)) {
		d.VarsByName = append(d.VarsByName, varNamed{Key: k, variable: tt.variable(di.VarsByName[k])})
	}
	for _, a := range slices.Sorted(maps.Keys(di.PrivateVars)) {
		d.PrivateVars = append(d.PrivateVars, varAt{Addr: a, variable: tt.variable(di.PrivateVars[a])})
	}
	// Encoding a type numbers the types it refers to: the queue grows
	// while it is walked.
	for i := 0; i < len(tt.queue); i++ {
		d.Types = append(d.Types, tt.typ(tt.queue[i]))
	}
	return d
}

func (tt *typeTable) function(f *abi.Func) function {
	out := function{Name: f.Name, Linkage: f.Linkage, Return: tt.ref(f.Return), Variadic: f.Variadic,
		This: tt.ref(f.This), Method: f.Method, Inline: f.Inline, InHeader: f.InHeader,
		declPos: declPos{f.File, f.Line}}
	for _, p := range f.Params {
		out.Params = append(out.Params, param{Name: p.Name, Type: tt.ref(p.Type)})
	}
	return out
}

func (tt *typeTable) variable(v *abi.Var) variable {
	return variable{Name: v.Name, Linkage: v.Linkage, Type: tt.ref(v.Type), declPos: declPos{v.File, v.Line}}
}

func (tt *typeTable) typ(t *abi.Type) typ {
	out := typ{
		Kind: t.Kind.String(), Name: t.Name, Align: t.Align, Encoding: t.Encoding, Elem: tt.ref(t.Elem),
		Params: tt.refs(t.Params), Variadic: t.Variadic, Declaration: t.Declaration, Vector: t.Vector, CXX: t.CXX, declPos: declPos{t.File, t.Line},
	}
	if t.Size != -1 {
		out.Size = &t.Size
	}
	if t.Count != -1 {
		out.Count = &t.Count
	}
	out.Members = tt.members(t.Members)
	for _, e := range t.Enumerators {
		out.Enumerators = append(out.Enumerators, enumerator(e))
	}
	if c := t.Class; c != nil {
		ci := &classInfo{VPtr: c.VPtr, Statics: tt.members(c.Statics), PassByRef: c.PassByRef,
			Internal: c.Internal, NoPublicCtor: c.NoPublicCtor}
		for _, b := range c.Bases {
			ci.Bases = append(ci.Bases, base{Type: tt.ref(b.Type), Offset: b.Offset, Virtual: b.Virtual, Access: unless(int64(b.Access), int64(abi.AccessPublic))})
		}
		for _, m := range c.Methods {
			ci.Methods = append(ci.Methods, method{Name: m.Name, Linkage: m.Linkage, Virtuality: m.Virtuality,
				Slot: unless(m.Slot, -1), Static: m.Static, Access: unless(int64(m.Access), int64(abi.AccessPublic)), Params: tt.refs(m.Params),
				Inline: m.Inline, Deleted: m.Deleted, Artificial: m.Artificial})
		}
		if c.Access != nil {
			ci.Access = make(map[string]int64, len(c.Access))
			for k, a := range c.Access {
				ci.Access[k] = int64(a)
			}
		}
		out.Class = ci
	}
	return out
}

func (tt *typeTable) members(ms []abi.Member) []member {
	var out []member
	for _, m := range ms {
		out = append(out, member{Name: m.Name, Type: tt.ref(m.Type), Offset: m.Offset, BitOffset: unless(m.BitOffset, 8*m.Offset), BitSize: m.BitSize})
	}
	return out
}

// writeDocument writes d as JSON with each element of its long lists on
// a line of its own.
func writeDocument(w *bufio.Writer, d *document) error {
	var err error
	put := func(s string) {
		if err == nil {
			_, err = w.WriteString(s)
		}
	}
	// Names such as operator< are written as they are, not as \u003c.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	value := func(v any) {
		if err != nil {
			return
		}
		buf.Reset()
		if err = enc.Encode(v); err == nil {
			_, err = w.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
		}
	}
	field := func(name string, v any, last bool) {
		put(fmt.Sprintf("%q:", name))
		value(v)
		if !last {
			put(",\n")
		}
	}
	put("{")
	field("format", d.Format, false)
	field("version", d.Version, false)
	field("library", d.Library, false)
	list(put, value, "symbols", d.Symbols)
	put(",\n")
	list(put, value, "undefined", d.Undefined)
	put(",\n")
	if d.Hidden == nil {
		field("hidden", nil, false)
	} else {
		list(put, value, "hidden", d.Hidden)
		put(",\n")
	}
	field("read_only", d.ReadOnly, false)
	if d.CXX == nil {
		field("cxx", nil, false)
	} else {
		put(`"cxx":{`)
		entries(put, value, "vtables", d.CXX.VTables)
		put(",\n")
		entries(put, value, "typeinfo", d.CXX.Typeinfo)
		put("},\n")
	}
	if d.Headers != nil {
		field("headers", d.Headers, false)
	}
	if d.Debug == nil {
		field("debug", nil, true)
	} else {
		g := d.Debug
		put(`"debug":{`)
		field("source", g.Source, false)
		field("type_count", g.TypeCount, false)
		field("type_unit_refs", g.TypeUnitRefs, false)
		if len(g.Files) > 0 {
			field("files", g.Files, false)
		}
		list(put, value, "funcs", g.Funcs)
		put(",\n")
		list(put, value, "vars", g.Vars)
		put(",\n")
		list(put, value, "funcs_by_name", g.FuncsByName)
		put(",\n")
		list(put, value, "vars_by_name", g.VarsByName)
		put(",\n")
		if len(g.PrivateVars) > 0 {
			list(put, value, "private_vars", g.PrivateVars)
			put(",\n")
		}
		list(put, value, "types", g.Types)
		put("}")
	}
	put("}\n")
	return err
}

// list writes "name":[…] with an element a line.
func list[T any](put func(string), value func(any), name string, items []T) {
	put(fmt.Sprintf("%q:[", name))
	for i, it := range items {
		if i > 0 {
			put(",")
		}
		put("\n")
		value(it)
	}
	put("]")
}

// entries writes "name":{…} with an entry a line, in key order.
func entries[T any](put func(string), value func(any), name string, m map[string]T) {
	put(fmt.Sprintf("%q:{", name))
	for i, k := range slices.SortedFunc(maps.Keys(m), cmp.Compare) {
		if i > 0 {
			put(",")
		}
		put("\n")
		value(k)
		put(":")
		value(m[k])
	}
	put("}")
}
