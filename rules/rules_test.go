package rules

import (
	"regexp"
	"testing"

	"github.com/compatgate/compatgate/elfdiff"
)

// TestCatalogue keeps the built-in catalogue sound: unique kebab-case ids,
// a rationale for every rule, and for every kind a last rule without a
// condition, so that no change of a known kind falls through to Match's
// default.
func TestCatalogue(t *testing.T) {
	cat := Catalogue()
	if _, err := NewSet(cat); err != nil {
		t.Fatal(err)
	}
	kebab := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	last := make(map[elfdiff.Kind]Rule)
	for _, r := range cat {
		if !kebab.MatchString(r.ID) {
			t.Errorf("rule id %q is not kebab-case", r.ID)
		}
		if r.Rationale == "" {
			t.Errorf("rule %s has no rationale", r.ID)
		}
		if r.Severity < Info || r.Severity > Break {
			t.Errorf("rule %s has severity %v", r.ID, r.Severity)
		}
		last[r.Kind] = r
	}
	for kind, r := range last {
		if r.When != nil {
			t.Errorf("the last rule for %s (%s) has a condition: changes it rejects fall through", kind, r.ID)
		}
	}
}

func TestMatch(t *testing.T) {
	s := Default()
	tests := []struct {
		change elfdiff.Change
		want   string
	}{
		{elfdiff.Change{Kind: elfdiff.SonameChanged, Old: "liba.so.1", New: "liba.so.2"}, "soname-changed"},
		{elfdiff.Change{Kind: elfdiff.SonameChanged, Old: "", New: "liba.so.1"}, "soname-added"},
		{elfdiff.Change{Kind: elfdiff.SonameChanged, Old: "liba.so.1", New: ""}, "soname-removed"},
		{elfdiff.Change{Kind: elfdiff.SymbolTypeChanged, Old: "FUNC", New: "IFUNC"}, "symbol-became-ifunc"},
		{elfdiff.Change{Kind: elfdiff.SymbolTypeChanged, Old: "FUNC", New: "OBJECT"}, "symbol-type-changed"},
		{elfdiff.Change{Kind: elfdiff.SymbolVisibilityMoved, SymbolType: "OBJECT", Old: "DEFAULT", New: "PROTECTED"}, "symbol-became-protected-data"},
		{elfdiff.Change{Kind: elfdiff.SymbolVisibilityMoved, SymbolType: "FUNC", Old: "DEFAULT", New: "PROTECTED"}, "symbol-became-protected"},
		{elfdiff.Change{Kind: elfdiff.SymbolVisibilityMoved, SymbolType: "FUNC", Old: "PROTECTED", New: "DEFAULT"}, "symbol-became-default-visibility"},
		{elfdiff.Change{Kind: elfdiff.SymbolBindingChanged, Old: "GLOBAL", New: "WEAK"}, "symbol-binding-weakened"},
		{elfdiff.Change{Kind: elfdiff.SymbolBindingChanged, Old: "WEAK", New: "GLOBAL"}, "symbol-binding-changed"},
		{elfdiff.Change{Kind: "no-such-kind"}, "no-such-kind"},
	}
	for _, tt := range tests {
		if got := s.Match(tt.change); got.ID != tt.want {
			t.Errorf("Match(%+v) = %s, want %s", tt.change, got.ID, tt.want)
		}
	}
	if got := s.Match(elfdiff.Change{Kind: "no-such-kind"}); got.Severity != Warn {
		t.Errorf("an unknown change is %v, want warn: never waved through", got.Severity)
	}
}

func TestSeverityText(t *testing.T) {
	for _, s := range []Severity{Info, Warn, Break} {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Severity
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("round trip of %v: got %v, %v", s, back, err)
		}
	}
	if _, err := ParseSeverity("fatal"); err == nil {
		t.Error("ParseSeverity(fatal) succeeded")
	}
}
