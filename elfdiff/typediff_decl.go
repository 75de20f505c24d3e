package elfdiff

// This file compares the declarations of exported functions and variables.

import (
	"github.com/compatgate/compatgate/elfdiff/abi"

	"github.com/compatgate/compatgate/elfdiff/elfsym"

	"bytes"
	"debug/elf"
	"fmt"
	"strconv"
	"strings"
)

// compareDecls compares the declarations of every exported symbol present
// in both corpora, and the types they reach, each pair of types once.
// vtables are the classes whose vtable both export (vtableClasses).
func compareDecls(old, new *Corpus, vtables map[string]map[int64]bool) *typeDiffer {
	d := newTypeDiffer()
	d.elfVTables = vtables
	d.public = newPublicAPI(old, new)
	d.oldDebug, d.newDebug = old.Debug, new.Debug
	for _, o := range old.Symbols() {
		j, ok := new.lookup(o.Key())
		if !ok {
			first, end := new.symbols.ByName(o.Name)
			if first == end {
				continue
			}
			j = preferDefault(&new.symbols, first, end)
		}
		n := new.Symbol(j)
		switch {
		case isFunc(o) && isFunc(n):
			of, nf := old.Debug.Func(o), new.Debug.Func(n)
			if of != nil && nf != nil {
				d.function(o, of, nf)
			}
		case elfsym.IsData(o) && elfsym.IsData(n):
			ov, nv := old.Debug.Var(o), new.Debug.Var(n)
			if ov != nil && nv != nil {
				d.variable(o, ov, nv, old.ReadOnly[o.Key()], new.ReadOnly[n.Key()], n.Size)
			}
		}
	}
	d.staticData(old, new)
	return d
}

func isFunc(s Symbol) bool { return s.Type == elf.STT_FUNC || s.Type == elf.STT_GNU_IFUNC }

// function compares the declarations of one exported function.
func (d *typeDiffer) function(s Symbol, of, nf *abi.Func) {
	defer d.locate(len(d.decls), d.position(nf.File, nf.Line, of.File, of.Line))
	sym := s.String()
	r := root{symbol: sym}
	l := &loc{kind: ReturnTypeChanged, where: "return type", symbol: sym, symType: elfsym.SymKind(s), isReturn: true}
	r.edges = append(r.edges, label(d.at(of.Return, nf.Return, l, 0), "return", nf.Return)...)
	d.passing(l, ReturnPassingChanged, of.Return, nf.Return)
	if of.This != nil && nf.This != nil {
		// A method reaches its class through this.
		quiet := &loc{kind: ParamTypeChanged, silent: true}
		r.edges = append(r.edges, label(d.at(of.This, nf.This, quiet, 0), "this", nf.This)...)
	} else if of.Method && nf.Method && (of.This == nil) != (nf.This == nil) {
		c := &Change{Kind: MethodStaticChanged, Symbol: sym, SymbolType: elfsym.SymKind(s), Where: "this",
			Old: staticWord(of.This == nil), New: staticWord(nf.This == nil), Affected: []string{sym}, Reach: ReachValue}
		c.Detail = fmt.Sprintf("%s is now a %s member function (was %s): the implicit object argument appeared or disappeared",
			sym, c.New, c.Old)
		d.decl(c)
	}
	for i := range max(len(of.Params), len(nf.Params)) {
		switch {
		case i >= len(nf.Params):
			p := of.Params[i]
			d.decl(&Change{Kind: ParamRemoved, Symbol: sym, SymbolType: elfsym.SymKind(s), Where: paramLabel(i, p.Name),
				Old: p.Type.String(), Affected: []string{sym}, Reach: ReachValue,
				Detail: fmt.Sprintf("%s of %s removed", paramLabel(i, p.Name), sym)})
		case i >= len(of.Params):
			p := nf.Params[i]
			d.decl(&Change{Kind: ParamAdded, Symbol: sym, SymbolType: elfsym.SymKind(s), Where: paramLabel(i, p.Name),
				New: p.Type.String(), Affected: []string{sym}, Reach: ReachValue,
				Detail: fmt.Sprintf("%s added to %s", paramLabel(i, p.Name), sym)})
		default:
			op, np := of.Params[i], nf.Params[i]
			name := np.Name
			if name == "" {
				name = op.Name
			}
			w := paramLabel(i, name)
			l := &loc{kind: ParamTypeChanged, where: w, symbol: sym, symType: elfsym.SymKind(s)}
			r.edges = append(r.edges, label(d.at(op.Type, np.Type, l, 0), w, np.Type)...)
			d.passing(l, ParamPassingChanged, op.Type, np.Type)
		}
	}
	if of.Variadic != nf.Variadic {
		c := &Change{Kind: VariadicChanged, Symbol: sym, SymbolType: elfsym.SymKind(s), Old: variadicWord(of.Variadic),
			New: variadicWord(nf.Variadic), Affected: []string{sym}, Reach: ReachValue}
		if nf.Variadic {
			c.Facts, c.Detail = FactBecameVariadic, sym+" now takes a variable argument list"
		} else {
			c.Facts, c.Detail = FactLostVariadic, sym+" no longer takes a variable argument list"
		}
		d.decl(c)
	}
	d.roots = append(d.roots, r)
}

