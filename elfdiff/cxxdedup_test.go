package elfdiff

import (
	"slices"
	"testing"
)

func TestDedupCXX(t *testing.T) {
	el := []Change{
		{Kind: TypeinfoBaseAdded, Type: "D", Where: "base B", Affected: []string{"_ZTI1D"}},
		{Kind: VTableAdded, Type: "F", Symbol: "_ZTV1F"},
		{Kind: VTableAdded, Type: "G", Symbol: "_ZTV1G"},
	}
	dw := []Change{
		{Kind: TypeinfoBaseAdded, Type: "D", Where: "base B", Affected: []string{"_ZN1D1fEv"}},
		{Kind: TypeinfoBaseAdded, Type: "N", Where: "base B"}, // not polymorphic: DWARF only
		{Kind: ClassVPtrAdded, Type: "F", Where: "vptr"},
	}
	got := dedupCXX(el, dw)
	var kinds []string
	for _, c := range got {
		kinds = append(kinds, string(c.Kind)+" "+c.Type)
	}
	want := []string{"typeinfo-base-added D", "vtable-added G", "typeinfo-base-added N", "class-vptr-added F"}
	if !slices.Equal(kinds, want) {
		t.Errorf("dedupCXX: got %q, want %q", kinds, want)
	}
	if !slices.Equal(got[0].Affected, []string{"_ZN1D1fEv", "_ZTI1D"}) {
		t.Errorf("merged affected = %q", got[0].Affected)
	}
}
