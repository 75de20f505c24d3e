package elfdiff

import (
	"github.com/compatgate/compatgate/elfdiff/abi"

	"fmt"
	"slices"
	"strings"
)

// typeDiffer compares the declarations of exported symbols and the type
// graphs reachable from them.
//
// Each pair of named types (struct, union, enum, typedef; anonymous ones
// paired by position) is compared once, as a node of a graph of pairs;
// the changes found inside a pair are attached to its node, and edges lead
// to the pairs of the types it uses. Once every declaration is compared,
// each symbol walks the nodes it reaches, only those with a change below
// them, attaching itself to their changes with the strongest way it
// reaches them (by value or through pointers).
type typeDiffer struct {
	nodes map[[2]*abi.Type]*node
	all   []*node
	decls []*Change // declaration-level changes, in order
	roots []root
	// elfVTables names the classes whose vtable both libraries export:
	// the ELF side compares those slot by slot, so the DWARF side leaves
	// their virtual methods alone, but for the slots that hold
	// __cxa_pure_virtual (which the ELF side cannot tell apart), listed
	// with each class.
	elfVTables map[string]map[int64]bool
	// public says which types are public API.
	public publicAPI
	// queue is the paths search's queue, kept between checks.
	queue []step
	// funcPath holds the function types being compared by at, outermost
	// first.
	funcPath [][2]*abi.Type
	// oldDebug and newDebug are the two sides' debug information, which
	// name the files declarations are in.
	oldDebug, newDebug *abi.DebugInfo
}

// A node is one compared pair of named types.
type node struct {
	o, n  *abi.Type
	name  string // how reports name the type: "struct config", "handle_t"
	local []*Change
	edges []edge
	preds []*node
	dirty bool
	// di and ci number the dirty nodes from 0, and the nodes with
	// changes of their own from 1, for attribute.
	di, ci int32
	plen   int // the depth paths reached it at, 0 before it did
}

// An edge leads from a declaration or a node to a node it uses.
type edge struct {
	to  *node
	ptr bool // through at least one pointer
	// label is where the edge goes, for paths: "member opts → struct
	// options *". With of set, the name of that type follows it (alone
	// when label is empty), written only when a path takes the edge.
	label string
	of    *abi.Type
}

// name returns the edge's label in a path.
func (e *edge) name() string {
	switch {
	case e.of == nil:
		return e.label
	case e.label == "":
		return e.of.String()
	}
	return e.label + " → " + e.of.String()
}

// unlabeled reports whether the edge has no label yet.
func (e *edge) unlabeled() bool { return e.label == "" && e.of == nil }

// A root is one exported symbol and the pairs its declaration uses, or,
// static, a private variable of the library (see staticData).
type root struct {
	symbol string
	edges  []edge
	static bool
}

// A loc is where two types are compared: a parameter, a return value, a
// variable, a member, a typedef's target.
type loc struct {
	kind     Kind   // reported when the types at the location differ
	where    string // "parameter 2 (n)", "member x"
	owner    *node  // the enclosing pair, for type-level changes
	symbol   string // the enclosing symbol, for declaration-level changes
	symType  string
	isReturn bool
	silent   bool // collect edges only
	emitted  int  // changes emitted at this location
	// symSize is the ELF size of the variable at the location when both
	// versions have the same, else 0: it settles an array bound that only
	// one side's DWARF gives.
	symSize int64
	// ro and rn are the whole types at the location, which messages show
	// when the difference is deeper (behind a pointer).
	ro, rn *abi.Type
}

func newTypeDiffer() *typeDiffer {
	return &typeDiffer{nodes: make(map[[2]*abi.Type]*node)}
}

