package elfdiff

import (
	"github.com/compatgate/compatgate/elfdiff/elfsym"

	"cmp"
	"fmt"
	"iter"
	"strings"
)

// Changes is what Diff found between two corpora, in a stable order.
//
// Most changes are held as Change values. A change to an attribute of a
// symbol that both versions export (its version, whether the version is
// the default, its type, binding or visibility) is held as the kind and
// the positions of the two symbols in their corpora, 12 bytes, and made
// into a Change when asked for: such changes come by the tens of thousands
// when a library moves every symbol to a new version node, and as Change
// values, with their names and messages, they would take most of the
// memory of a check.
type Changes struct {
	list     []Change
	pairs    []symbolPair
	old, new elfsym.SymbolList // the symbols pairs index
}

// A symbolPair is a change to one symbol both corpora export.
type symbolPair struct {
	kind pairKind
	old  int32 // index in the old corpus's symbols
	new  int32 // index in the new corpus's symbols
}

// A pairKind indexes pairKinds.
type pairKind uint8

// The kinds of change held as symbol pairs.
const (
	pairVersioned pairKind = iota
	pairVersionChanged
	pairDefaultVersion
	pairTypeChanged
	pairBindingChanged
	pairVisibilityMoved
)

// pairKinds says, for each kind of change held as a symbolPair, how its
// Change reads: its Old and New sides and its Detail. The Symbol of each is
// the old symbol, spelled with its version, and it is the one symbol
// affected.
var pairKinds = [...]struct {
	kind     Kind
	old, new func(Symbol) string
	detail   func(o, n Symbol) string
}{
	pairVersioned: {SymbolVersioned, Symbol.String, Symbol.String, func(o, n Symbol) string {
		return fmt.Sprintf("%s is now versioned as %s", o, n)
	}},
	pairVersionChanged: {SymbolVersionChanged, Symbol.String, Symbol.String, func(o, n Symbol) string {
		return fmt.Sprintf("%s is gone; the symbol is now %s", o, n)
	}},
	pairDefaultVersion: {SymbolDefaultVersion, Symbol.String, Symbol.String, func(o, n Symbol) string {
		return fmt.Sprintf("%s is no longer the default version; it remains as %s", o, n)
	}},
	pairTypeChanged: {SymbolTypeChanged, elfsym.SymKind, elfsym.SymKind, func(o, n Symbol) string {
		return fmt.Sprintf("%s changed from %s to %s", o, elfsym.SymKind(o), elfsym.SymKind(n))
	}},
	pairBindingChanged: {SymbolBindingChanged, elfsym.BindName, elfsym.BindName, func(o, n Symbol) string {
		return fmt.Sprintf("binding of %s changed from %s to %s", o, elfsym.BindName(o), elfsym.BindName(n))
	}},
	pairVisibilityMoved: {SymbolVisibilityMoved, elfsym.VisName, elfsym.VisName, func(o, n Symbol) string {
		return fmt.Sprintf("visibility of %s changed from %s to %s", o, elfsym.VisName(o), elfsym.VisName(n))
	}},
}

// NewChanges returns the changes in list, in that order.
func NewChanges(list []Change) *Changes { return &Changes{list: list} }

// Len returns the number of changes.
func (cs *Changes) Len() int { return len(cs.list) + len(cs.pairs) }

// At returns change i, 0 ≤ i < Len.
func (cs *Changes) At(i int) Change {
	if i < len(cs.list) {
		return cs.list[i]
	}
	p := cs.pairs[i-len(cs.list)]
	pk := pairKinds[p.kind]
	o, n := cs.old.At(int(p.old)), cs.new.At(int(p.new))
	name := o.String()
	c := Change{Kind: pk.kind, Symbol: name, SymbolType: elfsym.SymKind(o), Old: pk.old(o), New: pk.new(n),
		Affected: []string{name}, Detail: pk.detail(o, n)}
	if c.Old == name {
		c.Old = name // one copy of the name, not two
	}
	return c
}

// All returns the changes in order.
func (cs *Changes) All() iter.Seq[Change] {
	return func(yield func(Change) bool) {
		for i := range cs.Len() {
			if !yield(cs.At(i)) {
				return
			}
		}
	}
}

// Compare orders changes i and j by the type they are in, then the symbol
// they are about, then where in it, as strings.Compare would order those
// fields of At(i) and At(j), without making either.
func (cs *Changes) Compare(i, j int) int {
	ti, si, wi := cs.subject(i)
	tj, sj, wj := cs.subject(j)
	return cmp.Or(strings.Compare(ti, tj), compareJoined(si, sj), strings.Compare(wi, wj))
}

// subject returns the Type, the Symbol (as the parts that, joined, spell
// it) and the Where of change i.
func (cs *Changes) subject(i int) (typ string, symbol [3]string, where string) {
	if i < len(cs.list) {
		c := &cs.list[i]
		return c.Type, [3]string{c.Symbol}, c.Where
	}
	o := cs.old.At(int(cs.pairs[i-len(cs.list)].old))
	switch {
	case o.Version == "":
		return "", [3]string{o.Name}, ""
	case o.Default:
		return "", [3]string{o.Name, "@@", o.Version}, ""
	}
	return "", [3]string{o.Name, "@", o.Version}, ""
}

// compareJoined compares the concatenations of a's parts and b's parts.
func compareJoined(a, b [3]string) int {
	i, j := 0, 0 // the parts being compared
	x, y := a[0], b[0]
	for {
		for x == "" && i < len(a)-1 {
			i++
			x = a[i]
		}
		for y == "" && j < len(b)-1 {
			j++
			y = b[j]
		}
		if x == "" || y == "" {
			return cmp.Compare(len(x), len(y))
		}
		k := min(len(x), len(y))
		if c := strings.Compare(x[:k], y[:k]); c != 0 {
			return c
		}
		x, y = x[k:], y[k:]
	}
}
