package rules

import (
	"testing"

	"github.com/compatgate/compatgate/elfdiff"
)

// TestCXXDwarfRules checks how the facts of a C++ change found in DWARF
// select among the rules of its kind.
func TestCXXDwarfRules(t *testing.T) {
	s := Default()
	tests := []struct {
		change elfdiff.Change
		want   string
		sev    Severity
	}{
		{elfdiff.Change{Kind: elfdiff.ClassVPtrAdded}, "class-vptr-added", Break},
		{elfdiff.Change{Kind: elfdiff.ClassVPtrRemoved}, "class-vptr-removed", Break},
		{elfdiff.Change{Kind: elfdiff.MethodStaticChanged}, "method-static-changed", Break},
		{elfdiff.Change{Kind: elfdiff.AccessChanged}, "access-changed", Info},
		{elfdiff.Change{Kind: elfdiff.InlineFuncRemoved}, "inline-function-removed", Warn},
		{elfdiff.Change{Kind: elfdiff.VirtualAppended, Facts: elfdiff.FactPure}, "virtual-method-added-pure", Break},
		{elfdiff.Change{Kind: elfdiff.TypeinfoBaseReplaced, Facts: elfdiff.FactSameRepr}, "base-class-replaced-empty", Info},
		{elfdiff.Change{Kind: elfdiff.TypeinfoBaseReplaced}, "base-class-replaced", Break},
		{elfdiff.Change{Kind: elfdiff.TypeinfoBaseReplaced, Facts: elfdiff.FactInternal}, "internal-typeinfo-base-replaced", Warn},
		{elfdiff.Change{Kind: elfdiff.MemberMoved, Facts: elfdiff.FactInternal}, "internal-member-moved", Warn},
		{elfdiff.Change{Kind: elfdiff.MemberMoved}, "member-moved", Break},
		// Size: by value always breaks; a C++ class clients can create
		// breaks either way; one they cannot create needs review.
		{elfdiff.Change{Kind: elfdiff.TypeSizeChanged, Reach: elfdiff.ReachValue, Facts: elfdiff.FactShrank}, "type-size-changed", Break},
		{elfdiff.Change{Kind: elfdiff.TypeSizeChanged, Reach: elfdiff.ReachPointer,
			Facts: elfdiff.FactShrank | elfdiff.FactAllocatable | elfdiff.FactCXXClass}, "class-size-changed", Break},
		{elfdiff.Change{Kind: elfdiff.TypeSizeChanged, Reach: elfdiff.ReachPointer,
			Facts: elfdiff.FactGrew | elfdiff.FactAllocatable | elfdiff.FactCXXClass}, "type-size-grew", Break},
		{elfdiff.Change{Kind: elfdiff.TypeSizeChanged, Reach: elfdiff.ReachPointer,
			Facts: elfdiff.FactGrew | elfdiff.FactCXXClass}, "type-size-grew-not-allocatable", Warn},
		{elfdiff.Change{Kind: elfdiff.TypeSizeChanged, Reach: elfdiff.ReachPointer,
			Facts: elfdiff.FactShrank | elfdiff.FactAllocatable}, "type-size-shrank", Warn},
	}
	for _, tt := range tests {
		r := s.Match(tt.change)
		if r.ID != tt.want || r.Severity != tt.sev {
			t.Errorf("Match(%+v) = %s (%v), want %s (%v)", tt.change, r.ID, r.Severity, tt.want, tt.sev)
		}
	}
}
