package elfdiff

import (
	"github.com/compatgate/compatgate/elfdiff/elfsym"

	"cmp"
	"debug/elf"
	"fmt"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
)

func TestCompareJoined(t *testing.T) {
	for _, tt := range []struct {
		a, b [3]string
	}{
		{[3]string{"f"}, [3]string{"f"}},
		{[3]string{"f", "@@", "V1"}, [3]string{"f@@V1"}},
		{[3]string{"f", "@", "V1"}, [3]string{"f", "@@", "V1"}},
		{[3]string{"f"}, [3]string{"f", "@", "V1"}},
		{[3]string{"fa"}, [3]string{"f", "@", "V1"}},
		{[3]string{"f", "@", "V2"}, [3]string{"f", "@", "V10"}},
		{[3]string{""}, [3]string{"", "", ""}},
		{[3]string{""}, [3]string{"a"}},
		{[3]string{"ab", "", "c"}, [3]string{"a", "bc"}},
	} {
		want := strings.Compare(strings.Join(tt.a[:], ""), strings.Join(tt.b[:], ""))
		if got := compareJoined(tt.a, tt.b); got != want {
			t.Errorf("compareJoined(%q, %q) = %d, want %d", tt.a, tt.b, got, want)
		}
		if got := compareJoined(tt.b, tt.a); got != -want {
			t.Errorf("compareJoined(%q, %q) = %d, want %d", tt.b, tt.a, got, -want)
		}
	}
}

// corpusOf returns a 64-bit corpus that exports syms.
func corpusOf(syms []Symbol) *Corpus {
	var strs strings.Builder
	strs.WriteByte(0)
	offs := make([]uint32, len(syms))
	for i, s := range syms {
		offs[i] = uint32(strs.Len())
		strs.WriteString(s.Name)
		strs.WriteByte(0)
	}
	c := &Corpus{Class: elf.ELFCLASS64, symbols: elfsym.NewSymbolList(strs.String(), len(syms))}
	for i, s := range syms {
		c.symbols.Add(s, offs[i])
	}
	c.symbols.Sort()
	return c
}

// changesCorpora returns two corpora whose symbols change in every way
// Diff holds as a symbol pair, and in some it does not.
func changesCorpora() (old, new *Corpus) {
	var os, ns []elfsym.Symbol
	fn := func(name, version string, def bool) Symbol {
		return Symbol{Name: name, Version: version, Default: def, Type: elf.STT_FUNC, Bind: elf.STB_GLOBAL}
	}
	for i := range 20 {
		name := fmt.Sprintf("f%02d", i)
		os = append(os, fn(name, "V1", true))
		ns = append(ns, fn(name, "V2", true)) // version changed
	}
	os = append(os,
		fn("plain", "", false),  // becomes versioned
		fn("dflt", "V1", true),  // no longer the default
		fn("typed", "V1", true), // becomes an object
		fn("weak", "V1", true),  // becomes weak
		fn("prot", "V1", true),  // becomes protected
		fn("gone", "V1", true),  // removed
		Symbol{Name: "data", Version: "V1", Default: true, Type: elf.STT_OBJECT, Bind: elf.STB_GLOBAL, Size: 4},
	)
	obj := fn("typed", "V1", true)
	obj.Type = elf.STT_OBJECT
	weak := fn("weak", "V1", true)
	weak.Bind = elf.STB_WEAK
	prot := fn("prot", "V1", true)
	prot.Visibility = elf.STV_PROTECTED
	ns = append(ns,
		fn("plain", "V2", true), fn("dflt", "V1", false), fn("dflt", "V2", true), obj, weak, prot,
		fn("added", "V2", true),
		Symbol{Name: "data", Version: "V1", Default: true, Type: elf.STT_OBJECT, Bind: elf.STB_GLOBAL, Size: 8},
	)
	return corpusOf(os), corpusOf(ns)
}