// at compares the types o and n found at location l, depth pointers below
// it, reports how they differ and returns the edges to the named pairs
// they use.
func (d *typeDiffer) at(o, n *abi.Type, l *loc, depth int) []edge {
	if o == nil || n == nil || depth > abi.MaxAliasChain {
		return nil
	}
	if depth == 0 && l.ro == nil {
		l.ro, l.rn = o, n
	}
	// A typedef of one name on both sides (under the same or other
	// qualifiers) is a named type of its own.
	if oq, ot := abi.TopQualifiers(o); ot != nil && ot.Kind == abi.TypedefType {
		if nq, nt := abi.TopQualifiers(n); nt != nil && nt.Kind == abi.TypedefType && ot.Name == nt.Name {
			if oq != nq {
				d.emit(l, l.kind, o, n, qualFacts(oq, nq, depth))
			}
			return []edge{{to: d.node(ot, nt, ot.Name), ptr: depth > 0}}
		}
	}
	// Otherwise typedefs are spelling: compare what they name.
	oq, oc := abi.Qualifiers(o)
	nq, nc := abi.Qualifiers(n)
	if !sameIdentity(oc, nc) {
		d.emit(l, l.kind, o, n, d.facts(o, n, depth, l))
		return nil
	}
	if oq != nq {
		d.emit(l, l.kind, o, n, qualFacts(oq, nq, depth))
	}
	if oc == nil || nc == nil {
		return nil // void under qualifiers (const void), on both sides
	}
	switch oc.Kind {
	case abi.PointerType, abi.ReferenceType, abi.RvalueRefType, abi.PtrToMemberType:
		return d.at(oc.Elem, nc.Elem, l, depth+1)
	case abi.ArrayType:
		if oc.Count != nc.Count && !(depth == 0 && sameBound(oc, nc, l.symSize)) {
			f := Facts(0)
			if oc.Count < 0 || nc.Count < 0 {
				f |= FactFlexible
			}
			if depth > 0 {
				f |= FactPointee
			}
			if oc.Count < nc.Count {
				f |= FactGrew
			} else {
				f |= FactShrank
			}
			d.emitKind(l, ArrayLengthChanged, count(oc.Count), count(nc.Count), f,
				fmt.Sprintf("length of the array %s changed from %s to %s", l.describe(), count(oc.Count), count(nc.Count)))
		}
		return d.at(oc.Elem, nc.Elem, l, depth)
	case abi.FuncType:
		if !sameSignature(oc, nc) {
			f := FactPointee
			if paramsAppended(oc, nc) {
				f |= FactAppended
			}
			d.emitKind(l, FuncPtrChanged, oc.String(), nc.String(), f,
				fmt.Sprintf("function type of %s changed from %s to %s", l.describe(), oc, nc))
		}
		// A function type among its own parameters (a cycle no named type
		// breaks: only a corrupt dump has one) is compared once on a path.
		pair := [2]*abi.Type{oc, nc}
		if slices.Contains(d.funcPath, pair) {
			return nil
		}
		d.funcPath = append(d.funcPath, pair)
		defer func() { d.funcPath = d.funcPath[:len(d.funcPath)-1] }()
		// Callbacks reach their parameter types through the pointer.
		quiet := &loc{kind: l.kind, silent: true}
		es := d.at(oc.Elem, nc.Elem, quiet, depth+1)
		for i := range min(len(oc.Params), len(nc.Params)) {
			es = append(es, d.at(oc.Params[i], nc.Params[i], quiet, depth+1)...)
		}
		return es
	case abi.StructType, abi.UnionType, abi.ClassType, abi.EnumType:
		name := oc.BaseName()
		if oc.Name == "" {
			name = d.anonName(l, oc)
		}
		nd := d.node(oc, nc, name)
		return []edge{{to: nd, ptr: depth > 0}}
	}
	return nil
}

// sameBound reports whether two arrays, one of them without a bound (a
// tentative definition, int a[];, which the compiler completes to one
// element), have the same length by the ELF size of their variable.
func sameBound(o, n *abi.Type, symSize int64) bool {
	if symSize <= 0 || (o.Count >= 0) == (n.Count >= 0) {
		return false
	}
	known := o
	if known.Count < 0 {
		known = n
	}
	return known.Count*known.Elem.Sizeof() == symSize
}

func count(n int64) string {
	if n < 0 {
		return "[]"
	}
	return fmt.Sprint(n)
}

// anonName names an anonymous struct, union or enum after where it is.
func (d *typeDiffer) anonName(l *loc, t *abi.Type) string {
	switch {
	case l.owner != nil && l.kind == TypedefRetargeted:
		return l.owner.name // typedef struct {…} name;
	case l.owner != nil:
		return l.owner.name + "::" + strings.TrimPrefix(l.where, "member ")
	}
	return "(anonymous " + t.Kind.String() + ")"
}

// describe names a location for a detail line.
func (l *loc) describe() string {
	switch {
	case l.owner != nil && l.where == "":
		return l.owner.name
	case l.owner != nil:
		return l.where + " of " + l.owner.name
	case l.where == "return type":
		return "return type of " + l.symbol
	case l.where == "type":
		return "variable " + l.symbol
	}
	return l.where + " of " + l.symbol
}

