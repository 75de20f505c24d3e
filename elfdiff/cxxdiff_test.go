package elfdiff

import (
	"slices"
	"testing"
)

func TestPairRenamedAmbiguous(t *testing.T) {
	ch := func(k Kind, s string) Change {
		return Change{Kind: k, Symbol: s, SymbolType: "FUNC", Affected: []string{s}}
	}
	tests := []struct {
		name  string
		in    []Change
		kinds []Kind
	}{
		{"unique", []Change{ch(SymbolRemoved, "_ZN1W1fEi"), ch(SymbolAdded, "_ZNK1W1fEi")},
			[]Kind{CXXQualifiersChanged}},
		{"two-by-params", []Change{ch(SymbolRemoved, "_ZN1W1fEi"), ch(SymbolRemoved, "_ZN1W1fEd"),
			ch(SymbolAdded, "_ZNK1W1fEi"), ch(SymbolAdded, "_ZNK1W1fEd")},
			[]Kind{CXXQualifiersChanged, CXXQualifiersChanged}},
		{"ambiguous", []Change{ch(SymbolRemoved, "_Z1fi"), ch(SymbolRemoved, "_Z1fd"),
			ch(SymbolAdded, "_Z1fl"), ch(SymbolAdded, "_Z1ff")},
			[]Kind{SymbolRemoved, SymbolRemoved, SymbolAdded, SymbolAdded}},
		{"other-version", []Change{ch(SymbolRemoved, "_Z1fi@V1"), ch(SymbolAdded, "_Z1fl@@V2")},
			[]Kind{CXXParamsChanged}}, // libraries such as LLVM version every symbol by release
		{"other-scope", []Change{ch(SymbolRemoved, "_ZN1A1fEi"), ch(SymbolAdded, "_ZN1B1fEi")},
			[]Kind{SymbolRemoved, SymbolAdded}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := pairRenamed(slices.Clone(tt.in))
			var got []Kind
			for _, c := range out {
				got = append(got, c.Kind)
			}
			if !slices.Equal(got, tt.kinds) {
				t.Errorf("kinds = %v, want %v", got, tt.kinds)
			}
		})
	}
}

func TestThunkAdjustment(t *testing.T) {
	tests := map[string]string{
		"_ZThn16_N1CD1Ev":   "-16",
		"_ZThn8_N1U3barEv":  "-8",
		"_ZTh8_N1U3barEv":   "8",
		"_ZTv0_n24_N1XD0Ev": "offset 0, vcall offset at -24",
		"_ZN1A1fEv":         "",
		"_ZTh":              "",
		"_ZThn_":            "",
		"_ZTv0_":            "",
	}
	for sym, want := range tests {
		if got := thunkAdjustment(sym); got != want {
			t.Errorf("thunkAdjustment(%q) = %q, want %q", sym, got, want)
		}
	}
}