// TestSymbolList checks that an elfsym.SymbolList gives back the symbols added to
// it, sorted, and finds them by name and version.
func TestSymbolList(t *testing.T) {
	old, _ := changesCorpora()
	var prev elfsym.Symbol
	for i, s := range old.Symbols() {
		if i > 0 && cmp.Or(strings.Compare(prev.Name, s.Name), strings.Compare(prev.Version, s.Version)) >= 0 {
			t.Errorf("%s after %s: not sorted", s, prev)
		}
		prev = s
		if got, ok := old.Lookup(s.Key()); !ok || got != s {
			t.Errorf("Lookup(%q) = %+v, %v; want %+v", s.Key(), got, ok, s)
		}
	}
	want := Symbol{Name: "data", Version: "V1", Default: true, Type: elf.STT_OBJECT, Bind: elf.STB_GLOBAL, Size: 4}
	if got, ok := old.Lookup("data@V1"); !ok || got != want {
		t.Errorf("Lookup(data@V1) = %+v, %v; want %+v", got, ok, want)
	}
	if _, ok := old.Lookup("data@V2"); ok {
		t.Error("Lookup(data@V2) found a symbol")
	}
	if i, j := old.symbols.ByName("plain"); j-i != 1 || old.Symbol(i).String() != "plain" {
		t.Errorf("byName(plain) = [%d, %d)", i, j)
	}
	if !old.exports("plain") || old.exports("plai") {
		t.Errorf("exports(plain) = %v, exports(plai) = %v", old.exports("plain"), old.exports("plai"))
	}
}

// TestChangesPairs checks the changes Diff holds as symbol pairs: what
// At makes of them, and that Compare orders all changes as their fields
// do.
func TestChangesPairs(t *testing.T) {
	old, new := changesCorpora()
	cs, err := Diff(old, new)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs.pairs) < 25 {
		t.Fatalf("%d changes held as pairs, want at least 25", len(cs.pairs))
	}
	got := make(map[string]Change)
	for c := range cs.All() {
		got[string(c.Kind)+" "+c.Symbol] = c
	}
	for _, want := range []Change{
		{Kind: SymbolVersionChanged, Symbol: "f07@@V1", SymbolType: "FUNC", Old: "f07@@V1", New: "f07@@V2",
			Affected: []string{"f07@@V1"}, Detail: "f07@@V1 is gone; the symbol is now f07@@V2"},
		{Kind: SymbolVersioned, Symbol: "plain", SymbolType: "FUNC", Old: "plain", New: "plain@@V2",
			Affected: []string{"plain"}, Detail: "plain is now versioned as plain@@V2"},
		{Kind: SymbolDefaultVersion, Symbol: "dflt@@V1", SymbolType: "FUNC", Old: "dflt@@V1", New: "dflt@V1",
			Affected: []string{"dflt@@V1"}, Detail: "dflt@@V1 is no longer the default version; it remains as dflt@V1"},
		{Kind: SymbolTypeChanged, Symbol: "typed@@V1", SymbolType: "FUNC", Old: "FUNC", New: "OBJECT",
			Affected: []string{"typed@@V1"}, Detail: "typed@@V1 changed from FUNC to OBJECT"},
		{Kind: SymbolBindingChanged, Symbol: "weak@@V1", SymbolType: "FUNC", Old: "GLOBAL", New: "WEAK",
			Affected: []string{"weak@@V1"}, Detail: "binding of weak@@V1 changed from GLOBAL to WEAK"},
		{Kind: SymbolVisibilityMoved, Symbol: "prot@@V1", SymbolType: "FUNC", Old: "DEFAULT", New: "PROTECTED",
			Affected: []string{"prot@@V1"}, Detail: "visibility of prot@@V1 changed from DEFAULT to PROTECTED"},
		{Kind: SymbolSizeChanged, Symbol: "data@@V1", SymbolType: "OBJECT", Old: "4", New: "8",
			Affected: []string{"data@@V1"}, Detail: "size of data@@V1 changed from 4 to 8 bytes"},
	} {
		if diff := gocmp.Diff(want, got[string(want.Kind)+" "+want.Symbol]); diff != "" {
			t.Errorf("%s %s (-want +got):\n%s", want.Kind, want.Symbol, diff)
		}
	}
	for _, k := range []string{"symbol-removed gone@@V1", "symbol-added added@@V2"} {
		if _, ok := got[k]; !ok {
			t.Errorf("no %s", k)
		}
	}
	for i := range cs.Len() {
		for j := range cs.Len() {
			a, b := cs.At(i), cs.At(j)
			want := cmp.Or(strings.Compare(a.Type, b.Type), strings.Compare(a.Symbol, b.Symbol), strings.Compare(a.Where, b.Where))
			if got := cs.Compare(i, j); got != want {
				t.Errorf("Compare(%s %s, %s %s) = %d, want %d", a.Kind, a.Symbol, b.Kind, b.Symbol, got, want)
			}
		}
	}
}