func staticWord(static bool) string {
	if static {
		return "static"
	}
	return "non-static"
}

func variadicWord(v bool) string {
	if v {
		return "variadic"
	}
	return "fixed"
}

// paramLabel names a parameter: "parameter 2 (n)".
func paramLabel(i int, name string) string {
	if name == "" {
		return "parameter " + strconv.Itoa(i+1)
	}
	return "parameter " + strconv.Itoa(i+1) + " (" + name + ")"
}

// variable compares the declarations of one exported variable and, for a
// constant, its value.
func (d *typeDiffer) variable(s Symbol, ov, nv *abi.Var, oldVal, newVal []byte, newSize uint64) {
	defer d.locate(len(d.decls), d.position(nv.File, nv.Line, ov.File, ov.Line))
	sym := s.String()
	l := &loc{kind: VarTypeChanged, where: "type", symbol: sym, symType: elfsym.SymKind(s)}
	if s.Size == newSize {
		l.symSize = int64(s.Size)
	}
	edges := label(d.at(ov.Type, nv.Type, l, 0), "variable", nv.Type)
	d.roots = append(d.roots, root{symbol: sym, edges: edges})
	if l.emitted == 0 && oldVal != nil && newVal != nil && !bytes.Equal(oldVal, newVal) && !hasPointer(nv.Type, 0) {
		d.decl(&Change{Kind: ConstValueChanged, Symbol: sym, SymbolType: elfsym.SymKind(s), Where: "value",
			Old: constText(oldVal), New: constText(newVal), Affected: []string{sym}, Reach: ReachValue,
			Detail: fmt.Sprintf("value of constant %s changed from %s to %s", sym, constText(oldVal), constText(newVal))})
	}
}

// hasPointer reports whether a value of type t holds addresses, which
// differ between builds without meaning anything.
func hasPointer(t *abi.Type, depth int) bool {
	t = t.Strip()
	if t == nil || depth > 16 {
		return false
	}
	switch t.Kind {
	case abi.PointerType, abi.ReferenceType, abi.RvalueRefType, abi.PtrToMemberType, abi.FuncType:
		return true
	case abi.ArrayType:
		return hasPointer(t.Elem, depth+1)
	case abi.StructType, abi.UnionType, abi.ClassType:
		for _, m := range t.Members {
			if hasPointer(m.Type, depth+1) {
				return true
			}
		}
	}
	return false
}

// constText shows a constant's bytes: as a little-endian integer when it
// has the size of one, else in hex.
func constText(b []byte) string {
	switch len(b) {
	case 1, 2, 4, 8:
		var v uint64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		return fmt.Sprint(v)
	}
	return fmt.Sprintf("%x", b)
}

// passing reports a value of one type that the ABI now passes another
// way: a struct that grew out of registers into memory, or whose members
// moved between integer and SSE registers.
func (d *typeDiffer) passing(l *loc, kind Kind, o, n *abi.Type) {
	if l.emitted > 0 {
		return // the type itself changed; that finding says it
	}
	os, ns := o.Strip(), n.Strip()
	if os == nil || ns == nil || !os.Kind.IsAggregate() || !ns.Kind.IsAggregate() {
		return
	}
	co, cn := abi.Classification(o, l.isReturn), abi.Classification(n, l.isReturn)
	if co == cn {
		return
	}
	f := FactClass
	if (co == "MEMORY") != (cn == "MEMORY") {
		f |= FactMemory
	}
	what := l.where + " of " + l.symbol
	if l.isReturn {
		what = "return value of " + l.symbol
	}
	d.decl(&Change{Kind: kind, Symbol: l.symbol, SymbolType: l.symType, Where: l.where, Old: co, New: cn,
		Affected: []string{l.symbol}, Reach: ReachValue, Facts: f,
		Detail: fmt.Sprintf("%s (%s) is now passed in %s instead of %s", what, n, passWords(cn), passWords(co))})
}

// passWords describes a classification for a person: "memory", "an SSE
// register", "registers INTEGER+SSE".
func passWords(c string) string {
	switch {
	case c == "MEMORY":
		return "memory"
	case c == "":
		return "nothing"
	case !strings.Contains(c, "+"):
		return "an " + c + " register"
	}
	return "registers " + c
}

func (d *typeDiffer) decl(c *Change) { d.decls = append(d.decls, c) }

// locate sets the position of the declaration-level changes found since
// the first-th.
func (d *typeDiffer) locate(first int, pos Position) {
	for _, c := range d.decls[first:] {
		c.Decl = pos
	}
}

// label sets the path label of edges found at one location.
func label(es []edge, where string, t *abi.Type) []edge {
	for i := range es {
		if es[i].unlabeled() {
			es[i].label, es[i].of = where, t
		}
	}
	return es
}