// emit reports that the types at l differ, as the location's own kind.
func (d *typeDiffer) emit(l *loc, kind Kind, o, n *abi.Type, f Facts) {
	if l.silent {
		return // a silent location has no owner or symbol to describe
	}
	if l.ro != nil {
		o, n = l.ro, l.rn
	}
	os, ns := o.String(), n.String()
	if os == ns {
		// Two spellings of one type (another compiler's DWARF for void *):
		// nothing to report unless the ABI sees a difference, which the
		// sides must then show.
		if !f.Any(FactSize | FactClass | FactKind | FactPointerLevel | FactSignedness) {
			return
		}
		os, ns = spellOut(o), spellOut(n)
	}
	var detail string
	switch kind {
	case TypedefRetargeted:
		detail = fmt.Sprintf("typedef %s changed from %s to %s", l.owner.name, os, ns)
	case ReturnTypeChanged:
		detail = fmt.Sprintf("return type of %s changed from %s to %s", l.symbol, os, ns)
	case VarTypeChanged:
		detail = fmt.Sprintf("type of variable %s changed from %s to %s", l.symbol, os, ns)
	case MemberTypeChanged:
		detail = fmt.Sprintf("type of %s changed from %s to %s", l.describe(), os, ns)
	default:
		detail = fmt.Sprintf("%s changed from %s to %s", l.describe(), os, ns)
	}
	if l.owner == nil && f.Has(FactClass) && !f.Any(FactFromVoid|FactToVoid) {
		co, cn := abi.Classification(o, l.isReturn), abi.Classification(n, l.isReturn)
		verb := "passed"
		if l.isReturn {
			verb = "returned"
		}
		detail += fmt.Sprintf(" (%s in %s instead of %s)", verb, passWords(cn), passWords(co))
	}
	d.emitKind(l, kind, os, ns, f, detail)
}

// spellOut shows a type with what tells it from another of the same
// spelling: "S (union, 4 bytes)".
func spellOut(t *abi.Type) string {
	st := t.Strip()
	if st == nil {
		return t.String()
	}
	return fmt.Sprintf("%s (%s, %d bytes)", t, st.Kind, t.Sizeof())
}

// emitKind records a change found at l.
func (d *typeDiffer) emitKind(l *loc, kind Kind, old, new string, f Facts, detail string) {
	if l.silent {
		return
	}
	l.emitted++
	c := &Change{Kind: kind, Where: l.where, Old: old, New: new, Facts: f, Detail: detail}
	if l.owner != nil {
		c.Type = l.owner.name
		l.owner.local = append(l.owner.local, c)
		return
	}
	c.Symbol, c.SymbolType, c.Affected, c.Reach = l.symbol, l.symType, []string{l.symbol}, ReachValue
	if f.Any(FactPointee | FactPointeeQual) {
		c.Reach = ReachPointer
	}
	d.decl(c)
}

// node returns the node of the pair (o, n), comparing them the first time.
func (d *typeDiffer) node(o, n *abi.Type, name string) *node {
	key := [2]*abi.Type{o, n}
	if nd, ok := d.nodes[key]; ok {
		return nd
	}
	nd := &node{o: o, n: n, name: name}
	d.nodes[key] = nd
	d.all = append(d.all, nd)
	switch o.Kind {
	case abi.TypedefType:
		l := &loc{kind: TypedefRetargeted, owner: nd}
		d.link(nd, d.at(o.Elem, n.Elem, l, 0)) // no label: the path names the typedef already
	case abi.StructType, abi.UnionType, abi.ClassType:
		d.aggregate(nd)
	case abi.EnumType:
		d.enum(nd)
	}
	d.markPrivate(nd)
	if len(nd.local) > 0 {
		pos := d.position(nd.n.File, nd.n.Line, nd.o.File, nd.o.Line)
		for _, c := range nd.local {
			c.Decl = pos
		}
	}
	return nd
}

// position returns where a declaration is in NEW's sources (file and line
// numbered as in newDebug), else in OLD's.
func (d *typeDiffer) position(newFile, newLine, oldFile, oldLine uint32) Position {
	if f := d.newDebug.File(newFile); f != "" {
		return Position{File: f, Line: int(newLine)}
	}
	if f := d.oldDebug.File(oldFile); f != "" {
		return Position{File: f, Line: int(oldLine)}
	}
	return Position{}
}

// link adds edges from nd.
func (d *typeDiffer) link(nd *node, es []edge) {
	for _, e := range es {
		nd.edges = append(nd.edges, e)
		e.to.preds = append(e.to.preds, nd)
	}
}

// local records a type-level change of nd.
func (nd *node) add(kind Kind, where, old, new string, f Facts, detail string) {
	nd.local = append(nd.local, &Change{Kind: kind, Type: nd.name, Where: where, Old: old, New: new,
		Facts: f, Detail: detail})
}
